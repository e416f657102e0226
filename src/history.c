/*
 * history.c
 *		The read path: chat_history.
 *
 * Without a token budget, history is one indexed range scan over
 * (thread_id, seq).  With max_tokens, a light scan (seq, role, token
 * estimate, has tool_calls; no content is detoasted) decides which seqs fit,
 * newest first, and stops as soon as the budget is spent; then the chosen
 * rows are read in full.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"

#include "msg_input.h"
#include "spi_util.h"

#define MSG_COLUMNS "SELECT * FROM @S@.chat_messages "
/*
 * The light columns: seq, role, a token estimate, whether the row calls
 * tools, the row's answer id (a tool message's tool_call_id) and its call
 * ids (an assistant message's tool_calls ids and, for a call saved as an
 * item, its tool_call_id; a call without an id is a NULL element).
 */
#define LIGHT_COLUMNS_HEAD \
	"SELECT seq, role, " \
	"COALESCE(token_count::pg_catalog.int8, " \
	"(COALESCE(pg_catalog.octet_length(content), 0) OPERATOR(pg_catalog.+) " \
	"COALESCE(pg_catalog.octet_length(tool_calls::pg_catalog.text), 0) OPERATOR(pg_catalog.+) "
#define LIGHT_COLUMNS_TAIL \
	"3) OPERATOR(pg_catalog./) 4), " \
	"role OPERATOR(pg_catalog.=) 'assistant' AND (tool_calls IS NOT NULL OR tool_call_id IS NOT NULL), " \
	"CASE WHEN role OPERATOR(pg_catalog.=) 'tool' THEN tool_call_id END, " \
	"CASE WHEN role OPERATOR(pg_catalog.=) 'assistant' THEN tool_calls END, " \
	"CASE WHEN role OPERATOR(pg_catalog.=) 'assistant' THEN tool_call_id END " \
	"FROM @S@.chat_messages "
/* 1.4: an item's own size counts too (a reasoning item's encrypted content) */
#define LIGHT_COLUMNS LIGHT_COLUMNS_HEAD LIGHT_COLUMNS_TAIL
#define LIGHT_COLUMNS_ITEMS LIGHT_COLUMNS_HEAD \
	"COALESCE(pg_catalog.pg_column_size(item), 0) OPERATOR(pg_catalog.+) " LIGHT_COLUMNS_TAIL
#define IN_RANGE_LOG \
	"WHERE thread_id OPERATOR(pg_catalog.=) $1 AND seq OPERATOR(pg_catalog.>) $2 " \
	"AND seq OPERATOR(pg_catalog.<) $3 "
/*
 * chatstore 1.3: a branched thread's history is its active path (written so
 * that the planner does not take it for a selective condition: a <@ of an
 * unknown multirange is estimated at 0.5 %, and the plan then sorts the
 * whole thread instead of reading its newest rows from the index)
 */
#define IN_RANGE_PATH IN_RANGE_LOG \
	"AND COALESCE(seq OPERATOR(pg_catalog.<@) (SELECT t.active_path FROM @S@.chat_threads AS t " \
	"WHERE t.id OPERATOR(pg_catalog.=) $1), true) "
#define IN_RANGE(v13, head, tail) ((v13) ? head IN_RANGE_PATH tail : head IN_RANGE_LOG tail)
/* the light query of a plan slot: with or without the item column */
#define LIGHT_SQL(items, tree, tail) \
	((items) ? IN_RANGE(tree, LIGHT_COLUMNS_ITEMS, tail) : IN_RANGE(tree, LIGHT_COLUMNS, tail))

static const Oid range_types[] = {TEXTOID, INT8OID, INT8OID, INT8OID};

typedef struct HistoryOut
{
	Tuplestorestate *store;
	TupleDesc	desc;			/* the chat_messages row type */
} HistoryOut;

/* one light row: what the budget needs to know of a message */
typedef struct LightRow
{
	int64		seq;
	bool		is_system;		/* system or developer */
	bool		is_tool;
	bool		is_assistant;
	bool		has_tool_calls;
	int64		tokens;
	char	   *answer_id;		/* a tool message's tool_call_id */
	int			ncalls;			/* the ids of the calls it makes */
	char	  **call_ids;		/* (an element is NULL for a call without id) */
} LightRow;

