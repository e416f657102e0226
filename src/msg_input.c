/*
 * msg_input.c
 *		Reading and validating the JSON messages of a save call.
 *
 * The input array is read directly from the jsonb datum, element by element.
 * Every error names the offending element by its 0-based index, so a client
 * knows which message of a batch was wrong; nothing is written on error.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "msg_input.h"

/*
 * Scratch memory for the checks of one message (numeric conversions,
 * timestamp parsing): reset for every message of a batch, so a batch's
 * memory holds only what is kept.  NULL outside chatstore_read_messages.
 */
static MemoryContext scratch = NULL;

static const char *const canonical_roles[] = {
	"user", "assistant", "system", "developer", "tool", "function"
};

const char *
chatstore_canonical_role(const char *s, int len)
{
	int			i;

	for (i = 0; i < (int) lengthof(canonical_roles); i++)
	{
		if ((int) strlen(canonical_roles[i]) == len &&
			pg_strncasecmp(s, canonical_roles[i], len) == 0)
			return canonical_roles[i];
	}
	if (len == 5 && pg_strncasecmp(s, "human", 5) == 0)
		return "user";
	if (len == 2 && pg_strncasecmp(s, "ai", 2) == 0)
		return "assistant";
	return NULL;
}

static const char *
json_type_name(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvNumeric:
			return "number";
		case jbvBool:
			return "boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "array" : "object";
		default:
			return "value";
	}
}

char *
chatstore_check_id(const char *s, int len, const char *what, int index)
{
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 index >= 0 ?
				 errmsg("%s of messages[%d] must not be empty", what, index) :
				 errmsg("%s must not be empty", what)));
	if (len > CHATSTORE_MAX_ID_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 index >= 0 ?
				 errmsg("%s of messages[%d] is too long", what, index) :
				 errmsg("%s is too long", what),
				 errdetail("It has %d bytes; the limit is %d.", len, CHATSTORE_MAX_ID_BYTES)));
	return pnstrdup(s, len);
}

/* a string field (or null); anything else is an error */
static text *
string_field(JsonbValue *v, const char *field, int index)
{
	if (v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of messages[%d] must be a string", field, index),
				 errdetail("Found a JSON %s.", json_type_name(v))));
	return cstring_to_text_with_len(v->val.string.val, v->val.string.len);
}

/* an object field (or null); anything else is an error */
static bool
object_field(JsonbValue *v, const char *field, int index)
{
	if (v->type == jbvNull)
		return false;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s of messages[%d] must be a JSON object", field, index),
				 errdetail("Found a JSON %s.", json_type_name(v))));
	return true;
}

/*
 * content given as an array of parts (OpenAI, LangChain): keep the array and
 * return the concatenation of its text parts (NULL when it has none).
 */
static text *
content_parts(JsonbValue *arr, int index)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	StringInfoData buf;
	bool		any_text = false;
	int			part = 0;

	initStringInfo(&buf);
	it = JsonbIteratorInit(arr->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (v.type == jbvString)
		{
			appendBinaryStringInfo(&buf, v.val.string.val, v.val.string.len);
			any_text = true;
		}
		else if (v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			JsonbValue *type = getKeyJsonValueFromContainer(v.val.binary.data, "type", 4, NULL);
			JsonbValue *txt = getKeyJsonValueFromContainer(v.val.binary.data, "text", 4, NULL);

			if (type != NULL && type->type == jbvString &&
				((type->val.string.len == 4 && memcmp(type->val.string.val, "text", 4) == 0) ||
				 (type->val.string.len == 10 && memcmp(type->val.string.val, "input_text", 10) == 0) ||
				 (type->val.string.len == 11 && memcmp(type->val.string.val, "output_text", 11) == 0)))
			{
				if (txt == NULL || txt->type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("text part %d of messages[%d] has no string \"text\"", part, index)));
				appendBinaryStringInfo(&buf, txt->val.string.val, txt->val.string.len);
				any_text = true;
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("content part %d of messages[%d] must be a string or an object", part, index),
					 errdetail("Found a JSON %s.", json_type_name(&v))));
		part++;
	}
	return any_text ? cstring_to_text_with_len(buf.data, buf.len) : NULL;
}

