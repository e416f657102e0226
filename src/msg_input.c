/*
 * msg_input.c
 *		Reading and validating the JSON messages of a save call.
 *
 * The input array is read directly from the jsonb datum, element by element.
 * Every error names the offending element by its 0-based index, so a client
 * knows which message of a batch was wrong; nothing is written on error.
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
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
	/* a fraction is out of the integers' range, like a negative number */
	if (!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(num), trunc)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
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

/* n ASCII digits at *p (advanced past them) */
static bool
iso_digits(const char **p, const char *end, int n)
{
	for (; n > 0; n--, (*p)++)
		if (*p >= end || **p < '0' || **p > '9')
			return false;
	return true;
}

/* the character c at *p (advanced past it) */
static bool
iso_char(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/*
 * An ISO 8601 / RFC 3339 timestamp, the only form created_at accepts:
 *
 *	 YYYY-MM-DD										(a date: its midnight)
 *	 YYYY-MM-DD{T|t| }hh:mm[:ss[.fraction]][zone]
 *	 zone = Z | z | {+|-}hh | {+|-}hhmm | {+|-}hh:mm[:ss]
 *
 * Without a zone the time is read in the session's TimeZone, as PostgreSQL
 * reads a timestamptz.  Nothing else (no 'now', 'today', 'epoch',
 * 'infinity', no month names, no DateStyle-dependent orders, no time zone
 * names, no surrounding spaces, no BC) passes; the ranges of the fields are
 * checked by timestamptz_in afterwards.
 */
static bool
iso_timestamp(const char *s, int len)
{
	const char *p = s;
	const char *end = s + len;

	if (!iso_digits(&p, end, 4) || !iso_char(&p, end, '-') ||
		!iso_digits(&p, end, 2) || !iso_char(&p, end, '-') ||
		!iso_digits(&p, end, 2))
		return false;
	if (p == end)
		return true;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return false;
	p++;
	if (!iso_digits(&p, end, 2) || !iso_char(&p, end, ':') || !iso_digits(&p, end, 2))
		return false;
	if (iso_char(&p, end, ':'))
	{
		if (!iso_digits(&p, end, 2))
			return false;
		if (iso_char(&p, end, '.'))
		{
			if (!iso_digits(&p, end, 1))
				return false;
			while (p < end && *p >= '0' && *p <= '9')
				p++;
		}
	}
	if (p == end)
		return true;
	if (*p == 'Z' || *p == 'z')
		return p + 1 == end;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	if (!iso_digits(&p, end, 2))
		return false;
	if (p == end)
		return true;
	if (iso_char(&p, end, ':'))
	{
		if (!iso_digits(&p, end, 2))
			return false;
		if (iso_char(&p, end, ':') && !iso_digits(&p, end, 2))
			return false;
	}
	else if (!iso_digits(&p, end, 2))
		return false;
	return p == end;
}

/*
 * created_at: an ISO 8601 timestamp string (see iso_timestamp).  A field out
 * of range (timestamptz_in's data exceptions, 22007/22008) is re-raised
 * with the element's index in its message; any other error (a cancel, out
 * of memory) is re-thrown as it is.
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
	if (!iso_timestamp(v->val.string.val, v->val.string.len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("invalid created_at in messages[%d]: \"%s\" is not an ISO 8601 timestamp",
						index,
						pnstrdup(v->val.string.val,
								 pg_mbcliplen(v->val.string.val, v->val.string.len, 64))),
				 errhint("Use an ISO 8601 / RFC 3339 timestamp such as \"2024-05-01T10:00:00Z\" "
						 "(without an offset it is read in the session's TimeZone).")));
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
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
		{
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		ereport(ERROR,
				(errcode(edata->sqlerrcode),
				 errmsg("invalid created_at in messages[%d]: %s", index, edata->message)));
	}
	PG_END_TRY();
	if (TIMESTAMP_NOT_FINITE(result))	/* not reachable through the format */
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
				 errmsg("invalid created_at in messages[%d]: it must be a finite timestamp", index)));
	return result;
}