/* the light rows of a window, oldest first */
typedef struct LightRows
{
	LightRow   *rows;
	int64		n;
	int64		cap;
} LightRows;

/* the newest contiguous run that fits, built from rows fed newest first */
typedef struct Budget
{
	int64		limit;
	int64		used;
	bool		stopped;
	int64		run_start;		/* smallest seq taken; 0 when none */
	int64		pend_tokens;	/* tool answers waiting for their assistant */
	int64		pend_first;
	bool		have_pend;
} Budget;

/*
 * Seqs and token counts come from the table (any bigint a direct UPDATE
 * may have put there) and from the arguments, so the arithmetic on them is
 * overflow-safe: sums saturate, and ranges are tested without computing a
 * bound that may not exist.
 */
static int64
add_sat(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		return b > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return r;
}

/* no integer strictly between lo and hi */
static bool
empty_range(int64 lo, int64 hi)
{
	int64		below_hi;

	if (pg_sub_s64_overflow(hi, 1, &below_hi))
		return true;			/* hi is the smallest bigint */
	return lo >= below_hi;
}

static void
budget_take(Budget *b, int64 tokens, int64 first_seq)
{
	int64		used;

	if (b->stopped)
		return;
	if (!pg_add_s64_overflow(b->used, tokens, &used) && used <= b->limit)
	{
		b->used = used;
		b->run_start = first_seq;
	}
	else
		b->stopped = true;
}

static void
budget_flush_pending(Budget *b)
{
	if (b->have_pend)
		budget_take(b, b->pend_tokens, b->pend_first);
	b->have_pend = false;
	b->pend_tokens = 0;
}

/* feed one message, newest first; an assistant with tool_calls and the
 * tool messages that answer it are taken together or not at all */
static void
budget_feed(Budget *b, LightRow *r)
{
	if (b->stopped)
		return;
	if (r->is_tool)
	{
		b->pend_tokens = add_sat(b->pend_tokens, r->tokens);
		b->pend_first = r->seq;
		b->have_pend = true;
		return;
	}
	if (r->is_assistant && r->has_tool_calls && b->have_pend)
	{
		int64		tokens = add_sat(r->tokens, b->pend_tokens);

		b->have_pend = false;
		b->pend_tokens = 0;
		budget_take(b, tokens, r->seq);
		return;
	}
	budget_flush_pending(b);
	budget_take(b, r->tokens, r->seq);
}

static void
light_row(HeapTuple tup, TupleDesc desc, LightRow *r)
{
	bool		isnull;
	char	   *role;
	Datum		d;

	r->seq = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	role = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
	r->tokens = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
	r->has_tool_calls = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	r->is_system = strcmp(role, "system") == 0 || strcmp(role, "developer") == 0;
	r->is_tool = strcmp(role, "tool") == 0;
	r->is_assistant = strcmp(role, "assistant") == 0;
	pfree(role);
	r->answer_id = NULL;
	r->ncalls = 0;
	r->call_ids = NULL;
	d = SPI_getbinval(tup, desc, 5, &isnull);
	if (!isnull)
		r->answer_id = TextDatumGetCString(d);
	if (!r->has_tool_calls)
		return;
	/* the ids of the assistant's tool_calls (an id that is not a string: NULL) */
	d = SPI_getbinval(tup, desc, 6, &isnull);
	if (!isnull)
	{
		Jsonb	   *calls = DatumGetJsonbP(d);

		if (JB_ROOT_IS_ARRAY(calls) && !JB_ROOT_IS_SCALAR(calls))
		{
			JsonbIterator *it = JsonbIteratorInit(&calls->root);
			JsonbValue	v;
			JsonbIteratorToken tok;

			r->call_ids = palloc(sizeof(char *) * (JB_ROOT_COUNT(calls) + 1));
			while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			{
				JsonbValue *id;

				if (tok != WJB_ELEM)
					continue;
				id = (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data)) ?
					getKeyJsonValueFromContainer(v.val.binary.data, "id", 2, NULL) : NULL;
				r->call_ids[r->ncalls++] = (id != NULL && id->type == jbvString) ?
					pnstrdup(id->val.string.val, id->val.string.len) : NULL;
			}
		}
	}
	/* and the call of an item (a function_call's call_id) */
	d = SPI_getbinval(tup, desc, 7, &isnull);
	if (!isnull)
	{
		if (r->call_ids == NULL)
			r->call_ids = palloc(sizeof(char *));
		r->call_ids[r->ncalls++] = TextDatumGetCString(d);
	}
}

