/*
 * save.c
 *		The write path: chat_save_messages and chat_add_message.
 *
 * One call, one lock on the thread row, a handful of kept plans:
 *	1. check the caller (a role confined by tenant isolation saves as its
 *	   tenant only), create the thread when missing, lock it (FOR UPDATE)
 *	   and check its owner (check_caller, check_owner)
 *	2. drop the messages already stored (by id, by the saved_ids hint, by a
 *	   repeat earlier in the batch, and id-less ones by aligning the batch to
 *	   the thread's stored tail)
 *	3. insert the rest in one INSERT ... SELECT FROM unnest(arrays), seq
 *	   numbered on from the thread's last_seq
 *	4. update the thread's aggregates in the same transaction.
 * Any error aborts the whole call: nothing of a batch is written unless all is.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#include "chatstore.h"
#include "msg_input.h"
#include "spi_util.h"

typedef struct SaveRequest
{
	Oid			nsp;
	text	   *thread_id;
	text	   *user_id;		/* NULL: trusted caller, no owner check */
	ChatMsgIn  *msgs;
	int			nmsgs;
	char	  **hint_ids;		/* saved_ids, sorted */
	int			nhint;
	bool		id_must_be_new; /* chat_add_message: an existing id is an error */
	pg_cryptohash_ctx *fp_ctx;	/* for the fingerprints of one call, or NULL */
	MemoryContext callcxt;		/* the context of the call (outlives SPI) */
	/* read under the thread lock (chatstore 1.3 schemas) */
	bool		v13;			/* the schema has tombstones and message trees */
	int64		tombstones;		/* the thread's tombstone_count */
	bool		tree;			/* the thread has an active path (it branched) */
	bool		has_leaf;		/* tree: the active path is not empty */
	int64		leaf_seq;		/* tree: the last seq of the active path */
	int			walk_matched;	/* id-less messages aligned along the tree (0: none) */
	int64		walk_seq;		/* the seq the walk ended at */
	char	   *owner;			/* the thread's user_id (NULL: none), under its lock */
	/*
	 * What the session knows (save_context): the tenant a confined caller
	 * is confined to (NULL: not confined), the owner of a thread the save
	 * creates when no user_id is given (chatstore.tenant, '' for none), the
	 * transaction's time, and whether to NOTIFY.  A save delegated to a
	 * Citus worker gets them as arguments from the coordinator, where the
	 * call was made (delegate_save).
	 */
	bool		has_context;
	const char *confined;
	const char *tenant;
	TimestampTz now;
	bool		notify;
} SaveRequest;

typedef struct SaveResult
{
	int			saved;
	int			skipped;
	int64		first_seq;
	int64		last_seq;
} SaveResult;

static int
cmp_cstring_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* messages sorted by id, then by position, for the dedup passes */
static int
cmp_msg_by_id(const void *a, const void *b)
{
	const ChatMsgIn *x = *(ChatMsgIn *const *) a;
	const ChatMsgIn *y = *(ChatMsgIn *const *) b;
	int			c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->index - y->index;
}

static bool
sorted_contains(char **sorted, int n, const char *key)
{
	return n > 0 && bsearch(&key, sorted, n, sizeof(char *), cmp_cstring_ptr) != NULL;
}

static char *
new_uuid_text(void)
{
	Datum		u = DirectFunctionCall1(gen_random_uuid, (Datum) 0);

	return DatumGetCString(DirectFunctionCall1(uuid_out, u));
}

/*
 * The call's SHA-256 context for fingerprints, made on first use (freed by
 * save_messages, or by the resource owner on error).
 */
static pg_cryptohash_ctx *
fp_ctx(SaveRequest *req)
{
	if (req->fp_ctx == NULL)
	{
		/* (without OpenSSL the context is palloc'd: in the call's context) */
		MemoryContext old = MemoryContextSwitchTo(req->callcxt);

		req->fp_ctx = pg_cryptohash_create(PG_SHA256);
		MemoryContextSwitchTo(old);
		if (req->fp_ctx == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
	}
	return req->fp_ctx;
}

/* a message's fingerprint */
static int64
fingerprint(SaveRequest *req, ChatMsgIn *m)
{
	if (m->has_fingerprint)
		return m->fingerprint;
	return chatstore_fingerprint(m, fp_ctx(req));
}

/*
 * Lock the thread row, creating the thread when missing.  Returns the
 * thread's last_seq; *owner is its user_id (NULL when none), *tombstones
 * its number of tombstones (deleted messages).  A thread that was deleted
 * (it has a tombstone) is not created again: that is an error, CS002.
 */
static int64
lock_thread(SaveRequest *req, char **owner)
{
	static const Oid lock_types[] = {TEXTOID};
	static const Oid create_types[] = {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	SPIPlanPtr	lock_plan,
				create_plan,
				deleted_plan = NULL;
	Datum		args[4];
	char		nulls[4];
	int			attempt;
	int64		last_seq;
	bool		has_tombstones = chatstore_has_tombstones(req->nsp);

	req->v13 = has_tombstones;
	req->tombstones = 0;
	req->tree = req->has_leaf = false;
	req->leaf_seq = 0;
	req->walk_matched = 0;
	req->walk_seq = 0;
	if (has_tombstones)
	{
		lock_plan = chatstore_plan(CS_PLAN_LOCK_THREAD_TOMBSTONES, req->nsp,
								   "SELECT user_id, last_seq, tombstone_count, active_path IS NOT NULL, "
								   "pg_catalog.upper(active_path) OPERATOR(pg_catalog.-) 1 "
								   "FROM @S@.chat_threads "
								   "WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
								   1, lock_types);
		deleted_plan = chatstore_plan(CS_PLAN_THREAD_DELETED, req->nsp,
									  "SELECT deleted_at FROM @S@.chat_thread_tombstones "
									  "WHERE id OPERATOR(pg_catalog.=) $1",
									  1, lock_types);
	}
	else
		lock_plan = chatstore_plan(CS_PLAN_LOCK_THREAD, req->nsp,
								   "SELECT user_id, last_seq FROM @S@.chat_threads "
								   "WHERE id OPERATOR(pg_catalog.=) $1 FOR UPDATE",
								   1, lock_types);
	create_plan = chatstore_plan(CS_PLAN_CREATE_THREAD, req->nsp,
								 "INSERT INTO @S@.chat_threads (id, user_id, created_at, updated_at) "
								 "VALUES ($1, COALESCE($2, NULLIF($3, '')), $4, $4) "
								 "ON CONFLICT (id) DO NOTHING",
								 4, create_types);
	args[0] = PointerGetDatum(req->thread_id);
	args[1] = PointerGetDatum(req->user_id);
	/* chatstore.tenant, as the session has it (not as the node running the insert) */
	args[2] = CStringGetTextDatum(req->tenant);
	/* now(), as the session has it (the insert may run on a Citus worker) */
	args[3] = TimestampTzGetDatum(req->now);
	nulls[0] = ' ';
	nulls[1] = req->user_id ? ' ' : 'n';
	nulls[2] = ' ';
	nulls[3] = ' ';

	/* a thread deleted between our insert and our lock is created again */
	for (attempt = 0; attempt < 3; attempt++)
	{
		int			rc = SPI_execute_plan(lock_plan, args, nulls, false, 1);

		chatstore_spi_check(rc, SPI_OK_SELECT, "locking the thread");
		if (SPI_processed == 1)
		{
			HeapTuple	tup = SPI_tuptable->vals[0];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			Datum		d;

			d = SPI_getbinval(tup, desc, 1, &isnull);
			*owner = isnull ? NULL : text_to_cstring(DatumGetTextPP(d));
			if (has_tombstones)
			{
				req->tombstones = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
				req->tree = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
				/* the path ends at the active leaf (a deleted one: its tombstone) */
				d = SPI_getbinval(tup, desc, 5, &isnull);
				req->has_leaf = !isnull;
				req->leaf_seq = isnull ? 0 : DatumGetInt64(d);
			}
			last_seq = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			return last_seq;
		}
		/* a deleted thread stays deleted: only chat_create_thread makes it again */
		if (has_tombstones)
		{
			rc = SPI_execute_plan(deleted_plan, args, NULL, false, 1);
			chatstore_spi_check(rc, SPI_OK_SELECT, "looking up a deleted thread");
			if (SPI_processed > 0)
				ereport(ERROR,
						(errcode(ERRCODE_CHATSTORE_THREAD_DELETED),
						 errmsg("thread \"%s\" was deleted", text_to_cstring(req->thread_id)),
						 errdetail("A save does not create a deleted thread again (its tombstone is kept for chatstore.tombstone_retention)."),
						 errhint("To start a new thread with this id, call chat_create_thread first.")));
		}
		rc = SPI_execute_plan(create_plan, args, nulls, false, 0);
		chatstore_spi_check(rc, SPI_OK_INSERT, "creating the thread");
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("thread \"%s\" is not accessible", text_to_cstring(req->thread_id)),
			 errdetail("The thread exists but cannot be read by the current role, for example because of row-level security.")));
	return 0;					/* not reached */
}

/* the earliest message of the batch with this id, or NULL */
static ChatMsgIn *
find_by_id(ChatMsgIn **byid, int nbyid, const char *id)
{
	int			lo = 0,
				hi = nbyid;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (strcmp(byid[mid]->id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < nbyid && strcmp(byid[lo]->id, id) == 0)
		return byid[lo];
	return NULL;
}

/* a batch message whose id turned out to be stored already */
static void
mark_stored(SaveRequest *req, ChatMsgIn *m)
{
	if (req->id_must_be_new)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("message \"%s\" already exists in thread \"%s\"",
						m->id, text_to_cstring(req->thread_id))));
	m->skip = true;
}