/*
 * tool_calls elements.  Each must be one of the two shapes model APIs and
 * frameworks use (other keys are allowed and kept):
 *
 *	OpenAI:    {"id": string, "type": "function",
 *				"function": {"name": string, "arguments": string}}
 *	LangChain: {"name": string, "args": object,
 *				"id": string or null (optional), "type": "tool_call" (optional)}
 *
 * An element with "function" or "type": "function" is read as OpenAI's, one
 * with "name", "args" or "type": "tool_call" as LangChain's.
 */
static JsonbValue *
json_key(JsonbContainer *c, const char *key)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);

	return (v != NULL && v->type == jbvNull) ? NULL : v;
}

static bool
json_is_string(JsonbValue *v, const char *s)
{
	return v != NULL && v->type == jbvString &&
		v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

static bool
json_is_object(JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static void
check_tool_call(JsonbValue *call, int index, int j)
{
	const char *problem = NULL;

	if (!json_is_object(call))
		problem = psprintf("it must be a JSON object, not a JSON %s", json_type_name(call));
	else
	{
		JsonbContainer *c = call->val.binary.data;
		JsonbValue *type = json_key(c, "type");
		JsonbValue *function = json_key(c, "function");
		JsonbValue *id = getKeyJsonValueFromContainer(c, "id", 2, NULL);

		if (function != NULL || json_is_string(type, "function"))
		{
			if (!json_is_string(type, "function"))
				problem = "an OpenAI tool call needs \"type\": \"function\"";
			else if (id == NULL || id->type != jbvString)
				problem = "\"id\" of an OpenAI tool call must be a string";
			else if (!json_is_object(function))
				problem = "\"function\" must be an object with string \"name\" and \"arguments\"";
			else
			{
				JsonbValue *fname = json_key(function->val.binary.data, "name");
				JsonbValue *fargs = json_key(function->val.binary.data, "arguments");

				if (fname == NULL || fname->type != jbvString)
					problem = "\"function.name\" must be a string";
				else if (fargs == NULL || fargs->type != jbvString)
					problem = "\"function.arguments\" must be a string (the arguments as JSON text)";
			}
		}
		else if (json_key(c, "name") != NULL || json_key(c, "args") != NULL ||
				 json_is_string(type, "tool_call"))
		{
			JsonbValue *name = json_key(c, "name");

			if (type != NULL && !json_is_string(type, "tool_call"))
				problem = "\"type\" of a LangChain tool call must be \"tool_call\"";
			else if (name == NULL || name->type != jbvString)
				problem = "\"name\" of a LangChain tool call must be a string";
			else if (!json_is_object(json_key(c, "args")))
				problem = "\"args\" of a LangChain tool call must be a JSON object";
			else if (id != NULL && id->type != jbvString && id->type != jbvNull)
				problem = "\"id\" of a LangChain tool call must be a string or null";
		}
		else if (type != NULL && type->type == jbvString)
			problem = psprintf("unknown tool call type \"%s\"",
							   pnstrdup(type->val.string.val,
										pg_mbcliplen(type->val.string.val, type->val.string.len, 64)));
		else
			problem = "it is neither an OpenAI nor a LangChain tool call";
	}
	if (problem == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 index >= 0 ?
			 errmsg("invalid tool_calls[%d] in messages[%d]: %s", j, index, problem) :
			 errmsg("invalid tool_calls[%d]: %s", j, problem),
			 errhint("Give OpenAI tool calls {\"id\": ..., \"type\": \"function\", \"function\": "
					 "{\"name\": ..., \"arguments\": \"...\"}} or LangChain tool calls "
					 "{\"name\": ..., \"args\": {...}, \"id\": ...}.")));
}

void
chatstore_check_tool_calls(JsonbContainer *arr, int index)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			j = 0;

	it = JsonbIteratorInit(arr);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		check_tool_call(&v, index, j++);
	}
}

/*
 * The keys a chat message and an item share (the chatstore keys model,
 * metadata, token_count and created_at): read into m; false for any other
 * key.
 */
