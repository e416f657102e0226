/*
 * spi_util.c
 *		Extension schema lookup, kept SPI plans, array construction.
 *
 * Kept plans are built from SQL text that names the extension's schema
 * ("@S@").  Their plan cache entries are re-analyzed from that text whenever
 * PostgreSQL invalidates them, so after ALTER SCHEMA ... RENAME the text
 * itself is wrong: a syscache callback on pg_namespace marks the plans
 * stale, and the next chatstore_plan() prepares them again with the new
 * name.  Stale plans may still be executing (an invalidation can arrive in
 * the middle of a call, and a call can be nested in another through a
 * trigger), so they are not freed at once but retired, and freed when the
 * transaction ends.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "spi_util.h"

static SPIPlanPtr kept_plans[CS_PLAN_COUNT];
static Oid	kept_plans_nsp = InvalidOid;
static uint32 kept_plans_nsp_hash = 0;	/* syscache hash of kept_plans_nsp */
static bool kept_plans_stale = false;
static int	kept_has_fpv = -1;	/* chatstore_has_fingerprint_version: -1 unknown */
static int	kept_has_tombstones = -1;	/* chatstore_has_tombstones: -1 unknown */
static int	kept_has_items = -1;	/* chatstore_has_items: -1 unknown */
static int	kept_has_owner = -1;	/* chatstore_has_thread_owner: -1 unknown */
static Oid	kept_messages_relid = InvalidOid;	/* chat_messages of kept_plans_nsp */
static List *retired_plans = NIL;	/* in TopMemoryContext */

/* pg_namespace changed: our schema (renamed, ...) or, hashvalue 0, any */
static void
namespace_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	if (OidIsValid(kept_plans_nsp) &&
		(hashvalue == 0 || hashvalue == kept_plans_nsp_hash))
		kept_plans_stale = true;
}

/*
 * chat_messages changed (ALTER EXTENSION chatstore UPDATE adds a column, a
 * schema rename, ...) or, relid InvalidOid, every relation: the statements
 * the kept plans were made from may name columns the table no longer has,
 * or miss ones it now has
 */
static void
relation_changed(Datum arg, Oid relid)
{
	if (OidIsValid(kept_plans_nsp) &&
		(!OidIsValid(relid) || relid == kept_messages_relid))
		kept_plans_stale = true;
}

/* free the retired plans once nothing of the transaction can use them */
static void
free_retired_plans(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (retired_plans == NIL)
		return;
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;
	foreach(lc, retired_plans)
		SPI_freeplan((SPIPlanPtr) lfirst(lc));
	list_free(retired_plans);
	retired_plans = NIL;
}

void
chatstore_plans_init(void)
{
	CacheRegisterSyscacheCallback(NAMESPACEOID, namespace_changed, (Datum) 0);
	CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
	RegisterXactCallback(free_retired_plans, NULL);
}

Oid
chatstore_schema_of(FunctionCallInfo fcinfo)
{
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);

	if (!OidIsValid(nsp))
		elog(ERROR, "chatstore: cannot find the schema of function %u",
			 fcinfo->flinfo->fn_oid);
	return nsp;
}

/* sql with every "@S@" replaced by the quoted schema name */
static char *
expand_schema(const char *sql, Oid nsp)
{
	const char *schema;
	StringInfoData buf;
	const char *p;

	schema = get_namespace_name(nsp);
	if (schema == NULL)
		elog(ERROR, "chatstore: schema %u does not exist", nsp);
	schema = quote_identifier(schema);
	initStringInfo(&buf);
	for (p = sql; *p; p++)
	{
		if (p[0] == '@' && p[1] == 'S' && p[2] == '@')
		{
			appendStringInfoString(&buf, schema);
			p += 2;
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/* start a new generation of kept plans for nsp */
static void
check_kept_plans(Oid nsp)
{
	MemoryContext old;
	int			i;

	if (kept_plans_nsp == nsp && !kept_plans_stale)
		return;
	old = MemoryContextSwitchTo(TopMemoryContext);
	for (i = 0; i < CS_PLAN_COUNT; i++)
	{
		if (kept_plans[i] != NULL)
			retired_plans = lappend(retired_plans, kept_plans[i]);
		kept_plans[i] = NULL;
	}
	MemoryContextSwitchTo(old);
	kept_plans_nsp = nsp;
	kept_plans_nsp_hash = GetSysCacheHashValue1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	kept_plans_stale = false;
	kept_has_fpv = -1;
	kept_has_tombstones = -1;
	kept_has_items = -1;
	kept_has_owner = -1;
	kept_messages_relid = get_relname_relid("chat_messages", nsp);
}

SPIPlanPtr
chatstore_plan(ChatPlanSlot slot, Oid nsp, const char *sql,
			   int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;

	check_kept_plans(nsp);
	if (kept_plans[slot] != NULL)
		return kept_plans[slot];

	/*
	 * Generic plans: every statement is a lookup within one thread through
	 * an index whose best plan does not depend on the values, so the plan
	 * cache must not re-plan with custom values on each call.
	 */
	plan = SPI_prepare_cursor(expand_schema(sql, nsp), nargs, (Oid *) argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "chatstore: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "chatstore: SPI_keepplan failed");
	kept_plans[slot] = plan;
	return plan;
}

bool
chatstore_has_fingerprint_version(Oid nsp)
{
	check_kept_plans(nsp);
	if (kept_has_fpv < 0)
	{
		Oid			relid = get_relname_relid("chat_messages", nsp);

		if (!OidIsValid(relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation \"%s.chat_messages\" does not exist",
							get_namespace_name(nsp))));
		kept_has_fpv = get_attnum(relid, "fingerprint_version") != InvalidAttrNumber ? 1 : 0;
	}
	return kept_has_fpv == 1;
}

/* the schema has the tombstone tables (chatstore 1.3 and later) */
bool
chatstore_has_tombstones(Oid nsp)
{
	check_kept_plans(nsp);
	if (kept_has_tombstones < 0)
		kept_has_tombstones = OidIsValid(get_relname_relid("chat_message_tombstones", nsp)) &&
			OidIsValid(get_relname_relid("chat_thread_tombstones", nsp)) ? 1 : 0;
	return kept_has_tombstones == 1;
}

/* chat_messages has the column item (chatstore 1.4 and later) */
bool
chatstore_has_items(Oid nsp)
{
	check_kept_plans(nsp);
	if (kept_has_items < 0)
	{
		Oid			relid = get_relname_relid("chat_messages", nsp);

		kept_has_items = OidIsValid(relid) &&
			get_attnum(relid, "item") != InvalidAttrNumber ? 1 : 0;
	}
	return kept_has_items == 1;
}

/* the thread-keyed tables have the column thread_user_id (chatstore 1.7 and later) */
bool
chatstore_has_thread_owner(Oid nsp)
{
	check_kept_plans(nsp);
	if (kept_has_owner < 0)
		kept_has_owner = OidIsValid(kept_messages_relid) &&
			get_attnum(kept_messages_relid, "thread_user_id") != InvalidAttrNumber ? 1 : 0;
	return kept_has_owner == 1;
}

ArrayType *
chatstore_array(Datum *values, bool *nulls, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1];
	int			lbs[1];

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	if (n == 0)
		return construct_empty_array(elemtype);
	dims[0] = n;
	lbs[0] = 1;
	return construct_md_array(values, nulls, 1, dims, lbs, elemtype,
							  typlen, typbyval, typalign);
}

void
chatstore_spi_check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "chatstore: %s failed: %s", what, SPI_result_code_string(rc));
}