static int32
token_count_field(JsonbValue *v, int index)
{
	Numeric		num;
	Datum		trunc;

	if (v->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token_count of messages[%d] must be an integer", index),
				 errdetail("Found a JSON %s.", json_type_name(v))));
	num = v->val.numeric;
	trunc = DirectFunctionCall2(numeric_trunc, NumericGetDatum(num), Int32GetDatum(0));
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num), trunc)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token_count of messages[%d] must be an integer", index)));
	if (DatumGetBool(DirectFunctionCall2(numeric_lt, NumericGetDatum(num),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)))) ||
		DatumGetBool(DirectFunctionCall2(numeric_gt, NumericGetDatum(num),
										 DirectFunctionCall1(int4_numeric, Int32GetDatum(PG_INT32_MAX)))))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("token_count of messages[%d] is out of range", index),
				 errdetail("It must be between 0 and %d.", PG_INT32_MAX)));
	return DatumGetInt32(DirectFunctionCall1(numeric_int4, NumericGetDatum(num)));
}

/*
 * created_at: a timestamptz string.  A parse error is re-raised with the
 * element's index in its message (the error aborts the call either way).
 */
static TimestampTz
created_at_field(JsonbValue *v, int index)
{
	char	   *str;
	MemoryContext oldcxt = CurrentMemoryContext;
	TimestampTz result = 0;

	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("created_at of messages[%d] must be a timestamp string", index),
				 errdetail("Found a JSON %s.", json_type_name(v))));
	str = pnstrdup(v->val.string.val, v->val.string.len);
	PG_TRY();
	{
		result = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														 CStringGetDatum(str),
														 ObjectIdGetDatum(InvalidOid),
														 Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("invalid created_at in messages[%d]: %s", index, edata->message)));
	}
	PG_END_TRY();
	return result;
}