/* a batch message whose id is a deleted message's (a tombstone) */
static void
mark_tombstoned(SaveRequest *req, ChatMsgIn *m)
{
	if (req->id_must_be_new)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("message \"%s\" was deleted from thread \"%s\"",
						m->id, text_to_cstring(req->thread_id)),
				 errdetail("The id of a deleted message is not used again while its tombstone is kept "
						   "(chatstore.tombstone_retention).")));
	m->skip = true;
}

/* mark every batch message that is among the ids in SPI_tuptable */
static void
mark_stored_ids(SaveRequest *req, ChatMsgIn **byid, int nbyid)
{
	uint64		r;

	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *id = TextDatumGetCString(d);
		ChatMsgIn  *m = find_by_id(byid, nbyid, id);

		if (m != NULL && !m->skip)
			mark_stored(req, m);
		pfree(id);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The tail pass runs for batches with more than TAIL_ID_PASS_MIN ids to look
 * up (a re-send; a few new messages are cheaper with one probe each) and
 * reads at most TAIL_ID_PASS_MAX of the thread's newest ids.  A thread no
 * longer than that (last_seq <= the ids to look up) is read whole instead.
 */
#define TAIL_ID_PASS_MIN 16
#define TAIL_ID_PASS_MAX 10000

static void lookup_stored_ids(SaveRequest *req, ChatMsgIn **byid, int nbyid, int ncand,
							  int64 last_seq);
static void skip_tombstoned_ids(SaveRequest *req, ChatMsgIn **byid, int nbyid);

/*
 * Mark the messages whose id is stored already, repeated earlier in the
 * batch, or listed in the saved_ids hint.  Stored ids are looked up in one
 * of three ways:
 *  - the thread has no more messages than the batch has ids to look up (a
 *    client re-sending its whole conversation): all the thread's ids, read
 *    from the primary key (thread_id, id) by an index-only scan;
 *  - otherwise first among the thread's newest messages (one range scan of
 *    (thread_id, seq): a re-sent tail is found there) when the batch has
 *    many ids, then whatever is left with one index probe per id.
 * A thread with tombstones (deleted messages) is then probed for the ids
 * still unknown among them: those are skipped as well.
 */
static void
skip_known_ids(SaveRequest *req, int64 last_seq, int64 tombstones)
{
	static const Oid thread_types[] = {TEXTOID};
	ChatMsgIn **byid;
	int			nbyid = 0;
	int			ncand = 0;
	int			i,
				rc;

	byid = chatstore_alloc_array(sizeof(ChatMsgIn *), req->nmsgs, false);
	for (i = 0; i < req->nmsgs; i++)
		if (req->msgs[i].id != NULL)
			byid[nbyid++] = &req->msgs[i];
	if (nbyid == 0)
		return;
	qsort(byid, nbyid, sizeof(ChatMsgIn *), cmp_msg_by_id);

	/* repeats inside the batch (the first one wins) and hinted ids */
	for (i = 0; i < nbyid; i++)
	{
		ChatMsgIn  *m = byid[i];

		if (i > 0 && strcmp(byid[i - 1]->id, m->id) == 0)
			m->skip = true;
		else if (sorted_contains(req->hint_ids, req->nhint, m->id))
			m->skip = true;
		else
			ncand++;
	}
	if (ncand == 0 || last_seq == 0)
		return;

	/*
	 * A thread no longer than the batch: all its ids (seq runs from 1 to
	 * last_seq, so it has at most last_seq messages).
	 */
	if (last_seq <= Min(ncand, TAIL_ID_PASS_MAX))
	{
		SPIPlanPtr	plan;
		Datum		args[1];

		/* the tests follow the choice of the lookup through these lines */
		elog(DEBUG1, "chatstore: stored ids: the whole thread (%d ids to look up, last_seq " INT64_FORMAT ")",
			 ncand, last_seq);
		plan = chatstore_plan(CS_PLAN_THREAD_IDS, req->nsp,
							  "SELECT id FROM @S@.chat_messages "
							  "WHERE thread_id OPERATOR(pg_catalog.=) $1",
							  1, thread_types);
		args[0] = PointerGetDatum(req->thread_id);
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
		chatstore_spi_check(rc, SPI_OK_SELECT, "reading the thread's ids");
		mark_stored_ids(req, byid, nbyid);
	}
	else
		lookup_stored_ids(req, byid, nbyid, ncand, last_seq);

	/* the ids of deleted messages: skipped, never stored again */
	if (tombstones > 0)
		skip_tombstoned_ids(req, byid, nbyid);
}

/*
 * The stored ids of a thread longer than the batch: first among its newest
 * messages, then one probe per id still unknown (see skip_known_ids).
 */
static void
lookup_stored_ids(SaveRequest *req, ChatMsgIn **byid, int nbyid, int ncand, int64 last_seq)
{
	static const Oid tail_types[] = {TEXTOID, INT8OID};
	static const Oid any_types[] = {TEXTOID, TEXTARRAYOID};
	Datum	   *candidates;
	int			i,
				rc;

	/* pass 1: the thread's newest ids */
	if (ncand > TAIL_ID_PASS_MIN)
	{
		SPIPlanPtr	plan;
		Datum		args[2];
		int64		above;

		elog(DEBUG1, "chatstore: stored ids: the newest %d messages (%d ids to look up)",
			 Min(ncand, TAIL_ID_PASS_MAX), ncand);
		if (pg_sub_s64_overflow(last_seq, Min(ncand, TAIL_ID_PASS_MAX), &above))
			above = PG_INT64_MIN;
		plan = chatstore_plan(CS_PLAN_TAIL_IDS, req->nsp,
							  "SELECT id FROM @S@.chat_messages "
							  "WHERE thread_id OPERATOR(pg_catalog.=) $1 "
							  "AND seq OPERATOR(pg_catalog.>) $2",
							  2, tail_types);
		args[0] = PointerGetDatum(req->thread_id);
		args[1] = Int64GetDatum(above);
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
		chatstore_spi_check(rc, SPI_OK_SELECT, "reading the thread's newest ids");
		mark_stored_ids(req, byid, nbyid);
	}

	/* pass 2: one probe per id still unknown */
	candidates = chatstore_alloc_array(sizeof(Datum), ncand, false);
	ncand = 0;
	for (i = 0; i < nbyid; i++)
		if (!byid[i]->skip)
			candidates[ncand++] = CStringGetTextDatum(byid[i]->id);
	if (ncand > 0)
	{
		SPIPlanPtr	plan;
		Datum		args[2];

		elog(DEBUG1, "chatstore: stored ids: a probe of %d ids", ncand);
		plan = chatstore_plan(CS_PLAN_EXISTING_IDS, req->nsp,
							  "SELECT id FROM @S@.chat_messages "
							  "WHERE thread_id OPERATOR(pg_catalog.=) $1 "
							  "AND id OPERATOR(pg_catalog.=) ANY ($2)",
							  2, any_types);
		args[0] = PointerGetDatum(req->thread_id);
		args[1] = PointerGetDatum(chatstore_array(candidates, NULL, ncand, TEXTOID));
		rc = SPI_execute_plan(plan, args, NULL, false, 0);
		chatstore_spi_check(rc, SPI_OK_SELECT, "looking up stored ids");
		mark_stored_ids(req, byid, nbyid);
	}
}

/* the batch ids (not skipped yet) that are tombstones of the thread */
static void
skip_tombstoned_ids(SaveRequest *req, ChatMsgIn **byid, int nbyid)
{
	static const Oid any_types[] = {TEXTOID, TEXTARRAYOID};
	SPIPlanPtr	plan;
	Datum		args[2];
	Datum	   *candidates;
	int			ncand = 0;
	int			i,
				rc;
	uint64		r;

	candidates = chatstore_alloc_array(sizeof(Datum), nbyid, false);
	for (i = 0; i < nbyid; i++)
		if (!byid[i]->skip)
			candidates[ncand++] = CStringGetTextDatum(byid[i]->id);
	if (ncand == 0)
		return;
	elog(DEBUG1, "chatstore: tombstoned ids: a probe of %d ids", ncand);
	plan = chatstore_plan(CS_PLAN_TOMBSTONED_IDS, req->nsp,
						  "SELECT id FROM @S@.chat_message_tombstones "
						  "WHERE thread_id OPERATOR(pg_catalog.=) $1 "
						  "AND id OPERATOR(pg_catalog.=) ANY ($2)",
						  2, any_types);
	args[0] = PointerGetDatum(req->thread_id);
	args[1] = PointerGetDatum(chatstore_array(candidates, NULL, ncand, TEXTOID));
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	chatstore_spi_check(rc, SPI_OK_SELECT, "looking up deleted ids");
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
		char	   *id = TextDatumGetCString(d);
		ChatMsgIn  *m = find_by_id(byid, nbyid, id);

		if (m != NULL && !m->skip)
			mark_tombstoned(req, m);
		pfree(id);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The stored tail's fingerprints.  Rows written by chatstore 1.2 carry a
 * version 2 fingerprint (fingerprint_version = 2); older rows (1.0 and 1.1
 * wrote version 1, a hash that is not stable across servers, with
 * fingerprint_version NULL) have theirs computed again here from their
 * columns, so legacy rows are never rewritten.  Only legacy rows return
 * their columns.  A database still on 1.0 or 1.1 (no fingerprint_version
 * column) has only legacy rows.
 */
#define TAIL_CURRENT "m.fingerprint_version OPERATOR(pg_catalog.=) 2"
#define TAIL_LEGACY(col) "CASE WHEN " TAIL_CURRENT " THEN NULL ELSE m." col " END"
#define TAIL_FROM \
	"FROM @S@.chat_messages AS m WHERE m.thread_id OPERATOR(pg_catalog.=) $1 " \
	"ORDER BY m.seq DESC LIMIT $2"
static const char *const tail_sql =
"SELECT COALESCE(" TAIL_CURRENT ", false), m.fingerprint, "
TAIL_LEGACY("role") ", " TAIL_LEGACY("content") ", " TAIL_LEGACY("parts") ", "
TAIL_LEGACY("name") ", " TAIL_LEGACY("tool_call_id") ", " TAIL_LEGACY("tool_calls") " "
TAIL_FROM;
/* a branched thread's tail is the tail of its active path */
#define TAIL_PATH_WHERE(a) \
	"WHERE " a ".thread_id OPERATOR(pg_catalog.=) $1 AND COALESCE(" a ".seq OPERATOR(pg_catalog.<@) " \
	"(SELECT t.active_path FROM @S@.chat_threads AS t WHERE t.id OPERATOR(pg_catalog.=) $1), true) "
/*
 * the tombstones of a branched thread's path: deleted messages on it, and
 * those chat_delete_message took out of its middle (their replies moved up
 * to their parent, on the path)
 */
#define TOMB_PATH_WHERE \
	"WHERE x.thread_id OPERATOR(pg_catalog.=) $1 AND (p.path IS NULL " \
	"OR x.seq OPERATOR(pg_catalog.<@) p.path " \
	"OR (x.replies_moved_up AND x.parent_seq OPERATOR(pg_catalog.<@) p.path)) "
#define TAIL_PATH_FROM(a) "FROM @S@.chat_messages AS " a " " TAIL_PATH_WHERE(a) "ORDER BY " a ".seq DESC LIMIT $2"

/*
 * A thread with tombstones: the deleted messages take their place in the
 * tail (by seq) with their stored version 2 fingerprint, so a client that
 * re-sends its whole conversation after a trim is aligned against what it
 * holds: the deleted messages are not stored again.
 */
static const char *const tail_sql_tombstones =
"SELECT u.cur, u.fp, u.role, u.content, u.parts, u.name, u.tool_call_id, u.tool_calls, u.deleted FROM ("
"(SELECT m.seq, COALESCE(" TAIL_CURRENT ", false) AS cur, m.fingerprint AS fp, false AS deleted, "
TAIL_LEGACY("role") " AS role, " TAIL_LEGACY("content") " AS content, "
TAIL_LEGACY("parts") " AS parts, " TAIL_LEGACY("name") " AS name, "
TAIL_LEGACY("tool_call_id") " AS tool_call_id, " TAIL_LEGACY("tool_calls") " AS tool_calls "
TAIL_PATH_FROM("m") ") UNION ALL "
"(SELECT x.seq, true, x.fingerprint, true, NULL::pg_catalog.text, NULL::pg_catalog.text, "
"NULL::pg_catalog.jsonb, NULL::pg_catalog.text, NULL::pg_catalog.text, NULL::pg_catalog.jsonb "
"FROM (SELECT t.active_path AS path FROM @S@.chat_threads AS t WHERE t.id OPERATOR(pg_catalog.=) $1) AS p, "
"LATERAL (SELECT x.seq, x.fingerprint FROM @S@.chat_message_tombstones AS x " TOMB_PATH_WHERE
"ORDER BY x.seq DESC LIMIT $2) AS x)"
") AS u ORDER BY u.seq DESC";
static const char *const tail_sql_legacy =
"SELECT false, m.fingerprint, m.role, m.content, m.parts, m.name, m.tool_call_id, "
"m.tool_calls " TAIL_FROM;

/* an optional text column of a tail row, detoasted (NULL when null) */
static text *
tail_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetTextPP(d);
}

static Jsonb *
tail_jsonb(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : DatumGetJsonbP(d);
}

/* the version 2 fingerprint of a tail row; false when it has none */
static bool
tail_fingerprint(SaveRequest *req, HeapTuple tup, TupleDesc desc, int64 *fp)
{
	bool		isnull;
	Datum		d;
	text	   *role,
			   *content,
			   *name,
			   *tool_call_id;
	Jsonb	   *parts,
			   *tool_calls;

	d = SPI_getbinval(tup, desc, 1, &isnull);
	if (!isnull && DatumGetBool(d))
	{
		d = SPI_getbinval(tup, desc, 2, &isnull);
		*fp = isnull ? 0 : DatumGetInt64(d);
		return !isnull;
	}
	/* a legacy row: from its columns, as they were saved */
	role = tail_text(tup, desc, 3);
	if (role == NULL)
		return false;
	content = tail_text(tup, desc, 4);
	parts = tail_jsonb(tup, desc, 5);
	name = tail_text(tup, desc, 6);
	tool_call_id = tail_text(tup, desc, 7);
	tool_calls = tail_jsonb(tup, desc, 8);
	*fp = chatstore_fingerprint_v2(fp_ctx(req), VARDATA_ANY(role), VARSIZE_ANY_EXHDR(role),
								   content, parts ? &parts->root : NULL, name, tool_call_id,
								   tool_calls ? &tool_calls->root : NULL, NULL);
	return true;
}

/*
 * Id-less messages: a client that re-sends the whole conversation (or its
 * tail) each turn must not store it again.  Find the longest prefix of the
 * batch that equals a suffix of the thread's stored messages (compared by
 * fingerprint; Knuth-Morris-Pratt over the last n stored messages) and skip
 * the id-less messages of that prefix.  A message that genuinely repeats in
 * a later turn is not at the front of such an overlap, so it is stored.
 */
/*
 * Knuth-Morris-Pratt: the longest prefix of the batch's fingerprints fp[]
 * (failure function fail[]) that is a suffix of tail[] (oldest first; a
 * NULL entry never matches; skip[] entries, when given, are left out).
 */
static int
overlap(const int64 *fp, const int *fail, int n,
		const int64 *tail, const bool *tail_null, const bool *skip, int ntail)
{
	int			i,
				q = 0;

	for (i = 0; i < ntail; i++)
	{
		if (skip != NULL && skip[i])
			continue;
		if (q == n)
			q = fail[q - 1];
#define TAIL_MATCHES(i, q) (!tail_null[i] && tail[i] == fp[q])
		while (q > 0 && !TAIL_MATCHES(i, q))
			q = fail[q - 1];
		if (TAIL_MATCHES(i, q))
			q++;
#undef TAIL_MATCHES
	}
	return q;
}

static void
skip_aligned_prefix(SaveRequest *req)
{
	static const Oid types[] = {TEXTOID, INT4OID};
	SPIPlanPtr	plan;
	Datum		args[2];
	int			rc;
	int			n = req->nmsgs;
	int			ntail;
	int64	   *tail = NULL;
	bool	   *tail_null = NULL;
	bool	   *tail_deleted = NULL;
	bool		with_tombstones = req->tombstones > 0 || req->tree;
	int64	   *fp;
	int		   *fail;
	int			q;
	int			i;
	MemoryContext rowcxt,
				oldcxt;

	if (with_tombstones)
	{
		elog(DEBUG1, "chatstore: id-less alignment: the active path's tail, with tombstones");
		plan = chatstore_plan(CS_PLAN_TAIL_FINGERPRINTS_TOMBSTONES, req->nsp,
							  tail_sql_tombstones, 2, types);
	}
	else
		plan = chatstore_plan(CS_PLAN_TAIL_FINGERPRINTS, req->nsp,
							  chatstore_has_fingerprint_version(req->nsp) ? tail_sql : tail_sql_legacy,
							  2, types);
	args[0] = PointerGetDatum(req->thread_id);
	args[1] = Int32GetDatum(n);
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	chatstore_spi_check(rc, SPI_OK_SELECT, "reading the thread's tail");
	ntail = (int) SPI_processed;
	if (ntail == 0 && !req->tree)
		return;

	/*
	 * stored tail, oldest first; a row without a fingerprint never matches.
	 * A legacy row's columns are detoasted in a context reset per row.
	 */
	if (ntail > 0)
	{
		tail = chatstore_alloc_array(sizeof(int64), ntail, false);
		tail_null = chatstore_alloc_array(sizeof(bool), ntail, false);
		tail_deleted = chatstore_alloc_array(sizeof(bool), ntail, true);
	}
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "chatstore tail row",
								   ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < ntail; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[ntail - 1 - i];

		if (with_tombstones)
		{
			bool		isnull;

			tail_deleted[i] = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 9, &isnull));
		}
		oldcxt = MemoryContextSwitchTo(rowcxt);
		tail_null[i] = !tail_fingerprint(req, tup, SPI_tuptable->tupdesc, &tail[i]);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	MemoryContextDelete(rowcxt);
	if (SPI_tuptable != NULL)
		SPI_freetuptable(SPI_tuptable);

	/* failure function of the batch's fingerprints */
	fp = chatstore_alloc_array(sizeof(int64), n, false);
	for (i = 0; i < n; i++)
		fp[i] = fingerprint(req, &req->msgs[i]);
	fail = chatstore_alloc_array(sizeof(int), n, false);
	fail[0] = 0;
	for (i = 1, q = 0; i < n; i++)
	{
		while (q > 0 && fp[i] != fp[q])
			q = fail[q - 1];
		if (fp[i] == fp[q])
			q++;
		fail[i] = q;
	}

	/*
	 * The longest prefix of the batch that is a suffix of the stored tail.
	 * With tombstones, twice: counting the deleted messages in their places
	 * (a client that still holds them re-sends them) and leaving them out (a
	 * client that saw them go re-sends what is left); the longer overlap
	 * wins.
	 */
	q = overlap(fp, fail, n, tail, tail_null, NULL, ntail);
	if (with_tombstones && ntail > 0)
		q = Max(q, overlap(fp, fail, n, tail, tail_null, tail_deleted, ntail));
	/*
	 * A branched thread, and the batch does not continue the active path's
	 * tail: it may be a whole conversation re-sent along an older branch.
	 * Walk the tree from its roots by the batch's fingerprints (at each
	 * step the newest child that matches); what matches further than the
	 * tail is skipped, and the batch continues from there.
	 */
	if (req->tree && q < n)
	{
		static const Oid walk_types[] = {TEXTOID, INT8ARRAYOID};
		Datum	   *fpd = chatstore_alloc_array(sizeof(Datum), n, false);
		Datum		wargs[2];
		bool		isnull;
		int			matched;

		for (i = 0; i < n; i++)
			fpd[i] = Int64GetDatum(fp[i]);
		plan = chatstore_plan(CS_PLAN_ALIGN_TREE, req->nsp,
							  "SELECT matched, last_seq FROM @S@._chat_align_tree($1, $2)",
							  2, walk_types);
		wargs[0] = PointerGetDatum(req->thread_id);
		wargs[1] = PointerGetDatum(chatstore_array(fpd, NULL, n, INT8OID));
		rc = SPI_execute_plan(plan, wargs, NULL, false, 1);
		chatstore_spi_check(rc, SPI_OK_SELECT, "aligning a re-send against the message tree");
		matched = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (matched > q)
		{
			elog(DEBUG1, "chatstore: id-less alignment: %d messages along a branch of the tree", matched);
			q = matched;
			req->walk_matched = matched;
			req->walk_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		}
		SPI_freetuptable(SPI_tuptable);
	}
	for (i = 0; i < q; i++)
		if (req->msgs[i].id == NULL)
			req->msgs[i].skip = true;
}