static bool
read_shared_key(const char *key, int klen, JsonbValue *v, int index, ChatMsgIn *m)
{
	MemoryContext old;

#define KEY_IS(s) (klen == (int) sizeof(s) - 1 && memcmp(key, s, klen) == 0)
	if (KEY_IS("model"))
		m->model = string_field(v, "model", index);
	else if (KEY_IS("metadata"))
	{
		if (object_field(v, "metadata", index))
			m->metadata_v = *v;
	}
	else if (KEY_IS("token_count"))
	{
		if (v->type == jbvNull)
			return true;
		old = MemoryContextSwitchTo(scratch);
		m->token_count = token_count_field(v, index);
		MemoryContextSwitchTo(old);
		m->has_token_count = true;
	}
	else if (KEY_IS("created_at"))
	{
		if (v->type == jbvNull)
			return true;
		old = MemoryContextSwitchTo(scratch);
		m->created_at = created_at_field(v, index);
		MemoryContextSwitchTo(old);
		m->has_created_at = true;
	}
	else
		return false;
#undef KEY_IS
	return true;
}

/*
 * Responses / Conversations items (chatstore 1.4).
 *
 * An element whose "type" is not a role is an item of that type, kept as
 * given: the row stores the item in chat_messages.item, without
 *
 *	- its body, which a column keeps instead: a "message"'s "content" (in
 *	  content when a string; in parts, with its text in content, when an
 *	  array), a "function_call"'s "arguments" (in content), a
 *	  "function_call_output"'s "output" (as a message's content);
 *	- the chatstore keys usage, metadata, model, created_at and
 *	  token_count, which no item type of the model APIs has, read as for a
 *	  chat message.
 *
 * _chat_item() (SQL) puts the body back.  The row's role: a "message"'s
 * own; "tool" for a function_call_output and any type ending in _output or
 * _result (an answer); "assistant" for anything else (calls, reasoning, ...).
 * Its tool_call_id: the item's call_id (or the Agents SDK's callId).
 */
#define CHATSTORE_MAX_ITEM_TYPE_BYTES 64

static bool
str_is(JsonbValue *v, const char *s)
{
	return v->type == jbvString && v->val.string.len == (int) strlen(s) &&
		memcmp(v->val.string.val, s, v->val.string.len) == 0;
}

static bool
str_ends_with(JsonbValue *v, const char *s)
{
	int			n = strlen(s);

	return v->type == jbvString && v->val.string.len >= n &&
		memcmp(v->val.string.val + v->val.string.len - n, s, n) == 0;
}

/* a required string key of an item */
static JsonbValue *
item_string(JsonbContainer *c, const char *key, const char *type, int index)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, key, strlen(key), NULL);

	if (v == NULL || v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 v == NULL ?
				 errmsg("%s item messages[%d] has no \"%s\"", type, index, key) :
				 errmsg("\"%s\" of %s item messages[%d] must be a string", key, type, index),
				 v == NULL ? 0 : errdetail("Found a JSON %s.", json_type_name(v))));
	return v;
}

/* the call id of an item: "call_id" or the Agents SDK's "callId" */
static JsonbValue *
item_call_id(JsonbContainer *c, const char *type, int index, bool required)
{
	JsonbValue *v = getKeyJsonValueFromContainer(c, "call_id", 7, NULL);

	if (v == NULL)
		v = getKeyJsonValueFromContainer(c, "callId", 6, NULL);
	if (v == NULL && !required)
		return NULL;
	if (v == NULL || v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 v == NULL ?
				 errmsg("%s item messages[%d] has no \"call_id\"", type, index) :
				 errmsg("\"call_id\" of %s item messages[%d] must be a string", type, index),
				 v == NULL ? 0 : errdetail("Found a JSON %s.", json_type_name(v))));
	if (v->val.string.len == 0 || v->val.string.len > CHATSTORE_MAX_ID_BYTES)
		chatstore_check_id(v->val.string.val, v->val.string.len, "call_id", index);
	return v;
}

/* a body that is a string or an array of parts: content (and parts) */
static void
item_body(JsonbValue *v, const char *key, const char *type, int index, ChatMsgIn *m)
{
	if (v->type == jbvString)
		m->content = cstring_to_text_with_len(v->val.string.val, v->val.string.len);
	else if (v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data))
	{
		m->content = content_parts(v, index);
		m->parts_v = *v;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of %s item messages[%d] must be a string or an array of parts",
						key, type, index),
				 errdetail("Found a JSON %s.", json_type_name(v))));
}