static void
read_one(JsonbValue *elem, int index, ChatMsgIn *m)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	const char *role_from_type = NULL;
	bool		has_role = false;
	bool		has_content = false;

	memset(m, 0, sizeof(*m));
	m->index = index;
	m->parts_v.type = jbvNull;
	m->tool_calls_v.type = jbvNull;
	m->metadata_v.type = jbvNull;
	m->usage_v.type = jbvNull;

	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] must be a JSON object", index),
				 errdetail("Found a JSON %s.", json_type_name(elem))));

	it = JsonbIteratorInit(elem->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		const char *key;
		int			klen;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		key = k.val.string.val;
		klen = k.val.string.len;

#define KEY_IS(s) (klen == (int) sizeof(s) - 1 && memcmp(key, s, klen) == 0)
		if (KEY_IS("id"))
		{
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("id of messages[%d] must be a string", index),
						 errdetail("Found a JSON %s.", json_type_name(&v))));
			m->id = chatstore_check_id(v.val.string.val, v.val.string.len, "id", index);
		}
		else if (KEY_IS("role") || KEY_IS("type"))
		{
			const char *canon;
			bool		is_role = KEY_IS("role");

			if (v.type == jbvNull)
				continue;
			if (v.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s of messages[%d] must be a string", is_role ? "role" : "type", index),
						 errdetail("Found a JSON %s.", json_type_name(&v))));
			canon = chatstore_canonical_role(v.val.string.val, v.val.string.len);
			if (canon == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid %s \"%s\" in messages[%d]", is_role ? "role" : "type",
								pnstrdup(v.val.string.val, Min(v.val.string.len, 64)), index),
						 errhint("Use one of user, assistant, system, developer, tool, function (or the aliases human, ai).")));
			if (is_role)
			{
				m->role = canon;
				has_role = true;
			}
			else
				role_from_type = canon;
		}
		else if (KEY_IS("content"))
		{
			if (v.type == jbvNull)
				continue;
			has_content = true;
			if (v.type == jbvString)
				m->content = cstring_to_text_with_len(v.val.string.val, v.val.string.len);
			else if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
			{
				m->content = content_parts(&v, index);
				m->parts_v = v;
			}
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("content of messages[%d] must be a string, an array of content parts or null", index),
						 errdetail("Found a JSON %s.", json_type_name(&v))));
		}
		else if (KEY_IS("name"))
			m->name = string_field(&v, "name", index);
		else if (KEY_IS("model"))
			m->model = string_field(&v, "model", index);
		else if (KEY_IS("tool_call_id"))
			m->tool_call_id = string_field(&v, "tool_call_id", index);
		else if (KEY_IS("parent_id"))
		{
			text	   *t = string_field(&v, "parent_id", index);

			if (t != NULL)
				chatstore_check_id(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), "parent_id", index);
			m->parent_id = t;
		}
		else if (KEY_IS("tool_calls"))
		{
			if (v.type == jbvNull)
				continue;
			if (v.type != jbvBinary || !JsonContainerIsArray(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("tool_calls of messages[%d] must be an array", index),
						 errdetail("Found a JSON %s.", json_type_name(&v))));
			/* [] is stored as null: a model API rejects an empty tool_calls */
			if (JsonContainerSize(v.val.binary.data) > 0)
				m->tool_calls_v = v;
		}
		else if (KEY_IS("metadata"))
		{
			if (object_field(&v, "metadata", index))
				m->metadata_v = v;
		}
		else if (KEY_IS("usage") || KEY_IS("usage_metadata"))
		{
			/* "usage" wins when both are given */
			if (object_field(&v, KEY_IS("usage") ? "usage" : "usage_metadata", index) &&
				(m->usage_v.type == jbvNull || KEY_IS("usage")))
				m->usage_v = v;
		}
		else if (KEY_IS("token_count"))
		{
			MemoryContext old;

			if (v.type == jbvNull)
				continue;
			old = MemoryContextSwitchTo(scratch);
			m->token_count = token_count_field(&v, index);
			MemoryContextSwitchTo(old);
			m->has_token_count = true;
		}
		else if (KEY_IS("created_at"))
		{
			MemoryContext old;

			if (v.type == jbvNull)
				continue;
			old = MemoryContextSwitchTo(scratch);
			m->created_at = created_at_field(&v, index);
			MemoryContextSwitchTo(old);
			m->has_created_at = true;
		}
		/* any other key (LangChain's additional_kwargs, ...) is ignored */
#undef KEY_IS
	}

	if (!has_role)
		m->role = role_from_type;
	if (m->role == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] has no role", index),
				 errhint("Give \"role\" (user, assistant, system, developer, tool, function) or a LangChain \"type\" (human, ai, system, tool).")));
	if (!has_content && m->tool_calls_v.type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] has neither content nor tool_calls", index)));

	chatstore_finish_message(m);
}

static uint64
hash_text(text *t, uint64 seed)
{
	if (t == NULL)
		return hash_bytes_uint32_extended(0x6e756c6c, seed);
	return hash_bytes_extended((const unsigned char *) VARDATA_ANY(t),
							   VARSIZE_ANY_EXHDR(t), seed);
}

/* a JSON field's container, wherever it is; NULL when absent */
static JsonbContainer *
json_field(JsonbValue *v, Jsonb *j)
{
	if (j != NULL)
		return &j->root;
	if (v->type == jbvBinary)
		return v->val.binary.data;
	return NULL;
}

static uint64
hash_json(JsonbContainer *c, uint64 seed)
{
	char	   *str;
	uint64		h;

	if (c == NULL)
		return hash_bytes_uint32_extended(0x6e756c6c, seed);
	/* the canonical text form: key order is normalized by jsonb */
	str = JsonbToCString(NULL, c, -1);
	h = hash_bytes_extended((const unsigned char *) str, strlen(str), seed);
	pfree(str);
	return h;
}