/*
 * A branched thread: a batch whose first new message follows a stored
 * message (by id) other than the active leaf continues that message's
 * branch (a client re-sending an older branch and going on from there): the
 * active path becomes the path to that message, and the new messages are
 * appended below it.
 */
static void
continue_branch(SaveRequest *req)
{
	static const Oid seq_types[] = {TEXTOID, TEXTOID};
	static const Oid path_types[] = {TEXTOID, INT8OID};
	SPIPlanPtr	plan;
	Datum		args[2];
	bool		isnull;
	int64		seq;
	int			k,
				rc;

	for (k = 0; k < req->nmsgs && req->msgs[k].skip; k++)
		;
	if (k == 0 || k == req->nmsgs)
		return;
	args[0] = PointerGetDatum(req->thread_id);
	if (req->msgs[k - 1].id == NULL)
	{
		/* an id-less re-send that followed a branch of the tree to its end */
		if (req->walk_matched != k)
			return;
		seq = req->walk_seq;
	}
	else
	{
		plan = chatstore_plan(CS_PLAN_MESSAGE_SEQ, req->nsp,
							  "SELECT seq FROM @S@.chat_messages "
							  "WHERE thread_id OPERATOR(pg_catalog.=) $1 AND id OPERATOR(pg_catalog.=) $2",
							  2, seq_types);
		args[1] = CStringGetTextDatum(req->msgs[k - 1].id);
		rc = SPI_execute_plan(plan, args, NULL, false, 1);
		chatstore_spi_check(rc, SPI_OK_SELECT, "looking up the message a batch continues");
		if (SPI_processed == 0)
			return;				/* not stored (a hint, a tombstone): the active leaf */
		seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	if (req->has_leaf && seq == req->leaf_seq)
		return;
	elog(DEBUG1, "chatstore: the batch continues the branch of seq " INT64_FORMAT, seq);
	plan = chatstore_plan(CS_PLAN_SET_PATH, req->nsp,
						  "UPDATE @S@.chat_threads SET active_path = @S@._chat_path_to($1, $2) "
						  "WHERE id OPERATOR(pg_catalog.=) $1",
						  2, path_types);
	args[1] = Int64GetDatum(seq);
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	chatstore_spi_check(rc, SPI_OK_UPDATE, "switching to the branch a batch continues");
	req->has_leaf = true;
	req->leaf_seq = seq;
}

/* one text datum per role name (roles are few; rows are many) */
static Datum
role_text(const char *role, Datum *cache)
{
	static const char *const roles[] = {
		"user", "assistant", "system", "developer", "tool", "function"
	};
	int			i;

	for (i = 0; i < (int) lengthof(roles); i++)
		if (strcmp(role, roles[i]) == 0)
		{
			if (cache[i] == (Datum) 0)
				cache[i] = CStringGetTextDatum(role);
			return cache[i];
		}
	return CStringGetTextDatum(role);
}

/* one INSERT ... SELECT FROM unnest(...) for every message not skipped */
static void
insert_messages(SaveRequest *req, ChatMsgIn **rows, int nrows)
{
	static const Oid types[] = {
		TEXTOID, TEXTOID, TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TEXTARRAYOID,
		JSONBARRAYOID, JSONBARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
		TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8ARRAYOID, JSONBARRAYOID, TEXTOID
	};
	enum
	{
		C_ID, C_SEQ, C_ROLE, C_CONTENT, C_PARTS, C_NAME, C_MODEL, C_TOOL_CALLS,
		C_TOOL_CALL_ID, C_METADATA, C_USAGE, C_TOKENS, C_PARENT, C_CREATED,
		C_FP, C_PARENT_SEQ, C_ITEM, NCOLS
	};
	static const Oid elemtypes[NCOLS] = {
		TEXTOID, INT8OID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, JSONBOID,
		TEXTOID, JSONBOID, JSONBOID, INT4OID, TEXTOID, TIMESTAMPTZOID, INT8OID, INT8OID,
		JSONBOID
	};
	SPIPlanPtr	plan;
	Datum	   *vals[NCOLS];
	bool	   *isnull[NCOLS];
	Datum		args[NCOLS + 3];
	char		argnulls[NCOLS + 3];
	Datum		role_datum[6];
	MemoryContext rowcxt,
				oldcxt;
	int			c,
				i,
				rc;

	/*
	 * fingerprint_version: 2 for every row (a database still on 1.0 or 1.1
	 * has no such column; its rows count as legacy, which is right for the
	 * old rows and harmless for these)
	 */
#define INSERT_COLUMNS \
	"INSERT INTO @S@.chat_messages (thread_id, id, seq, role, content, parts, " \
	"name, model, tool_calls, tool_call_id, metadata, usage, token_count, " \
	"parent_id, user_id, created_at, fingerprint"
#define INSERT_VALUES \
	"SELECT $1, u.id, u.seq, u.role, u.content, u.parts, u.name, u.model, " \
	"u.tool_calls, u.tool_call_id, " \
	"COALESCE(u.metadata, '{}'::pg_catalog.jsonb), u.usage, u.token_count, " \
	"u.parent_id, $2, u.created_at, u.fp"
#define INSERT_FROM \
	"FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), " \
	"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), " \
	"pg_catalog.unnest($8), pg_catalog.unnest($9), pg_catalog.unnest($10), " \
	"pg_catalog.unnest($11), pg_catalog.unnest($12), pg_catalog.unnest($13), " \
	"pg_catalog.unnest($14), pg_catalog.unnest($15), pg_catalog.unnest($16), " \
	"pg_catalog.unnest($17), pg_catalog.unnest($18), pg_catalog.unnest($19)) " \
	"AS u(id, seq, role, content, parts, name, model, " \
	"tool_calls, tool_call_id, metadata, usage, token_count, parent_id, " \
	"created_at, fp, parent_seq, item)"
	bool		has_fpv = chatstore_has_fingerprint_version(req->nsp);
	bool		has_items = chatstore_has_items(req->nsp);
	bool		has_owner = chatstore_has_thread_owner(req->nsp);

	/*
	 * parent_seq: only a branched thread's messages have one (the active
	 * leaf, then each the one before it); a one-line thread's stay NULL, and
	 * its saves run the statements of chatstore 1.2.  thread_user_id ($20,
	 * chatstore 1.7): the thread's owner, read under its lock, copied into
	 * each row so that tenant isolation keys the row without looking up its
	 * thread.
	 */
	if (req->tree)
		plan = chatstore_plan(CS_PLAN_INSERT_MESSAGES_TREE, req->nsp,
							  has_owner ?
							  INSERT_COLUMNS ", fingerprint_version, parent_seq, item, thread_user_id) " INSERT_VALUES
							  ", 2::pg_catalog.int2, u.parent_seq, u.item, $20 " INSERT_FROM :
							  has_items ?
							  INSERT_COLUMNS ", fingerprint_version, parent_seq, item) " INSERT_VALUES
							  ", 2::pg_catalog.int2, u.parent_seq, u.item " INSERT_FROM :
							  INSERT_COLUMNS ", fingerprint_version, parent_seq) " INSERT_VALUES
							  ", 2::pg_catalog.int2, u.parent_seq " INSERT_FROM,
							  NCOLS + 3, types);
	else
		plan = chatstore_plan(CS_PLAN_INSERT_MESSAGES, req->nsp,
							  has_owner ?
							  INSERT_COLUMNS ", fingerprint_version, item, thread_user_id) " INSERT_VALUES
							  ", 2::pg_catalog.int2, u.item, $20 " INSERT_FROM :
							  has_items ?
							  INSERT_COLUMNS ", fingerprint_version, item) " INSERT_VALUES
							  ", 2::pg_catalog.int2, u.item " INSERT_FROM :
							  has_fpv ?
							  INSERT_COLUMNS ", fingerprint_version) " INSERT_VALUES ", 2::pg_catalog.int2 " INSERT_FROM :
							  INSERT_COLUMNS ") " INSERT_VALUES " " INSERT_FROM,
							  NCOLS + 3, types);

	/*
	 * The per-row datums (ids, roles, JSON made from the input) live in a
	 * context of their own that is dropped once the column arrays hold
	 * copies: a big batch then needs its data about twice, not three times.
	 */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "chatstore insert rows",
								   ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(rowcxt);
	for (c = 0; c < NCOLS; c++)
	{
		vals[c] = chatstore_alloc_array(sizeof(Datum), nrows, false);
		isnull[c] = chatstore_alloc_array(sizeof(bool), nrows, true);
	}
	for (i = 0; i < (int) lengthof(role_datum); i++)
		role_datum[i] = (Datum) 0;
#define PUT(col, ptr) \
	do { if ((ptr) != NULL) vals[col][i] = PointerGetDatum(ptr); \
		 else { vals[col][i] = (Datum) 0; isnull[col][i] = true; } } while (0)
	for (i = 0; i < nrows; i++)
	{
		ChatMsgIn  *m = rows[i];

		chatstore_materialize(m);
		vals[C_ID][i] = CStringGetTextDatum(m->final_id);
		vals[C_SEQ][i] = Int64GetDatum(m->seq);
		vals[C_ROLE][i] = role_text(m->role, role_datum);
		PUT(C_CONTENT, m->content);
		PUT(C_PARTS, m->parts);
		PUT(C_NAME, m->name);
		PUT(C_MODEL, m->model);
		PUT(C_TOOL_CALLS, m->tool_calls);
		PUT(C_TOOL_CALL_ID, m->tool_call_id);
		PUT(C_METADATA, m->metadata);
		PUT(C_USAGE, m->usage);
		PUT(C_PARENT, m->parent_id);
		PUT(C_ITEM, m->item);
		if (m->item != NULL && !has_items)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("messages[%d] is a Responses item, which needs chatstore 1.4", m->index),
					 errhint("Run ALTER EXTENSION chatstore UPDATE.")));
		vals[C_TOKENS][i] = Int32GetDatum(m->token_count);
		isnull[C_TOKENS][i] = !m->has_token_count;
		/*
		 * no client time: the transaction's start, as now() would give on
		 * this node (not in the statement: on Citus it runs on a worker,
		 * whose transaction started later)
		 */
		vals[C_CREATED][i] = TimestampTzGetDatum(m->has_created_at ? m->created_at : req->now);
		vals[C_FP][i] = Int64GetDatum(fingerprint(req, m));
		if (req->tree && (i > 0 || req->has_leaf))
			vals[C_PARENT_SEQ][i] = Int64GetDatum(i > 0 ? rows[i - 1]->seq : req->leaf_seq);
		else
			isnull[C_PARENT_SEQ][i] = true;
	}
