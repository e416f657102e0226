/*
 * chatstore.c
 *		Module entry: settings, the updated_at trigger, token usage helper,
 *		tenant confinement and small internal SQL helpers.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/sysattr.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/timestamp.h"

#include "chatstore.h"
#include "spi_util.h"

PG_MODULE_MAGIC;

int			chatstore_max_batch_messages = 100000;
int			chatstore_max_message_bytes = 32 * 1024 * 1024;
int			chatstore_tombstone_retention = 30 * 24 * 3600;	/* seconds */
bool		chatstore_notify = false;
bool		chatstore_delegate_saves = false;
char	   *chatstore_tenant = NULL;

/* deprecated and ignored since 1.2: still defined so that 1.1's SQL can set it */
static bool chatstore_touch_updated_at = true;

void		_PG_init(void);
static void delegated_xact_end(XactEvent event, void *arg);
static void delegated_subxact_end(SubXactEvent event, SubTransactionId mySubid,
								  SubTransactionId parentSubid, void *arg);

void
_PG_init(void)
{
	/*
	 * The limits are PGC_SUSET: they bound what one call may make the server
	 * do (memory), so an ordinary role must not raise them.  A superuser can
	 * set them per role or database (ALTER ROLE ... SET), or GRANT SET ON
	 * PARAMETER.
	 */
	DefineCustomIntVariable("chatstore.max_batch_messages",
							"Largest number of messages one chat_save_messages call accepts.",
							NULL,
							&chatstore_max_batch_messages,
							100000, 1, CHATSTORE_MAX_BATCH_LIMIT,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("chatstore.max_message_bytes",
							"Largest content (in bytes) of one message.",
							NULL,
							&chatstore_max_message_bytes,
							32 * 1024 * 1024, 1024, 512 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomIntVariable("chatstore.tombstone_retention",
							"How long chat_retention_purge_tombstones keeps the tombstones of deleted messages and threads.",
							"A re-send of a deleted message, or a save into a deleted thread, is recognized "
							"while its tombstone is kept.",
							&chatstore_tombstone_retention,
							30 * 24 * 3600, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("chatstore.notify",
							 "Send a NOTIFY on channel chatstore_messages for every save that inserts messages.",
							 NULL,
							 &chatstore_notify,
							 false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("chatstore.delegate_saves",
							 "Run each save on the Citus worker that holds its thread, in one round trip.",
							 "chat_distribute() sets it on the save functions of the coordinator; "
							 "elsewhere it only adds a call.",
							 &chatstore_delegate_saves,
							 false,
							 PGC_USERSET, GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	DefineCustomBoolVariable("chatstore.touch_updated_at",
							 "Deprecated and ignored (since chatstore 1.2).",
							 "The updated_at trigger no longer reads it: an UPDATE that assigns updated_at "
							 "keeps what it assigned, one that changes other columns sets the transaction "
							 "time, one that changes nothing leaves it.  It is still defined so that the "
							 "SQL of chatstore 1.1 (which sets it) keeps working.",
							 &chatstore_touch_updated_at,
							 true,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("chatstore.tenant",
							   "The tenant this session is confined to when tenant isolation is on.",
							   "Row-level security policies created by chat_enable_tenant_isolation() "
							   "compare it with each row's owner; empty sees nothing.",
							   &chatstore_tenant,
							   "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("chatstore");
#else
	EmitWarningsOnPlaceholders("chatstore");
#endif

	/* kept SPI plans follow renames of the extension's schema */
	chatstore_plans_init();
	RegisterXactCallback(delegated_xact_end, NULL);
	RegisterSubXactCallback(delegated_subxact_end, NULL);
}

void *
chatstore_alloc_array(Size elemsize, int64 n, bool zero)
{
	Size		size;

	if (n < 1)
		n = 1;
	if (elemsize > 0 && n > (int64) (MaxAllocHugeSize / elemsize))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot allocate " INT64_FORMAT " elements of %zu bytes", n, elemsize)));
	size = mul_size(elemsize, (Size) n);
	return palloc_extended(size, MCXT_ALLOC_HUGE | (zero ? MCXT_ALLOC_ZERO : 0));
}

/*
 * BEFORE UPDATE trigger: sets NEW.updated_at to the transaction start time
 * when the UPDATE does not assign updated_at itself and really changes some
 * other column.  An UPDATE that assigns updated_at (even to its old value)
 * keeps what it assigned; one that changes nothing leaves updated_at alone.
 * No setting is read: what is written does not depend on the session.
 */
PG_FUNCTION_INFO_V1(chat_set_updated_at_trigger);
Datum
chat_set_updated_at_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	int			attnum;
	int			natts;
	Datum	   *oldvals,
			   *newvals;
	bool	   *oldnulls,
			   *newnulls;
	bool		changed = false;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("chat_set_updated_at_trigger must be a BEFORE UPDATE FOR EACH ROW trigger")));

	newtuple = trigdata->tg_newtuple;
	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "updated_at");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"updated_at\"",
						RelationGetRelationName(trigdata->tg_relation))));

	/* the UPDATE assigns updated_at itself: keep what it assigned */
	if (bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber,
					  trigdata->tg_updatedcols))
		return PointerGetDatum(newtuple);

	/* does any other column change? */
	natts = tupdesc->natts;
	oldvals = palloc(sizeof(Datum) * natts);
	newvals = palloc(sizeof(Datum) * natts);
	oldnulls = palloc(sizeof(bool) * natts);
	newnulls = palloc(sizeof(bool) * natts);
	heap_deform_tuple(trigdata->tg_trigtuple, tupdesc, oldvals, oldnulls);
	heap_deform_tuple(newtuple, tupdesc, newvals, newnulls);
	for (i = 0; i < natts && !changed; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped || i == attnum - 1)
			continue;
		if (oldnulls[i] != newnulls[i])
			changed = true;
		else if (!oldnulls[i] &&
				 !datumIsEqual(oldvals[i], newvals[i], att->attbyval, att->attlen))
			changed = true;		/* binary difference (conservative) */
	}
	pfree(oldvals);
	pfree(newvals);
	pfree(oldnulls);
	pfree(newnulls);

	if (changed)
	{
		Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		bool		isnull = false;

		newtuple = heap_modify_tuple_by_cols(newtuple, tupdesc, 1, &attnum,
											 &now, &isnull);
	}
	return PointerGetDatum(newtuple);
}