static void
read_item(JsonbValue *elem, JsonbValue *type, int index, ChatMsgIn *m)
{
	JsonbContainer *c = elem->val.binary.data;
	const char *typestr;
	const char *body = NULL;	/* the key a column keeps */
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	JsonbParseState *state = NULL;
	JsonbValue *res = NULL;
	bool		stripped = false;

	if (type->val.string.len == 0 || type->val.string.len > CHATSTORE_MAX_ITEM_TYPE_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type of messages[%d]: an item type must have 1 to %d bytes",
						index, CHATSTORE_MAX_ITEM_TYPE_BYTES)));
	typestr = pnstrdup(type->val.string.val, type->val.string.len);

	if (str_is(type, "message"))
	{
		JsonbValue *role = getKeyJsonValueFromContainer(c, "role", 4, NULL);
		JsonbValue *content = getKeyJsonValueFromContainer(c, "content", 7, NULL);

		if (role == NULL || role->type != jbvString ||
			!(str_is(role, "user") || str_is(role, "assistant") ||
			  str_is(role, "system") || str_is(role, "developer")))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message item messages[%d] needs a \"role\": user, assistant, system or developer",
							index)));
		m->role = chatstore_canonical_role(role->val.string.val, role->val.string.len);
		if (content == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("message item messages[%d] has no \"content\"", index)));
		item_body(content, "content", typestr, index, m);
		body = "content";
	}
	else if (str_is(type, "function_call"))
	{
		JsonbValue *args;

		m->role = "assistant";
		m->tool_call_id = string_field(item_call_id(c, typestr, index, true), "call_id", index);
		item_string(c, "name", typestr, index);
		args = item_string(c, "arguments", typestr, index);
		m->content = cstring_to_text_with_len(args->val.string.val, args->val.string.len);
		body = "arguments";
	}
	else if (str_is(type, "function_call_output"))
	{
		JsonbValue *output = getKeyJsonValueFromContainer(c, "output", 6, NULL);

		m->role = "tool";
		m->tool_call_id = string_field(item_call_id(c, typestr, index, true), "call_id", index);
		if (output == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("function_call_output item messages[%d] has no \"output\"", index)));
		item_body(output, "output", typestr, index, m);
		body = "output";
	}
	else
	{
		JsonbValue *call_id = item_call_id(c, typestr, index, false);

		m->role = (str_ends_with(type, "_output") || str_ends_with(type, "_result")) ?
			"tool" : "assistant";
		if (call_id != NULL)
			m->tool_call_id = string_field(call_id, "call_id", index);
	}

	/* the item without its body and the chatstore keys */
	it = JsonbIteratorInit(c);
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
		if (body != NULL && klen == (int) strlen(body) && memcmp(key, body, klen) == 0)
			stripped = true;
		else if (KEY_IS("id"))
		{
			if (v.type == jbvString)
				m->id = chatstore_check_id(v.val.string.val, v.val.string.len, "id", index);
			else if (v.type != jbvNull)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("id of messages[%d] must be a string", index),
						 errdetail("Found a JSON %s.", json_type_name(&v))));
			continue;
		}
		else if (KEY_IS("usage"))
		{
			if (object_field(&v, "usage", index))
				m->usage_v = v;
			stripped = true;
		}
		else if (read_shared_key(key, klen, &v, index, m))
			stripped = true;