#undef PUT
#undef INSERT_COLUMNS
#undef INSERT_VALUES
#undef INSERT_FROM
	MemoryContextSwitchTo(oldcxt);

	args[0] = PointerGetDatum(req->thread_id);
	args[1] = PointerGetDatum(req->user_id);
	argnulls[0] = ' ';
	argnulls[1] = req->user_id ? ' ' : 'n';
	for (c = 0; c < NCOLS; c++)
	{
		args[c + 2] = PointerGetDatum(chatstore_array(vals[c], isnull[c], nrows, elemtypes[c]));
		argnulls[c + 2] = ' ';
	}
	args[NCOLS + 2] = req->owner ? CStringGetTextDatum(req->owner) : (Datum) 0;
	argnulls[NCOLS + 2] = req->owner ? ' ' : 'n';
	MemoryContextDelete(rowcxt);
	for (i = 0; i < nrows; i++)		/* their JSON was made in rowcxt */
		rows[i]->parts = rows[i]->tool_calls = rows[i]->metadata = rows[i]->usage =
			rows[i]->item = NULL;

	rc = SPI_execute_plan(plan, args, argnulls, false, 0);
	chatstore_spi_check(rc, SPI_OK_INSERT, "inserting messages");
	if (SPI_processed != (uint64) nrows)
		elog(ERROR, "chatstore: inserted " UINT64_FORMAT " messages instead of %d",
			 SPI_processed, nrows);
}