/*
 * Read a member of a usage object; false when absent or null.  It must be
 * a non-negative integer that fits in a bigint: a fraction is refused like a
 * negative number (22003), never rounded.
 */
static bool
usage_member(JsonbContainer *usage, const char *key, int64 *out, int index)
{
	JsonbValue *v;
	Datum		num;

	v = getKeyJsonValueFromContainer(usage, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 index >= 0 ?
				 errmsg("usage.%s of messages[%d] must be a number", key, index) :
				 errmsg("usage.%s must be a number", key)));
	num = NumericGetDatum(v->val.numeric);
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, num,
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, num,
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))) ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, num,
										  DirectFunctionCall2(numeric_trunc, num, Int32GetDatum(0)))))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 index >= 0 ?
				 errmsg("usage.%s of messages[%d] must be a non-negative integer", key, index) :
				 errmsg("usage.%s must be a non-negative integer", key)));
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, num));
	return true;
}

/*
 * Token sums of a usage object (OpenAI: prompt/completion/total_tokens;
 * Anthropic and LangChain usage_metadata: input/output/total_tokens).
 * index >= 0 names the batch element in errors.
 */
void
chatstore_read_usage(JsonbContainer *usage, ChatUsage *out, int index)
{
	int64		v;
	bool		has_prompt;

	memset(out, 0, sizeof(*out));
	if (usage == NULL || !JsonContainerIsObject(usage))
		return;
	has_prompt = usage_member(usage, "input_tokens", &out->prompt, index) ||
		usage_member(usage, "prompt_tokens", &out->prompt, index);
	out->has_completion = usage_member(usage, "output_tokens", &out->completion, index) ||
		usage_member(usage, "completion_tokens", &out->completion, index);
	if (usage_member(usage, "total_tokens", &v, index))
		out->total = v;
	else if (pg_add_s64_overflow(has_prompt ? out->prompt : 0, out->completion, &out->total))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 index >= 0 ?
				 errmsg("total tokens of messages[%d] are out of range", index) :
				 errmsg("total tokens are out of range"),
				 errdetail("input/prompt tokens plus output/completion tokens exceed %lld.",
						   (long long) PG_INT64_MAX)));
}

/*
 * chat_usage_tokens(usage jsonb, kind text) -> bigint
 * kind: 'prompt', 'completion' or 'total'; the same rules the thread sums use.
 */
