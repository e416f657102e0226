/*
 * spi_util.h
 *		Extension schema lookup, SPI plans prepared once and kept, arrays.
 */
#ifndef CHATSTORE_SPI_UTIL_H
#define CHATSTORE_SPI_UTIL_H

#include "postgres.h"
#include "executor/spi.h"
#include "utils/array.h"

/* every kept plan has a slot */
typedef enum ChatPlanSlot
{
	CS_PLAN_LOCK_THREAD,
	CS_PLAN_CREATE_THREAD,
	CS_PLAN_THREAD_IDS,
	CS_PLAN_TAIL_IDS,
	CS_PLAN_EXISTING_IDS,
	CS_PLAN_TAIL_FINGERPRINTS,
	CS_PLAN_LOCK_THREAD_TOMBSTONES,
	CS_PLAN_THREAD_DELETED,
	CS_PLAN_TOMBSTONED_IDS,
	CS_PLAN_TAIL_FINGERPRINTS_TOMBSTONES,
	CS_PLAN_MESSAGE_SEQ,
	CS_PLAN_SET_PATH,
	CS_PLAN_ALIGN_TREE,
	CS_PLAN_INSERT_MESSAGES_TREE,
	CS_PLAN_UPDATE_THREAD_TREE,
	CS_PLAN_THREAD_BRANCHED,
	CS_PLAN_HISTORY_RANGE_PATH,
	CS_PLAN_LIGHT_ASC_PATH,
	CS_PLAN_LIGHT_FIRST_PATH,
	CS_PLAN_LIGHT_LAST_PATH,
	CS_PLAN_LIGHT_DESC_PATH,
	CS_PLAN_INSERT_MESSAGES,
	CS_PLAN_UPDATE_THREAD,
	CS_PLAN_HISTORY_RANGE,
	CS_PLAN_LIGHT_ASC,
	CS_PLAN_LIGHT_DESC,
	CS_PLAN_LIGHT_LAST,
	CS_PLAN_LIGHT_FIRST,
	CS_PLAN_DELEGATE_SAVE,
	CS_PLAN_DELEGATE_APPEND,
	CS_PLAN_DELEGATE_ADD,
	CS_PLAN_COUNT
} ChatPlanSlot;

/* once per backend (_PG_init): the invalidation and transaction callbacks */
extern void chatstore_plans_init(void);

/* the schema chatstore is installed in: the schema of the calling function */
extern Oid	chatstore_schema_of(FunctionCallInfo fcinfo);

/*
 * The kept plan in a slot, prepared on first use from sql, in which every
 * "@S@" stands for the quoted extension schema.  Plans are prepared again
 * when the extension's schema changes: another schema (drop and re-create
 * elsewhere), or the same schema renamed (ALTER SCHEMA ... RENAME, seen
 * through a syscache invalidation callback).  Call inside SPI_connect.  A
 * plan returned stays valid until the end of the transaction, even when a
 * later call replaces it.
 */
extern SPIPlanPtr chatstore_plan(ChatPlanSlot slot, Oid nsp, const char *sql,
								 int nargs, const Oid *argtypes);

/*
 * Whether nsp.chat_messages has the column fingerprint_version (chatstore
 * 1.2; a database still on 1.0 or 1.1 runs this library without it).
 * Decided once per generation of kept plans.
 */
extern bool chatstore_has_fingerprint_version(Oid nsp);
extern bool chatstore_has_tombstones(Oid nsp);
extern bool chatstore_has_items(Oid nsp);	/* chat_messages.item (1.4) */
extern bool chatstore_has_thread_owner(Oid nsp);	/* thread_user_id (1.7) */

/* a one-dimensional array of elemtype from datums (nulls may be NULL) */
extern ArrayType *chatstore_array(Datum *values, bool *nulls, int n, Oid elemtype);

/* ereport the failure of an SPI call (can't happen: elog) */
extern void chatstore_spi_check(int rc, int expected, const char *what);

#endif							/* CHATSTORE_SPI_UTIL_H */