static void
light_rows_add(LightRows *lr, LightRow *r)
{
	if (lr->n == lr->cap)
	{
		int64		cap = lr->cap == 0 ? 64 : lr->cap * 2;

		LightRow   *rows = chatstore_alloc_array(sizeof(LightRow), cap, false);

		if (lr->n > 0)
			memcpy(rows, lr->rows, sizeof(LightRow) * lr->n);
		if (lr->rows != NULL)
			pfree(lr->rows);
		lr->rows = rows;
		lr->cap = cap;
	}
	lr->rows[lr->n++] = *r;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* a call id of a row, or an answer's id, for the pairing by id */
typedef struct IdEntry
{
	const char *id;
	int64		seq;
	int64		row;			/* index into the window's rows */
	int			slot;			/* a call: which of the row's calls; -1: an answer */
} IdEntry;

static int
cmp_id_entry(const void *a, const void *b)
{
	const IdEntry *x = (const IdEntry *) a;
	const IdEntry *y = (const IdEntry *) b;
	int			c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/*
 * Tool calls by id: an answer answers the latest call with its id before it
 * (providers that number calls per turn reuse ids).  Of the window's rows
 * (oldest first), a message that calls tools stays only when every one of
 * its calls has such an answer in the window, and an answer only when the
 * message with its call stays.  Returns the seqs to leave out, in seq order
 * (*nout of them).
 */
static int64 *
unpaired_calls(LightRows *lr, int64 *nout)
{
	IdEntry    *e;
	int64		ne = 0,
				ncalls = 0,
				nex = 0,
				i,
				k;
	int64	   *first_slot;		/* a row's first call in answered[] */
	bool	   *answered;
	int64	   *answer_row;		/* an answer's call row, or -1 */
	bool	   *drop;
	int64	   *ex;

	*nout = 0;
	if (lr->n == 0)
		return NULL;
	first_slot = chatstore_alloc_array(sizeof(int64), lr->n, false);
	for (i = 0; i < lr->n; i++)
	{
		first_slot[i] = ncalls;
		ncalls += lr->rows[i].ncalls;
	}
	answered = chatstore_alloc_array(sizeof(bool), ncalls, true);
	answer_row = chatstore_alloc_array(sizeof(int64), lr->n, false);
	e = chatstore_alloc_array(sizeof(IdEntry), ncalls + lr->n, false);
	for (i = 0; i < lr->n; i++)
	{
		LightRow   *r = &lr->rows[i];
		int			j;

		answer_row[i] = -1;
		for (j = 0; j < r->ncalls; j++)
			if (r->call_ids[j] != NULL)
			{
				e[ne].id = r->call_ids[j];
				e[ne].seq = r->seq;
				e[ne].row = i;
				e[ne].slot = j;
				ne++;
			}
		if (r->is_tool && r->answer_id != NULL)
		{
			e[ne].id = r->answer_id;
			e[ne].seq = r->seq;
			e[ne].row = i;
			e[ne].slot = -1;
			ne++;
		}
	}
	qsort(e, ne, sizeof(IdEntry), cmp_id_entry);
	/* each id's entries in seq order: an answer goes to the call before it */
	for (k = 0; k < ne;)
	{
		IdEntry    *last = NULL;	/* the id's latest call so far */
		int64		m;

		for (m = k; m < ne && strcmp(e[m].id, e[k].id) == 0; m++)
		{
			if (e[m].slot >= 0)
				last = &e[m];
			else if (last != NULL)
			{
				answered[first_slot[last->row] + last->slot] = true;
				answer_row[e[m].row] = last->row;
			}
		}
		k = m;
	}

	drop = chatstore_alloc_array(sizeof(bool), lr->n, true);
	for (i = 0; i < lr->n; i++)
	{
		LightRow   *r = &lr->rows[i];
		int			j;

		if (!r->has_tool_calls)
			continue;
		if (r->ncalls == 0)
			drop[i] = true;		/* tool_calls that hold no call */
		for (j = 0; j < r->ncalls; j++)
			if (r->call_ids[j] == NULL || !answered[first_slot[i] + j])
				drop[i] = true;
	}
	for (i = 0; i < lr->n; i++)
		if (lr->rows[i].is_tool && (answer_row[i] < 0 || drop[answer_row[i]]))
			drop[i] = true;

	ex = chatstore_alloc_array(sizeof(int64), lr->n, false);
	for (i = 0; i < lr->n; i++)
		if (drop[i])
			ex[nex++] = lr->rows[i].seq;
	*nout = nex;				/* (the rows are in seq order) */
	return ex;
}

/* copy SPI rows into the result, mapping around dropped columns */
static void
emit_rows(HistoryOut *out, SPITupleTable *tt, uint64 n, bool reverse,
		  const int64 *skip, int64 nskip)
{
	int			natts = out->desc->natts;
	Datum	   *spivals = palloc(sizeof(Datum) * tt->tupdesc->natts);
	bool	   *spinulls = palloc(sizeof(bool) * tt->tupdesc->natts);
	Datum	   *values = palloc(sizeof(Datum) * natts);
	bool	   *nulls = palloc(sizeof(bool) * natts);
	uint64		i;

	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[reverse ? n - 1 - i : i];
		int			a,
					src = 0;

		heap_deform_tuple(tup, tt->tupdesc, spivals, spinulls);
		if (nskip > 0)
		{
			int64		seq;

			/* seq is the third column of chat_messages in every version */
			if (spinulls[2])
				elog(ERROR, "chatstore: a message without seq");
			seq = DatumGetInt64(spivals[2]);
			if (bsearch(&seq, skip, nskip, sizeof(int64), cmp_int64) != NULL)
				continue;
		}
		for (a = 0; a < natts; a++)
		{
			if (TupleDescAttr(out->desc, a)->attisdropped || src >= tt->tupdesc->natts)
			{
				values[a] = (Datum) 0;
				nulls[a] = true;
				continue;
			}
			values[a] = spivals[src];
			nulls[a] = spinulls[src];
			src++;
		}
		tuplestore_putvalues(out->store, out->desc, values, nulls);
	}
}

/*
 * The thread has branched (chatstore 1.3): its history is its active path.
 * One probe of the thread row, so that a one-line thread's reads carry no
 * path condition.
 */
static bool
is_branched(Oid nsp, Datum thread_id)
{
	static const Oid types[] = {TEXTOID};
	SPIPlanPtr	plan;
	Datum		args[1];
	bool		isnull;
	bool		tree = false;
	int			rc;

	if (!chatstore_has_tombstones(nsp))
		return false;
	plan = chatstore_plan(CS_PLAN_THREAD_BRANCHED, nsp,
						  "SELECT active_path IS NOT NULL FROM @S@.chat_threads "
						  "WHERE id OPERATOR(pg_catalog.=) $1",
						  1, types);
	args[0] = thread_id;
	rc = SPI_execute_plan(plan, args, NULL, true, 1);
	chatstore_spi_check(rc, SPI_OK_SELECT, "reading the thread");
	if (SPI_processed == 1)
		tree = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return tree;
}

/* every message with lo < seq < hi, oldest first, but the skip ones */
static void
emit_range(HistoryOut *out, Oid nsp, bool tree, Datum thread_id, int64 lo, int64 hi,
		   const int64 *skip, int64 nskip)
{
	SPIPlanPtr	plan;
	Datum		args[3];
	int			rc;

	if (empty_range(lo, hi))
		return;
	plan = chatstore_plan(tree ? CS_PLAN_HISTORY_RANGE_PATH : CS_PLAN_HISTORY_RANGE, nsp,
						  IN_RANGE(tree, MSG_COLUMNS, "ORDER BY seq"), 3, range_types);
	args[0] = thread_id;
	args[1] = Int64GetDatum(lo);
	args[2] = Int64GetDatum(hi);
	rc = SPI_execute_plan(plan, args, NULL, true, 0);
	chatstore_spi_check(rc, SPI_OK_SELECT, "reading history");
	emit_rows(out, SPI_tuptable, SPI_processed, false, skip, nskip);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The thread's leading system (and developer) messages that are below hi:
 * their token sum, and the last seq of the run (0 when there is none).
 */
static int64
leading_system(Oid nsp, bool tree, Datum thread_id, int64 hi, int64 *prefix_last)
{
	SPIPlanPtr	plan;
	Portal		portal;
	Datum		args[3];
	int64		tokens = 0;
	bool		done = false;

	*prefix_last = 0;
	plan = chatstore_plan(tree ? CS_PLAN_LIGHT_ASC_PATH : CS_PLAN_LIGHT_ASC, nsp,
						  LIGHT_SQL(chatstore_has_items(nsp), tree, "ORDER BY seq"), 3, range_types);
	args[0] = thread_id;
	args[1] = Int64GetDatum(0);
	args[2] = Int64GetDatum(hi);
	portal = SPI_cursor_open(NULL, plan, args, NULL, true);
	while (!done)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 16);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			LightRow	r;

			light_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &r);
			if (!r.is_system)
			{
				done = true;
				break;
			}
			tokens = add_sat(tokens, r.tokens);
			*prefix_last = r.seq;
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	return tokens;
}