int64
chatstore_fingerprint(ChatMsgIn *m)
{
	JsonbContainer *parts;
	uint64		h;

	if (m->has_fingerprint)
		return m->fingerprint;
	parts = json_field(&m->parts_v, m->parts);
	h = hash_bytes_extended((const unsigned char *) m->role, strlen(m->role), 1);
	h = hash_combine64(h, parts ? hash_json(parts, 2) : hash_text(m->content, 2));
	h = hash_combine64(h, hash_text(m->name, 3));
	h = hash_combine64(h, hash_text(m->tool_call_id, 4));
	h = hash_combine64(h, hash_json(json_field(&m->tool_calls_v, m->tool_calls), 5));
	m->fingerprint = (int64) h;
	m->has_fingerprint = true;
	return m->fingerprint;
}

static Jsonb *
materialize_one(JsonbValue *v, Jsonb *j)
{
	if (j != NULL || v->type != jbvBinary)
		return j;
	return JsonbValueToJsonb(v);
}

void
chatstore_materialize(ChatMsgIn *m)
{
	m->parts = materialize_one(&m->parts_v, m->parts);
	m->tool_calls = materialize_one(&m->tool_calls_v, m->tool_calls);
	m->metadata = materialize_one(&m->metadata_v, m->metadata);
	m->usage = materialize_one(&m->usage_v, m->usage);
}

void
chatstore_finish_message(ChatMsgIn *m)
{

	if (m->content != NULL &&
		VARSIZE_ANY_EXHDR(m->content) > (Size) chatstore_max_message_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 m->index >= 0 ?
				 errmsg("content of messages[%d] is too large", m->index) :
				 errmsg("content is too large"),
				 errdetail("It has %zu bytes; chatstore.max_message_bytes is %d.",
						   (Size) VARSIZE_ANY_EXHDR(m->content), chatstore_max_message_bytes)));

	{
		MemoryContext old = MemoryContextSwitchTo(scratch ? scratch : CurrentMemoryContext);

		chatstore_read_usage(json_field(&m->usage_v, m->usage), &m->tokens, m->index);
		MemoryContextSwitchTo(old);
	}
	if (!m->has_token_count && m->tokens.has_completion)
	{
		if (m->tokens.completion > PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("output token count of messages[%d] is out of range", m->index)));
		m->token_count = (int32) m->tokens.completion;
		m->has_token_count = true;
	}
}

/* every element of the array, each checked with a fresh scratch context */
static int
read_all(Jsonb *messages, ChatMsgIn *msgs)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			i = 0;

	it = JsonbIteratorInit(&messages->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		MemoryContextReset(scratch);
		read_one(&v, i, &msgs[i]);
		i++;
	}
	return i;
}

int
chatstore_read_messages(Jsonb *messages, ChatMsgIn **out)
{
	int			n;
	ChatMsgIn  *msgs;

	if (!JB_ROOT_IS_ARRAY(messages) || JB_ROOT_IS_SCALAR(messages))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages must be a JSON array"),
				 errdetail("Found a JSON %s.",
						   JB_ROOT_IS_OBJECT(messages) ? "object" : "scalar")));
	n = JB_ROOT_COUNT(messages);
	if (n > chatstore_max_batch_messages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many messages in one call"),
				 errdetail("The batch has %d messages; chatstore.max_batch_messages is %d.",
						   n, chatstore_max_batch_messages),
				 errhint("Save the messages in several calls.")));

	msgs = palloc0(sizeof(ChatMsgIn) * Max(n, 1));
	scratch = AllocSetContextCreate(CurrentMemoryContext, "chatstore message checks",
									ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		if (read_all(messages, msgs) != n)
			elog(ERROR, "chatstore: the messages array has a different size than its header says");
	}
	PG_FINALLY();
	{
		/* on error the context goes with its parent: forget it either way */
		scratch = NULL;
	}
	PG_END_TRY();
	*out = msgs;
	return n;
}