PG_FUNCTION_INFO_V1(chat_usage_tokens);
Datum
chat_usage_tokens(PG_FUNCTION_ARGS)
{
	Jsonb	   *usage = PG_GETARG_JSONB_P(0);
	char	   *kind = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ChatUsage	u;

	if (!JB_ROOT_IS_OBJECT(usage))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("usage must be a JSON object")));
	chatstore_read_usage(&usage->root, &u, -1);
	if (strcmp(kind, "prompt") == 0)
		PG_RETURN_INT64(u.prompt);
	if (strcmp(kind, "completion") == 0)
		PG_RETURN_INT64(u.completion);
	if (strcmp(kind, "total") == 0)
		PG_RETURN_INT64(u.total);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid usage kind \"%s\"", kind),
			 errhint("Use \"prompt\", \"completion\" or \"total\".")));
	PG_RETURN_NULL();			/* not reached */
}

/*
 * A delegated call.  On a Citus cluster a writing function of the
 * coordinator passes its call to its _at variant, which Citus runs on the
 * worker that holds the thread (chat_distribute), with what only the calling
 * session knows: the tenant the caller is confined to (the worker's
 * connection is the function owner's, whose confinement is not the
 * caller's), chatstore.tenant, the transaction's time, its TimeZone and its
 * (lower) limits.  _chat_delegated_enter makes them hold on this node until
 * _chat_delegated_leave, or until the (sub)transaction that entered ends by
 * an error.
 */
static bool delegated_active = false;
static char *delegated_confined = NULL; /* in TopMemoryContext; NULL: not confined */
static TimestampTz delegated_at = 0;
static SubTransactionId delegated_subxact = InvalidSubTransactionId;
static int	delegated_nest = -1;

/*
 * The notifications of a delegated call (channel, payload: two strings in
 * TopMemoryContext each), which the worker does not send: listeners are
 * connected to the coordinator, which sends them (_chat_delegated_end,
 * _chat_notify_relayed).
 */
static List *delegated_notifies = NIL;

static void
delegated_reset(void)
{
	delegated_active = false;
	if (delegated_confined != NULL)
		pfree(delegated_confined);
	delegated_confined = NULL;
	list_free_deep(delegated_notifies);
	delegated_notifies = NIL;
	delegated_subxact = InvalidSubTransactionId;
	delegated_nest = -1;
}

static void
delegated_xact_end(XactEvent event, void *arg)
{
	if (delegated_active &&
		(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		 event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		 event == XACT_EVENT_PREPARE))
		delegated_reset();
}

static void
delegated_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					  SubTransactionId parentSubid, void *arg)
{
	if (delegated_active && event == SUBXACT_EVENT_ABORT_SUB &&
		mySubid == delegated_subxact)
		delegated_reset();
}

bool
chatstore_in_delegated_call(void)
{
	return delegated_active;
}

TimestampTz
chatstore_now(void)
{
	return delegated_active ? delegated_at : GetCurrentTransactionStartTimestamp();
}

/*
 * A calling session's values hold on this node until AtEOXact_GUC(true,
 * <the returned nest level>): chatstore.tenant, TimeZone, the limits only
 * where they are lower than this node's (a limit is a superuser's setting;
 * an owner calling a delegated function directly must not raise it), and
 * chatstore.notify unless notify is -1.  For the delegated saves (save.c)
 * and the other delegated calls.
 */