static void
update_thread(SaveRequest *req, ChatMsgIn **rows, int nrows, int64 last_seq)
{
	static const Oid types[] = {TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
								TIMESTAMPTZOID, TIMESTAMPTZOID};
	SPIPlanPtr	plan;
	Datum		args[lengthof(types)];
	int64		prompt = 0,
				completion = 0,
				total = 0;
	TimestampTz latest = req->now;
	bool		any_client_time = false;
	int			i,
				rc;

	for (i = 0; i < nrows; i++)
	{
		ChatMsgIn  *m = rows[i];

		if (pg_add_s64_overflow(prompt, m->tokens.prompt, &prompt) ||
			pg_add_s64_overflow(completion, m->tokens.completion, &completion) ||
			pg_add_s64_overflow(total, m->tokens.total, &total))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 m->index >= 0 ?
					 errmsg("token sums of the batch are out of range at messages[%d]", m->index) :
					 errmsg("token sums are out of range"),
					 errdetail("The sum of the batch's usage exceeds %lld.", (long long) PG_INT64_MAX)));
		if (m->has_created_at)
		{
			if (!any_client_time || m->created_at > latest)
				latest = m->created_at;
			any_client_time = true;
		}
	}
	/* messages without a client time were stamped now() */
	for (i = 0; i < nrows && any_client_time; i++)
		if (!rows[i]->has_created_at)
		{
			if (req->now > latest)
				latest = req->now;
			break;
		}