/*
 * Token budget.  The window is the messages with lo < seq < hi, cut to
 * max_messages (n > 0) when given.  The thread's leading system messages
 * (below hi) are always kept and count against the budget, wherever the
 * window is; then the newest contiguous run of the window's other messages
 * that fits.
 */
static void
emit_budget(HistoryOut *out, Oid nsp, bool tree, Datum thread_id, int64 lo, int64 hi,
			int64 n, bool first, int64 max_tokens)
{
	Datum		args[4];
	int64		sys_tokens;
	int64		prefix_last;	/* last seq of the leading system run */
	Budget		b;
	LightRows	seen;			/* the window's rows, newest first */
	int64	   *skip;
	int64		nskip,
				i;
	bool		items = chatstore_has_items(nsp);
	int			rc;

	memset(&b, 0, sizeof(b));
	memset(&seen, 0, sizeof(seen));
	sys_tokens = leading_system(nsp, tree, thread_id, hi, &prefix_last);
	if (pg_sub_s64_overflow(max_tokens, sys_tokens, &b.limit))
		b.limit = -1;			/* the system messages alone are over budget */
	args[0] = thread_id;
	args[1] = Int64GetDatum(lo);
	args[2] = Int64GetDatum(hi);
	args[3] = Int64GetDatum(n);

	if (b.limit < 0)
		;						/* the system messages alone are over budget */
	else if (n > 0)
	{
		/* a bounded window: read its light rows at once */
		SPIPlanPtr	plan;
		LightRow   *rows;
		int64		nrows;

		if (first)
			plan = chatstore_plan(tree ? CS_PLAN_LIGHT_FIRST_PATH : CS_PLAN_LIGHT_FIRST, nsp,
								  LIGHT_SQL(items, tree, "ORDER BY seq LIMIT $4"), 4, range_types);
		else
			plan = chatstore_plan(tree ? CS_PLAN_LIGHT_LAST_PATH : CS_PLAN_LIGHT_LAST, nsp,
								  LIGHT_SQL(items, tree, "ORDER BY seq DESC LIMIT $4"), 4, range_types);
		rc = SPI_execute_plan(plan, args, NULL, true, 0);
		chatstore_spi_check(rc, SPI_OK_SELECT, "reading history");
		nrows = (int64) SPI_processed;
		rows = chatstore_alloc_array(sizeof(LightRow), nrows, false);
		for (i = 0; i < nrows; i++)	/* oldest first */
			light_row(SPI_tuptable->vals[first ? i : nrows - 1 - i],
					  SPI_tuptable->tupdesc, &rows[i]);
		SPI_freetuptable(SPI_tuptable);
		/* the window ends here (seq < hi, so seq + 1 cannot overflow) */
		if (nrows > 0)
			hi = rows[nrows - 1].seq + 1;
		for (i = nrows - 1; i >= 0 && !b.stopped; i--)
			if (rows[i].seq > prefix_last)	/* the system run is counted */
			{
				budget_feed(&b, &rows[i]);
				light_rows_add(&seen, &rows[i]);
			}
		budget_flush_pending(&b);
	}
	else
	{
		/* the whole range: stream, newest first, and stop when spent */
		SPIPlanPtr	plan;
		Portal		portal;

		plan = chatstore_plan(tree ? CS_PLAN_LIGHT_DESC_PATH : CS_PLAN_LIGHT_DESC, nsp,
							  LIGHT_SQL(items, tree, "ORDER BY seq DESC"), 3, range_types);
		args[1] = Int64GetDatum(Max(lo, prefix_last));
		portal = SPI_cursor_open(NULL, plan, args, NULL, true);
		while (!b.stopped)
		{
			uint64		i;

			CHECK_FOR_INTERRUPTS();
			SPI_cursor_fetch(portal, true, 128);
			if (SPI_processed == 0)
				break;
			for (i = 0; i < SPI_processed && !b.stopped; i++)
			{
				LightRow	r;

				light_row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &r);
				budget_feed(&b, &r);
				light_rows_add(&seen, &r);
			}
			SPI_freetuptable(SPI_tuptable);
		}
		budget_flush_pending(&b);
		SPI_cursor_close(portal);
	}

	/*
	 * The run taken: the rows seen from run_start on (seen is newest first;
	 * a row fed after the budget stopped is older than run_start).  Of
	 * those, leave out calls without all their answers and answers without
	 * their call.
	 */
	if (b.run_start > 0)
	{
		LightRows	run;

		memset(&run, 0, sizeof(run));
		for (i = seen.n - 1; i >= 0; i--)
			if (seen.rows[i].seq >= b.run_start)
				light_rows_add(&run, &seen.rows[i]);
		skip = unpaired_calls(&run, &nskip);
	}
	else
	{
		skip = NULL;
		nskip = 0;
	}

	if (prefix_last > 0)
		emit_range(out, nsp, tree, thread_id, 0, prefix_last + 1, NULL, 0);
	if (b.run_start > 0)
		emit_range(out, nsp, tree, thread_id, Max(b.run_start - 1, prefix_last), hi, skip, nskip);
}