#undef KEY_IS
	}
	if (!stripped)
	{
		m->item_v = *elem;
		return;
	}
	it = JsonbIteratorInit(c);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		bool		keep = true;

		if (tok == WJB_KEY)
		{
			const char *key = k.val.string.val;
			int			klen = k.val.string.len;

#define KEY_IS(s) (klen == (int) sizeof(s) - 1 && memcmp(key, s, klen) == 0)
			keep = !((body != NULL && klen == (int) strlen(body) && memcmp(key, body, klen) == 0) ||
					 KEY_IS("model") || KEY_IS("metadata") || KEY_IS("usage") ||
					 KEY_IS("token_count") || KEY_IS("created_at"));
#undef KEY_IS
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			if (keep)
			{
				pushJsonbValue(&state, WJB_KEY, &k);
				pushJsonbValue(&state, WJB_VALUE, &v);
			}
		}
		else if (tok == WJB_BEGIN_OBJECT || tok == WJB_END_OBJECT)
			res = pushJsonbValue(&state, tok, NULL);
	}
	if (res == NULL)
		elog(ERROR, "chatstore: could not rebuild item messages[%d]", index);
	m->item = JsonbValueToJsonb(res);
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

	m->item_v.type = jbvNull;

	if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("messages[%d] must be a JSON object", index),
				 errdetail("Found a JSON %s.", json_type_name(elem))));

	/* a "type" that is not a role (or LangChain type): a Responses item */
	{
		JsonbValue *type = getKeyJsonValueFromContainer(elem->val.binary.data, "type", 4, NULL);

		if (type != NULL && type->type == jbvString &&
			chatstore_canonical_role(type->val.string.val, type->val.string.len) == NULL)
		{
			read_item(elem, type, index, m);
			chatstore_finish_message(m);
			return;
		}
	}

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
			{
				MemoryContext old = MemoryContextSwitchTo(scratch);

				chatstore_check_tool_calls(v.val.binary.data, index);
				MemoryContextSwitchTo(old);
				m->tool_calls_v = v;
			}
		}
		else if (KEY_IS("usage") || KEY_IS("usage_metadata"))
		{
			/* "usage" wins when both are given */
			if (object_field(&v, KEY_IS("usage") ? "usage" : "usage_metadata", index) &&
				(m->usage_v.type == jbvNull || KEY_IS("usage")))
				m->usage_v = v;
		}
		else if (read_shared_key(key, klen, &v, index, m))
			continue;
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

/*
 * Fingerprint version 2.
 *
 * The first 8 bytes of the SHA-256 digest of the encoding below, read as a
 * big-endian signed 64-bit integer.  The encoding is the 15 ASCII bytes
 * "chatstore-fp-v2" followed by six fields, in this order:
 *
 *	 'R' role			the canonical role name (user, assistant, ...)
 *	 'C' content		the content text, when the message's content was a
 *	  or				string or null;
 *	 'P' parts			instead of 'C', when the content was an array of
 *						parts: the canonical text of that jsonb array
 *	 'N' name
 *	 'I' tool_call_id
 *	 'T' tool_calls		the canonical text of the jsonb array (null when
 *						absent; an empty array is stored, and hashed, as null)
 *
 * and, for a message saved as a Responses item (chatstore 1.4) only, a
 * seventh field:
 *
 *	 'X' item			the canonical text of the stored item (the item
 *						without its body and chatstore keys, see read_item)
 *
 * Each field is its tag byte (the ASCII letter above), then either a 4-byte
 * big-endian unsigned length and that many bytes, or the 4 bytes FF FF FF FF
 * for null.  Text is taken as its bytes in the database encoding; the
 * canonical text of a jsonb value is its output function's (what ::text
 * gives: keys in jsonb's order, ", " and ": " separators).  So in SQL:
 *
 *	 ('x' || left(encode(sha256('chatstore-fp-v2'::bytea || R || C-or-P
 *	  || N || I || T [|| X]), 'hex'), 16))::bit(64)::bigint
 *
 * with each field = tag || int4send(octet_length(v)) || v, or tag ||
 * '\xffffffff' for null.  Unlike version 1 (PostgreSQL's internal hash,
 * whose values depend on the server's build and byte order), the values are
 * the same on every server, so a restored database keeps deduplicating.
 */
#define FP_V2_MAGIC "chatstore-fp-v2"

static void
fp_update(pg_cryptohash_ctx *ctx, const void *data, size_t len)
{
	if (pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0)
		elog(ERROR, "chatstore: could not compute a fingerprint: %s",
			 pg_cryptohash_error(ctx));
}

static void
fp_field(pg_cryptohash_ctx *ctx, char tag, const char *data, size_t len)
{
	uint8		head[5];
	uint32		n;

	if (data != NULL && len >= PG_UINT32_MAX)	/* values are below 1 GB */
		elog(ERROR, "chatstore: fingerprint field too long");
	n = data != NULL ? (uint32) len : PG_UINT32_MAX;
	head[0] = (uint8) tag;
	head[1] = (uint8) (n >> 24);
	head[2] = (uint8) (n >> 16);
	head[3] = (uint8) (n >> 8);
	head[4] = (uint8) n;
	fp_update(ctx, head, sizeof(head));
	if (data != NULL && len > 0)
		fp_update(ctx, data, len);
}