#define UPDATE_THREAD_SET \
	"UPDATE @S@.chat_threads SET " \
	"updated_at = $8, " \
	"message_count = message_count OPERATOR(pg_catalog.+) $2, " \
	"last_seq = $3, " \
	"prompt_tokens = prompt_tokens OPERATOR(pg_catalog.+) $4, " \
	"completion_tokens = completion_tokens OPERATOR(pg_catalog.+) $5, " \
	"total_tokens = total_tokens OPERATOR(pg_catalog.+) $6, " \
	"last_message_at = GREATEST(last_message_at, $7) "
	/* a branched thread's active path goes on through the new messages */
	if (req->tree)
		plan = chatstore_plan(CS_PLAN_UPDATE_THREAD_TREE, req->nsp,
							  UPDATE_THREAD_SET
							  ", active_path = active_path OPERATOR(pg_catalog.+) pg_catalog.int8multirange("
							  "pg_catalog.int8range($3 OPERATOR(pg_catalog.-) $2 OPERATOR(pg_catalog.+) 1, $3, '[]')) "
							  "WHERE id OPERATOR(pg_catalog.=) $1",
							  lengthof(types), types);
	else
		plan = chatstore_plan(CS_PLAN_UPDATE_THREAD, req->nsp,
							  UPDATE_THREAD_SET "WHERE id OPERATOR(pg_catalog.=) $1",
							  lengthof(types), types);
#undef UPDATE_THREAD_SET
	args[0] = PointerGetDatum(req->thread_id);
	args[1] = Int64GetDatum(nrows);
	args[2] = Int64GetDatum(last_seq);
	args[3] = Int64GetDatum(prompt);
	args[4] = Int64GetDatum(completion);
	args[5] = Int64GetDatum(total);
	args[6] = TimestampTzGetDatum(latest);
	/* now(), from here: the statement may run on a Citus worker */
	args[7] = TimestampTzGetDatum(req->now);
	rc = SPI_execute_plan(plan, args, NULL, false, 0);
	chatstore_spi_check(rc, SPI_OK_UPDATE, "updating the thread");
	if (SPI_processed != 1)
		elog(ERROR, "chatstore: the locked thread was not updated");
}

static void
notify_saved(text *thread_id, SaveResult *res)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"thread_id\": ");
	escape_json(&buf, text_to_cstring(thread_id));
	appendStringInfo(&buf, ", \"first_seq\": " INT64_FORMAT ", \"last_seq\": " INT64_FORMAT
					 ", \"saved_count\": %d}", res->first_seq, res->last_seq, res->saved);
	chatstore_send_notify(CHATSTORE_NOTIFY_CHANNEL, buf.data);
}

/*
 * Who may write into the thread.  The writing functions run as the
 * extension's owner (SECURITY DEFINER), which row-level security does not
 * confine, so the tenant of a confined caller is enforced here:
 *  - a caller confined by tenant isolation (chatstore_confined_tenant) saves
 *    as its tenant T only: T must be set, a user_id given must be T, and the
 *    thread must be owned by T (a new thread is created owned by T);
 *  - otherwise a user_id given must own the thread (a thread without owner
 *    belongs to no user: only trusted calls without user_id reach it), and a
 *    call without user_id (trusted server code) reaches every thread.
 * check_caller runs before anything is read; check_owner once the thread is
 * locked.
 */
static void
check_caller(SaveRequest *req, const char *tenant)
{
	if (tenant == NULL)
		return;
	if (tenant[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("chatstore.tenant is not set"),
				 errdetail("The current role is confined by tenant isolation: it can only save into threads of its tenant."),
				 errhint("Set chatstore.tenant for the session or the transaction, e.g. SELECT set_config('chatstore.tenant', 'acme', true).")));
	if (req->user_id != NULL && strcmp(text_to_cstring(req->user_id), tenant) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("user_id \"%s\" is not the tenant of this session",
						text_to_cstring(req->user_id)),
				 errdetail("The current role is confined by tenant isolation to the tenant in chatstore.tenant."),
				 errhint("Pass the session's tenant as user_id, or NULL.")));
}

static void
check_owner(SaveRequest *req, const char *tenant, const char *owner)
{
	if (tenant != NULL)
	{
		if (owner == NULL || strcmp(owner, tenant) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("thread \"%s\" is not accessible", text_to_cstring(req->thread_id)),
					 errdetail("The thread belongs to another tenant.")));
	}
	else if (req->user_id != NULL &&
			 (owner == NULL || strcmp(owner, text_to_cstring(req->user_id)) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("thread \"%s\" belongs to another user", text_to_cstring(req->thread_id)),
				 errdetail("Messages can only be saved into a thread by its owner.")));
}

/*
 * The whole save.  Runs inside its own SPI connection; allocations that
 * must outlive it (final ids) are made in the caller's context.
 */
static void
save_messages(SaveRequest *req, SaveResult *res)
{
	MemoryContext callcxt = CurrentMemoryContext;
	const char *tenant;
	char	   *owner = NULL;
	int64		last_seq;
	ChatMsgIn **rows;
	int			nrows = 0;
	bool		any_idless = false;
	int			i;

	memset(res, 0, sizeof(*res));
	req->callcxt = callcxt;
	if (!req->has_context)
	{
		req->confined = chatstore_confined_tenant(req->nsp);
		req->tenant = chatstore_tenant != NULL ? chatstore_tenant : "";
		req->now = chatstore_now();
		req->notify = chatstore_notify;
		req->has_context = true;
	}
	tenant = req->confined;
	check_caller(req, tenant);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "chatstore: SPI_connect failed");

	last_seq = lock_thread(req, &owner);
	check_owner(req, tenant, owner);
	req->owner = owner;

	skip_known_ids(req, last_seq, req->tombstones);
	for (i = 0; i < req->nmsgs; i++)
		if (req->msgs[i].id == NULL)
			any_idless = true;
	if (any_idless && last_seq > 0)
		skip_aligned_prefix(req);
	if (req->tree)
		continue_branch(req);

	rows = chatstore_alloc_array(sizeof(ChatMsgIn *), req->nmsgs, false);
	for (i = 0; i < req->nmsgs; i++)
	{
		ChatMsgIn  *m = &req->msgs[i];

		if (m->skip)
		{
			res->skipped++;
			continue;
		}
		if (m->id != NULL)
			m->final_id = m->id;
		else
		{
			MemoryContext old = MemoryContextSwitchTo(callcxt);

			m->final_id = new_uuid_text();
			MemoryContextSwitchTo(old);
		}
		/*
		 * seqs end below the bigint maximum: the history functions read the
		 * seqs below a bound, at most that maximum
		 */
		if (pg_add_s64_overflow(last_seq, (int64) nrows + 1, &m->seq) ||
			m->seq == PG_INT64_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("thread \"%s\" has no seq left for more messages",
							text_to_cstring(req->thread_id)),
					 errdetail("Its last seq is " INT64_FORMAT "; seqs end at " INT64_FORMAT ".",
							   last_seq, PG_INT64_MAX - 1)));
		rows[nrows++] = m;
	}

	if (nrows > 0)
	{
		insert_messages(req, rows, nrows);
		update_thread(req, rows, nrows, rows[nrows - 1]->seq);
		res->saved = nrows;
		res->first_seq = rows[0]->seq;
		res->last_seq = rows[nrows - 1]->seq;
		if (req->notify)
			notify_saved(req->thread_id, res);
	}
	if (req->fp_ctx != NULL)
	{
		pg_cryptohash_free(req->fp_ctx);
		req->fp_ctx = NULL;
	}
	SPI_finish();
}