int
chatstore_enter_session_values(const char *tenant, const char *time_zone,
							   int max_batch_messages, int max_message_bytes,
							   int notify)
{
	int			nest = NewGUCNestLevel();

	if (notify >= 0)
		(void) set_config_option("chatstore.notify", notify ? "on" : "off",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	(void) set_config_option("chatstore.tenant", tenant,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("TimeZone", time_zone,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (max_batch_messages < chatstore_max_batch_messages)
		(void) set_config_option("chatstore.max_batch_messages", psprintf("%d", max_batch_messages),
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (max_message_bytes < chatstore_max_message_bytes)
		(void) set_config_option("chatstore.max_message_bytes", psprintf("%d", max_message_bytes),
								 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/*
 * _chat_delegated_enter(confined_tenant text, tenant text, at timestamptz,
 *						 time_zone text, max_batch_messages int,
 *						 max_message_bytes int, notify boolean) -> void
 * The calling session's values hold on this node (see above): the limits
 * only where lower than this node's (a limit is a superuser's setting).
 * With notify, the call's notifications are kept for _chat_delegated_end.
 */
PG_FUNCTION_INFO_V1(chat_delegated_enter);
Datum
chat_delegated_enter(PG_FUNCTION_ARGS)
{
	if (delegated_active)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("a delegated call is already running")));
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4) || PG_ARGISNULL(5) || PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at, time_zone, the limits and notify must not be null")));
	delegated_nest = chatstore_enter_session_values(PG_ARGISNULL(1) ? "" : TextDatumGetCString(PG_GETARG_DATUM(1)),
													TextDatumGetCString(PG_GETARG_DATUM(3)),
													PG_GETARG_INT32(4), PG_GETARG_INT32(5),
													PG_GETARG_BOOL(6) ? 1 : 0);
	delegated_confined = PG_ARGISNULL(0) ? NULL :
		MemoryContextStrdup(TopMemoryContext, TextDatumGetCString(PG_GETARG_DATUM(0)));
	delegated_at = PG_GETARG_TIMESTAMPTZ(2);
	delegated_subxact = GetCurrentSubTransactionId();
	delegated_active = true;
	PG_RETURN_VOID();
}

static void
delegated_leave(void)
{
	if (delegated_active)
	{
		int			nest = delegated_nest;

		delegated_reset();
		AtEOXact_GUC(true, nest);
	}
}

/*
 * _chat_delegated_leave() -> void: the end of a delegated call that sends
 * no notification
 */
PG_FUNCTION_INFO_V1(chat_delegated_leave);
Datum
chat_delegated_leave(PG_FUNCTION_ARGS)
{
	if (delegated_notifies != NIL)
		elog(ERROR, "chatstore: a delegated call that notifies ended without returning its notifications");
	delegated_leave();
	PG_RETURN_VOID();
}

/*
 * _chat_delegated_end() -> jsonb: the end of a delegated call, and its
 * notifications for the coordinator to send: [[channel, payload], ...]
 * in the order they were made ([] when none)
 */
PG_FUNCTION_INFO_V1(chat_delegated_end);
Datum
chat_delegated_end(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	int			i;
	Datum		result;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (i = 0; i + 1 < list_length(delegated_notifies); i += 2)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoChar(&buf, '[');
		escape_json(&buf, (const char *) list_nth(delegated_notifies, i));
		appendStringInfoString(&buf, ", ");
		escape_json(&buf, (const char *) list_nth(delegated_notifies, i + 1));
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, ']');
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
	delegated_leave();
	PG_RETURN_DATUM(result);
}

/*
 * A notification of chatstore (chatstore_messages, chatstore_stream): sent
 * at commit, or in a delegated call kept for the coordinator, where the
 * listeners are.
 */
void
chatstore_send_notify(const char *channel, const char *payload)
{
	if (delegated_active)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		delegated_notifies = lappend(delegated_notifies, pstrdup(channel));
		delegated_notifies = lappend(delegated_notifies, pstrdup(payload));
		MemoryContextSwitchTo(old);
	}
	else
		Async_Notify(channel, payload);
}

static void
check_notify_channel(const char *channel)
{
	if (strcmp(channel, CHATSTORE_NOTIFY_CHANNEL) != 0 &&
		strcmp(channel, CHATSTORE_STREAM_CHANNEL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a channel of chatstore", channel),
				 errhint("The channels are %s and %s.",
						 CHATSTORE_NOTIFY_CHANNEL, CHATSTORE_STREAM_CHANNEL)));
}

/* _chat_notify(channel text, payload text) -> void: chatstore_send_notify */
PG_FUNCTION_INFO_V1(chat_notify);
Datum
chat_notify(PG_FUNCTION_ARGS)
{
	char	   *channel;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("channel and payload must not be null")));
	channel = TextDatumGetCString(PG_GETARG_DATUM(0));
	check_notify_channel(channel);
	chatstore_send_notify(channel, TextDatumGetCString(PG_GETARG_DATUM(1)));
	PG_RETURN_VOID();
}

/*
 * _chat_notify_relayed(notifications jsonb) -> void: send (or, in a
 * delegated call, keep) the notifications a delegated call returned
 * (_chat_delegated_end)
 */