static void
fp_text(pg_cryptohash_ctx *ctx, char tag, text *t)
{
	if (t == NULL)
		fp_field(ctx, tag, NULL, 0);
	else
		fp_field(ctx, tag, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

static void
fp_json(pg_cryptohash_ctx *ctx, char tag, JsonbContainer *c)
{
	char	   *str;

	if (c == NULL)
	{
		fp_field(ctx, tag, NULL, 0);
		return;
	}
	str = JsonbToCString(NULL, c, -1);
	fp_field(ctx, tag, str, strlen(str));
	pfree(str);
}

int64
chatstore_fingerprint_v2(pg_cryptohash_ctx *ctx, const char *role, int rolelen,
						 text *content, JsonbContainer *parts, text *name,
						 text *tool_call_id, JsonbContainer *tool_calls,
						 JsonbContainer *item)
{
	pg_cryptohash_ctx *own = NULL;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	uint64		h = 0;
	int			i;

	if (ctx == NULL)
	{
		own = pg_cryptohash_create(PG_SHA256);
		if (own == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		ctx = own;
	}
	if (pg_cryptohash_init(ctx) < 0)
		elog(ERROR, "chatstore: could not compute a fingerprint: %s",
			 pg_cryptohash_error(ctx));
	fp_update(ctx, FP_V2_MAGIC, strlen(FP_V2_MAGIC));
	fp_field(ctx, 'R', role, role != NULL ? rolelen : 0);
	if (parts != NULL)
		fp_json(ctx, 'P', parts);
	else
		fp_text(ctx, 'C', content);
	fp_text(ctx, 'N', name);
	fp_text(ctx, 'I', tool_call_id);
	fp_json(ctx, 'T', tool_calls);
	if (item != NULL)
		fp_json(ctx, 'X', item);
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		elog(ERROR, "chatstore: could not compute a fingerprint: %s",
			 pg_cryptohash_error(ctx));
	if (own != NULL)
		pg_cryptohash_free(own);
	for (i = 0; i < 8; i++)
		h = (h << 8) | digest[i];
	return (int64) h;
}

int64
chatstore_fingerprint(ChatMsgIn *m, pg_cryptohash_ctx *ctx)
{
	if (m->has_fingerprint)
		return m->fingerprint;
	m->fingerprint = chatstore_fingerprint_v2(ctx, m->role, strlen(m->role), m->content,
											  json_field(&m->parts_v, m->parts),
											  m->name, m->tool_call_id,
											  json_field(&m->tool_calls_v, m->tool_calls),
											  json_field(&m->item_v, m->item));
	m->has_fingerprint = true;
	return m->fingerprint;
}

/*
 * _chat_fingerprint(role text, content text, parts jsonb, name text,
 *					 tool_call_id text, tool_calls jsonb [, item jsonb]) -> bigint
 * Fingerprint version 2 of a stored row's columns (or of any values, hashed
 * as given; NULLs allowed): what chat_save_messages writes for a message
 * with these fields.
 */
PG_FUNCTION_INFO_V1(chat_fingerprint);
Datum
chat_fingerprint(PG_FUNCTION_ARGS)
{
	text	   *role = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	text	   *content = PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1);
	Jsonb	   *parts = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	text	   *name = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	text	   *tool_call_id = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4);
	Jsonb	   *tool_calls = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5);
	Jsonb	   *item = (PG_NARGS() < 7 || PG_ARGISNULL(6)) ? NULL : PG_GETARG_JSONB_P(6);

	PG_RETURN_INT64(chatstore_fingerprint_v2(NULL,
											 role ? VARDATA_ANY(role) : NULL,
											 role ? VARSIZE_ANY_EXHDR(role) : 0,
											 content, parts ? &parts->root : NULL,
											 name, tool_call_id,
											 tool_calls ? &tool_calls->root : NULL,
											 item ? &item->root : NULL));
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
	m->item = materialize_one(&m->item_v, m->item);
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

	/* bounded by the limit above: huge (over 1 GB) only if the limit allows */
	msgs = chatstore_alloc_array(sizeof(ChatMsgIn), n, true);
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