static text *
required_thread_id(FunctionCallInfo fcinfo)
{
	text	   *t;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("thread_id must not be null")));
	t = PG_GETARG_TEXT_PP(0);
	chatstore_check_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), "thread_id", -1);
	return t;
}

static text *
optional_user_id(FunctionCallInfo fcinfo, int argno)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		return NULL;
	t = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(t) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("user_id must not be empty"),
				 errhint("Pass NULL for no user.")));
	if (VARSIZE_ANY_EXHDR(t) > CHATSTORE_MAX_ID_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("user_id is too long"),
				 errdetail("It has %d bytes; the limit is %d.",
						   (int) VARSIZE_ANY_EXHDR(t), CHATSTORE_MAX_ID_BYTES)));
	return t;
}

/*
 * The session's values a save needs, when they come as arguments: the last
 * SAVE_CONTEXT_ARGS of the _chat_*_at variants (confined_tenant text, tenant
 * text, at timestamptz, time_zone text, max_batch_messages integer,
 * max_message_bytes integer), which the coordinator of a Citus cluster has
 * the worker holding the thread run (delegate_save).  nargs is the argument
 * count of the public function; called with just those, the save reads the
 * session, and this returns -1.  Otherwise the time zone (which reads the
 * messages' times) and the limits of the calling session hold until
 * end_save_context: its limits only where they are lower than this node's
 * (a limit is a superuser's setting; the owner calling this function
 * directly must not raise it).  Call it before the messages are read.
 */
#define SAVE_CONTEXT_ARGS 6

static int
save_context(FunctionCallInfo fcinfo, int nargs, SaveRequest *req)
{
	if (PG_NARGS() != nargs + SAVE_CONTEXT_ARGS)
		return -1;
	if (PG_ARGISNULL(nargs + 2) || PG_ARGISNULL(nargs + 3) ||
		PG_ARGISNULL(nargs + 4) || PG_ARGISNULL(nargs + 5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at, time_zone and the limits must not be null")));
	req->confined = PG_ARGISNULL(nargs) ? NULL : TextDatumGetCString(PG_GETARG_DATUM(nargs));
	req->tenant = PG_ARGISNULL(nargs + 1) ? "" : TextDatumGetCString(PG_GETARG_DATUM(nargs + 1));
	req->now = PG_GETARG_TIMESTAMPTZ(nargs + 2);
	req->notify = false;		/* the caller, on the coordinator, notifies */
	req->has_context = true;

	/*
	 * the session's tenant also for the row-level security policies this
	 * node applies when tenant isolation is forced on the owner (a worker
	 * does not see the coordinator's session settings)
	 */
	return chatstore_enter_session_values(req->tenant,
										  TextDatumGetCString(PG_GETARG_DATUM(nargs + 3)),
										  PG_GETARG_INT32(nargs + 4),
										  PG_GETARG_INT32(nargs + 5), -1);
}

static void
end_save_context(int nest)
{
	if (nest >= 0)
		AtEOXact_GUC(true, nest);
}

typedef enum SaveKind
{
	SAVE_MESSAGES,
	APPEND_MESSAGES,
	ADD_MESSAGE
} SaveKind;

/*
 * A save on a Citus cluster, where chat_distribute gives the public save
 * functions chatstore.delegate_saves = on: the call is passed whole to
 * _chat_<name>_at, a function Citus delegates to the worker that holds the
 * thread (create_distributed_function on the thread id, force_delegation),
 * so that the save is one round trip to one worker instead of a routed round
 * trip per statement.  What only this session knows travels as arguments:
 * the confined tenant, chatstore.tenant (the owner of a new thread) and the
 * transaction's time; the NOTIFY is sent here, where listeners are
 * connected.  The worker's errors come back with their SQLSTATE.
 */
static Datum
delegate_save(FunctionCallInfo fcinfo, SaveKind kind)
{
#define CONTEXT_TYPES TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, INT4OID, INT4OID
	static const Oid save_types[] = {TEXTOID, JSONBOID, TEXTOID, TEXTARRAYOID, CONTEXT_TYPES};
	static const Oid append_types[] = {TEXTOID, JSONBOID, TEXTOID, CONTEXT_TYPES};
	static const Oid add_types[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID,
									TEXTOID, TEXTOID, JSONBOID, TEXTOID, JSONBOID, INT4OID,
									TEXTOID, TIMESTAMPTZOID, CONTEXT_TYPES};
#undef CONTEXT_TYPES
	Oid			nsp = chatstore_schema_of(fcinfo);
	text	   *thread_id = required_thread_id(fcinfo);
	const char *confined = chatstore_confined_tenant(nsp);
	MemoryContext callcxt = CurrentMemoryContext;
	const Oid  *types;
	ChatPlanSlot slot;
	const char *sql;
	int			nargs = PG_NARGS();
	Datum		args[lengthof(add_types)];
	char		nulls[lengthof(add_types)];
	Datum	   *values;
	bool	   *isnull;
	TupleDesc	tupdesc;
	SPIPlanPtr	plan;
	int			rc,
				i;

	switch (kind)
	{
		case SAVE_MESSAGES:
			types = save_types;
			slot = CS_PLAN_DELEGATE_SAVE;
			sql = "SELECT * FROM @S@._chat_save_messages_at($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
			break;
		case APPEND_MESSAGES:
			types = append_types;
			slot = CS_PLAN_DELEGATE_APPEND;
			sql = "SELECT * FROM @S@._chat_append_messages_at($1, $2, $3, $4, $5, $6, $7, $8, $9)";
			break;
		default:
			types = add_types;
			slot = CS_PLAN_DELEGATE_ADD;
			sql = "SELECT * FROM @S@._chat_add_message_at($1, $2, $3, $4, $5, $6, $7, $8, "
				"$9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)";
			break;
	}
	if (nargs + SAVE_CONTEXT_ARGS > (int) lengthof(args))
		elog(ERROR, "chatstore: a save with %d arguments", nargs);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chatstore: a save must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	for (i = 0; i < nargs; i++)
	{
		args[i] = PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	args[nargs] = confined != NULL ? CStringGetTextDatum(confined) : (Datum) 0;
	nulls[nargs] = confined != NULL ? ' ' : 'n';
	args[nargs + 1] = CStringGetTextDatum(chatstore_tenant != NULL ? chatstore_tenant : "");
	nulls[nargs + 1] = ' ';
	args[nargs + 2] = TimestampTzGetDatum(chatstore_now());
	nulls[nargs + 2] = ' ';
	args[nargs + 3] = CStringGetTextDatum(GetConfigOption("TimeZone", false, false));
	nulls[nargs + 3] = ' ';
	args[nargs + 4] = Int32GetDatum(chatstore_max_batch_messages);
	nulls[nargs + 4] = ' ';
	args[nargs + 5] = Int32GetDatum(chatstore_max_message_bytes);
	nulls[nargs + 5] = ' ';

	/* the result's values outlive the SPI connection: in the caller's context */
	values = chatstore_alloc_array(sizeof(Datum), tupdesc->natts, false);
	isnull = chatstore_alloc_array(sizeof(bool), tupdesc->natts, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "chatstore: SPI_connect failed");
	plan = chatstore_plan(slot, nsp, sql, nargs + SAVE_CONTEXT_ARGS, types);
	PG_TRY();
	{
		rc = SPI_execute_plan(plan, args, nulls, false, 1);
	}
	PG_CATCH();
	{
		/*
		 * The save's own error, as a save on one node raises it: without
		 * the context lines of this call and of Citus's remote command
		 */
		ErrorData  *edata;

		MemoryContextSwitchTo(callcxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->context = NULL;
		ReThrowError(edata);
	}
	PG_END_TRY();
	chatstore_spi_check(rc, SPI_OK_SELECT, "saving on the node of the thread");
	if (SPI_processed != 1 || SPI_tuptable->tupdesc->natts != tupdesc->natts)
		elog(ERROR, "chatstore: the delegated save returned no result");
	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull[i]);
		MemoryContext old = MemoryContextSwitchTo(callcxt);

		values[i] = isnull[i] ? (Datum) 0 : datumCopy(d, att->attbyval, att->attlen);
		MemoryContextSwitchTo(old);
	}
	SPI_finish();

	if (chatstore_notify)
	{
		SaveResult	res;

		memset(&res, 0, sizeof(res));
		if (kind == ADD_MESSAGE)
		{
			res.saved = 1;
			res.first_seq = res.last_seq = DatumGetInt64(values[1]);
		}
		else if (!isnull[3])
		{
			res.saved = DatumGetInt32(values[0]);
			res.first_seq = DatumGetInt64(values[3]);
			res.last_seq = DatumGetInt64(values[4]);
		}
		if (res.saved > 0)
			notify_saved(thread_id, &res);
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, isnull));
}

/*
 * The request of a batch call (thread_id text, messages jsonb, user_id
 * text, ...): the thread, the messages read and checked, the user.
 */
static void
batch_request(FunctionCallInfo fcinfo, SaveRequest *req)
{
	req->nsp = chatstore_schema_of(fcinfo);
	req->thread_id = required_thread_id(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("messages must not be null"),
				 errhint("Pass a JSON array of message objects.")));
	req->nmsgs = chatstore_read_messages(PG_GETARG_JSONB_P(1), &req->msgs);
	req->user_id = optional_user_id(fcinfo, 2);
}