PG_FUNCTION_INFO_V1(chat_notify_relayed);
Datum
chat_notify_relayed(PG_FUNCTION_ARGS)
{
	Jsonb	   *notifies;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0;
	char	   *channel = NULL;
	int			n = 0;

	if (PG_ARGISNULL(0))
		PG_RETURN_VOID();
	notifies = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_ARRAY(notifies) || JB_ROOT_IS_SCALAR(notifies))
		goto bad;
	it = JsonbIteratorInit(&notifies->root);
	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (tok)
		{
			case WJB_BEGIN_ARRAY:
				if (++depth > 2)
					goto bad;
				n = 0;
				break;
			case WJB_END_ARRAY:
				if (depth-- == 2 && n != 2)
					goto bad;
				break;
			case WJB_ELEM:
				if (depth != 2 || v.type != jbvString || ++n > 2)
					goto bad;
				if (n == 1)
				{
					channel = pnstrdup(v.val.string.val, v.val.string.len);
					check_notify_channel(channel);
				}
				else
					chatstore_send_notify(channel, pnstrdup(v.val.string.val, v.val.string.len));
				break;
			default:
				goto bad;
		}
	}
	PG_RETURN_VOID();

bad:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("notifications must be a JSON array of [channel, payload] arrays")));
	PG_RETURN_VOID();			/* not reached */
}

/*
 * _chat_delegating() -> boolean: a writing function passes its call to its
 * _at variant: chatstore.delegate_saves is on (chat_distribute sets it on
 * the functions of the coordinator) and this is not already a delegated
 * call
 */
PG_FUNCTION_INFO_V1(chat_delegating);
Datum
chat_delegating(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(chatstore_delegate_saves && !delegated_active);
}

/* _chat_now() -> timestamptz: the calling session's transaction time */
PG_FUNCTION_INFO_V1(chat_now);
Datum
chat_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(chatstore_now());
}

const char *
chatstore_confined_tenant(Oid nsp)
{
	Oid			relid;

	if (delegated_active)
		return delegated_confined;
	relid = get_relname_relid("chat_threads", nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.chat_threads\" does not exist",
						get_namespace_name(nsp))));

	/*
	 * check_enable_rls decides for the user it is given exactly what the
	 * executor decides for a query: RLS_ENABLED when the policies apply.
	 * It reads pg_class and pg_authid through the syscache.
	 */
	if (check_enable_rls(relid, GetOuterUserId(), true) != RLS_ENABLED)
		return NULL;
	return chatstore_tenant != NULL ? chatstore_tenant : "";
}

/*
 * _chat_tenant() -> text
 * NULL when the calling (outer) role is not confined by tenant isolation,
 * else the setting chatstore.tenant ('' when unset).  Functions that run as
 * the extension owner (SECURITY DEFINER, which bypasses row-level security)
 * use it to confine their callers themselves.
 */
PG_FUNCTION_INFO_V1(chat_tenant);
Datum
chat_tenant(PG_FUNCTION_ARGS)
{
	const char *tenant = chatstore_confined_tenant(chatstore_schema_of(fcinfo));

	if (tenant == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(tenant));
}

/*
 * _chat_policy_tenant() -> text
 * The setting chatstore.tenant on this node, for the tenant isolation
 * policies of a distributed database: there each node that holds rows
 * evaluates the policy with its own settings, and a worker sees the
 * coordinator's chatstore.tenant only when it was set for the transaction
 * (SET LOCAL, with citus.propagate_set_commands = local).  Unset or empty it
 * is an error (42501), so that a session-level SET fails closed and loudly
 * instead of reading an empty table.
 */
PG_FUNCTION_INFO_V1(chat_policy_tenant);
Datum
chat_policy_tenant(PG_FUNCTION_ARGS)
{
	if (chatstore_tenant == NULL || chatstore_tenant[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("chatstore.tenant is not set on this node"),
				 errdetail("Tenant isolation on a distributed database reads chatstore.tenant on the node that holds the rows; a session-level SET or a set_config() stays on the coordinator."),
				 errhint("Set it for the transaction: SET LOCAL chatstore.tenant = '...', with citus.propagate_set_commands = 'local'.")));
	PG_RETURN_TEXT_P(cstring_to_text(chatstore_tenant));
}

/*
 * _chat_required(value text, what text) -> text
 * value, or 22023 "<what> must not be null or empty".
 */
PG_FUNCTION_INFO_V1(chat_required);
Datum
chat_required(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0) || VARSIZE_ANY_EXHDR(PG_GETARG_TEXT_PP(0)) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be null or empty",
						PG_ARGISNULL(1) ? "value" : text_to_cstring(PG_GETARG_TEXT_PP(1)))));
	PG_RETURN_DATUM(PG_GETARG_DATUM(0));
}
