/*
 * chatstore.c
 *		Module entry: settings, the updated_at trigger, token usage helper.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "chatstore.h"

PG_MODULE_MAGIC;

int			chatstore_max_batch_messages = 100000;
int			chatstore_max_message_bytes = 32 * 1024 * 1024;
bool		chatstore_notify = false;
bool		chatstore_touch_updated_at = true;
char	   *chatstore_tenant = NULL;

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("chatstore.max_batch_messages",
							"Largest number of messages one chat_save_messages call accepts.",
							NULL,
							&chatstore_max_batch_messages,
							100000, 1, 10000000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("chatstore.max_message_bytes",
							"Largest content (in bytes) of one message.",
							NULL,
							&chatstore_max_message_bytes,
							32 * 1024 * 1024, 1024, 512 * 1024 * 1024,
							PGC_USERSET, GUC_UNIT_BYTE, NULL, NULL, NULL);
	DefineCustomBoolVariable("chatstore.notify",
							 "Send a NOTIFY on channel chatstore_messages for every save that inserts messages.",
							 NULL,
							 &chatstore_notify,
							 false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("chatstore.touch_updated_at",
							 "Set updated_at to the transaction time on every UPDATE of a chatstore row that does not set it.",
							 "Off: such an UPDATE leaves updated_at as it was.  The retention functions "
							 "turn it off for their own updates, so trimming a thread does not make it recent.",
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
}

/*
 * BEFORE UPDATE trigger: set NEW.updated_at to now(), unless the UPDATE
 * itself set updated_at to a new value (importers keep their timestamps) or
 * chatstore.touch_updated_at is off.
 */
PG_FUNCTION_INFO_V1(chat_set_updated_at_trigger);
Datum
chat_set_updated_at_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtuple;
	int			attnum;
	bool		oldnull,
				newnull;
	Datum		oldval,
				newval;
	Datum		now;
	bool		isnull = false;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("chat_set_updated_at_trigger must be a BEFORE UPDATE FOR EACH ROW trigger")));

	newtuple = trigdata->tg_newtuple;
	if (!chatstore_touch_updated_at)
		return PointerGetDatum(newtuple);

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	attnum = SPI_fnumber(tupdesc, "updated_at");
	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"updated_at\"",
						RelationGetRelationName(trigdata->tg_relation))));

	oldval = heap_getattr(trigdata->tg_trigtuple, attnum, tupdesc, &oldnull);
	newval = heap_getattr(newtuple, attnum, tupdesc, &newnull);
	if (oldnull == newnull &&
		(oldnull || DatumGetTimestampTz(oldval) == DatumGetTimestampTz(newval)))
	{
		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
		newtuple = heap_modify_tuple_by_cols(newtuple, tupdesc, 1, &attnum,
											 &now, &isnull);
	}
	return PointerGetDatum(newtuple);
}

/* read a non-negative integer member of a usage object; false when absent */
static bool
usage_member(JsonbContainer *usage, const char *key, int64 *out, int index)
{
	JsonbValue *v;

	v = getKeyJsonValueFromContainer(usage, key, strlen(key), NULL);
	if (v == NULL || v->type == jbvNull)
		return false;
	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 index >= 0 ?
				 errmsg("usage.%s of messages[%d] must be a number", key, index) :
				 errmsg("usage.%s must be a number", key)));
	if (numeric_is_nan(v->val.numeric) || numeric_is_inf(v->val.numeric) ||
		DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(v->val.numeric),
										 DirectFunctionCall1(int8_numeric, Int64GetDatum(PG_INT64_MAX)))))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 index >= 0 ?
				 errmsg("usage.%s of messages[%d] must be a non-negative integer", key, index) :
				 errmsg("usage.%s must be a non-negative integer", key)));
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
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