static void
check_history_args(FunctionCallInfo fcinfo, int max_messages_arg, int max_tokens_arg)
{
	if (!PG_ARGISNULL(max_messages_arg) && PG_GETARG_INT32(max_messages_arg) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_messages must not be negative")));
	if (!PG_ARGISNULL(max_tokens_arg) && PG_GETARG_INT32(max_tokens_arg) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_tokens must not be negative")));
}

/*
 * _chat_history_limit(max_messages int) -> int
 * max_messages itself, or an error when it is negative.
 */
PG_FUNCTION_INFO_V1(chat_history_limit);
Datum
chat_history_limit(PG_FUNCTION_ARGS)
{
	check_history_args(fcinfo, 0, 0);
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_INT32(PG_GETARG_INT32(0));
}

/*
 * _chat_history_budget(thread_id text, max_messages int, before_seq bigint,
 *				after_seq bigint, max_tokens int) -> SETOF chat_messages
 */
PG_FUNCTION_INFO_V1(chat_history);
Datum
chat_history(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HistoryOut	out;
	MemoryContext oldcxt;
	Oid			nsp;
	Datum		thread_id;
	int64		lo = 0,
				hi = PG_INT64_MAX;
	int64		max_messages = 0;	/* 0: no limit on the window */
	int64		max_tokens;
	bool		after_given = !PG_ARGISNULL(3);

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("chat_history must be called in a context that accepts a set")));
	check_history_args(fcinfo, 1, 4);
	/* chat_history calls this for a token budget only */
	if (PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_tokens must not be null"),
				 errhint("Call chat_history; it reads without a budget itself.")));
	max_tokens = PG_GETARG_INT32(4);
	if (!PG_ARGISNULL(1))
		max_messages = PG_GETARG_INT32(1);
	if (!PG_ARGISNULL(2))
		hi = PG_GETARG_INT64(2);
	if (after_given)
		lo = Max(PG_GETARG_INT64(3), 0);
	nsp = chatstore_schema_of(fcinfo);
	thread_id = PG_GETARG_DATUM(0);

	/* the result: a tuplestore of chat_messages rows */
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &out.desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "chatstore: chat_history must return a row type");
	out.desc = CreateTupleDescCopy(out.desc);
	out.store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = out.store;
	rsinfo->setDesc = out.desc;
	MemoryContextSwitchTo(oldcxt);

	/* a NULL thread is no thread: nothing, as for an unknown one */
	if (PG_ARGISNULL(0) || empty_range(lo, hi) || (!PG_ARGISNULL(1) && max_messages == 0))
		return (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "chatstore: SPI_connect failed");
	emit_budget(&out, nsp, is_branched(nsp, thread_id), thread_id, lo, hi, max_messages, after_given, max_tokens);

	SPI_finish();
	return (Datum) 0;
}