/*
 * The chat_save_result of a batch call: the counts, the ids inserted (in
 * order) and their seq range.
 */
static Datum
save_result(FunctionCallInfo fcinfo, SaveRequest *req, SaveResult *res)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, true, true};
	Datum	   *ids;
	int			nids = 0;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chatstore: a save must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	ids = chatstore_alloc_array(sizeof(Datum), res->saved, false);
	for (i = 0; i < req->nmsgs; i++)
		if (!req->msgs[i].skip)
			ids[nids++] = CStringGetTextDatum(req->msgs[i].final_id);
	values[0] = Int32GetDatum(res->saved);
	values[1] = Int32GetDatum(res->skipped);
	values[2] = PointerGetDatum(chatstore_array(ids, NULL, nids, TEXTOID));
	if (res->saved > 0)
	{
		values[3] = Int64GetDatum(res->first_seq);
		values[4] = Int64GetDatum(res->last_seq);
		nulls[3] = nulls[4] = false;
	}
	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * chat_save_messages(thread_id text, messages jsonb, user_id text,
 *					  saved_ids text[]) -> chat_save_result
 */
PG_FUNCTION_INFO_V1(chat_save_messages);
Datum
chat_save_messages(PG_FUNCTION_ARGS)
{
	SaveRequest req;
	SaveResult	res;
	int			nest;
	int			i;

	if (chatstore_delegate_saves && !chatstore_in_delegated_call() && PG_NARGS() == 4)
		PG_RETURN_DATUM(delegate_save(fcinfo, SAVE_MESSAGES));
	memset(&req, 0, sizeof(req));
	nest = save_context(fcinfo, 4, &req);
	batch_request(fcinfo, &req);
	if (!PG_ARGISNULL(3))
	{
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(3);
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elemnulls, &nelems);
		req.hint_ids = chatstore_alloc_array(sizeof(char *), nelems, false);
		for (i = 0; i < nelems; i++)
			if (!elemnulls[i])
				req.hint_ids[req.nhint++] = TextDatumGetCString(elems[i]);
		qsort(req.hint_ids, req.nhint, sizeof(char *), cmp_cstring_ptr);
	}

	save_messages(&req, &res);
	end_save_context(nest);
	PG_RETURN_DATUM(save_result(fcinfo, &req, &res));
}

/*
 * chat_append_messages(thread_id text, messages jsonb, user_id text)
 *		-> chat_save_result
 * A batch appended whole, as a log (a session store) wants it: no
 * alignment, nothing skipped.  A chat message's id, when given, is its
 * message id and must be new (23505); an item's "id" stays in the item (the
 * Agents SDKs give several items one id) and the row gets a new uuid, as
 * does an id-less message.
 */
PG_FUNCTION_INFO_V1(chat_append_messages);
Datum
chat_append_messages(PG_FUNCTION_ARGS)
{
	SaveRequest req;
	SaveResult	res;
	int			nest;
	int			i;

	if (chatstore_delegate_saves && !chatstore_in_delegated_call() && PG_NARGS() == 3)
		PG_RETURN_DATUM(delegate_save(fcinfo, APPEND_MESSAGES));
	memset(&req, 0, sizeof(req));
	nest = save_context(fcinfo, 3, &req);
	batch_request(fcinfo, &req);
	req.id_must_be_new = true;
	for (i = 0; i < req.nmsgs; i++)
	{
		ChatMsgIn  *m = &req.msgs[i];

		if (m->id == NULL || m->item_v.type != jbvNull || m->item != NULL)
			m->id = new_uuid_text();
	}

	save_messages(&req, &res);
	end_save_context(nest);
	PG_RETURN_DATUM(save_result(fcinfo, &req, &res));
}

/*
 * chat_add_message(thread_id, role, content, user_id, metadata, message_id,
 *					model, name, tool_calls, tool_call_id, usage, token_count,
 *					parent_id, created_at) -> (id text, seq bigint)
 * Always appends: an id-less message gets a new uuid; a given id that is
 * already in the thread is an error (23505).
 */
PG_FUNCTION_INFO_V1(chat_add_message);
Datum
chat_add_message(PG_FUNCTION_ARGS)
{
	SaveRequest req;
	SaveResult	res;
	ChatMsgIn  *m;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	int			nest;

	if (chatstore_delegate_saves && !chatstore_in_delegated_call() && PG_NARGS() == 14)
		PG_RETURN_DATUM(delegate_save(fcinfo, ADD_MESSAGE));
	memset(&req, 0, sizeof(req));
	nest = save_context(fcinfo, 14, &req);
	req.nsp = chatstore_schema_of(fcinfo);
	req.thread_id = required_thread_id(fcinfo);
	req.user_id = optional_user_id(fcinfo, 3);
	req.id_must_be_new = true;
	m = palloc0(sizeof(ChatMsgIn));
	m->index = -1;
	req.msgs = m;
	req.nmsgs = 1;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be null")));
	else
	{
		text	   *r = PG_GETARG_TEXT_PP(1);

		m->role = chatstore_canonical_role(VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r));
		if (m->role == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid role \"%s\"", text_to_cstring(r)),
					 errhint("Use one of user, assistant, system, developer, tool, function (or the aliases human, ai).")));
	}
	m->content = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_P(2);
	if (!PG_ARGISNULL(4))
	{
		m->metadata = PG_GETARG_JSONB_P(4);
		if (!JB_ROOT_IS_OBJECT(m->metadata))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("metadata must be a JSON object")));
	}
	if (!PG_ARGISNULL(5))
	{
		text	   *t = PG_GETARG_TEXT_PP(5);

		m->id = chatstore_check_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), "message_id", -1);
	}
	m->model = PG_ARGISNULL(6) ? NULL : PG_GETARG_TEXT_P(6);
	m->name = PG_ARGISNULL(7) ? NULL : PG_GETARG_TEXT_P(7);
	if (!PG_ARGISNULL(8))
	{
		Jsonb	   *tc = PG_GETARG_JSONB_P(8);

		if (!JB_ROOT_IS_ARRAY(tc) || JB_ROOT_IS_SCALAR(tc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("tool_calls must be a JSON array")));
		if (JB_ROOT_COUNT(tc) > 0)
		{
			chatstore_check_tool_calls(&tc->root, -1);
			m->tool_calls = tc;
		}
	}
	m->tool_call_id = PG_ARGISNULL(9) ? NULL : PG_GETARG_TEXT_P(9);
	if (!PG_ARGISNULL(10))
	{
		m->usage = PG_GETARG_JSONB_P(10);
		if (!JB_ROOT_IS_OBJECT(m->usage))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("usage must be a JSON object")));
	}
	if (!PG_ARGISNULL(11))
	{
		m->token_count = PG_GETARG_INT32(11);
		m->has_token_count = true;
		if (m->token_count < 0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("token_count must not be negative")));
	}
	if (!PG_ARGISNULL(12))
	{
		text	   *t = PG_GETARG_TEXT_P(12);

		chatstore_check_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), "parent_id", -1);
		m->parent_id = t;
	}
	if (!PG_ARGISNULL(13))
	{
		m->created_at = PG_GETARG_TIMESTAMPTZ(13);
		m->has_created_at = true;
		/* as in a batch, where only ISO 8601 timestamps pass */
		if (TIMESTAMP_NOT_FINITE(m->created_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("created_at must be a finite timestamp")));
	}
	if (m->content == NULL && m->tool_calls == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a message needs content or tool_calls")));
	chatstore_finish_message(m);
	/* always append: an id-less message gets a fresh id, never aligned */
	if (m->id == NULL)
		m->id = new_uuid_text();

	save_messages(&req, &res);
	end_save_context(nest);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chatstore: chat_add_message must return a composite type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = CStringGetTextDatum(m->final_id);
	values[1] = Int64GetDatum(res.first_seq);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
