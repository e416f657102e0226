-- chatstore 1.7 -> 1.8 (ALTER EXTENSION chatstore UPDATE TO '1.8')
--
-- CHANGELOG.md says what changes for users.  Every function is re-created
-- in place (new ones created), and on a database whose tables
-- chat_distribute already distributed, the per-function settings it gives
-- are given again (re-creating a function clears them).  Delegated calls
-- carry chatstore.notify: _chat_delegated_enter takes it (a new signature;
-- _chat_delegated_begin, which calls it, is made again below).

\echo Use "ALTER EXTENSION chatstore UPDATE TO '1.8'" to load this file. \quit

DROP FUNCTION @extschema@._chat_delegated_begin(jsonb);
DROP FUNCTION @extschema@._chat_delegated_enter(text, text, timestamptz, text, integer, integer);

-- ---------------------------------------------------------------------------
-- functions: every function of 1.8, re-created in place (new ones created)
-- ---------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION @extschema@.chat_set_updated_at_trigger() RETURNS trigger
    AS 'MODULE_PATHNAME', 'chat_set_updated_at_trigger' LANGUAGE C;

CREATE OR REPLACE FUNCTION @extschema@._chat_fingerprint(
    role         text,
    content      text,
    parts        jsonb,
    name         text,
    tool_call_id text,
    tool_calls   jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'chat_fingerprint'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_fingerprint(text, text, jsonb, text, text, jsonb) IS
    'chatstore internal: fingerprint (version 2) of a message''s role, content or parts, name, tool_call_id and tool_calls';

CREATE OR REPLACE FUNCTION @extschema@._chat_fingerprint(
    role         text,
    content      text,
    parts        jsonb,
    name         text,
    tool_call_id text,
    tool_calls   jsonb,
    item         jsonb)
RETURNS bigint
AS 'MODULE_PATHNAME', 'chat_fingerprint'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_fingerprint(text, text, jsonb, text, text, jsonb, jsonb) IS
    'chatstore internal: fingerprint (version 2) of a message''s fields, with the stored item of a message saved as a Responses item';

CREATE OR REPLACE FUNCTION @extschema@._chat_required(value text, what text)
RETURNS text
AS 'MODULE_PATHNAME', 'chat_required'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_required(text, text) IS
    'chatstore internal: value, or 22023 when it is null or empty';

CREATE OR REPLACE FUNCTION @extschema@._chat_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'chat_tenant'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_tenant() IS
    'chatstore internal: the tenant the calling role is confined to, or NULL when it is not confined';

CREATE OR REPLACE FUNCTION @extschema@._chat_policy_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'chat_policy_tenant'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@._chat_delegated_enter(
    confined_tenant text, tenant text, at timestamptz, time_zone text,
    max_batch_messages integer, max_message_bytes integer, notify boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_delegated_enter'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_enter(text, text, timestamptz, text, integer, integer, boolean) IS
    'chatstore internal: the calling session''s values hold on this node for a delegated call';

CREATE OR REPLACE FUNCTION @extschema@._chat_delegated_leave()
RETURNS void
AS 'MODULE_PATHNAME', 'chat_delegated_leave'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_leave() IS
    'chatstore internal: the end of a delegated call';

CREATE OR REPLACE FUNCTION @extschema@._chat_delegated_end()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'chat_delegated_end'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_end() IS
    'chatstore internal: the end of a delegated call, and its notifications ([[channel, payload], ...]) for the coordinator';

CREATE OR REPLACE FUNCTION @extschema@._chat_notify(channel text, payload text)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_notify'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_notify(text, text) IS
    'chatstore internal: NOTIFY on a channel of chatstore (kept for the coordinator in a delegated call)';

CREATE OR REPLACE FUNCTION @extschema@._chat_notify_relayed(notifications jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_notify_relayed'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_notify_relayed(jsonb) IS
    'chatstore internal: send the notifications a delegated call returned';

CREATE OR REPLACE FUNCTION @extschema@._chat_delegating()
RETURNS boolean
AS 'MODULE_PATHNAME', 'chat_delegating'
LANGUAGE C STABLE;

COMMENT ON FUNCTION @extschema@._chat_delegating() IS
    'chatstore internal: a writing function passes its call to its _at variant (Citus)';

CREATE OR REPLACE FUNCTION @extschema@._chat_now()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'chat_now'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_now() IS
    'chatstore internal: the calling session''s transaction time (now(), or the caller''s in a delegated call)';

CREATE OR REPLACE FUNCTION @extschema@._chat_delegate_ctx()
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_build_object(
        'confined', @extschema@._chat_tenant(),
        'tenant', pg_catalog.current_setting('chatstore.tenant'),
        'at', pg_catalog.now(),
        'time_zone', pg_catalog.current_setting('TimeZone'),
        'max_batch_messages', pg_catalog.current_setting('chatstore.max_batch_messages')::integer,
        'max_message_bytes', pg_catalog.pg_size_bytes(pg_catalog.current_setting('chatstore.max_message_bytes')),
        'notify', pg_catalog.current_setting('chatstore.notify')::boolean);
END;

COMMENT ON FUNCTION @extschema@._chat_delegate_ctx() IS
    'chatstore internal: what a delegated call takes from the calling session';

CREATE OR REPLACE FUNCTION @extschema@._chat_delegated_begin(ctx jsonb)
RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@._chat_delegated_enter(
        ctx OPERATOR(pg_catalog.->>) 'confined', ctx OPERATOR(pg_catalog.->>) 'tenant',
        (ctx OPERATOR(pg_catalog.->>) 'at')::timestamptz, ctx OPERATOR(pg_catalog.->>) 'time_zone',
        (ctx OPERATOR(pg_catalog.->>) 'max_batch_messages')::integer,
        (ctx OPERATOR(pg_catalog.->>) 'max_message_bytes')::integer,
        COALESCE((ctx OPERATOR(pg_catalog.->>) 'notify')::boolean, false));
END;

COMMENT ON FUNCTION @extschema@._chat_delegated_begin(jsonb) IS
    'chatstore internal: _chat_delegated_enter with the values of _chat_delegate_ctx()';

COMMENT ON FUNCTION @extschema@._chat_policy_tenant() IS
    'chatstore internal: chatstore.tenant on this node for the tenant policies of a distributed database, 42501 when unset';

CREATE OR REPLACE FUNCTION @extschema@._chat_item(m @extschema@.chat_messages)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE m.item OPERATOR(pg_catalog.->>) 'type'
        WHEN 'message' THEN m.item OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'content', COALESCE(m.parts, pg_catalog.to_jsonb(m.content)))
        WHEN 'function_call' THEN m.item OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'arguments', m.content)
        WHEN 'function_call_output' THEN m.item OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object(
            'output', COALESCE(m.parts, pg_catalog.to_jsonb(m.content)))
        ELSE m.item END;
END;

COMMENT ON FUNCTION @extschema@._chat_item(@extschema@.chat_messages) IS
    'chatstore internal: the Responses item a message was saved as (NULL for a chat message)';

CREATE OR REPLACE FUNCTION @extschema@._chat_tool_calls_openai(tool_calls jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_agg(
               CASE WHEN c.v OPERATOR(pg_catalog.?) 'function' THEN c.v
                    ELSE pg_catalog.jsonb_build_object(
                        'id', c.v OPERATOR(pg_catalog.->) 'id',
                        'type', 'function',
                        'function', pg_catalog.jsonb_build_object(
                            'name', c.v OPERATOR(pg_catalog.->) 'name',
                            'arguments', COALESCE(c.v OPERATOR(pg_catalog.->) 'args', '{}'::pg_catalog.jsonb)::pg_catalog.text))
               END ORDER BY c.n)
    FROM pg_catalog.jsonb_array_elements(tool_calls) WITH ORDINALITY AS c(v, n);
END;

COMMENT ON FUNCTION @extschema@._chat_tool_calls_openai(jsonb) IS
    'chatstore internal: tool calls in the OpenAI shape (LangChain calls converted)';

CREATE OR REPLACE FUNCTION @extschema@._chat_as_chat(m @extschema@.chat_messages)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
        WHEN m.item IS NULL THEN
            pg_catalog.jsonb_build_object(
                'role', m.role,
                'content', CASE WHEN m.parts IS NOT NULL THEN m.parts ELSE pg_catalog.to_jsonb(m.content) END)
            OPERATOR(pg_catalog.||) CASE WHEN m.name IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('name', m.name) END
            OPERATOR(pg_catalog.||) CASE WHEN m.tool_calls IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('tool_calls', @extschema@._chat_tool_calls_openai(m.tool_calls)) END
            OPERATOR(pg_catalog.||) CASE WHEN m.tool_call_id IS NULL THEN '{}'::pg_catalog.jsonb
                ELSE pg_catalog.jsonb_build_object('tool_call_id', m.tool_call_id) END
        WHEN m.item OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'message' THEN
            pg_catalog.jsonb_build_object(
                'role', m.role,
                'content',
                CASE
                    -- text only (or a string): the text
                    WHEN m.parts IS NULL OR NOT EXISTS (
                        SELECT FROM pg_catalog.jsonb_array_elements(m.parts) AS p(v)
                        WHERE NOT (p.v OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) ANY (ARRAY['input_text', 'output_text', 'text'])))
                    THEN pg_catalog.to_jsonb(COALESCE(m.content, ''))
                    ELSE (SELECT pg_catalog.jsonb_agg(
                            CASE p.v OPERATOR(pg_catalog.->>) 'type'
                                WHEN 'input_text' THEN pg_catalog.jsonb_build_object('type', 'text', 'text', p.v OPERATOR(pg_catalog.->) 'text')
                                WHEN 'output_text' THEN pg_catalog.jsonb_build_object('type', 'text', 'text', p.v OPERATOR(pg_catalog.->) 'text')
                                WHEN 'refusal' THEN pg_catalog.jsonb_build_object('type', 'refusal', 'refusal', p.v OPERATOR(pg_catalog.->) 'refusal')
                                WHEN 'input_image' THEN pg_catalog.jsonb_build_object('type', 'image_url', 'image_url',
                                    pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                                        'url', COALESCE(p.v OPERATOR(pg_catalog.->) 'image_url', p.v OPERATOR(pg_catalog.->) 'file_id'),
                                        'detail', p.v OPERATOR(pg_catalog.->) 'detail')))
                                WHEN 'input_file' THEN pg_catalog.jsonb_build_object('type', 'file', 'file',
                                    p.v OPERATOR(pg_catalog.-) 'type'::pg_catalog.text)
                                ELSE p.v END
                            ORDER BY p.n)
                          FROM pg_catalog.jsonb_array_elements(m.parts) WITH ORDINALITY AS p(v, n))
                END)
        WHEN m.item OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'function_call' THEN
            pg_catalog.jsonb_build_object(
                'role', 'assistant',
                'content', NULL::pg_catalog.jsonb,
                'tool_calls', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'id', m.tool_call_id,
                    'type', 'function',
                    'function', pg_catalog.jsonb_build_object(
                        'name', m.item OPERATOR(pg_catalog.->) 'name',
                        'arguments', COALESCE(m.content, '')))))
        -- an answer: a function_call_output, or the Agents SDK's function_call_result
        WHEN m.role OPERATOR(pg_catalog.=) 'tool' AND m.tool_call_id IS NOT NULL
             AND m.item OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) ANY (ARRAY['function_call_output', 'function_call_result']) THEN
            pg_catalog.jsonb_build_object(
                'role', 'tool',
                'tool_call_id', m.tool_call_id,
                'content', CASE
                    WHEN m.item OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'function_call_output'
                        THEN pg_catalog.to_jsonb(COALESCE(m.content, ''))
                    WHEN pg_catalog.jsonb_typeof(m.item OPERATOR(pg_catalog.->) 'output') OPERATOR(pg_catalog.=) 'string'
                        THEN m.item OPERATOR(pg_catalog.->) 'output'
                    WHEN m.item OPERATOR(pg_catalog.#>>) '{output,type}' OPERATOR(pg_catalog.=) 'text'
                        THEN pg_catalog.to_jsonb(COALESCE(m.item OPERATOR(pg_catalog.#>>) '{output,text}', ''))
                    ELSE pg_catalog.to_jsonb(COALESCE(m.item OPERATOR(pg_catalog.->) 'output', 'null'::pg_catalog.jsonb)::pg_catalog.text)
                END)
        END;
END;

COMMENT ON FUNCTION @extschema@._chat_as_chat(@extschema@.chat_messages) IS
    'chatstore internal: a message as a Chat Completions message (NULL when it has no such form)';

CREATE OR REPLACE FUNCTION @extschema@._chat_as_items(m @extschema@.chat_messages)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
        WHEN m.item IS NOT NULL THEN pg_catalog.jsonb_build_array(@extschema@._chat_item(m))
        WHEN m.role OPERATOR(pg_catalog.=) 'function' THEN '[]'::pg_catalog.jsonb
        WHEN m.role OPERATOR(pg_catalog.=) 'tool' THEN
            pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                'type', 'function_call_output',
                'call_id', m.tool_call_id,
                'output', COALESCE(m.content, '')))
        ELSE
            -- the message (unless an assistant message has only tool calls)
            CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant' AND m.tool_calls IS NOT NULL
                      AND COALESCE(m.content, '') OPERATOR(pg_catalog.=) '' AND m.parts IS NULL
                 THEN '[]'::pg_catalog.jsonb
                 ELSE pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                    'type', 'message',
                    'role', m.role,
                    'content', CASE
                        WHEN m.parts IS NULL THEN pg_catalog.to_jsonb(COALESCE(m.content, ''))
                        ELSE (SELECT COALESCE(pg_catalog.jsonb_agg(
                                CASE
                                    WHEN pg_catalog.jsonb_typeof(p.v) OPERATOR(pg_catalog.=) 'string' THEN
                                        pg_catalog.jsonb_build_object(
                                            'type', CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant' THEN 'output_text' ELSE 'input_text' END,
                                            'text', p.v)
                                        OPERATOR(pg_catalog.||) CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant'
                                            THEN '{"annotations": []}'::pg_catalog.jsonb ELSE '{}'::pg_catalog.jsonb END
                                    WHEN p.v OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'text' THEN
                                        pg_catalog.jsonb_build_object(
                                            'type', CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant' THEN 'output_text' ELSE 'input_text' END,
                                            'text', p.v OPERATOR(pg_catalog.->) 'text')
                                        OPERATOR(pg_catalog.||) CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant'
                                            THEN '{"annotations": []}'::pg_catalog.jsonb ELSE '{}'::pg_catalog.jsonb END
                                    WHEN p.v OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'image_url' THEN
                                        pg_catalog.jsonb_build_object(
                                            'type', 'input_image',
                                            'image_url', COALESCE(p.v OPERATOR(pg_catalog.#>) '{image_url,url}', p.v OPERATOR(pg_catalog.->) 'image_url'),
                                            'detail', COALESCE(p.v OPERATOR(pg_catalog.#>) '{image_url,detail}', '"auto"'::pg_catalog.jsonb))
                                    WHEN p.v OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'file' THEN
                                        pg_catalog.jsonb_build_object('type', 'input_file')
                                        OPERATOR(pg_catalog.||) COALESCE(p.v OPERATOR(pg_catalog.->) 'file', '{}'::pg_catalog.jsonb)
                                    ELSE p.v END
                                ORDER BY p.n), '[]'::pg_catalog.jsonb)
                              FROM pg_catalog.jsonb_array_elements(m.parts) WITH ORDINALITY AS p(v, n))
                    END))
            END
            OPERATOR(pg_catalog.||) COALESCE(
                (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                            'type', 'function_call',
                            'call_id', c.v OPERATOR(pg_catalog.->) 'id',
                            'name', c.v OPERATOR(pg_catalog.#>) '{function,name}',
                            'arguments', c.v OPERATOR(pg_catalog.#>) '{function,arguments}')
                        ORDER BY c.n)
                 FROM pg_catalog.jsonb_array_elements(
                        CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant'
                             THEN @extschema@._chat_tool_calls_openai(m.tool_calls) END) WITH ORDINALITY AS c(v, n)),
                '[]'::pg_catalog.jsonb)
        END;
END;

COMMENT ON FUNCTION @extschema@._chat_as_items(@extschema@.chat_messages) IS
    'chatstore internal: a message as Responses API input items';

CREATE OR REPLACE FUNCTION @extschema@._chat_call_ids(m @extschema@.chat_messages)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN m.role OPERATOR(pg_catalog.=) 'assistant'
                     AND (m.tool_calls IS NOT NULL OR m.tool_call_id IS NOT NULL) THEN
        ARRAY(SELECT c.id FROM (
                SELECT e.v OPERATOR(pg_catalog.->>) 'id' AS id, e.n
                FROM pg_catalog.jsonb_array_elements(
                    CASE WHEN pg_catalog.jsonb_typeof(m.tool_calls) OPERATOR(pg_catalog.=) 'array'
                         THEN m.tool_calls ELSE '[]'::pg_catalog.jsonb END) WITH ORDINALITY AS e(v, n)
                UNION ALL
                SELECT m.tool_call_id, 0 WHERE m.tool_call_id IS NOT NULL) AS c
              ORDER BY c.n)
    END;
END;

COMMENT ON FUNCTION @extschema@._chat_call_ids(@extschema@.chat_messages) IS
    'chatstore internal: the ids of the tool calls a message makes (NULL when it makes none)';

CREATE OR REPLACE FUNCTION @extschema@._chat_context_format(format text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF format IS NULL OR format NOT IN ('chat', 'responses') THEN
        RAISE EXCEPTION 'invalid format "%"', format
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use ''chat'' (Chat Completions messages) or ''responses'' (Responses API input items).';
    END IF;
    RETURN format;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_context_format(text) IS
    'chatstore internal: checks the format argument of chat_context';

CREATE OR REPLACE FUNCTION @extschema@._chat_api_item(item jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE
        WHEN item OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'function_call_result' THEN
            pg_catalog.jsonb_build_object(
                'type', 'function_call_output',
                'call_id', COALESCE(item OPERATOR(pg_catalog.->) 'call_id', item OPERATOR(pg_catalog.->) 'callId'),
                'output', CASE
                    WHEN pg_catalog.jsonb_typeof(item OPERATOR(pg_catalog.->) 'output') OPERATOR(pg_catalog.=) 'string'
                        THEN item OPERATOR(pg_catalog.->) 'output'
                    WHEN item OPERATOR(pg_catalog.#>>) '{output,type}' OPERATOR(pg_catalog.=) 'text'
                        THEN pg_catalog.to_jsonb(COALESCE(item OPERATOR(pg_catalog.#>>) '{output,text}', ''))
                    ELSE pg_catalog.to_jsonb(COALESCE(item OPERATOR(pg_catalog.->) 'output', 'null'::pg_catalog.jsonb)::pg_catalog.text)
                END)
        WHEN item OPERATOR(pg_catalog.?|) ARRAY['callId', 'providerData']
             OR pg_catalog.jsonb_typeof(item OPERATOR(pg_catalog.->) 'content') OPERATOR(pg_catalog.=) 'array' THEN
            (item OPERATOR(pg_catalog.-) 'providerData'::pg_catalog.text OPERATOR(pg_catalog.-) 'callId'::pg_catalog.text)
            OPERATOR(pg_catalog.||) CASE WHEN item OPERATOR(pg_catalog.?) 'callId' AND NOT item OPERATOR(pg_catalog.?) 'call_id'
                THEN pg_catalog.jsonb_build_object('call_id', item OPERATOR(pg_catalog.->) 'callId')
                ELSE '{}'::pg_catalog.jsonb END
            OPERATOR(pg_catalog.||) CASE WHEN pg_catalog.jsonb_typeof(item OPERATOR(pg_catalog.->) 'content') OPERATOR(pg_catalog.=) 'array'
                THEN pg_catalog.jsonb_build_object('content',
                    (SELECT COALESCE(pg_catalog.jsonb_agg(
                                CASE WHEN pg_catalog.jsonb_typeof(p.v) OPERATOR(pg_catalog.=) 'object'
                                     THEN p.v OPERATOR(pg_catalog.-) 'providerData'::pg_catalog.text ELSE p.v END
                                ORDER BY p.n), '[]'::pg_catalog.jsonb)
                     FROM pg_catalog.jsonb_array_elements(item OPERATOR(pg_catalog.->) 'content') WITH ORDINALITY AS p(v, n)))
                ELSE '{}'::pg_catalog.jsonb END
        ELSE item
    END;
END;

COMMENT ON FUNCTION @extschema@._chat_api_item(jsonb) IS
    'chatstore internal: an item in the Responses API''s input shape (the Agents SDK''s callId, function_call_result and providerData converted)';

CREATE OR REPLACE FUNCTION @extschema@._chat_user_arg(user_id text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for no user.';
    END IF;
    RETURN user_id;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_user_arg(text) IS
    'chatstore internal: a user_id argument, refusing the empty string (22023)';

CREATE OR REPLACE FUNCTION @extschema@._chat_write_tenant()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text := @extschema@._chat_tenant();
BEGIN
    IF t = '' THEN
        RAISE EXCEPTION 'chatstore.tenant is not set'
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Tenant isolation is on: the current role can only write the rows of its tenant.',
                  HINT = 'SET chatstore.tenant (SET LOCAL inside a transaction) before calling chatstore.';
    END IF;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_write_tenant() IS
    'chatstore internal: the tenant a write is confined to (NULL: not confined); 42501 when confined and chatstore.tenant is unset';

CREATE OR REPLACE FUNCTION @extschema@._chat_tenant_key()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(@extschema@._chat_write_tenant(),
                    pg_catalog.current_setting('chatstore.tenant', true), '');
END;

COMMENT ON FUNCTION @extschema@._chat_tenant_key() IS
    'chatstore internal: the tenant key a key-value, list or agent-state write uses';

CREATE OR REPLACE FUNCTION @extschema@.chat_usage_tokens(usage jsonb, kind text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'chat_usage_tokens'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.chat_usage_tokens(jsonb, text) IS
    'token count of a usage object: kind is prompt, completion or total';

CREATE OR REPLACE FUNCTION @extschema@.chat_save_messages(
    thread_id text,
    messages  jsonb,
    user_id   text   DEFAULT NULL,
    saved_ids text[] DEFAULT NULL)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_save_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_save_messages(text, jsonb, text, text[]) IS
    'save a batch of messages into a thread (created when missing), skipping ones already stored';

CREATE OR REPLACE FUNCTION @extschema@.chat_append_messages(
    thread_id text,
    messages  jsonb,
    user_id   text DEFAULT NULL)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_append_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_append_messages(text, jsonb, text) IS
    'append a batch of messages or items to a thread as given: no dedup (an item''s id stays in the item; rows get new ids)';

CREATE OR REPLACE FUNCTION @extschema@.chat_add_message(
    thread_id    text,
    role         text,
    content      text,
    user_id      text    DEFAULT NULL,
    metadata     jsonb   DEFAULT NULL,
    message_id   text    DEFAULT NULL,
    model        text    DEFAULT NULL,
    name         text    DEFAULT NULL,
    tool_calls   jsonb   DEFAULT NULL,
    tool_call_id text    DEFAULT NULL,
    usage        jsonb   DEFAULT NULL,
    token_count  integer DEFAULT NULL,
    parent_id    text    DEFAULT NULL,
    created_at   timestamptz DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'chat_add_message'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.chat_add_message(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamptz) IS
    'append one message to a thread and return its id and seq';

CREATE OR REPLACE FUNCTION @extschema@._chat_save_messages_at(
    thread_id       text,
    messages        jsonb,
    user_id         text,
    saved_ids       text[],
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_save_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_save_messages_at(text, jsonb, text, text[], text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_save_messages run where the thread is (Citus), the session''s values as arguments';

CREATE OR REPLACE FUNCTION @extschema@._chat_append_messages_at(
    thread_id       text,
    messages        jsonb,
    user_id         text,
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer)
RETURNS @extschema@.chat_save_result
AS 'MODULE_PATHNAME', 'chat_append_messages'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_append_messages_at(text, jsonb, text, text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_append_messages run where the thread is (Citus), the session''s values as arguments';

CREATE OR REPLACE FUNCTION @extschema@._chat_add_message_at(
    thread_id       text,
    role            text,
    content         text,
    user_id         text,
    metadata        jsonb,
    message_id      text,
    model           text,
    name            text,
    tool_calls      jsonb,
    tool_call_id    text,
    usage           jsonb,
    token_count     integer,
    parent_id       text,
    created_at      timestamptz,
    confined_tenant text,
    tenant          text,
    at              timestamptz,
    time_zone       text,
    max_batch_messages integer,
    max_message_bytes  integer,
    OUT id  text,
    OUT seq bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'chat_add_message'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan;

COMMENT ON FUNCTION @extschema@._chat_add_message_at(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamptz, text, text, timestamptz, text, integer, integer) IS
    'chatstore internal: chat_add_message run where the thread is (Citus), the session''s values as arguments';

CREATE OR REPLACE FUNCTION @extschema@._chat_history_budget(
    thread_id    text,
    max_messages integer,
    before_seq   bigint,
    after_seq    bigint,
    max_tokens   integer)
RETURNS SETOF @extschema@.chat_messages
AS 'MODULE_PATHNAME', 'chat_history'
LANGUAGE C STABLE PARALLEL SAFE ROWS 50
SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@._chat_history_budget(text, integer, bigint, bigint, integer) IS
    'chatstore internal: the max_tokens path of chat_history';

CREATE OR REPLACE FUNCTION @extschema@._chat_history_limit(max_messages integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'chat_history_limit'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_history_limit(integer) IS
    'chatstore internal: checks max_messages for chat_history';

CREATE OR REPLACE FUNCTION @extschema@.chat_history(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL,
    max_tokens   integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE sql STABLE PARALLEL SAFE ROWS 50
BEGIN ATOMIC
    SELECT h.* FROM (
        -- every message in the range
        SELECT m.* FROM @extschema@.chat_messages AS m
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NULL
          AND m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
          AND m.seq OPERATOR(pg_catalog.>) COALESCE(chat_history.after_seq, 0)
          AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
          -- (the active path of a branched thread; written so that the
          -- planner does not take it for a selective condition)
          AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                (SELECT t.active_path FROM @extschema@.chat_threads AS t
                 WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
        UNION ALL
        -- the latest max_messages (the gate stands outside the LIMIT
        -- subquery, so a false gate removes the branch from the plan)
        SELECT l.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
            ORDER BY m.seq DESC
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS l
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NULL
        UNION ALL
        -- forward paging: the first max_messages after after_seq
        SELECT f.* FROM (
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_history.thread_id, 'thread_id')
              AND m.seq OPERATOR(pg_catalog.>) chat_history.after_seq
              AND m.seq OPERATOR(pg_catalog.<) COALESCE(chat_history.before_seq, 9223372036854775807)
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) chat_history.thread_id), true)
            ORDER BY m.seq
            LIMIT @extschema@._chat_history_limit(chat_history.max_messages)) AS f
        WHERE chat_history.max_tokens IS NULL AND chat_history.max_messages IS NOT NULL
          AND chat_history.after_seq IS NOT NULL
        UNION ALL
        -- a token budget
        SELECT b.* FROM @extschema@._chat_history_budget(
                @extschema@._chat_required(chat_history.thread_id, 'thread_id'),
                chat_history.max_messages, chat_history.before_seq,
                chat_history.after_seq, chat_history.max_tokens) AS b
        WHERE chat_history.max_tokens IS NOT NULL
    ) AS h
    ORDER BY h.seq;
END;

CREATE OR REPLACE FUNCTION @extschema@._chat_history_routed(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL,
    max_tokens   integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 50
AS $fn$
DECLARE
    v_thread pg_catalog.text := @extschema@._chat_required(_chat_history_routed.thread_id, 'thread_id');
    v_before pg_catalog.int8 := COALESCE(_chat_history_routed.before_seq, 9223372036854775807);
BEGIN
    -- (operators are schema-qualified and there is no aggregate: the
    -- function runs with the caller's search_path, which a SET clause would
    -- cost every call 5-7 % to change; on Citus too, where the statements
    -- sent to a worker resolve names by the caller's search_path, no name
    -- here can be taken by another schema: 80_search_path under scripts/citus.sh)
    IF _chat_history_routed.max_tokens IS NOT NULL THEN
        -- a token budget (C)
        RETURN QUERY
            SELECT b.* FROM @extschema@._chat_history_budget(v_thread, _chat_history_routed.max_messages,
                                                           _chat_history_routed.before_seq, _chat_history_routed.after_seq,
                                                           _chat_history_routed.max_tokens) AS b;
    ELSIF _chat_history_routed.max_messages IS NULL THEN
        -- every message in the range (of the active path of a branched
        -- thread; written so that the planner does not take it for a
        -- selective condition)
        RETURN QUERY
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
              AND m.seq OPERATOR(pg_catalog.>) COALESCE(_chat_history_routed.after_seq, 0)
              AND m.seq OPERATOR(pg_catalog.<) v_before
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
            ORDER BY m.seq;
    ELSIF _chat_history_routed.after_seq IS NULL THEN
        -- the latest max_messages
        RETURN QUERY
            SELECT l.* FROM (
                SELECT m.* FROM @extschema@.chat_messages AS m
                WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
                  AND m.seq OPERATOR(pg_catalog.<) v_before
                  AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                        (SELECT t.active_path FROM @extschema@.chat_threads AS t
                         WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
                ORDER BY m.seq DESC
                LIMIT @extschema@._chat_history_limit(_chat_history_routed.max_messages)) AS l
            ORDER BY l.seq;
    ELSE
        -- forward paging: the first max_messages after after_seq
        RETURN QUERY
            SELECT m.* FROM @extschema@.chat_messages AS m
            WHERE m.thread_id OPERATOR(pg_catalog.=) v_thread
              AND m.seq OPERATOR(pg_catalog.>) _chat_history_routed.after_seq
              AND m.seq OPERATOR(pg_catalog.<) v_before
              AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread), true)
            ORDER BY m.seq
            LIMIT @extschema@._chat_history_limit(_chat_history_routed.max_messages);
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_history_routed(text, integer, bigint, bigint, integer) IS
    'chatstore internal: chat_history as PL/pgSQL, which chat_history calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_history(text, integer, bigint, bigint, integer) IS
    'messages of a thread''s active path (all of a thread that never branched) in seq order, optionally paged and cut to a token budget';

CREATE OR REPLACE FUNCTION @extschema@.chat_create_thread(
    id       text  DEFAULT NULL,
    user_id  text  DEFAULT NULL,
    title    text  DEFAULT '',
    metadata jsonb DEFAULT '{}',
    state    jsonb DEFAULT '{}')
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t        @extschema@.chat_threads;
    v_tenant text;
    v_owner  text;
    v_set    text;
    -- (the id as a value: Citus routes a delegated call by it, and in that
    -- call every statement must name the thread by that value)
    v_id     text := COALESCE(chat_create_thread.id, gen_random_uuid()::text);
    v_now    timestamptz := @extschema@._chat_now();
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating,
    -- part 05), with its id made here (Citus routes the call by it)
    IF @extschema@._chat_delegating() THEN
        -- (values: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result @extschema@.chat_threads;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_create_thread_at(v_id, user_id, title, metadata, state, v_ctx);
            RETURN v_result;
        END;
    END IF;
    v_tenant := @extschema@._chat_write_tenant();
    v_owner := @extschema@._chat_user_arg(chat_create_thread.user_id);
    v_set := NULLIF(current_setting('chatstore.tenant', true), '');
    IF id = '' THEN
        RAISE EXCEPTION 'id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(id) > 512 OR octet_length(v_owner) > 512 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN octet_length(id) > 512 THEN 'id' ELSE 'user_id' END
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The limit is 512 bytes.';
    END IF;
    IF jsonb_typeof(metadata) <> 'object' OR jsonb_typeof(state) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
                        CASE WHEN jsonb_typeof(metadata) <> 'object' THEN 'metadata' ELSE 'state' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_tenant IS NOT NULL THEN
        IF v_owner IS NOT NULL AND v_owner <> v_tenant THEN
            RAISE EXCEPTION 'user_id "%" is not the current tenant', v_owner
                USING ERRCODE = 'insufficient_privilege',
                      DETAIL = 'Tenant isolation is on: threads are owned by the tenant set in chatstore.tenant.';
        END IF;
        v_owner := v_tenant;
    END IF;
    INSERT INTO @extschema@.chat_threads AS c (id, user_id, title, metadata, state, created_at, updated_at)
    VALUES (v_id,
            COALESCE(v_owner, v_set),
            COALESCE(chat_create_thread.title, ''),
            COALESCE(chat_create_thread.metadata, '{}'::jsonb),
            COALESCE(chat_create_thread.state, '{}'::jsonb),
            v_now, v_now)
    RETURNING c.* INTO t;
    -- asked for explicitly: a thread deleted under this id may be made again
    DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = t.id;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_thread(text, text, text, jsonb, jsonb) IS
    'create a thread (a uuid id when none is given; also the id of a deleted thread); an existing id is an error (23505)';

CREATE OR REPLACE FUNCTION @extschema@._chat_create_thread_at(id text, user_id text, title text, metadata jsonb, state jsonb, ctx jsonb)
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.chat_threads;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    t := @extschema@.chat_create_thread(id, user_id, title, metadata, state);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_create_thread_at(text, text, text, jsonb, jsonb, jsonb) IS
    'chatstore internal: chat_create_thread run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_get_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT t.* FROM @extschema@.chat_threads AS t
    WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_thread.thread_id, 'thread_id')
      AND (@extschema@._chat_user_arg(chat_get_thread.user_id) IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_get_thread.user_id);
END;

CREATE OR REPLACE FUNCTION @extschema@._chat_get_thread_routed(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_thread pg_catalog.text := @extschema@._chat_required(_chat_get_thread_routed.thread_id, 'thread_id');
    v_user   pg_catalog.text := @extschema@._chat_user_arg(_chat_get_thread_routed.user_id);
BEGIN
    IF v_user IS NULL THEN
        RETURN QUERY SELECT t.* FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread;
    ELSE
        RETURN QUERY SELECT t.* FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) v_thread
                       AND t.user_id OPERATOR(pg_catalog.=) v_user;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_get_thread_routed(text, text) IS
    'chatstore internal: chat_get_thread as PL/pgSQL, which chat_get_thread calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_get_thread(text, text) IS
    'one thread, or no row when it does not exist or is owned by another user';

CREATE OR REPLACE FUNCTION @extschema@.chat_list_threads(
    user_id           text        DEFAULT NULL,
    max_threads       integer     DEFAULT 20,
    before_updated_at timestamptz DEFAULT NULL,
    before_id         text        DEFAULT NULL,
    metadata_filter   jsonb       DEFAULT NULL,
    page_offset       integer     DEFAULT 0,
    include_archived  boolean     DEFAULT false)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT t.* FROM @extschema@.chat_threads AS t
    WHERE (@extschema@._chat_user_arg(chat_list_threads.user_id) IS NULL
           OR t.user_id OPERATOR(pg_catalog.=) chat_list_threads.user_id)
      AND (chat_list_threads.before_updated_at IS NULL
           OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
              (chat_list_threads.before_updated_at,
               COALESCE(chat_list_threads.before_id, '')))
      AND (chat_list_threads.metadata_filter IS NULL
           OR t.metadata OPERATOR(pg_catalog.@>) chat_list_threads.metadata_filter)
      AND (chat_list_threads.include_archived OR NOT t.archived)
    ORDER BY t.updated_at DESC, t.id DESC
    OFFSET GREATEST(COALESCE(chat_list_threads.page_offset, 0), 0)
    LIMIT chat_list_threads.max_threads;
END;

CREATE OR REPLACE FUNCTION @extschema@._chat_list_threads_routed(
    user_id           text        DEFAULT NULL,
    max_threads       integer     DEFAULT 20,
    before_updated_at timestamptz DEFAULT NULL,
    before_id         text        DEFAULT NULL,
    metadata_filter   jsonb       DEFAULT NULL,
    page_offset       integer     DEFAULT 0,
    include_archived  boolean     DEFAULT false)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_user   pg_catalog.text := @extschema@._chat_user_arg(_chat_list_threads_routed.user_id);
    v_offset pg_catalog.int4 := GREATEST(COALESCE(_chat_list_threads_routed.page_offset, 0), 0);
BEGIN
    -- one user's threads (the index on (user_id, updated_at, id)), or
    -- every user's
    IF v_user IS NOT NULL THEN
        RETURN QUERY
            SELECT t.* FROM @extschema@.chat_threads AS t
            WHERE t.user_id OPERATOR(pg_catalog.=) v_user
              AND (_chat_list_threads_routed.before_updated_at IS NULL
                   OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
                      (_chat_list_threads_routed.before_updated_at,
                       COALESCE(_chat_list_threads_routed.before_id, '')))
              AND (_chat_list_threads_routed.metadata_filter IS NULL
                   OR t.metadata OPERATOR(pg_catalog.@>) _chat_list_threads_routed.metadata_filter)
              AND (_chat_list_threads_routed.include_archived OR NOT t.archived)
            ORDER BY t.updated_at DESC, t.id DESC
            OFFSET v_offset
            LIMIT _chat_list_threads_routed.max_threads;
    ELSE
        RETURN QUERY
            SELECT t.* FROM @extschema@.chat_threads AS t
            WHERE (_chat_list_threads_routed.before_updated_at IS NULL
                   OR (t.updated_at, t.id) OPERATOR(pg_catalog.<)
                      (_chat_list_threads_routed.before_updated_at,
                       COALESCE(_chat_list_threads_routed.before_id, '')))
              AND (_chat_list_threads_routed.metadata_filter IS NULL
                   OR t.metadata OPERATOR(pg_catalog.@>) _chat_list_threads_routed.metadata_filter)
              AND (_chat_list_threads_routed.include_archived OR NOT t.archived)
            ORDER BY t.updated_at DESC, t.id DESC
            OFFSET v_offset
            LIMIT _chat_list_threads_routed.max_threads;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_list_threads_routed(text, integer, timestamptz, text, jsonb, integer, boolean) IS
    'chatstore internal: chat_list_threads as PL/pgSQL, which chat_list_threads calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_list_threads(text, integer, timestamptz, text, jsonb, integer, boolean) IS
    'a user''s threads newest first, with keyset or offset paging and an optional metadata @> filter';

CREATE OR REPLACE FUNCTION @extschema@.chat_update_thread(
    thread_id text,
    title     text  DEFAULT NULL,
    metadata  jsonb DEFAULT NULL,
    state     jsonb DEFAULT NULL,
    user_id   text  DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_update_thread.user_id);
    v_now    timestamptz := @extschema@._chat_now();
    t        @extschema@.chat_threads;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_update_thread.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@._chat_update_thread_at(thread_id, title, metadata, state, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object'
       OR state IS NOT NULL AND jsonb_typeof(state) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object',
                        CASE WHEN jsonb_typeof(metadata) <> 'object' THEN 'metadata' ELSE 'state' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT c.* INTO t FROM @extschema@.chat_threads AS c
    WHERE c.id = chat_update_thread.thread_id
      AND (v_user IS NULL OR c.user_id = v_user)
      AND (v_tenant IS NULL OR c.user_id = v_tenant)
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF (title IS NOT NULL AND title IS DISTINCT FROM t.title)
       OR (metadata IS NOT NULL AND t.metadata || metadata IS DISTINCT FROM t.metadata)
       OR (state IS NOT NULL AND state IS DISTINCT FROM t.state) THEN
        UPDATE @extschema@.chat_threads AS c
        SET title    = COALESCE(chat_update_thread.title, c.title),
            metadata = c.metadata || COALESCE(chat_update_thread.metadata, '{}'::jsonb),
            state    = COALESCE(chat_update_thread.state, c.state),
            -- (something changes: the trigger, dropped on Citus, would move it)
            updated_at = v_now
        WHERE c.id = chat_update_thread.thread_id
        RETURNING c.* INTO t;
    END IF;
    RETURN NEXT t;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_update_thread(text, text, jsonb, jsonb, text) IS
    'set the title, merge into metadata, replace state (updated_at moves only when something changes); no row when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@._chat_update_thread_at(thread_id text, title text, metadata jsonb, state jsonb, user_id text, ctx jsonb)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    RETURN QUERY SELECT * FROM @extschema@.chat_update_thread(thread_id, title, metadata, state, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_update_thread_at(text, text, jsonb, jsonb, text, jsonb) IS
    'chatstore internal: chat_update_thread run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_thread(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_delete_thread.user_id);
    v_owner  text;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_thread.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result boolean;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_thread_at(thread_id, user_id, v_ctx);
            RETURN v_result;
        END;
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    DELETE FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_delete_thread.thread_id
      AND (v_user IS NULL OR t.user_id = v_user)
      AND (v_tenant IS NULL OR t.user_id = v_tenant)
    RETURNING t.user_id INTO v_owner;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    -- its tombstone: the statement trigger writes it on one node, nothing
    -- does on Citus (chat_distribute drops the trigger), so write it here;
    -- the second write of the same row is harmless
    INSERT INTO @extschema@.chat_thread_tombstones AS x (id, user_id, deleted_at)
    VALUES (chat_delete_thread.thread_id, v_owner, @extschema@._chat_now())
    ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
    DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
    RETURN true;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_thread(text, text) IS
    'delete a thread and its messages (a save into it is refused from then on, CS002); false when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_thread_at(thread_id text, user_id text, ctx jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r boolean;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_thread(thread_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_thread_at(text, text, jsonb) IS
    'chatstore internal: chat_delete_thread run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@._chat_thread_tombstone_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    INSERT INTO @extschema@.chat_thread_tombstones AS x (id, user_id)
    SELECT o.id, o.user_id FROM deleted_threads AS o
    ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
    DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_thread_tombstone_trigger() IS
    'chatstore internal: records the threads a DELETE removed in chat_thread_tombstones';

CREATE OR REPLACE FUNCTION @extschema@.chat_fork_thread(
    thread_id     text,
    new_thread_id text   DEFAULT NULL,
    up_to_seq     bigint DEFAULT NULL,
    user_id       text   DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src      @extschema@.chat_threads;
    newid    text := coalesce(new_thread_id, gen_random_uuid()::text);
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_fork_thread.user_id);
BEGIN
    IF thread_id IS NULL OR thread_id = '' THEN
        RAISE EXCEPTION 'thread_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF new_thread_id = '' THEN
        RAISE EXCEPTION 'new_thread_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- a consistent cut: saves into the source wait for us, and we for them
    SELECT * INTO src FROM @extschema@.chat_threads AS t
    WHERE t.id = chat_fork_thread.thread_id FOR SHARE;
    IF NOT FOUND OR (v_tenant IS NOT NULL AND src.user_id IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF v_user IS NOT NULL AND src.user_id IS DISTINCT FROM v_user THEN
        RAISE EXCEPTION 'thread "%" belongs to another user', thread_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;

    INSERT INTO @extschema@.chat_threads (id, user_id, title, metadata, state)
    VALUES (newid, coalesce(v_user, src.user_id), src.title,
            src.metadata || jsonb_build_object('forked_from', src.id), src.state);
    -- the new id was named explicitly: a thread deleted under it is made again
    DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = newid;

    INSERT INTO @extschema@.chat_messages
        (thread_id, id, seq, role, content, parts, name, model, tool_calls,
         tool_call_id, metadata, usage, token_count, parent_id, user_id,
         created_at, fingerprint, fingerprint_version, item, status, finish_reason,
         thread_user_id)
    SELECT newid, m.id, row_number() OVER (ORDER BY m.seq), m.role, m.content,
           m.parts, m.name, m.model, m.tool_calls, m.tool_call_id, m.metadata,
           m.usage, m.token_count, m.parent_id, m.user_id, m.created_at,
           m.fingerprint, m.fingerprint_version, m.item, m.status, m.finish_reason,
           coalesce(v_user, src.user_id)
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = chat_fork_thread.thread_id
      AND (up_to_seq IS NULL OR m.seq <= up_to_seq)
      -- a branched thread: its active path only (the copy is one line)
      AND (src.active_path IS NULL OR m.seq <@ src.active_path)
    ORDER BY m.seq;

    UPDATE @extschema@.chat_threads AS t
    SET message_count     = a.n,
        last_seq          = a.n,
        prompt_tokens     = a.p,
        completion_tokens = a.c,
        total_tokens      = a.tot,
        last_message_at   = a.last_at
    FROM (SELECT count(*) AS n,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0) AS p,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0) AS c,
                 coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0) AS tot,
                 max(m.created_at) AS last_at
          FROM @extschema@.chat_messages AS m
          WHERE m.thread_id = newid) AS a
    WHERE t.id = newid;
    RETURN newid;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_fork_thread(text, text, bigint, text) IS
    'copy a thread''s messages (its active path) up to a seq into a new thread (ids kept) and return the new id';

CREATE OR REPLACE FUNCTION @extschema@._chat_branch_thread(thread_id text, user_id text)
RETURNS @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_branch_thread.user_id);
    t        @extschema@.chat_threads;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    SELECT * INTO t FROM @extschema@.chat_threads AS c
    WHERE c.id = _chat_branch_thread.thread_id FOR UPDATE;
    -- another user's or tenant's thread does not exist for this caller
    IF NOT FOUND
       OR (v_user IS NOT NULL AND t.user_id IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND t.user_id IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN t;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_thread(text, text) IS
    'chatstore internal: lock the thread a branching call changes, after the owner and tenant checks';

CREATE OR REPLACE FUNCTION @extschema@._chat_branch_message(t @extschema@.chat_threads, message_id text,
                                                 OUT seq bigint, OUT parent_seq bigint, OUT role text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_required(message_id, 'message_id');
    SELECT m.seq, m.parent_seq, m.role INTO seq, parent_seq, role
    FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = t.id AND m.id = _chat_branch_message.message_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'message "%" does not exist in thread "%"', message_id, t.id
            USING ERRCODE = 'no_data_found';
    END IF;
    -- in a line: the one before it, a deleted one included (as the line
    -- becomes a tree, _chat_branch_start)
    IF t.active_path IS NULL THEN
        SELECT max(u.seq) INTO parent_seq FROM (
            SELECT m.seq FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = t.id AND m.seq < _chat_branch_message.seq
            UNION ALL
            SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
            WHERE x.thread_id = t.id AND x.seq < _chat_branch_message.seq) AS u;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_message(@extschema@.chat_threads, text) IS
    'chatstore internal: seq, parent seq and role of a message of a locked thread (P0002 when missing)';

CREATE OR REPLACE FUNCTION @extschema@._chat_branch_start(t @extschema@.chat_threads)
RETURNS pg_catalog.int8multirange
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    path  int8multirange;
    v_now timestamptz := @extschema@._chat_now();   -- (a value: on Citus the UPDATE runs on a worker)
BEGIN
    IF t.active_path IS NOT NULL THEN
        RETURN t.active_path;
    END IF;
    -- the line's order, deleted messages included (their tombstones keep
    -- their place: a path through them still aligns a client that has them)
    WITH line AS (
        SELECT u.seq, lag(u.seq) OVER (ORDER BY u.seq) AS prev
        FROM (SELECT c.seq FROM @extschema@.chat_messages AS c WHERE c.thread_id = t.id
              UNION ALL
              SELECT y.seq FROM @extschema@.chat_message_tombstones AS y WHERE y.thread_id = t.id) AS u),
    stored AS (
        UPDATE @extschema@.chat_messages AS m SET parent_seq = p.prev
        FROM line AS p
        WHERE m.thread_id = t.id AND m.seq = p.seq AND p.prev IS NOT NULL)
    UPDATE @extschema@.chat_message_tombstones AS x SET parent_seq = p.prev
    FROM line AS p
    WHERE x.thread_id = t.id AND x.seq = p.seq AND p.prev IS NOT NULL;
    -- every seq so far (deleted ones included: their tombstones stay on the path)
    path := CASE WHEN t.last_seq > 0 THEN int8multirange(int8range(1, t.last_seq, '[]'))
                 ELSE '{}'::int8multirange END;
    -- (updated_at as the trigger would move it: the trigger is dropped on
    -- Citus, chat_distribute)
    UPDATE @extschema@.chat_threads AS c SET active_path = path, updated_at = v_now WHERE c.id = t.id;
    RETURN path;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_branch_start(@extschema@.chat_threads) IS
    'chatstore internal: write the parent_seq of a one-line thread''s messages and give it an active path';

CREATE OR REPLACE FUNCTION @extschema@._chat_path_to(thread_id text, seq bigint)
RETURNS pg_catalog.int8multirange
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN (
        WITH RECURSIVE up(seq, parent_seq) AS (
            SELECT n.seq, n.parent_seq FROM (
                SELECT m.seq, m.parent_seq FROM @extschema@.chat_messages AS m
                WHERE m.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                  AND m.seq OPERATOR(pg_catalog.=) _chat_path_to.seq
                UNION ALL
                SELECT x.seq, x.parent_seq FROM @extschema@.chat_message_tombstones AS x
                WHERE x.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                  AND x.seq OPERATOR(pg_catalog.=) _chat_path_to.seq) AS n
            UNION ALL
            SELECT p.seq, p.parent_seq FROM up,
            LATERAL (SELECT m.seq, m.parent_seq FROM @extschema@.chat_messages AS m
                     WHERE m.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                       AND m.seq OPERATOR(pg_catalog.=) up.parent_seq
                     UNION ALL
                     SELECT x.seq, x.parent_seq FROM @extschema@.chat_message_tombstones AS x
                     WHERE x.thread_id OPERATOR(pg_catalog.=) _chat_path_to.thread_id
                       AND x.seq OPERATOR(pg_catalog.=) up.parent_seq) AS p)
        SELECT COALESCE(pg_catalog.range_agg(pg_catalog.int8range(up.seq, up.seq, '[]')),
                        '{}'::pg_catalog.int8multirange)
        FROM up);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_path_to(text, bigint) IS
    'chatstore internal: the seqs of the path from the root to a message of a branched thread';

CREATE OR REPLACE FUNCTION @extschema@._chat_newest_leaf(thread_id text, seq bigint)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN (
        WITH RECURSIVE down(seq) AS (
            SELECT _chat_newest_leaf.seq
            UNION ALL
            SELECT (SELECT pg_catalog.max(c.seq) FROM @extschema@.chat_messages AS c
                    WHERE c.thread_id OPERATOR(pg_catalog.=) _chat_newest_leaf.thread_id
                      AND c.parent_seq OPERATOR(pg_catalog.=) down.seq)
            FROM down WHERE down.seq IS NOT NULL)
        SELECT pg_catalog.max(down.seq) FROM down);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_newest_leaf(text, bigint) IS
    'chatstore internal: the leaf reached from a message by always taking the newest child';

CREATE OR REPLACE FUNCTION @extschema@._chat_add_sibling(t @extschema@.chat_threads, parent_seq bigint,
                                              message jsonb, user_id text,
                                              OUT id text, OUT seq bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r      @extschema@.chat_save_result;
    v_path int8multirange;
BEGIN
    PERFORM @extschema@._chat_branch_start(t);
    -- the active leaf becomes the parent: the save appends below it (the
    -- path computed first: Citus refuses a function call inside CASE in an
    -- UPDATE of a distributed table)
    v_path := CASE WHEN _chat_add_sibling.parent_seq IS NULL THEN '{}'::int8multirange
                   ELSE @extschema@._chat_path_to(t.id, _chat_add_sibling.parent_seq) END;
    UPDATE @extschema@.chat_threads AS c
    SET active_path = v_path
    WHERE c.id = t.id;
    -- with an id, so that the save never takes it for a re-sent message
    IF message->>'id' IS NULL THEN
        message := message || jsonb_build_object('id', gen_random_uuid()::text);
    END IF;
    SELECT * INTO r FROM @extschema@.chat_save_messages(t.id, jsonb_build_array(message), user_id);
    IF r.saved_count <> 1 THEN
        RAISE EXCEPTION 'message "%" already exists in thread "%"', message->>'id', t.id
            USING ERRCODE = 'unique_violation';
    END IF;
    id := r.saved_ids[1];
    seq := r.first_seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_add_sibling(@extschema@.chat_threads, bigint, jsonb, text) IS
    'chatstore internal: save a message as a new child of parent_seq and make it the active leaf';

CREATE OR REPLACE FUNCTION @extschema@._chat_align_tree(thread_id text, fps bigint[],
                                             OUT matched integer, OUT last_seq bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    cur bigint;
    nxt bigint;
    i   integer;
BEGIN
    matched := 0;
    FOR i IN 1 .. coalesce(array_length(fps, 1), 0) LOOP
        -- the stored messages and the tombstones (a client may hold deleted messages)
        SELECT n.seq INTO nxt FROM (
            SELECT m.seq FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = _chat_align_tree.thread_id
              AND m.parent_seq IS NOT DISTINCT FROM cur
              AND fps[i] = CASE WHEN m.fingerprint_version = 2 THEN m.fingerprint
                                ELSE @extschema@._chat_fingerprint(m.role, m.content, m.parts, m.name,
                                                                   m.tool_call_id, m.tool_calls) END
            UNION ALL
            SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
            WHERE x.thread_id = _chat_align_tree.thread_id
              AND x.parent_seq IS NOT DISTINCT FROM cur AND x.fingerprint = fps[i]) AS n
        ORDER BY n.seq DESC LIMIT 1;
        EXIT WHEN NOT FOUND;
        matched := i;
        last_seq := nxt;
        cur := nxt;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_align_tree(text, bigint[]) IS
    'chatstore internal: how many of a batch''s fingerprints follow the message tree from a root, and the seq reached';

CREATE OR REPLACE FUNCTION @extschema@.chat_edit_message(
    thread_id      text,
    message_id     text,
    content        text,
    user_id        text  DEFAULT NULL,
    metadata       jsonb DEFAULT NULL,
    new_message_id text  DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t   @extschema@.chat_threads;
    old record;
    s   record;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- save's NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_edit_message.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO id, seq, v_notifies
            FROM @extschema@._chat_edit_message_at(thread_id, message_id, content, user_id, metadata, new_message_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    old := @extschema@._chat_branch_message(t, message_id);
    IF content IS NULL THEN
        RAISE EXCEPTION 'content must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    s := @extschema@._chat_add_sibling(t, old.parent_seq,
            jsonb_strip_nulls(jsonb_build_object('id', new_message_id, 'role', old.role,
                                                 'content', content, 'metadata', metadata)),
            user_id);
    id := s.id;
    seq := s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_edit_message(text, text, text, text, jsonb, text) IS
    'a new version of a message (a sibling with the same role and new content) that becomes the active branch';

CREATE OR REPLACE FUNCTION @extschema@._chat_edit_message_at(thread_id text, message_id text, content text, user_id text, metadata jsonb, new_message_id text, ctx jsonb,
                                                  OUT id text, OUT seq bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO id, seq FROM @extschema@.chat_edit_message(thread_id, message_id, content, user_id, metadata, new_message_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_edit_message_at(text, text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_edit_message run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@.chat_regenerate_message(
    thread_id  text,
    message_id text,
    message    jsonb,
    user_id    text DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t   @extschema@.chat_threads;
    old record;
    s   record;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- save's NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_regenerate_message.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO id, seq, v_notifies
            FROM @extschema@._chat_regenerate_message_at(thread_id, message_id, message, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    old := @extschema@._chat_branch_message(t, message_id);
    IF old.role <> 'assistant' THEN
        RAISE EXCEPTION 'message "%" is not an assistant reply (its role is %)', message_id, old.role
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To change a message of another role, use chat_edit_message.';
    END IF;
    IF message IS NULL OR jsonb_typeof(message) <> 'object' THEN
        RAISE EXCEPTION 'message must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF message->>'role' IS DISTINCT FROM 'assistant' THEN
        RAISE EXCEPTION 'the new reply must have the role assistant'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    s := @extschema@._chat_add_sibling(t, old.parent_seq, message, user_id);
    id := s.id;
    seq := s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_regenerate_message(text, text, jsonb, text) IS
    'another assistant reply: a sibling of an assistant message that becomes the active branch';

CREATE OR REPLACE FUNCTION @extschema@._chat_regenerate_message_at(thread_id text, message_id text, message jsonb, user_id text, ctx jsonb,
                                                        OUT id text, OUT seq bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO id, seq FROM @extschema@.chat_regenerate_message(thread_id, message_id, message, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_regenerate_message_at(text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_regenerate_message run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@.chat_switch_branch(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL,
    OUT leaf_id  text,
    OUT leaf_seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t      @extschema@.chat_threads;
    msg    record;
    v_path int8multirange;
    v_now  timestamptz := @extschema@._chat_now();
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_switch_branch.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            SELECT * INTO leaf_id, leaf_seq FROM @extschema@._chat_switch_branch_at(thread_id, message_id, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    PERFORM @extschema@._chat_branch_start(t);
    leaf_seq := @extschema@._chat_newest_leaf(t.id, msg.seq);
    v_path := @extschema@._chat_path_to(t.id, leaf_seq);
    -- updated_at moves when the path does (as the trigger, dropped on Citus,
    -- would move it)
    UPDATE @extschema@.chat_threads AS c
    SET active_path = v_path,
        updated_at = CASE WHEN c.active_path IS DISTINCT FROM v_path THEN v_now ELSE c.updated_at END
    WHERE c.id = t.id;
    SELECT m.id INTO leaf_id FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = t.id AND m.seq = leaf_seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_switch_branch(text, text, text) IS
    'make the branch through a message active (down to its newest leaf); returns the new active leaf';

CREATE OR REPLACE FUNCTION @extschema@._chat_switch_branch_at(thread_id text, message_id text, user_id text, ctx jsonb, OUT leaf_id text, OUT leaf_seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO leaf_id, leaf_seq FROM @extschema@.chat_switch_branch(thread_id, message_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_switch_branch_at(text, text, text, jsonb) IS
    'chatstore internal: chat_switch_branch run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_message_siblings(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS TABLE (id text, seq bigint, role text, content text, "position" integer,
               total integer, active boolean, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT s.id, s.seq, s.role, s.content,
               (pg_catalog.row_number() OVER (ORDER BY s.seq))::integer,
               (pg_catalog.count(*) OVER ())::integer,
               (t.active_path IS NULL OR s.seq OPERATOR(pg_catalog.<@) t.active_path),
               s.created_at
        FROM @extschema@.chat_threads AS t
        JOIN @extschema@.chat_messages AS me
          ON me.thread_id OPERATOR(pg_catalog.=) t.id
         AND me.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_message_siblings.message_id, 'message_id')
        JOIN @extschema@.chat_messages AS s
          ON s.thread_id OPERATOR(pg_catalog.=) t.id
         AND (CASE WHEN t.active_path IS NULL THEN s.seq OPERATOR(pg_catalog.=) me.seq
                   ELSE s.parent_seq IS NOT DISTINCT FROM me.parent_seq END)
        WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_message_siblings.thread_id, 'thread_id')
          AND (@extschema@._chat_user_arg(chat_message_siblings.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_message_siblings.user_id)
        ORDER BY s.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_message_siblings(text, text, text) IS
    'the versions of a message (it and its siblings) with their position, total and which is active; no row when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@.chat_thread_tree(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS TABLE (id text, seq bigint, parent_id text, parent_seq bigint, role text, content text,
               "position" integer, total integer, active boolean, created_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT n.id, n.seq, p.id, n.parent, n.role, n.content,
               (pg_catalog.row_number() OVER (PARTITION BY n.parent ORDER BY n.seq))::integer,
               (pg_catalog.count(*) OVER (PARTITION BY n.parent))::integer,
               n.active, n.created_at
        FROM (SELECT m.id, m.seq, m.role, m.content, m.created_at,
                     CASE WHEN t.active_path IS NULL
                          THEN pg_catalog.lag(m.seq) OVER (ORDER BY m.seq)
                          ELSE m.parent_seq END AS parent,
                     (t.active_path IS NULL OR m.seq OPERATOR(pg_catalog.<@) t.active_path) AS active,
                     t.id AS tid
              FROM @extschema@.chat_threads AS t
              JOIN @extschema@.chat_messages AS m ON m.thread_id OPERATOR(pg_catalog.=) t.id
              WHERE t.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_thread_tree.thread_id, 'thread_id')
                AND (@extschema@._chat_user_arg(chat_thread_tree.user_id) IS NULL
                     OR t.user_id OPERATOR(pg_catalog.=) chat_thread_tree.user_id)) AS n
        LEFT JOIN @extschema@.chat_messages AS p
          ON p.thread_id OPERATOR(pg_catalog.=) n.tid AND p.seq OPERATOR(pg_catalog.=) n.parent
        ORDER BY n.seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_thread_tree(text, text) IS
    'every message of a thread (all branches) with its parent, its position among its siblings and whether it is on the active path';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_messages(thread_id text, seqs bigint[],
                                                  replies_moved_up boolean DEFAULT false,
                                                  activity boolean DEFAULT true)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n   bigint;
    p   bigint;
    c   bigint;
    tot bigint;
    nt  bigint;
    -- (a value, not now() in the statement: Citus refuses a non-immutable
    -- function inside CASE in an UPDATE of a distributed table)
    v_now timestamptz := @extschema@._chat_now();
BEGIN
    WITH d AS (
        DELETE FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = _chat_delete_messages.thread_id AND m.seq = ANY (seqs)
        RETURNING m.seq, m.id, m.usage, m.fingerprint, m.fingerprint_version, m.role, m.content,
                  m.parts, m.name, m.tool_call_id, m.tool_calls, m.parent_seq, m.thread_user_id),
    tomb AS (
        INSERT INTO @extschema@.chat_message_tombstones AS x (thread_id, seq, id, fingerprint, parent_seq,
                                                              replies_moved_up, thread_user_id, deleted_at)
        SELECT _chat_delete_messages.thread_id, d.seq, d.id,
               CASE WHEN d.fingerprint_version = 2 THEN d.fingerprint
                    ELSE @extschema@._chat_fingerprint(d.role, d.content, d.parts, d.name,
                                                       d.tool_call_id, d.tool_calls) END,
               d.parent_seq, _chat_delete_messages.replies_moved_up, d.thread_user_id, v_now
        FROM d
        ON CONFLICT DO NOTHING
        RETURNING 1)
    SELECT count(*),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'prompt')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'completion')), 0),
           coalesce(sum(@extschema@.chat_usage_tokens(d.usage, 'total')), 0),
           (SELECT count(*) FROM tomb)
    INTO n, p, c, tot, nt
    FROM d;
    IF n > 0 THEN
        UPDATE @extschema@.chat_threads AS t
        SET message_count     = t.message_count - n,
            prompt_tokens     = greatest(t.prompt_tokens - p, 0),
            completion_tokens = greatest(t.completion_tokens - c, 0),
            total_tokens      = greatest(t.total_tokens - tot, 0),
            tombstone_count   = t.tombstone_count + nt,
            -- a retention trim is not activity: it keeps updated_at
            updated_at        = CASE WHEN activity THEN v_now ELSE t.updated_at END
        WHERE t.id = _chat_delete_messages.thread_id;
    END IF;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_messages(text, bigint[], boolean, boolean) IS
    'chatstore internal: delete messages of a locked thread by seq, leaving tombstones, and correct its aggregates (the delete of a user, or with activity false a retention trim)';

CREATE OR REPLACE FUNCTION @extschema@._chat_subtree(t @extschema@.chat_threads, seq bigint)
RETURNS bigint[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    -- no thread: no messages (and no query: on Citus one without a thread id
    -- would have to run the recursive query over every shard, which it refuses)
    IF t.id IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (
        -- (through deleted messages: their tombstones keep their parent)
        WITH RECURSIVE down(seq) AS (
            SELECT _chat_subtree.seq
            UNION ALL
            SELECT c.seq FROM down,
            LATERAL (SELECT m.seq FROM @extschema@.chat_messages AS m
                     WHERE m.thread_id OPERATOR(pg_catalog.=) t.id AND m.parent_seq OPERATOR(pg_catalog.=) down.seq
                     UNION ALL
                     SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
                     WHERE x.thread_id OPERATOR(pg_catalog.=) t.id AND x.parent_seq OPERATOR(pg_catalog.=) down.seq) AS c
            WHERE t.active_path IS NOT NULL)
        SELECT CASE WHEN t.active_path IS NULL
                    THEN (SELECT pg_catalog.array_agg(m.seq) FROM @extschema@.chat_messages AS m
                          WHERE m.thread_id OPERATOR(pg_catalog.=) t.id
                            AND m.seq OPERATOR(pg_catalog.>=) _chat_subtree.seq)
                    ELSE (SELECT pg_catalog.array_agg(down.seq) FROM down) END);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_subtree(@extschema@.chat_threads, bigint) IS
    'chatstore internal: the seqs of a message and of every message below it';

CREATE OR REPLACE FUNCTION @extschema@.chat_get_message(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT m.* FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id OPERATOR(pg_catalog.=) m.thread_id
        WHERE m.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_message.thread_id, 'thread_id')
          AND m.id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_message.message_id, 'message_id')
          AND (@extschema@._chat_user_arg(chat_get_message.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_get_message.user_id);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_get_message(text, text, text) IS
    'one message of a thread; no row when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@.chat_update_message(
    thread_id  text,
    message_id text,
    content    text  DEFAULT NULL,
    metadata   jsonb DEFAULT NULL,
    user_id    text  DEFAULT NULL)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_now timestamptz := @extschema@._chat_now();   -- (a value: see _chat_delete_messages)
    t   @extschema@.chat_threads;
    msg record;
    r   @extschema@.chat_messages;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_update_message.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
        BEGIN
            RETURN QUERY SELECT * FROM @extschema@._chat_update_message_at(thread_id, message_id, content, metadata, user_id, v_ctx);
            RETURN;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(content) > pg_size_bytes(current_setting('chatstore.max_message_bytes')) THEN
        RAISE EXCEPTION 'content is too long'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('It has %s bytes; chatstore.max_message_bytes is %s.',
                                  octet_length(content), current_setting('chatstore.max_message_bytes'));
    END IF;
    IF content IS NOT NULL AND EXISTS (
            SELECT FROM @extschema@.chat_messages AS x
            WHERE x.thread_id = t.id AND x.seq = msg.seq AND x.status = 'in_progress') THEN
        RAISE EXCEPTION 'message "%" is being streamed', message_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Append with chat_stream_append, or finish it with chat_stream_finish first.';
    END IF;
    UPDATE @extschema@.chat_messages AS m
    SET content    = COALESCE(chat_update_message.content, m.content),
        parts      = CASE WHEN chat_update_message.content IS NULL THEN m.parts END,
        metadata   = m.metadata || COALESCE(chat_update_message.metadata, '{}'::jsonb),
        edited_at  = v_now
    WHERE m.thread_id = t.id AND m.seq = msg.seq
    RETURNING m.* INTO r;
    -- the fingerprint follows the content (an id-less re-send of the edited
    -- conversation aligns against it)
    UPDATE @extschema@.chat_messages AS m
    SET fingerprint = @extschema@._chat_fingerprint(m.role, m.content, m.parts, m.name,
                                                    m.tool_call_id, m.tool_calls, m.item),
        fingerprint_version = 2
    WHERE m.thread_id = t.id AND m.seq = msg.seq
    RETURNING m.* INTO r;
    -- an edit is activity
    UPDATE @extschema@.chat_threads AS c SET updated_at = v_now WHERE c.id = t.id;
    RETURN NEXT r;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_update_message(text, text, text, jsonb, text) IS
    'change a message in place (content, metadata merged in) and set its edited_at; P0002 when not found';

CREATE OR REPLACE FUNCTION @extschema@._chat_update_message_at(thread_id text, message_id text, content text, metadata jsonb, user_id text, ctx jsonb)
RETURNS SETOF @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    RETURN QUERY SELECT * FROM @extschema@.chat_update_message(thread_id, message_id, content, metadata, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_update_message_at(text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_update_message run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_message(
    thread_id    text,
    message_id   text,
    user_id      text    DEFAULT NULL,
    with_replies boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t    @extschema@.chat_threads;
    msg  record;
    seqs bigint[];
    n    bigint;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_message.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_message_at(thread_id, message_id, user_id, with_replies, v_ctx);
            RETURN v_result;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    IF with_replies IS NULL THEN
        RAISE EXCEPTION 'with_replies must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- a line is made a tree first: the tree then says who the replies' and
    -- the next message's parent is (not the deleted message)
    IF t.active_path IS NULL THEN
        t.active_path := @extschema@._chat_branch_start(t);
        SELECT * INTO msg FROM @extschema@._chat_branch_message(t, message_id);
    END IF;
    IF with_replies THEN
        seqs := @extschema@._chat_subtree(t, msg.seq);
        n := @extschema@._chat_delete_messages(t.id, seqs);
    ELSE
        -- the replies move up to the parent
        UPDATE @extschema@.chat_messages AS m SET parent_seq = msg.parent_seq
        WHERE m.thread_id = t.id AND m.parent_seq = msg.seq;
        UPDATE @extschema@.chat_message_tombstones AS x SET parent_seq = msg.parent_seq
        WHERE x.thread_id = t.id AND x.parent_seq = msg.seq;
        n := @extschema@._chat_delete_messages(t.id, ARRAY[msg.seq], true);
    END IF;
    -- The active path keeps the seqs of deleted messages that were on it
    -- (their tombstones align an id-less re-send), but it always ends at a
    -- stored message, the active leaf: when the leaf went (or, with
    -- with_replies, the part of the path below the message), the path ends
    -- at the message's parent.
    IF t.active_path IS NOT NULL AND msg.seq <@ t.active_path
       AND (with_replies OR msg.seq = upper(t.active_path) - 1) THEN
        UPDATE @extschema@.chat_threads AS c
        SET active_path = CASE WHEN msg.parent_seq IS NULL THEN '{}'::int8multirange
                               ELSE c.active_path * int8multirange(int8range(NULL, msg.parent_seq, '[]')) END
        WHERE c.id = t.id;
    END IF;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_message(text, text, text, boolean) IS
    'delete one message (its replies move up to its parent, or go with it with with_replies); returns how many were deleted';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_message_at(thread_id text, message_id text, user_id text, with_replies boolean, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_message(thread_id, message_id, user_id, with_replies);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_message_at(text, text, text, boolean, jsonb) IS
    'chatstore internal: chat_delete_message run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_messages_after(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t     @extschema@.chat_threads;
    msg   record;
    child bigint;
    n     bigint := 0;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_messages_after.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_messages_after_at(thread_id, message_id, user_id, v_ctx);
            RETURN v_result;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    msg := @extschema@._chat_branch_message(t, message_id);
    -- a line is made a tree first (as for chat_delete_message)
    IF t.active_path IS NULL THEN
        t.active_path := @extschema@._chat_branch_start(t);
        SELECT * INTO msg FROM @extschema@._chat_branch_message(t, message_id);
    END IF;
    IF NOT msg.seq <@ t.active_path THEN
        RAISE EXCEPTION 'message "%" is not on the active path of thread "%"', message_id, t.id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Switch to its branch first (chat_switch_branch).';
    END IF;
    -- its child on the path (a trimmed one included; not one whose replies
    -- chat_delete_message moved up to it: it has none)
    SELECT min(c.seq) INTO child FROM (
        SELECT m.seq FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = t.id AND m.parent_seq = msg.seq AND m.seq <@ t.active_path
        UNION ALL
        SELECT x.seq FROM @extschema@.chat_message_tombstones AS x
        WHERE x.thread_id = t.id AND x.parent_seq = msg.seq AND x.seq <@ t.active_path
          AND NOT x.replies_moved_up) AS c;
    IF child IS NOT NULL THEN
        n := @extschema@._chat_delete_messages(t.id, @extschema@._chat_subtree(t, child));
    END IF;
    UPDATE @extschema@.chat_threads AS c
    SET active_path = c.active_path * int8multirange(int8range(NULL, msg.seq, '[]'))
    WHERE c.id = t.id;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_messages_after(text, text, text) IS
    'delete the messages after one on the active path (with what branches below them); returns how many were deleted';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_messages_after_at(thread_id text, message_id text, user_id text, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_messages_after(thread_id, message_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_messages_after_at(text, text, text, jsonb) IS
    'chatstore internal: chat_delete_messages_after run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_items(
    thread_id    text,
    max_messages integer DEFAULT NULL,
    before_seq   bigint  DEFAULT NULL,
    after_seq    bigint  DEFAULT NULL)
RETURNS TABLE (seq bigint, id text, item jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 50
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT h.seq, h.id, e.v
        FROM @extschema@.chat_history(chat_items.thread_id, chat_items.max_messages,
                                      chat_items.before_seq, chat_items.after_seq) AS h,
             -- (an item, the common case, without the call of _chat_as_items,
             -- which the planner cannot inline)
             pg_catalog.jsonb_array_elements(
                 CASE WHEN h.item IS NOT NULL THEN pg_catalog.jsonb_build_array(@extschema@._chat_item(h))
                      ELSE @extschema@._chat_as_items(h) END) WITH ORDINALITY AS e(v, n)
        ORDER BY h.seq, e.n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_items(text, integer, bigint, bigint) IS
    'a thread''s messages (active path) as Responses API items, oldest first, nothing left out';

CREATE OR REPLACE FUNCTION @extschema@._chat_stream_message(thread_id text, message_id text, user_id text)
RETURNS @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_stream_message.user_id);
    owner    text;
    m        @extschema@.chat_messages;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    PERFORM @extschema@._chat_required(message_id, 'message_id');
    SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
    WHERE t.id = _chat_stream_message.thread_id;
    IF NOT FOUND
       OR (v_user IS NOT NULL AND owner IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND owner IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    SELECT x.* INTO m FROM @extschema@.chat_messages AS x
    WHERE x.thread_id = _chat_stream_message.thread_id AND x.id = _chat_stream_message.message_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'message "%" does not exist in thread "%"', message_id, thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    PERFORM pg_advisory_xact_lock(1668511090, hashtext(m.thread_id || '/' || m.seq::text));
    -- what the lock waited for may have finished the stream
    SELECT x.status INTO m.status FROM @extschema@.chat_messages AS x
    WHERE x.thread_id = m.thread_id AND x.seq = m.seq;
    IF m.status IS DISTINCT FROM 'in_progress' THEN
        RAISE EXCEPTION 'message "%" is not being streamed', message_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its status is %s.', coalesce(m.status, 'null (saved whole)')),
                  HINT = 'Start a stream with chat_stream_start.';
    END IF;
    RETURN m;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_stream_message(text, text, text) IS
    'chatstore internal: the in_progress message a stream call changes, after the owner and tenant checks, under the stream''s lock';

CREATE OR REPLACE FUNCTION @extschema@.chat_stream_start(
    thread_id  text,
    role       text  DEFAULT 'assistant',
    message_id text  DEFAULT NULL,
    model      text  DEFAULT NULL,
    metadata   jsonb DEFAULT NULL,
    user_id    text  DEFAULT NULL,
    OUT id  text,
    OUT seq bigint)
RETURNS record
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id  text := coalesce(message_id, gen_random_uuid()::text);
    r     @extschema@.chat_save_result;
    m     @extschema@.chat_messages;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- save's NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_stream_start.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO id, seq, v_notifies
            FROM @extschema@._chat_stream_start_at(thread_id, role, message_id, model, metadata, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN;
        END;
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    r := @extschema@.chat_save_messages(
            thread_id,
            jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                'id', v_id, 'role', role, 'content', '', 'model', model, 'metadata', metadata))),
            user_id);
    IF r.saved_count = 0 THEN
        -- the id is taken (or was deleted): a stream already started under it
        -- is resumed, anything else is an error
        SELECT x.* INTO m FROM @extschema@.chat_messages AS x
        WHERE x.thread_id = chat_stream_start.thread_id AND x.id = v_id;
        IF FOUND AND m.status = 'in_progress' THEN
            id := m.id;
            seq := m.seq;
            RETURN;
        END IF;
        RAISE EXCEPTION 'message "%" already exists in thread "%"', v_id, thread_id
            USING ERRCODE = 'unique_violation',
                  DETAIL = CASE WHEN FOUND THEN 'It is not being streamed.' ELSE 'It was deleted.' END;
    END IF;
    UPDATE @extschema@.chat_messages AS x SET status = 'in_progress'
    WHERE x.thread_id = chat_stream_start.thread_id AND x.seq = r.first_seq;
    -- what a stream of a deleted message at this seq may have left
    DELETE FROM @extschema@.chat_stream_deltas AS d
    WHERE d.thread_id = chat_stream_start.thread_id AND d.seq = r.first_seq;
    id := v_id;
    seq := r.first_seq;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_stream_start(text, text, text, text, jsonb, text) IS
    'start a streamed message: an empty message with status in_progress (returns its id and seq)';

CREATE OR REPLACE FUNCTION @extschema@._chat_stream_start_at(thread_id text, role text, message_id text, model text, metadata jsonb, user_id text, ctx jsonb,
                                                  OUT id text, OUT seq bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    SELECT * INTO id, seq FROM @extschema@.chat_stream_start(thread_id, role, message_id, model, metadata, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_stream_start_at(text, text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_stream_start run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@.chat_stream_append(
    thread_id  text,
    message_id text,
    delta      text,
    user_id    text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    m       @extschema@.chat_messages;
    last    record;
    v_n     integer;
    v_off   bigint;
    v_bytes bigint;
    payload jsonb;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_stream_append.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_notifies jsonb;
        BEGIN
            SELECT * INTO v_off, v_notifies
            FROM @extschema@._chat_stream_append_at(thread_id, message_id, delta, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(v_notifies);
            RETURN v_off;
        END;
    END IF;
    IF delta IS NULL THEN
        RAISE EXCEPTION 'delta must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    m := @extschema@._chat_stream_message(thread_id, message_id, user_id);
    SELECT d.n, d."offset" + char_length(d.delta) AS end_offset,
           d.bytes + octet_length(d.delta) AS end_bytes
    INTO last FROM @extschema@.chat_stream_deltas AS d
    WHERE d.thread_id = m.thread_id AND d.seq = m.seq
    ORDER BY d.n DESC LIMIT 1;
    v_n := coalesce(last.n, 0) + 1;
    v_off := coalesce(last.end_offset, 0);
    v_bytes := coalesce(last.end_bytes, 0);
    IF v_bytes + octet_length(delta) > pg_size_bytes(current_setting('chatstore.max_message_bytes')) THEN
        RAISE EXCEPTION 'content of message "%" would be too large', message_id
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('It would have %s bytes; chatstore.max_message_bytes is %s.',
                                  v_bytes + octet_length(delta), current_setting('chatstore.max_message_bytes'));
    END IF;
    INSERT INTO @extschema@.chat_stream_deltas (thread_id, seq, n, "offset", bytes, delta)
    VALUES (m.thread_id, m.seq, v_n, v_off, v_bytes, delta);
    IF current_setting('chatstore.notify')::boolean THEN
        payload := jsonb_build_object('thread_id', m.thread_id, 'message_id', m.id, 'seq', m.seq,
                                      'event', 'delta', 'offset', v_off, 'delta', delta);
        IF octet_length(payload::text) > 7900 THEN
            payload := payload - 'delta' || '{"truncated": true}';
        END IF;
        PERFORM @extschema@._chat_notify('chatstore_stream', payload::text);
    END IF;
    RETURN v_off + char_length(delta);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_stream_append(text, text, text, text) IS
    'append text to a message being streamed (status in_progress); returns the length of its text so far';

CREATE OR REPLACE FUNCTION @extschema@._chat_stream_append_at(thread_id text, message_id text, delta text, user_id text, ctx jsonb,
                                                   OUT end_offset bigint, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    end_offset := @extschema@.chat_stream_append(thread_id, message_id, delta, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_stream_append_at(text, text, text, text, jsonb) IS
    'chatstore internal: chat_stream_append run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@.chat_stream_read(
    thread_id   text,
    message_id  text,
    from_offset bigint DEFAULT 0,
    user_id     text   DEFAULT NULL)
RETURNS TABLE (status text, text text, end_offset bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_stream_read.user_id);
    v_from   bigint := GREATEST(coalesce(from_offset, 0), 0);
    m        @extschema@.chat_messages;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    PERFORM @extschema@._chat_required(message_id, 'message_id');
    -- what the caller could read itself (its own threads; its tenant's)
    SELECT x.* INTO m FROM @extschema@.chat_messages AS x
    JOIN @extschema@.chat_threads AS t ON t.id = x.thread_id
    WHERE x.thread_id = chat_stream_read.thread_id AND x.id = chat_stream_read.message_id
      AND (v_user IS NULL OR t.user_id = v_user)
      AND (v_tenant IS NULL OR (v_tenant <> '' AND t.user_id = v_tenant));
    IF NOT FOUND THEN
        RETURN;
    END IF;
    status := coalesce(m.status, 'completed');
    IF m.status = 'in_progress' THEN
        SELECT coalesce(m.content, '') || coalesce(string_agg(
                   substr(d.delta, (GREATEST(v_from - d."offset", 0) + 1)::integer), '' ORDER BY d.n), '')
        INTO text
        FROM @extschema@.chat_stream_deltas AS d
        WHERE d.thread_id = m.thread_id AND d.seq = m.seq
          AND d."offset" + char_length(d.delta) > v_from;
        SELECT coalesce(max(d."offset" + char_length(d.delta)), 0) INTO end_offset
        FROM @extschema@.chat_stream_deltas AS d
        WHERE d.thread_id = m.thread_id AND d.seq = m.seq;
    ELSE
        text := substr(coalesce(m.content, ''), (v_from + 1)::integer);
        end_offset := char_length(coalesce(m.content, ''));
    END IF;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_stream_read(text, text, bigint, text) IS
    'the text of a streamed message from a character offset on, its status and its length so far';

CREATE OR REPLACE FUNCTION @extschema@.chat_stream_finish(
    thread_id     text,
    message_id    text,
    status        text  DEFAULT 'completed',
    finish_reason text  DEFAULT NULL,
    usage         jsonb DEFAULT NULL,
    user_id       text  DEFAULT NULL)
RETURNS @extschema@.chat_messages
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_now timestamptz := @extschema@._chat_now();   -- (a value: Citus evaluates no function in a distributed UPDATE's SET)
    t      @extschema@.chat_threads;
    m      @extschema@.chat_messages;
    v_text text;
    p      bigint;
    c      bigint;
    tot    bigint;
BEGIN
    -- on Citus: run on the worker that holds the thread, which returns the
    -- NOTIFY for this node to send (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_stream_finish.thread_id IS NOT NULL THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            r record;
        BEGIN
            SELECT * INTO r
            FROM @extschema@._chat_stream_finish_at(thread_id, message_id, status, finish_reason, usage, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(r.notifies);
            RETURN r.message;
        END;
    END IF;
    IF status IS NULL OR status NOT IN ('completed', 'incomplete', 'failed') THEN
        RAISE EXCEPTION 'invalid status "%"', status
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A stream finishes completed, incomplete or failed.';
    END IF;
    IF octet_length(finish_reason) > 64 THEN
        RAISE EXCEPTION 'finish_reason is too long'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The limit is 64 bytes.';
    END IF;
    IF usage IS NOT NULL AND jsonb_typeof(usage) <> 'object' THEN
        RAISE EXCEPTION 'usage must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    p := coalesce(@extschema@.chat_usage_tokens(usage, 'prompt'), 0);
    c := coalesce(@extschema@.chat_usage_tokens(usage, 'completion'), 0);
    tot := coalesce(@extschema@.chat_usage_tokens(usage, 'total'), 0);
    IF usage IS NOT NULL AND c > 2147483647 THEN
        RAISE EXCEPTION 'output token count is out of range'
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    -- the thread first (as a save locks it), then the stream
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    m := @extschema@._chat_stream_message(thread_id, message_id, user_id);
    SELECT string_agg(d.delta, '' ORDER BY d.n) INTO v_text
    FROM @extschema@.chat_stream_deltas AS d
    WHERE d.thread_id = m.thread_id AND d.seq = m.seq;
    UPDATE @extschema@.chat_messages AS x
    SET content       = coalesce(x.content, '') || coalesce(v_text, ''),
        status        = chat_stream_finish.status,
        finish_reason = chat_stream_finish.finish_reason,
        usage         = coalesce(chat_stream_finish.usage, x.usage),
        token_count   = CASE WHEN chat_stream_finish.usage IS NOT NULL
                                  AND @extschema@.chat_usage_tokens(chat_stream_finish.usage, 'completion') IS NOT NULL
                             THEN c::integer ELSE x.token_count END
    WHERE x.thread_id = m.thread_id AND x.seq = m.seq
    RETURNING x.* INTO m;
    -- the fingerprint follows the content (an id-less re-send of the
    -- finished message aligns against it)
    UPDATE @extschema@.chat_messages AS x
    SET fingerprint = @extschema@._chat_fingerprint(x.role, x.content, x.parts, x.name,
                                                    x.tool_call_id, x.tool_calls, x.item),
        fingerprint_version = 2
    WHERE x.thread_id = m.thread_id AND x.seq = m.seq
    RETURNING x.* INTO m;
    DELETE FROM @extschema@.chat_stream_deltas AS d
    WHERE d.thread_id = m.thread_id AND d.seq = m.seq;
    UPDATE @extschema@.chat_threads AS x
    SET prompt_tokens     = x.prompt_tokens + p,
        completion_tokens = x.completion_tokens + c,
        total_tokens      = x.total_tokens + tot,
        updated_at        = v_now
    WHERE x.id = t.id;
    IF current_setting('chatstore.notify')::boolean THEN
        PERFORM @extschema@._chat_notify('chatstore_stream', jsonb_build_object(
            'thread_id', m.thread_id, 'message_id', m.id, 'seq', m.seq,
            'event', 'finish', 'status', m.status)::text);
    END IF;
    RETURN m;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_stream_finish(text, text, text, text, jsonb, text) IS
    'finish a streamed message: its text becomes its content, with status, finish reason and usage';

CREATE OR REPLACE FUNCTION @extschema@._chat_stream_finish_at(thread_id text, message_id text, status text, finish_reason text, usage jsonb, user_id text, ctx jsonb,
                                                   OUT message @extschema@.chat_messages, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    message := @extschema@.chat_stream_finish(thread_id, message_id, status, finish_reason, usage, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_stream_finish_at(text, text, text, text, jsonb, text, jsonb) IS
    'chatstore internal: chat_stream_finish run on the worker that holds the thread (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@.chat_context(
    thread_id          text,
    max_messages       integer DEFAULT NULL,
    before_seq         bigint  DEFAULT NULL,
    after_seq          bigint  DEFAULT NULL,
    max_tokens         integer DEFAULT NULL,
    format             text    DEFAULT 'chat',
    include_incomplete boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_up_to   pg_catalog.int8;
    v_summary pg_catalog.jsonb;
    v_tokens  pg_catalog.int8;
    v_after   pg_catalog.int8;
    v_window  @extschema@.chat_messages[];
BEGIN
    -- the arguments, first (an error inside the statement below would
    -- show the whole statement as its context)
    IF format IS NULL OR format NOT IN ('chat', 'responses') THEN
        PERFORM @extschema@._chat_context_format(format);
    END IF;
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    PERFORM @extschema@._chat_history_limit(max_messages);
    IF max_tokens < 0 THEN
        RAISE EXCEPTION 'max_tokens must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The reads come first, each its own statement: the latest summary on
    -- the active path that the window reaches, then the window (the
    -- messages after the summary, or chat_history's window).  The pairing
    -- and formatting statement after them reads no table, only the window
    -- (an array): on Citus the reads are routed to the node that holds the
    -- thread and the rest runs here.  (PL/pgSQL with generic plans: each
    -- plan is made once a session.)
    IF chat_context.after_seq IS NULL THEN
        SELECT x.up_to_seq, x.summary,
               COALESCE(x.token_count::pg_catalog.int8,
                        pg_catalog.octet_length(x.summary::pg_catalog.text)::pg_catalog.int8 OPERATOR(pg_catalog./) 4)
        INTO v_up_to, v_summary, v_tokens
        FROM @extschema@.chat_summaries AS x
        WHERE x.thread_id OPERATOR(pg_catalog.=) chat_context.thread_id
          AND x.up_to_seq OPERATOR(pg_catalog.<) COALESCE(chat_context.before_seq, 9223372036854775807)
          AND COALESCE(x.up_to_seq OPERATOR(pg_catalog.<@)
                (SELECT t.active_path FROM @extschema@.chat_threads AS t
                 WHERE t.id OPERATOR(pg_catalog.=) chat_context.thread_id), true)
        ORDER BY x.id DESC
        LIMIT 1;
    END IF;
    IF v_up_to IS NULL THEN
        -- no summary: chat_history's window
        v_window := ARRAY(SELECT x FROM @extschema@.chat_history(chat_context.thread_id, chat_context.max_messages,
                                                                 chat_context.before_seq, chat_context.after_seq,
                                                                 chat_context.max_tokens) AS x);
    ELSE
        -- a summary: the newest messages after it (max_messages of them,
        -- then the budget less the summary's tokens; the budget path keeps
        -- the leading system messages itself)
        IF @extschema@._chat_history_limit(chat_context.max_messages) IS NULL THEN
            v_after := v_up_to;
        ELSIF chat_context.max_messages = 0 THEN
            v_after := 9223372036854775806;
        ELSE
            SELECT n.seq OPERATOR(pg_catalog.-) 1 INTO v_after
            FROM @extschema@.chat_messages AS n
            WHERE n.thread_id OPERATOR(pg_catalog.=) chat_context.thread_id
              AND n.seq OPERATOR(pg_catalog.>) v_up_to
              AND n.seq OPERATOR(pg_catalog.<) COALESCE(chat_context.before_seq, 9223372036854775807)
              AND COALESCE(n.seq OPERATOR(pg_catalog.<@)
                    (SELECT t.active_path FROM @extschema@.chat_threads AS t
                     WHERE t.id OPERATOR(pg_catalog.=) chat_context.thread_id), true)
            ORDER BY n.seq DESC
            OFFSET chat_context.max_messages OPERATOR(pg_catalog.-) 1 LIMIT 1;
            v_after := GREATEST(v_up_to, COALESCE(v_after, v_up_to));
        END IF;
        v_window := ARRAY(SELECT x FROM @extschema@.chat_history(
                              chat_context.thread_id, NULL, chat_context.before_seq, v_after,
                              CASE WHEN chat_context.max_tokens IS NOT NULL THEN
                                  GREATEST(chat_context.max_tokens::pg_catalog.int8 OPERATOR(pg_catalog.-) v_tokens, 0)::integer
                              END) AS x);
        IF chat_context.max_tokens IS NULL THEN
            -- and, without a budget, the leading system messages
            v_window := ARRAY(
                SELECT ROW(m.*)::@extschema@.chat_messages FROM @extschema@.chat_messages AS m
                WHERE m.thread_id OPERATOR(pg_catalog.=) chat_context.thread_id
                  AND m.seq OPERATOR(pg_catalog.<=) v_up_to
                  AND m.role OPERATOR(pg_catalog.=) ANY (ARRAY['system', 'developer'])
                  AND COALESCE(m.seq OPERATOR(pg_catalog.<@)
                        (SELECT t.active_path FROM @extschema@.chat_threads AS t
                         WHERE t.id OPERATOR(pg_catalog.=) chat_context.thread_id), true)
                  AND m.seq OPERATOR(pg_catalog.<) COALESCE(
                        (SELECT pg_catalog.min(o.seq) FROM @extschema@.chat_messages AS o
                         WHERE o.thread_id OPERATOR(pg_catalog.=) chat_context.thread_id
                           AND o.role OPERATOR(pg_catalog.<>) ALL (ARRAY['system', 'developer'])
                           AND COALESCE(o.seq OPERATOR(pg_catalog.<@)
                                 (SELECT t.active_path FROM @extschema@.chat_threads AS t
                                  WHERE t.id OPERATOR(pg_catalog.=) chat_context.thread_id), true)),
                        9223372036854775807)
                ORDER BY m.seq) OPERATOR(pg_catalog.||) v_window;
        END IF;
    END IF;
    RETURN (
    WITH fmt AS (
        SELECT CASE WHEN chat_context.format OPERATOR(pg_catalog.=) ANY (ARRAY['chat', 'responses'])
                    THEN chat_context.format
                    ELSE @extschema@._chat_context_format(chat_context.format) END AS f),
    s AS (
        SELECT v_up_to AS up_to_seq, v_summary AS summary WHERE v_up_to IS NOT NULL),
    w AS (
        SELECT x AS m FROM pg_catalog.unnest(v_window) AS x),
    -- the rows that have a form in the format asked, with what pairs them
    -- (the common rows, a chat message without tool calls or an item, take
    -- no call of the functions the planner cannot inline)
    r0 AS (
        SELECT w.m, (w.m).seq AS seq, (w.m).role AS role, (w.m).item OPERATOR(pg_catalog.->>) 'type' AS item_type,
               CASE WHEN (w.m).role OPERATOR(pg_catalog.=) 'tool' THEN (w.m).tool_call_id END AS answer_id,
               CASE WHEN (w.m).role OPERATOR(pg_catalog.=) 'assistant'
                         AND ((w.m).tool_calls IS NOT NULL OR (w.m).tool_call_id IS NOT NULL)
                    THEN @extschema@._chat_call_ids(w.m) END AS call_ids,
               CASE WHEN fmt.f OPERATOR(pg_catalog.<>) 'chat' THEN NULL
                    WHEN (w.m).item IS NULL AND (w.m).tool_calls IS NULL THEN
                        pg_catalog.jsonb_build_object(
                            'role', (w.m).role,
                            'content', CASE WHEN (w.m).parts IS NOT NULL THEN (w.m).parts
                                            ELSE pg_catalog.to_jsonb((w.m).content) END)
                        OPERATOR(pg_catalog.||) CASE WHEN (w.m).name IS NULL THEN '{}'::pg_catalog.jsonb
                            ELSE pg_catalog.jsonb_build_object('name', (w.m).name) END
                        OPERATOR(pg_catalog.||) CASE WHEN (w.m).tool_call_id IS NULL THEN '{}'::pg_catalog.jsonb
                            ELSE pg_catalog.jsonb_build_object('tool_call_id', (w.m).tool_call_id) END
                    ELSE @extschema@._chat_as_chat(w.m) END AS chat_msg
        FROM (SELECT CASE WHEN (w.m).status OPERATOR(pg_catalog.=) 'in_progress' THEN
                              -- a stream's text so far
                              pg_catalog.jsonb_populate_record(w.m, pg_catalog.jsonb_build_object('content',
                                  (SELECT x.text FROM @extschema@.chat_stream_read((w.m).thread_id, (w.m).id) AS x)))
                          ELSE w.m END AS m
              FROM w
              WHERE chat_context.include_incomplete OR (w.m).status IS DISTINCT FROM 'in_progress') AS w, fmt),
    r AS (
        SELECT r0.* FROM r0, fmt
        WHERE CASE fmt.f WHEN 'chat' THEN r0.chat_msg IS NOT NULL
                         ELSE r0.role OPERATOR(pg_catalog.<>) 'function' END),
    -- each answer's call: the latest message before it that makes a call
    -- with its id (providers that number calls per turn reuse ids)
    a AS (
        SELECT r.seq AS aseq, r.answer_id,
               (SELECT pg_catalog.max(c.seq) FROM r AS c
                WHERE c.call_ids IS NOT NULL AND c.seq OPERATOR(pg_catalog.<) r.seq
                  AND r.answer_id OPERATOR(pg_catalog.=) ANY (c.call_ids)) AS call_seq
        FROM r WHERE r.answer_id IS NOT NULL),
    -- a window of plain chat messages (no call, answer or item) needs no
    -- pairing or grouping: the simple branch below answers it
    plain AS (
        SELECT fmt.f OPERATOR(pg_catalog.=) 'chat'
               AND NOT EXISTS (SELECT FROM r
                               WHERE r.call_ids IS NOT NULL OR r.answer_id IS NOT NULL
                                  OR r.role OPERATOR(pg_catalog.=) 'tool' OR (r.m).item IS NOT NULL) AS yes
        FROM fmt),
    -- the messages whose every call is answered in the window
    ok AS (
        SELECT r.seq FROM r
        WHERE r.call_ids IS NOT NULL
          AND pg_catalog.cardinality(r.call_ids) OPERATOR(pg_catalog.>) 0
          AND NOT EXISTS (
                SELECT FROM pg_catalog.unnest(r.call_ids) AS c(id)
                WHERE c.id IS NULL
                   OR NOT EXISTS (SELECT FROM a
                                  WHERE a.call_seq OPERATOR(pg_catalog.=) r.seq
                                    AND a.answer_id OPERATOR(pg_catalog.=) c.id))),
    -- what stays: those, the answers to them, and rows that neither call
    -- nor answer
    kept AS (
        SELECT r.*, a.call_seq FROM r
        LEFT JOIN a ON a.aseq OPERATOR(pg_catalog.=) r.seq
        WHERE (r.call_ids IS NULL OR r.seq OPERATOR(pg_catalog.=) ANY (SELECT ok.seq FROM ok))
          AND (r.role OPERATOR(pg_catalog.<>) 'tool' OR a.call_seq OPERATOR(pg_catalog.=) ANY (SELECT ok.seq FROM ok))),
    -- groups: an assistant message and the function_call items right after it
    g AS (
        SELECT p.*,
               pg_catalog.sum(CASE WHEN p.item_type OPERATOR(pg_catalog.=) 'function_call' AND p.prev_assistant
                                   THEN 0 ELSE 1 END) OVER (ORDER BY p.seq) AS grp
        FROM (SELECT kept.*,
                     COALESCE(pg_catalog.lag(kept.role OPERATOR(pg_catalog.=) 'assistant'
                                             AND (kept.item_type IS NULL
                                                  OR kept.item_type OPERATOR(pg_catalog.=) ANY (ARRAY['message', 'function_call'])))
                                  OVER (ORDER BY kept.seq), false) AS prev_assistant
              FROM kept) AS p),
    -- the order: each group, then the answers to its calls
    gs AS (
        SELECT g.*, pg_catalog.min(g.seq) OVER (PARTITION BY g.grp) AS gstart FROM g),
    o AS (
        SELECT q.*,
               CASE WHEN q.call_seq IS NULL THEN q.gstart ELSE c.gstart END AS okey,
               q.call_seq IS NOT NULL AS is_answer
        FROM gs AS q
        LEFT JOIN gs AS c ON c.seq OPERATOR(pg_catalog.=) q.call_seq),
    -- 'chat': one message per group (its first row's, with every call of
    -- the group), one per answer
    chat AS (
        SELECT pg_catalog.min(o.okey) AS okey, o.is_answer, pg_catalog.min(o.seq) AS seq,
               CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.=) 1 THEN
                        (pg_catalog.array_agg(o.chat_msg))[1]
                    ELSE ((pg_catalog.array_agg(o.chat_msg ORDER BY o.seq))[1]
                          OPERATOR(pg_catalog.-) 'tool_calls'::pg_catalog.text)
                         OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('tool_calls',
                             pg_catalog.jsonb_path_query_array(
                                 pg_catalog.jsonb_agg(o.chat_msg OPERATOR(pg_catalog.->) 'tool_calls' ORDER BY o.seq)
                                     FILTER (WHERE o.chat_msg OPERATOR(pg_catalog.?) 'tool_calls'),
                                 '$[*][*]'))
               END AS msg
        FROM o, fmt
        WHERE fmt.f OPERATOR(pg_catalog.=) 'chat'
        GROUP BY o.is_answer, CASE WHEN o.is_answer THEN o.seq ELSE o.grp END),
    items AS (
        SELECT o.okey, o.is_answer, o.seq,
               CASE WHEN e.v OPERATOR(pg_catalog.?|) ARRAY['callId', 'providerData']
                         OR e.v OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'function_call_result'
                         OR pg_catalog.jsonb_path_exists(e.v, '$.content[*].providerData')
                    THEN @extschema@._chat_api_item(e.v) ELSE e.v END AS item,
               e.n
        FROM o, fmt, pg_catalog.jsonb_array_elements(
                CASE WHEN (o.m).item IS NOT NULL THEN pg_catalog.jsonb_build_array(@extschema@._chat_item(o.m))
                     ELSE @extschema@._chat_as_items(o.m) END) WITH ORDINALITY AS e(v, n)
        WHERE fmt.f OPERATOR(pg_catalog.=) 'responses'),
    -- the summary in the format asked (an opaque item has no chat form)
    summary AS (
        SELECT CASE
                   WHEN fmt.f OPERATOR(pg_catalog.=) 'responses' THEN
                       CASE WHEN s.summary OPERATOR(pg_catalog.?) 'type' THEN s.summary
                            ELSE pg_catalog.jsonb_build_object('type', 'message') OPERATOR(pg_catalog.||) s.summary END
                   WHEN NOT s.summary OPERATOR(pg_catalog.?) 'type' THEN s.summary
                   WHEN s.summary OPERATOR(pg_catalog.->>) 'type' OPERATOR(pg_catalog.=) 'message' THEN
                       pg_catalog.jsonb_build_object('role', s.summary OPERATOR(pg_catalog.->) 'role',
                                                     'content', s.summary OPERATOR(pg_catalog.->) 'content')
               END AS v,
               s.up_to_seq
        FROM s, fmt)
    SELECT COALESCE(pg_catalog.jsonb_agg(a.v ORDER BY a.k1, a.k2, a.k3, a.k4), '[]'::pg_catalog.jsonb)
    FROM (
        SELECT r.chat_msg AS v, r.seq AS k1, 0 AS k2, r.seq AS k3, 0::pg_catalog.int8 AS k4
        FROM r
        WHERE (SELECT plain.yes FROM plain)
        UNION ALL
        SELECT chat.msg, chat.okey, chat.is_answer::integer, chat.seq, 0
        FROM chat
        WHERE NOT (SELECT plain.yes FROM plain)
        UNION ALL
        SELECT items.item, items.okey, items.is_answer::integer, items.seq, items.n FROM items
        UNION ALL
        -- after the leading system messages (at or below up_to_seq), before
        -- the messages after it
        SELECT summary.v, summary.up_to_seq, 2, summary.up_to_seq, 0 FROM summary
        WHERE summary.v IS NOT NULL) AS a);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_context(text, integer, bigint, bigint, integer, text, boolean) IS
    'chat_history as a JSON array ready to send to a model: Chat Completions messages (format chat) or Responses input items (format responses), tool calls paired with their answers by id';

CREATE OR REPLACE FUNCTION @extschema@.chat_compact(
    thread_id   text,
    up_to_seq   bigint,
    summary     jsonb,
    user_id     text    DEFAULT NULL,
    token_count integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t     @extschema@.chat_threads;
    v_sum jsonb := summary;
    v_id  bigint;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_compact.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_compact_at(thread_id, up_to_seq, summary, user_id, token_count, v_ctx);
            RETURN v_result;
        END;
    END IF;
    IF up_to_seq IS NULL THEN
        RAISE EXCEPTION 'up_to_seq must not be null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF summary IS NULL OR jsonb_typeof(summary) NOT IN ('string', 'object') THEN
        RAISE EXCEPTION 'summary must be a JSON string, a message or an item'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Found a JSON %s.', coalesce(jsonb_typeof(summary), 'null'));
    END IF;
    IF jsonb_typeof(summary) = 'string' THEN
        v_sum := jsonb_build_object('role', 'system', 'content', summary);
    ELSIF summary ? 'type' AND summary ->> 'type' NOT IN ('human', 'ai', 'system', 'tool', 'user', 'assistant', 'developer') THEN
        IF jsonb_typeof(summary -> 'type') <> 'string' OR summary ->> 'type' = '' THEN
            RAISE EXCEPTION 'the type of a summary item must be a non-empty string'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    ELSIF NOT (summary ->> 'role' IN ('system', 'developer', 'user', 'assistant')
               AND jsonb_typeof(summary -> 'content') IN ('string', 'array')) THEN
        RAISE EXCEPTION 'a summary message needs a role (system, developer, user or assistant) and a string or array content'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(v_sum::text) > pg_size_bytes(current_setting('chatstore.max_message_bytes')) THEN
        RAISE EXCEPTION 'summary is too large'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('It has %s bytes; chatstore.max_message_bytes is %s.',
                                  octet_length(v_sum::text), current_setting('chatstore.max_message_bytes'));
    END IF;
    IF token_count < 0 THEN
        RAISE EXCEPTION 'token_count must not be negative'
            USING ERRCODE = 'numeric_value_out_of_range';
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    IF NOT EXISTS (SELECT FROM @extschema@.chat_messages AS m
                   WHERE m.thread_id = t.id AND m.seq = up_to_seq
                     AND (t.active_path IS NULL OR m.seq <@ t.active_path)) THEN
        RAISE EXCEPTION 'up_to_seq % is not a message on the active path of thread "%"', up_to_seq, t.id
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(max(x.id), 0) + 1 INTO v_id
    FROM @extschema@.chat_summaries AS x WHERE x.thread_id = t.id;
    INSERT INTO @extschema@.chat_summaries (thread_id, id, up_to_seq, summary, token_count, thread_user_id,
                                           created_at)
    VALUES (t.id, v_id, up_to_seq, v_sum, chat_compact.token_count, t.user_id, @extschema@._chat_now());
    RETURN v_id;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_compact(text, bigint, jsonb, text, integer) IS
    'store a summary (or a compaction item) standing for a thread''s messages up to a seq; chat_context starts from the latest';

CREATE OR REPLACE FUNCTION @extschema@._chat_compact_at(thread_id text, up_to_seq bigint, summary jsonb, user_id text, token_count integer, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_compact(thread_id, up_to_seq, summary, user_id, token_count);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_compact_at(text, bigint, jsonb, text, integer, jsonb) IS
    'chatstore internal: chat_compact run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_summaries(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_summaries
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT x.* FROM @extschema@.chat_summaries AS x
        JOIN @extschema@.chat_threads AS t ON t.id OPERATOR(pg_catalog.=) x.thread_id
        WHERE x.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_summaries.thread_id, 'thread_id')
          AND (@extschema@._chat_user_arg(chat_summaries.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_summaries.user_id)
        ORDER BY x.id;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_summaries(text, text) IS
    'the summaries of a thread, oldest first';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_summary(
    thread_id  text,
    summary_id bigint,
    user_id    text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t @extschema@.chat_threads;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_summary.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result boolean;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_summary_at(thread_id, summary_id, user_id, v_ctx);
            RETURN v_result;
        END;
    END IF;
    t := @extschema@._chat_branch_thread(thread_id, user_id);
    DELETE FROM @extschema@.chat_summaries AS x
    WHERE x.thread_id = t.id AND x.id = summary_id;
    RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_summary(text, bigint, text) IS
    'delete a summary of a thread; false when it is not there';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_summary_at(thread_id text, summary_id bigint, user_id text, ctx jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r boolean;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_summary(thread_id, summary_id, user_id);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_summary_at(text, bigint, text, jsonb) IS
    'chatstore internal: chat_delete_summary run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@._chat_feedback_target(thread_id text, message_id text, user_id text,
                                                  rater text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_feedback_target.user_id);
    v_rater  text := @extschema@._chat_user_arg(_chat_feedback_target.rater);
    owner    text;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    PERFORM @extschema@._chat_required(message_id, 'message_id');
    IF v_user IS NOT NULL AND v_rater IS DISTINCT FROM v_user AND v_rater IS NOT NULL THEN
        RAISE EXCEPTION 'a call for user "%" cannot give feedback as "%"', v_user, v_rater
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Only a call that names no user_id may name another rater.';
    END IF;
    SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
    WHERE t.id = _chat_feedback_target.thread_id;
    IF NOT FOUND
       OR (v_user IS NOT NULL AND owner IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND owner IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF NOT EXISTS (SELECT FROM @extschema@.chat_messages AS m
                   WHERE m.thread_id = _chat_feedback_target.thread_id
                     AND m.id = _chat_feedback_target.message_id) THEN
        RAISE EXCEPTION 'message "%" does not exist in thread "%"', message_id, thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF coalesce(v_rater, v_user, owner) IS NULL THEN
        RAISE EXCEPTION 'feedback needs a user'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Thread "%s" has no owner.', thread_id),
                  HINT = 'Pass rater.';
    END IF;
    RETURN coalesce(v_rater, v_user, owner);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_feedback_target(text, text, text, text) IS
    'chatstore internal: the user a feedback call is for, after the owner and tenant checks';

CREATE OR REPLACE FUNCTION @extschema@.chat_set_feedback(
    thread_id  text,
    message_id text,
    rating     integer,
    tag        text DEFAULT NULL,
    comment    text DEFAULT NULL,
    user_id    text DEFAULT NULL,
    rater      text DEFAULT NULL)
RETURNS @extschema@.chat_feedback
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_rater text;
    v_owner text;
    f       @extschema@.chat_feedback;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_set_feedback.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result @extschema@.chat_feedback;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_set_feedback_at(thread_id, message_id, rating, tag, comment, user_id, rater, v_ctx);
            RETURN v_result;
        END;
    END IF;
    IF rating IS NULL THEN
        RAISE EXCEPTION 'rating must not be null'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'To remove feedback, call chat_delete_feedback.';
    END IF;
    IF rating < -10 OR rating > 10 THEN
        RAISE EXCEPTION 'rating % is out of range', rating
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = 'A rating is 1 (up), -1 (down), or an integer from -10 to 10.';
    END IF;
    IF tag = '' THEN
        RAISE EXCEPTION 'tag must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for no tag.';
    END IF;
    IF octet_length(tag) > 64 OR octet_length(comment) > 10000 THEN
        RAISE EXCEPTION '% is too long', CASE WHEN octet_length(tag) > 64 THEN 'tag' ELSE 'comment' END
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'The limits are 64 bytes for a tag and 10,000 bytes for a comment.';
    END IF;
    v_rater := @extschema@._chat_feedback_target(thread_id, message_id, user_id, rater);
    SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = chat_set_feedback.thread_id;
    INSERT INTO @extschema@.chat_feedback AS x (thread_id, message_id, user_id, rating, tag, comment,
                                                thread_user_id, created_at, updated_at)
    VALUES (chat_set_feedback.thread_id, chat_set_feedback.message_id, v_rater,
            chat_set_feedback.rating, chat_set_feedback.tag, chat_set_feedback.comment,
            v_owner, @extschema@._chat_now(), @extschema@._chat_now())
    ON CONFLICT ON CONSTRAINT chat_feedback_pkey DO UPDATE
    SET rating = excluded.rating, tag = excluded.tag, comment = excluded.comment, updated_at = excluded.updated_at
    RETURNING x.* INTO f;
    RETURN f;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_set_feedback(text, text, integer, text, text, text, text) IS
    'rate a message (1 up, -1 down, or -10..10) with an optional tag and comment; replaces the user''s earlier feedback';

CREATE OR REPLACE FUNCTION @extschema@._chat_set_feedback_at(thread_id text, message_id text, rating integer, tag text, comment text, user_id text, rater text, ctx jsonb)
RETURNS @extschema@.chat_feedback
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r @extschema@.chat_feedback;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_set_feedback(thread_id, message_id, rating, tag, comment, user_id, rater);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_set_feedback_at(text, text, integer, text, text, text, text, jsonb) IS
    'chatstore internal: chat_set_feedback run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_feedback(
    thread_id  text,
    message_id text,
    user_id    text DEFAULT NULL,
    rater      text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_rater text;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating, part 05)
    IF @extschema@._chat_delegating() AND chat_delete_feedback.thread_id IS NOT NULL THEN
        -- (the session's values as a value: an expression would be evaluated on the worker)
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result boolean;
        BEGIN
            -- (a query, not an expression: PL/pgSQL evaluates a simple expression
            -- itself, without the plan in which Citus delegates the call)
            SELECT * INTO v_result FROM @extschema@._chat_delete_feedback_at(thread_id, message_id, user_id, rater, v_ctx);
            RETURN v_result;
        END;
    END IF;
    v_rater := @extschema@._chat_feedback_target(thread_id, message_id, user_id, rater);
    DELETE FROM @extschema@.chat_feedback AS x
    WHERE x.thread_id = chat_delete_feedback.thread_id
      AND x.message_id = chat_delete_feedback.message_id
      AND x.user_id = v_rater;
    RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_feedback(text, text, text, text) IS
    'remove a user''s feedback on a message; false when there was none';

CREATE OR REPLACE FUNCTION @extschema@._chat_delete_feedback_at(thread_id text, message_id text, user_id text, rater text, ctx jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r boolean;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_delete_feedback(thread_id, message_id, user_id, rater);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_delete_feedback_at(text, text, text, text, jsonb) IS
    'chatstore internal: chat_delete_feedback run on the worker that holds the thread (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_list_feedback(
    thread_id text,
    user_id   text DEFAULT NULL)
RETURNS SETOF @extschema@.chat_feedback
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT f.* FROM @extschema@.chat_feedback AS f
        JOIN @extschema@.chat_threads AS t ON t.id OPERATOR(pg_catalog.=) f.thread_id
        JOIN @extschema@.chat_messages AS m
          ON m.thread_id OPERATOR(pg_catalog.=) f.thread_id AND m.id OPERATOR(pg_catalog.=) f.message_id
        WHERE f.thread_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_list_feedback.thread_id, 'thread_id')
          AND (@extschema@._chat_user_arg(chat_list_feedback.user_id) IS NULL
               OR t.user_id OPERATOR(pg_catalog.=) chat_list_feedback.user_id)
        ORDER BY m.seq, f.user_id;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_list_feedback(text, text) IS
    'the feedback on a thread''s messages, in message order';

CREATE OR REPLACE FUNCTION @extschema@.chat_get_preferences(user_id text)
RETURNS SETOF @extschema@.chat_user_preferences
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.* FROM @extschema@.chat_user_preferences AS p
    WHERE p.user_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_preferences.user_id, 'user_id');
END;

CREATE OR REPLACE FUNCTION @extschema@._chat_get_preferences_routed(user_id text)
RETURNS SETOF @extschema@.chat_user_preferences
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_user pg_catalog.text := @extschema@._chat_required(_chat_get_preferences_routed.user_id, 'user_id');
    r      @extschema@.chat_user_preferences;
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    SELECT p.* INTO r FROM @extschema@.chat_user_preferences AS p
    WHERE p.user_id OPERATOR(pg_catalog.=) v_user;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF r.active_thread_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM @extschema@.chat_threads AS t
                       WHERE t.id OPERATOR(pg_catalog.=) r.active_thread_id) THEN
        r.active_thread_id := NULL;
    END IF;
    RETURN NEXT r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_get_preferences_routed(text) IS
    'chatstore internal: chat_get_preferences as PL/pgSQL, which chat_get_preferences calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_get_preferences(text) IS
    'a user''s preferences, or no row when the user has none';

CREATE OR REPLACE FUNCTION @extschema@.chat_set_preferences(
    user_id          text,
    active_thread_id text  DEFAULT NULL,
    selected_model   text  DEFAULT NULL,
    settings         jsonb DEFAULT NULL)
RETURNS @extschema@.chat_user_preferences
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_now    timestamptz := now();
    v_owner text;
    result @extschema@.chat_user_preferences;
    nulls  text[];
BEGIN
    IF user_id IS NULL OR user_id = '' THEN
        RAISE EXCEPTION 'user_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF settings IS NOT NULL AND jsonb_typeof(settings) <> 'object' THEN
        RAISE EXCEPTION 'settings must be a JSON object, not %', jsonb_typeof(settings)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_tenant IS NOT NULL AND user_id <> v_tenant THEN
        RAISE EXCEPTION 'user_id "%" is not the current tenant', user_id
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Tenant isolation is on: only the preferences of the tenant set in chatstore.tenant can be written.';
    END IF;
    IF active_thread_id IS NOT NULL AND active_thread_id <> '' THEN
        SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t
        WHERE t.id = chat_set_preferences.active_thread_id;
        -- a confined role does not learn that another tenant's thread exists
        IF NOT FOUND OR (v_tenant IS NOT NULL AND v_owner IS DISTINCT FROM v_tenant) THEN
            RAISE EXCEPTION 'active thread "%" does not exist', active_thread_id
                USING ERRCODE = 'foreign_key_violation',
                      HINT = 'Create the thread first, or pass an empty string to clear the active thread.';
        END IF;
        -- a thread without an owner is nobody's active thread either
        IF v_owner IS DISTINCT FROM user_id THEN
            RAISE EXCEPTION 'thread "%" belongs to another user', active_thread_id
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    SELECT coalesce(array_agg(e.key), '{}') INTO nulls
    FROM jsonb_each(coalesce(settings, '{}')) AS e WHERE e.value = 'null'::jsonb;

    INSERT INTO @extschema@.chat_user_preferences AS p
        (user_id, active_thread_id, selected_model, settings)
    VALUES (chat_set_preferences.user_id,
            nullif(chat_set_preferences.active_thread_id, ''),
            nullif(chat_set_preferences.selected_model, ''),
            coalesce(chat_set_preferences.settings, '{}') - nulls)
    ON CONFLICT ON CONSTRAINT chat_user_preferences_pkey DO UPDATE
    SET active_thread_id = CASE WHEN chat_set_preferences.active_thread_id IS NULL
                                THEN p.active_thread_id
                                ELSE nullif(chat_set_preferences.active_thread_id, '') END,
        selected_model   = CASE WHEN chat_set_preferences.selected_model IS NULL
                                THEN p.selected_model
                                ELSE nullif(chat_set_preferences.selected_model, '') END,
        settings         = (p.settings || coalesce(chat_set_preferences.settings, '{}')) - nulls,
        -- set here, not by the updated_at trigger (Citus has none): moved
        -- when the row changes, as the trigger does.  (The transaction's
        -- time from a variable: Citus takes no now() in DO UPDATE SET;
        -- settings compared as text, as the trigger compares bytes.)
        updated_at       = CASE WHEN (chat_set_preferences.active_thread_id IS NOT NULL
                                      AND nullif(chat_set_preferences.active_thread_id, '')
                                          IS DISTINCT FROM p.active_thread_id)
                                     OR (chat_set_preferences.selected_model IS NOT NULL
                                         AND nullif(chat_set_preferences.selected_model, '')
                                             IS DISTINCT FROM p.selected_model)
                                     OR (chat_set_preferences.settings IS NOT NULL
                                         AND ((p.settings || chat_set_preferences.settings) - nulls)::text
                                             <> p.settings::text)
                                THEN v_now ELSE p.updated_at END
    RETURNING p.* INTO result;
    -- a kept active thread may have been deleted on Citus, where no foreign
    -- key clears it (on one node it cannot be missing): clear it now
    IF result.active_thread_id IS NOT NULL AND chat_set_preferences.active_thread_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM @extschema@.chat_threads AS t
                       WHERE t.id = result.active_thread_id) THEN
        UPDATE @extschema@.chat_user_preferences AS p
        SET active_thread_id = NULL, updated_at = v_now
        WHERE p.user_id = chat_set_preferences.user_id
        RETURNING p.* INTO result;
    END IF;
    RETURN result;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_set_preferences(text, text, text, jsonb) IS
    'create or update a user''s preferences: NULL keeps a value, '''' clears it, settings are merged';

CREATE OR REPLACE FUNCTION @extschema@.chat_kv_set(
    key   text,
    value jsonb,
    ttl   interval DEFAULT NULL)
RETURNS @extschema@.chat_kv
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_tenant_key();
    v_now    timestamptz := now();
    result @extschema@.chat_kv;
BEGIN
    IF key IS NULL OR key = '' THEN
        RAISE EXCEPTION 'key must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(key) > 1024 THEN
        RAISE EXCEPTION 'key is % bytes long, the limit is 1024', octet_length(key)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF value IS NULL THEN
        RAISE EXCEPTION 'value must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Store the JSON value ''null''::jsonb, or delete the key with chat_kv_delete.';
    END IF;
    IF ttl IS NOT NULL AND ttl <= interval '0' THEN
        RAISE EXCEPTION 'ttl must be positive, not %', ttl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- the transaction's time from a variable: Citus refuses now() (any
    -- function that is not IMMUTABLE) in DO UPDATE SET
    INSERT INTO @extschema@.chat_kv AS kv (tenant, key, value, expires_at)
    VALUES (v_tenant, chat_kv_set.key, chat_kv_set.value, v_now + chat_kv_set.ttl)
    ON CONFLICT ON CONSTRAINT chat_kv_pkey DO UPDATE
    SET value      = excluded.value,
        expires_at = excluded.expires_at,
        -- an expired key that is set again is a new key
        created_at = CASE WHEN kv.expires_at <= v_now THEN v_now ELSE kv.created_at END,
        -- set here, not by the updated_at trigger (Citus has none): moved
        -- when the row changes, as the trigger does (it compares bytes: a
        -- value equal as jsonb but written differently, 1.0 for 1, is a
        -- change; its text is only made when the values are equal)
        updated_at = CASE WHEN kv.value <> excluded.value
                            OR kv.value::text <> excluded.value::text
                            OR kv.expires_at IS DISTINCT FROM excluded.expires_at
                            OR (kv.expires_at <= v_now AND kv.created_at <> v_now)
                          THEN v_now ELSE kv.updated_at END
    RETURNING kv.* INTO result;
    RETURN result;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_set(text, jsonb, interval) IS
    'set a key (insert or replace); ttl sets an expiry, NULL means never expires';

CREATE OR REPLACE FUNCTION @extschema@.chat_kv_get(key text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    -- read once, here: a setting read inside the statement would be read on
    -- the Citus worker that runs it, where it is not set
    v_tenant pg_catalog.text := COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '');
    v_key    pg_catalog.text := @extschema@._chat_required(chat_kv_get.key, 'key');
    v_now    pg_catalog.timestamptz := pg_catalog.now();
    v_value  pg_catalog.jsonb;
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    SELECT kv.value INTO v_value FROM @extschema@.chat_kv AS kv
    WHERE kv.tenant OPERATOR(pg_catalog.=) v_tenant AND kv.key OPERATOR(pg_catalog.=) v_key
      AND (kv.expires_at IS NULL OR kv.expires_at OPERATOR(pg_catalog.>) v_now);
    RETURN v_value;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_get(text) IS
    'the value of a key; NULL when it does not exist or has expired';

CREATE OR REPLACE FUNCTION @extschema@.chat_kv_delete(key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_tenant_key();
    v_key    text := @extschema@._chat_required(chat_kv_delete.key, 'key');
    v_now    timestamptz := now();
    v_live   boolean;
BEGIN
    DELETE FROM @extschema@.chat_kv AS kv
    WHERE kv.tenant = v_tenant AND kv.key = v_key
    RETURNING (kv.expires_at IS NULL OR kv.expires_at > v_now) INTO v_live;
    RETURN COALESCE(v_live, false);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_delete(text) IS
    'delete a key; true when a live key was deleted (an expired one is removed too, returning false)';

CREATE OR REPLACE FUNCTION @extschema@.chat_kv_list(
    prefix    text    DEFAULT '',
    max_keys  integer DEFAULT 1000,
    after_key text    DEFAULT NULL)
RETURNS TABLE (key text, value jsonb, expires_at timestamptz,
               created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := COALESCE(current_setting('chatstore.tenant', true), '');
    v_prefix text := coalesce(chat_kv_list.prefix, '');
    v_now    timestamptz := now();
BEGIN
    IF max_keys IS NOT NULL AND max_keys < 1 THEN
        RAISE EXCEPTION 'max_keys must be at least 1, not %', max_keys
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- one statement over every shard on Citus (a tenant's keys are spread
    -- by key); the tenant and the time travel as values.  after_key NULL
    -- is '' (every key is > ''): both bounds are index conditions, also in
    -- a generic plan, and the index scan starts at the larger one.
    RETURN QUERY
    SELECT kv.key::text, kv.value, kv.expires_at, kv.created_at, kv.updated_at
    FROM @extschema@.chat_kv AS kv
    WHERE kv.tenant = v_tenant
      AND kv.key >= v_prefix COLLATE "C"
      AND kv.key > coalesce(chat_kv_list.after_key, '') COLLATE "C"
      AND starts_with(kv.key, v_prefix)
      AND (kv.expires_at IS NULL OR kv.expires_at > v_now)
    ORDER BY kv.key
    LIMIT chat_kv_list.max_keys;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_list(text, integer, text) IS
    'live keys starting with a literal prefix, in byte order, with keyset paging by after_key';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_append_many(
    key      text,
    "values" jsonb,
    metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text;
    v_now    timestamptz := @extschema@._chat_now();
    n      bigint;
    hdr    @extschema@.chat_lists;
BEGIN
    -- on Citus: run on the worker that holds the list (_chat_delegating,
    -- part 05), in one round trip instead of one per statement
    IF @extschema@._chat_delegating() AND chat_kvlist_append_many.key <> '' THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            SELECT * INTO v_result FROM @extschema@._chat_kvlist_append_many_at(key, "values", metadata, v_ctx);
            RETURN v_result;
        END;
    END IF;
    v_tenant := @extschema@._chat_tenant_key();
    IF key IS NULL OR key = '' THEN
        RAISE EXCEPTION 'key must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(key) > 1024 THEN
        RAISE EXCEPTION 'key is % bytes long, the limit is 1024', octet_length(key)
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF "values" IS NULL OR jsonb_typeof("values") <> 'array' THEN
        RAISE EXCEPTION 'values must be a JSON array, not %', coalesce(jsonb_typeof("values"), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use chat_kvlist_append to append a single value.';
    END IF;
    IF metadata IS NOT NULL AND jsonb_typeof(metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object, not %', jsonb_typeof(metadata)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n := jsonb_array_length("values");
    IF n = 0 AND metadata IS NULL THEN
        RETURN coalesce((SELECT l.next_pos - l.head_pos FROM @extschema@.chat_lists AS l
                         WHERE l.tenant = v_tenant
                           AND l.key = chat_kvlist_append_many.key), 0);
    END IF;
    -- reserve positions under the header's row lock
    INSERT INTO @extschema@.chat_lists AS l (tenant, key, metadata, next_pos, created_at, updated_at)
    VALUES (v_tenant, chat_kvlist_append_many.key,
            coalesce(chat_kvlist_append_many.metadata, '{}'), n, v_now, v_now)
    ON CONFLICT ON CONSTRAINT chat_lists_pkey DO UPDATE
    SET next_pos = l.next_pos + n,
        metadata = l.metadata || coalesce(chat_kvlist_append_many.metadata, '{}'),
        -- set here, not by the updated_at trigger (Citus has none): moved
        -- when the row changes, as the trigger does (metadata compared as
        -- text, as the trigger compares bytes)
        updated_at = CASE WHEN n > 0
                            OR (l.metadata || coalesce(chat_kvlist_append_many.metadata, '{}'))::text
                               <> l.metadata::text
                          THEN v_now ELSE l.updated_at END
    RETURNING l.* INTO hdr;

    INSERT INTO @extschema@.chat_list_items (tenant, key, pos, value, created_at)
    SELECT v_tenant, chat_kvlist_append_many.key,
           hdr.next_pos - n + e.ord - 1, e.value, v_now
    FROM jsonb_array_elements("values") WITH ORDINALITY AS e(value, ord);
    RETURN hdr.next_pos - hdr.head_pos;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_append_many(text, jsonb, jsonb) IS
    'append the elements of a JSON array to a list (created when missing); returns the new length';

CREATE OR REPLACE FUNCTION @extschema@._chat_kvlist_append_many_at(key text, "values" jsonb, metadata jsonb, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_kvlist_append_many(key, "values", metadata);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_kvlist_append_many_at(text, jsonb, jsonb, jsonb) IS
    'chatstore internal: chat_kvlist_append_many run on the worker that holds the list (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_append(
    key      text,
    value    jsonb,
    metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'value must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Append the JSON value ''null''::jsonb to store a null.';
    END IF;
    RETURN @extschema@.chat_kvlist_append_many(key, jsonb_build_array(value), metadata);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_append(text, jsonb, jsonb) IS
    'append one value to a list (created when missing); returns the new length';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_length(key text)
RETURNS bigint
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_tenant pg_catalog.text := COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '');
    v_key    pg_catalog.text := @extschema@._chat_required(chat_kvlist_length.key, 'key');
    v_len    pg_catalog.int8;
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    SELECT l.next_pos OPERATOR(pg_catalog.-) l.head_pos INTO v_len
    FROM @extschema@.chat_lists AS l
    WHERE l.tenant OPERATOR(pg_catalog.=) v_tenant AND l.key OPERATOR(pg_catalog.=) v_key;
    RETURN COALESCE(v_len, 0);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_length(text) IS
    'number of values in a list; 0 when the list does not exist';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_range(
    key   text,
    start bigint DEFAULT 0,
    stop  bigint DEFAULT -1)
RETURNS TABLE (idx bigint, value jsonb, created_at timestamptz)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_tenant pg_catalog.text := COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '');
    v_key    pg_catalog.text := @extschema@._chat_required(chat_kvlist_range.key, 'key');
    v_head   pg_catalog.int8;
    v_len    pg_catalog.int8;
    s        pg_catalog.int8;
    e        pg_catalog.int8;
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    -- The header, then the items: two routed statements (a STABLE
    -- function's statements share one snapshot, so they agree on one node).
    SELECT l.head_pos, l.next_pos OPERATOR(pg_catalog.-) l.head_pos INTO v_head, v_len
    FROM @extschema@.chat_lists AS l
    WHERE l.tenant OPERATOR(pg_catalog.=) v_tenant AND l.key OPERATOR(pg_catalog.=) v_key;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- (GREATEST and LEAST skip NULLs: a NULL start is 0, a NULL stop the end)
    s := GREATEST(CASE WHEN start OPERATOR(pg_catalog.<) 0 THEN v_len OPERATOR(pg_catalog.+) start
                       ELSE start END, 0);
    e := LEAST(CASE WHEN stop OPERATOR(pg_catalog.<) 0 THEN v_len OPERATOR(pg_catalog.+) stop
                    ELSE stop END, v_len OPERATOR(pg_catalog.-) 1);
    IF s OPERATOR(pg_catalog.>) e THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT i.pos OPERATOR(pg_catalog.-) v_head, i.value, i.created_at
    FROM @extschema@.chat_list_items AS i
    WHERE i.tenant OPERATOR(pg_catalog.=) v_tenant AND i.key OPERATOR(pg_catalog.=) v_key
      AND i.pos OPERATOR(pg_catalog.>=) (v_head OPERATOR(pg_catalog.+) s)
      AND i.pos OPERATOR(pg_catalog.<=) (v_head OPERATOR(pg_catalog.+) e)
    ORDER BY i.pos;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_range(text, bigint, bigint) IS
    'values of a list from index start to stop inclusive (negative = from the end), in order';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_trim(
    key   text,
    start bigint,
    stop  bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text;
    v_now    timestamptz := @extschema@._chat_now();
    v_key    text;
    hdr @extschema@.chat_lists;
    len bigint;
    s   bigint;
    e   bigint;
BEGIN
    -- on Citus: run on the worker that holds the list (_chat_delegating,
    -- part 05), in one round trip instead of one per statement
    IF @extschema@._chat_delegating() AND chat_kvlist_trim.key <> '' THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            v_result bigint;
        BEGIN
            SELECT * INTO v_result FROM @extschema@._chat_kvlist_trim_at(key, start, stop, v_ctx);
            RETURN v_result;
        END;
    END IF;
    v_tenant := @extschema@._chat_tenant_key();
    IF start IS NULL OR stop IS NULL THEN
        RAISE EXCEPTION 'start and stop must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    v_key := @extschema@._chat_required(chat_kvlist_trim.key, 'key');
    -- the header's row lock orders the trim with the appends; the key as a
    -- value makes it a statement on one shard (Citus refuses FOR UPDATE
    -- over several)
    SELECT * INTO hdr FROM @extschema@.chat_lists AS l
    WHERE l.tenant = v_tenant AND l.key = v_key
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    len := hdr.next_pos - hdr.head_pos;
    s := greatest(CASE WHEN start < 0 THEN len + start ELSE start END, 0);
    e := least(CASE WHEN stop < 0 THEN len + stop ELSE stop END, len - 1);
    IF s > e THEN            -- nothing kept
        s := len;
        e := len - 1;
    END IF;
    -- (the key as the text variable, not the header's field: on Citus, in a
    -- call delegated on the key, a statement must name it by a value equal
    -- to the call's argument, collation included, and the column's is "C")
    DELETE FROM @extschema@.chat_list_items AS i
    WHERE i.tenant = v_tenant AND i.key = v_key
      AND (i.pos < hdr.head_pos + s OR i.pos > hdr.head_pos + e);
    -- items stay contiguous: the kept run becomes [head_pos + s, head_pos + e].
    -- A trim that keeps everything changes nothing (and updated_at stays,
    -- as with the trigger); otherwise updated_at is set here, not by the
    -- trigger (Citus has none).
    IF s <> 0 OR hdr.head_pos + e + 1 <> hdr.next_pos THEN
        UPDATE @extschema@.chat_lists AS l
        SET head_pos = hdr.head_pos + s,
            next_pos = hdr.head_pos + e + 1,
            updated_at = v_now
        WHERE l.tenant = v_tenant AND l.key = v_key;
    END IF;
    RETURN e - s + 1;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_trim(text, bigint, bigint) IS
    'keep only the values from index start to stop inclusive (negative = from the end); returns the new length';

CREATE OR REPLACE FUNCTION @extschema@._chat_kvlist_trim_at(key text, start bigint, stop bigint, ctx jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r bigint;
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    r := @extschema@.chat_kvlist_trim(key, start, stop);
    PERFORM @extschema@._chat_delegated_leave();
    RETURN r;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_kvlist_trim_at(text, bigint, bigint, jsonb) IS
    'chatstore internal: chat_kvlist_trim run on the worker that holds the list (Citus), with the calling session''s values';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_delete(key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_tenant_key();
    v_key    text := @extschema@._chat_required(chat_kvlist_delete.key, 'key');
    n        bigint;
BEGIN
    -- the items go with the header (ON DELETE CASCADE; colocated on Citus)
    DELETE FROM @extschema@.chat_lists AS l
    WHERE l.tenant = v_tenant AND l.key = v_key;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_delete(text) IS
    'delete a list and its values; false when it did not exist';

CREATE OR REPLACE FUNCTION @extschema@.chat_kvlist_info(key text)
RETURNS TABLE (length bigint, metadata jsonb,
               created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_tenant pg_catalog.text := COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '');
    v_key    pg_catalog.text := @extschema@._chat_required(chat_kvlist_info.key, 'key');
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    RETURN QUERY
    SELECT l.next_pos OPERATOR(pg_catalog.-) l.head_pos, l.metadata, l.created_at, l.updated_at
    FROM @extschema@.chat_lists AS l
    WHERE l.tenant OPERATOR(pg_catalog.=) v_tenant AND l.key OPERATOR(pg_catalog.=) v_key;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kvlist_info(text) IS
    'a list''s length, metadata and timestamps; no row when it does not exist';

CREATE OR REPLACE FUNCTION @extschema@.chat_list_append_many(key text, "values" jsonb, metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_append_many(chat_list_append_many.key, chat_list_append_many."values",
                                               chat_list_append_many.metadata);
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_append(key text, value jsonb, metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_append(chat_list_append.key, chat_list_append.value, chat_list_append.metadata);
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_length(key text)
RETURNS bigint
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_length(chat_list_length.key);
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_range(key text, start bigint DEFAULT 0, stop bigint DEFAULT -1)
RETURNS TABLE (idx bigint, value jsonb, created_at timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT r.idx, r.value, r.created_at
    FROM @extschema@.chat_kvlist_range(chat_list_range.key, chat_list_range.start, chat_list_range.stop) AS r;
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_trim(key text, start bigint, stop bigint)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_trim(chat_list_trim.key, chat_list_trim.start, chat_list_trim.stop);
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_delete(key text)
RETURNS boolean
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_delete(chat_list_delete.key);
END;

CREATE OR REPLACE FUNCTION @extschema@.chat_list_info(key text)
RETURNS TABLE (length bigint, metadata jsonb, created_at timestamptz, updated_at timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT i.length, i.metadata, i.created_at, i.updated_at
    FROM @extschema@.chat_kvlist_info(chat_list_info.key) AS i;
END;

COMMENT ON FUNCTION @extschema@.chat_list_append_many(text, jsonb, jsonb) IS 'deprecated (removed in 1.3): use chat_kvlist_append_many';

COMMENT ON FUNCTION @extschema@.chat_list_append(text, jsonb, jsonb) IS 'deprecated (removed in 1.3): use chat_kvlist_append';

COMMENT ON FUNCTION @extschema@.chat_list_length(text) IS 'deprecated (removed in 1.3): use chat_kvlist_length';

COMMENT ON FUNCTION @extschema@.chat_list_range(text, bigint, bigint) IS 'deprecated (removed in 1.3): use chat_kvlist_range';

COMMENT ON FUNCTION @extschema@.chat_list_trim(text, bigint, bigint) IS 'deprecated (removed in 1.3): use chat_kvlist_trim';

COMMENT ON FUNCTION @extschema@.chat_list_delete(text) IS 'deprecated (removed in 1.3): use chat_kvlist_delete';

COMMENT ON FUNCTION @extschema@.chat_list_info(text) IS 'deprecated (removed in 1.3): use chat_kvlist_info';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_save(
    agent_id         text,
    session_id       text,
    state            jsonb,
    expected_version bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant  text;
    v_now     timestamptz := now();
    newver  bigint;
    v_current bigint;
BEGIN
    IF agent_id IS NULL OR agent_id = '' OR session_id IS NULL OR session_id = '' THEN
        RAISE EXCEPTION 'agent_id and session_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF octet_length(agent_id) > 512 OR octet_length(session_id) > 512 THEN
        RAISE EXCEPTION 'agent_id and session_id must be at most 512 bytes long'
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    IF state IS NULL THEN
        RAISE EXCEPTION 'state must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Use chat_agent_state_delete to remove a state.';
    END IF;
    IF expected_version < 0 THEN
        RAISE EXCEPTION 'expected_version must not be negative, not %', expected_version
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_tenant := @extschema@._chat_tenant_key();

    IF expected_version IS NULL THEN
        INSERT INTO @extschema@.chat_agent_states AS s (tenant, agent_id, session_id, state)
        VALUES (v_tenant, chat_agent_state_save.agent_id,
                chat_agent_state_save.session_id, chat_agent_state_save.state)
        ON CONFLICT ON CONSTRAINT chat_agent_states_pkey DO UPDATE
        -- updated_at set here, not by the trigger (Citus has none); the
        -- version always changes, so the trigger would always move it
        SET state = excluded.state, version = s.version + 1, updated_at = v_now
        RETURNING s.version INTO newver;
        RETURN newver;
    ELSIF expected_version = 0 THEN
        INSERT INTO @extschema@.chat_agent_states AS s (tenant, agent_id, session_id, state)
        VALUES (v_tenant, chat_agent_state_save.agent_id,
                chat_agent_state_save.session_id, chat_agent_state_save.state)
        ON CONFLICT ON CONSTRAINT chat_agent_states_pkey DO NOTHING
        RETURNING s.version INTO newver;
    ELSE
        UPDATE @extschema@.chat_agent_states AS s
        SET state = chat_agent_state_save.state, version = s.version + 1, updated_at = v_now
        WHERE s.tenant = v_tenant
          AND s.agent_id = chat_agent_state_save.agent_id
          AND s.session_id = chat_agent_state_save.session_id
          AND s.version = chat_agent_state_save.expected_version
        RETURNING s.version INTO newver;
    END IF;
    IF newver IS NOT NULL THEN
        RETURN newver;
    END IF;

    -- lost the race: say who won.  FOR SHARE: under REPEATABLE READ or
    -- SERIALIZABLE a row changed after this transaction's snapshot is a
    -- serialization failure (40001: retrying the whole transaction helps),
    -- not a stale version (reloading in this transaction would read the
    -- same old version again).
    SELECT s.version INTO v_current FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant = v_tenant
      AND s.agent_id = chat_agent_state_save.agent_id
      AND s.session_id = chat_agent_state_save.session_id
    FOR SHARE;
    IF v_current IS NULL AND current_setting('transaction_isolation') <> 'read committed' THEN
        -- a state created after the snapshot is invisible to it: probe for
        -- it with an insert (40001 when such a row exists), and take the
        -- probe back when the state really does not exist
        INSERT INTO @extschema@.chat_agent_states AS s (tenant, agent_id, session_id, state)
        VALUES (v_tenant, chat_agent_state_save.agent_id, chat_agent_state_save.session_id, '{}')
        ON CONFLICT ON CONSTRAINT chat_agent_states_pkey DO NOTHING;
        DELETE FROM @extschema@.chat_agent_states AS s
        WHERE s.tenant = v_tenant
          AND s.agent_id = chat_agent_state_save.agent_id
          AND s.session_id = chat_agent_state_save.session_id;
    END IF;
    IF v_current IS NULL THEN
        RAISE EXCEPTION 'agent state "%"/"%" does not exist', agent_id, session_id
            USING ERRCODE = 'CS001',
                  DETAIL = format('The save expected version %s, but the state was deleted or never saved.', expected_version),
                  HINT = 'Save with expected_version 0 (create) or NULL (unconditional).';
    END IF;
    RAISE EXCEPTION 'agent state "%"/"%" was saved by someone else first', agent_id, session_id
        USING ERRCODE = 'CS001',
              DETAIL = format('The save expected version %s, the stored version is %s.', expected_version, v_current),
              HINT = 'Load the state again, apply the change and save with the version you loaded.';
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_agent_state_save(text, text, jsonb, bigint) IS
    'save an agent state and return its new version; a stale expected_version fails with CS001';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_load(agent_id text, session_id text)
RETURNS SETOF @extschema@.chat_agent_states
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.*
    FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant OPERATOR(pg_catalog.=) COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '')
      AND s.agent_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_agent_state_load.agent_id, 'agent_id')
      AND s.session_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_agent_state_load.session_id, 'session_id');
END;

CREATE OR REPLACE FUNCTION @extschema@._chat_agent_state_load_routed(agent_id text, session_id text)
RETURNS SETOF @extschema@.chat_agent_states
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_tenant  pg_catalog.text := COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '');
    v_agent   pg_catalog.text := @extschema@._chat_required(_chat_agent_state_load_routed.agent_id, 'agent_id');
    v_session pg_catalog.text := @extschema@._chat_required(_chat_agent_state_load_routed.session_id, 'session_id');
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    RETURN QUERY
    SELECT s.* FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant OPERATOR(pg_catalog.=) v_tenant
      AND s.agent_id OPERATOR(pg_catalog.=) v_agent
      AND s.session_id OPERATOR(pg_catalog.=) v_session;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_agent_state_load_routed(text, text) IS
    'chatstore internal: chat_agent_state_load as PL/pgSQL, which chat_agent_state_load calls on a distributed database';

COMMENT ON FUNCTION @extschema@.chat_agent_state_load(text, text) IS
    'an agent state with its version; no row when none is stored';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_delete(agent_id text, session_id text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant  text := @extschema@._chat_tenant_key();
    v_agent   text := @extschema@._chat_required(chat_agent_state_delete.agent_id, 'agent_id');
    v_session text := @extschema@._chat_required(chat_agent_state_delete.session_id, 'session_id');
    n         bigint;
BEGIN
    DELETE FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant = v_tenant AND s.agent_id = v_agent AND s.session_id = v_session;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n > 0;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_agent_state_delete(text, text) IS
    'delete an agent state; false when none was stored';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_list(
    agent_id          text,
    max_sessions      integer     DEFAULT 100,
    before_updated_at timestamptz DEFAULT NULL,
    before_session_id text        DEFAULT NULL,
    state_filter      jsonb       DEFAULT NULL)
RETURNS SETOF @extschema@.chat_agent_states
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := COALESCE(current_setting('chatstore.tenant', true), '');
    v_agent  text := @extschema@._chat_required(chat_agent_state_list.agent_id, 'agent_id');
BEGIN
    -- one plain statement per combination of the optional arguments, so
    -- that each keeps its own plan (a kept generic plan cannot drop an
    -- "argument IS NULL OR ..." condition); on Citus each runs on every
    -- shard (states are spread by session_id) and the coordinator merges
    -- the sorted, limited results
    IF before_updated_at IS NULL AND state_filter IS NULL THEN
        RETURN QUERY
        SELECT s.* FROM @extschema@.chat_agent_states AS s
        WHERE s.tenant = v_tenant AND s.agent_id = v_agent
        ORDER BY s.updated_at DESC, s.session_id DESC
        LIMIT chat_agent_state_list.max_sessions;
    ELSIF state_filter IS NULL THEN
        RETURN QUERY
        SELECT s.* FROM @extschema@.chat_agent_states AS s
        WHERE s.tenant = v_tenant AND s.agent_id = v_agent
          AND (s.updated_at, s.session_id)
              < (chat_agent_state_list.before_updated_at,
                 COALESCE(chat_agent_state_list.before_session_id, ''))
        ORDER BY s.updated_at DESC, s.session_id DESC
        LIMIT chat_agent_state_list.max_sessions;
    ELSIF before_updated_at IS NULL THEN
        RETURN QUERY
        SELECT s.* FROM @extschema@.chat_agent_states AS s
        WHERE s.tenant = v_tenant AND s.agent_id = v_agent
          AND s.state @> chat_agent_state_list.state_filter
        ORDER BY s.updated_at DESC, s.session_id DESC
        LIMIT chat_agent_state_list.max_sessions;
    ELSE
        RETURN QUERY
        SELECT s.* FROM @extschema@.chat_agent_states AS s
        WHERE s.tenant = v_tenant AND s.agent_id = v_agent
          AND (s.updated_at, s.session_id)
              < (chat_agent_state_list.before_updated_at,
                 COALESCE(chat_agent_state_list.before_session_id, ''))
          AND s.state @> chat_agent_state_list.state_filter
        ORDER BY s.updated_at DESC, s.session_id DESC
        LIMIT chat_agent_state_list.max_sessions;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_agent_state_list(text, integer, timestamptz, text, jsonb) IS
    'an agent''s states, most recently saved first, with a limit, keyset paging and a state @> filter';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_count(agent_id text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := COALESCE(current_setting('chatstore.tenant', true), '');
    v_agent  text := @extschema@._chat_required(chat_agent_state_count.agent_id, 'agent_id');
    n        bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant = v_tenant AND s.agent_id = v_agent;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_agent_state_count(text) IS
    'number of sessions with a stored state for an agent';

CREATE OR REPLACE FUNCTION @extschema@.chat_agent_state_count_all()
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := COALESCE(current_setting('chatstore.tenant', true), '');
    n        bigint;
BEGIN
    SELECT count(*) INTO n FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant = v_tenant;
    RETURN n;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_agent_state_count_all() IS
    'number of stored agent states of the current tenant, over all agents';

CREATE OR REPLACE FUNCTION @extschema@.chat_thread_usage(thread_id text, user_id text DEFAULT NULL)
RETURNS TABLE (message_count bigint, prompt_tokens bigint,
               completion_tokens bigint, total_tokens bigint,
               last_message_at timestamptz)
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_thread pg_catalog.text := @extschema@._chat_required(chat_thread_usage.thread_id, 'thread_id');
    v_user   pg_catalog.text := @extschema@._chat_user_arg(chat_thread_usage.user_id);
BEGIN
    -- (no SET search_path: a SET clause costs a call of this small reader
    -- a tenth of its time; every operator, function and type is
    -- schema-qualified and there is no aggregate, so the caller's
    -- search_path cannot change what it runs, on Citus either: 80_search_path)
    -- One routed statement by the thread's id; the owner check as a
    -- branch, not an "argument IS NULL OR" condition.
    IF v_user IS NULL THEN
        RETURN QUERY
        SELECT t.message_count, t.prompt_tokens, t.completion_tokens, t.total_tokens,
               t.last_message_at
        FROM @extschema@.chat_threads AS t
        WHERE t.id OPERATOR(pg_catalog.=) v_thread;
    ELSE
        RETURN QUERY
        SELECT t.message_count, t.prompt_tokens, t.completion_tokens, t.total_tokens,
               t.last_message_at
        FROM @extschema@.chat_threads AS t
        WHERE t.id OPERATOR(pg_catalog.=) v_thread AND t.user_id OPERATOR(pg_catalog.=) v_user;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_thread_usage(text, text) IS
    'a thread''s message count and token totals; no row when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@.chat_user_usage(
    user_id   text,
    from_time timestamptz DEFAULT NULL,
    to_time   timestamptz DEFAULT NULL)
RETURNS TABLE (thread_count bigint, message_count bigint,
               prompt_tokens bigint, completion_tokens bigint, total_tokens bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user text := @extschema@._chat_required(chat_user_usage.user_id, 'user_id');
BEGIN
    -- a user's threads are spread over the shards: on Citus this runs on
    -- every shard (messages are colocated with their thread) and the
    -- coordinator adds up the parts.  The time bounds are plain filters on
    -- the messages (no index serves them), so one statement does for all.
    RETURN QUERY
    SELECT count(DISTINCT m.thread_id),
           count(m.id),
           COALESCE(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint,
           COALESCE(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint,
           COALESCE(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint
    FROM @extschema@.chat_threads AS t
    JOIN @extschema@.chat_messages AS m ON m.thread_id = t.id
    WHERE t.user_id = v_user
      AND (chat_user_usage.from_time IS NULL OR m.created_at >= chat_user_usage.from_time)
      AND (chat_user_usage.to_time IS NULL OR m.created_at < chat_user_usage.to_time);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_user_usage(text, timestamptz, timestamptz) IS
    'token totals of a user''s messages created in [from_time, to_time) (NULL = unbounded)';

CREATE OR REPLACE FUNCTION @extschema@.chat_message_json(m @extschema@.chat_messages)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT pg_catalog.to_jsonb(m) OPERATOR(pg_catalog.-) 'fingerprint'::pg_catalog.text
                                  OPERATOR(pg_catalog.-) 'fingerprint_version'::pg_catalog.text
                                  OPERATOR(pg_catalog.-) 'thread_id'::pg_catalog.text
                                  -- (its thread's user_id, for tenant isolation)
                                  OPERATOR(pg_catalog.-) 'thread_user_id'::pg_catalog.text
           -- the item a message was saved as, whole (null for a chat message)
           OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('item', @extschema@._chat_item(m));
END;

COMMENT ON FUNCTION @extschema@.chat_message_json(@extschema@.chat_messages) IS
    'a message row as a JSON object (without thread_id and internal columns; item: the Responses item it was saved as)';

CREATE OR REPLACE FUNCTION @extschema@.chat_get_thread_with_messages(
    thread_id    text,
    user_id      text    DEFAULT NULL,
    max_messages integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_thread text := @extschema@._chat_required(chat_get_thread_with_messages.thread_id, 'thread_id');
    v_user   text := @extschema@._chat_user_arg(chat_get_thread_with_messages.user_id);
    t        @extschema@.chat_threads;
    v_msgs   jsonb;
BEGIN
    -- the thread, then its messages: each a statement routed by the
    -- thread's id (on Citus the messages are on the thread's shard)
    SELECT * INTO t FROM @extschema@.chat_threads AS x WHERE x.id = v_thread;
    IF NOT FOUND OR (v_user IS NOT NULL AND t.user_id IS DISTINCT FROM v_user) THEN
        RETURN NULL;
    END IF;
    SELECT COALESCE(jsonb_agg(@extschema@.chat_message_json(h) ORDER BY h.seq), '[]'::jsonb)
    INTO v_msgs
    FROM @extschema@.chat_history(v_thread, chat_get_thread_with_messages.max_messages) AS h;
    RETURN (to_jsonb(t) - '{tombstone_count,active_path}'::text[])
           || jsonb_build_object('messages', v_msgs);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_get_thread_with_messages(text, text, integer) IS
    'a thread and its messages (oldest first) as one JSON object; NULL when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@.chat_list_threads_with_messages(
    user_id           text,
    max_threads       integer     DEFAULT 20,
    before_updated_at timestamptz DEFAULT NULL,
    before_id         text        DEFAULT NULL,
    page_offset       integer     DEFAULT 0,
    max_messages      integer     DEFAULT NULL,
    metadata_filter   jsonb       DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    result jsonb;
BEGIN
    -- the page comes from chat_list_threads and each thread's messages from
    -- chat_history: this statement names no table itself, so on Citus it
    -- runs on the coordinator and those functions route their own reads
    SELECT COALESCE(jsonb_agg(
               (to_jsonb(t) - '{tombstone_count,active_path}'::text[])
               || jsonb_build_object(
                   'messages',
                   (SELECT COALESCE(jsonb_agg(@extschema@.chat_message_json(h) ORDER BY h.seq),
                                    '[]'::jsonb)
                    FROM @extschema@.chat_history(t.id, chat_list_threads_with_messages.max_messages) AS h))
               ORDER BY t.updated_at DESC, t.id DESC),
           '[]'::jsonb)
    INTO result
    FROM @extschema@.chat_list_threads(
             chat_list_threads_with_messages.user_id,
             chat_list_threads_with_messages.max_threads,
             chat_list_threads_with_messages.before_updated_at,
             chat_list_threads_with_messages.before_id,
             chat_list_threads_with_messages.metadata_filter,
             chat_list_threads_with_messages.page_offset) AS t;
    RETURN result;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_list_threads_with_messages(text, integer, timestamptz, text, integer, integer, jsonb) IS
    'a user''s threads newest first (keyset or offset paging, optional metadata @> filter), each with its messages, as one JSON array';

CREATE OR REPLACE FUNCTION @extschema@.chat_search_threads(
    user_id         text    DEFAULT NULL,
    thread_ids      text[]  DEFAULT NULL,
    metadata_filter jsonb   DEFAULT NULL,
    state_filter    jsonb   DEFAULT NULL,
    sort_by         text    DEFAULT 'updated_at',
    sort_order      text    DEFAULT 'desc',
    max_threads     integer DEFAULT 20,
    page_offset     integer DEFAULT 0)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    dir text;
BEGIN
    IF sort_by IS NULL OR sort_by NOT IN ('updated_at', 'created_at', 'last_message_at',
                                          'title', 'message_count', 'total_tokens', 'id') THEN
        RAISE EXCEPTION 'cannot sort threads by "%"', sort_by
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Sort by updated_at, created_at, last_message_at, title, message_count, total_tokens or id.';
    END IF;
    dir := lower(sort_order);
    IF dir IS NULL OR dir NOT IN ('asc', 'desc') THEN
        RAISE EXCEPTION 'sort_order must be asc or desc, not "%"', sort_order
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_threads IS NOT NULL AND max_threads < 0 OR page_offset < 0 THEN
        RAISE EXCEPTION 'max_threads and page_offset must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT t.* FROM %s AS t
         WHERE ($1 IS NULL OR t.user_id = $1)
           AND ($2 IS NULL OR t.id = ANY ($2))
           AND ($3 IS NULL OR t.metadata @> $3)
           AND ($4 IS NULL OR t.state @> $4)
         ORDER BY t.%I %s NULLS LAST, t.id %s
         OFFSET $5 LIMIT $6',
        '@extschema@.chat_threads'::regclass, sort_by, dir, dir)
    USING @extschema@._chat_user_arg(user_id), thread_ids, metadata_filter, state_filter,
          coalesce(page_offset, 0), max_threads;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_search_threads(text, text[], jsonb, jsonb, text, text, integer, integer) IS
    'threads filtered by ids, metadata @> and state @>, sorted by a column, with limit and offset';

CREATE OR REPLACE FUNCTION @extschema@.chat_health()
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT pg_catalog.jsonb_build_object(
        'status', 'ok',
        'extension_version', e.extversion,
        'schema', n.nspname,
        'server_version', pg_catalog.current_setting('server_version'),
        'database', pg_catalog.current_database(),
        'tenant', COALESCE(pg_catalog.current_setting('chatstore.tenant', true), ''),
        'in_recovery', pg_catalog.pg_is_in_recovery(),
        'now', pg_catalog.now())
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
    WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore';
END;

COMMENT ON FUNCTION @extschema@.chat_health() IS
    'cheap liveness check: status ok, extension and server version, current tenant';

CREATE OR REPLACE FUNCTION @extschema@.chat_stats(exact boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r       record;
    n       bigint;
    tables  jsonb := '{}';
    total   bigint := 0;
    sz      bigint;
    v_citus boolean := to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL;
    v_dist  boolean;
    v_any   boolean := false;
    v_db    bigint := pg_database_size(current_database());
    v_more  bigint;
    v_err   text;
BEGIN
    FOR r IN
        SELECT c.oid, c.relname, c.reltuples
        FROM pg_depend AS d
        JOIN pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'chatstore'
        JOIN pg_class AS c ON c.oid = d.objid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
          AND d.deptype = 'e' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
    LOOP
        v_dist := false;
        IF v_citus THEN
            EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition AS p
                                    WHERE p.logicalrelid = $1)'
            INTO v_dist USING r.oid;
        END IF;
        IF exact THEN
            EXECUTE format('SELECT count(*) FROM %s', r.oid::regclass) INTO n;
        ELSIF v_dist THEN
            EXECUTE $q$
                SELECT COALESCE(CASE WHEN bool_and(x.t < 0) THEN -1
                                     ELSE sum(greatest(x.t, 0)) END, -1)::bigint,
                       string_agg(x.result, '; ') FILTER (WHERE NOT x.success)
                FROM (SELECT c.success, c.result,
                             CASE WHEN c.success THEN c.result::float8 END AS t
                      FROM pg_catalog.run_command_on_shards($1,
                               'SELECT reltuples FROM pg_catalog.pg_class WHERE oid = ''%s''::pg_catalog.regclass') AS c
                     ) AS x$q$
            INTO n, v_err USING r.oid;
            IF v_err IS NOT NULL THEN
                RAISE EXCEPTION 'could not read the row estimates of the shards of %', r.oid::regclass
                    USING ERRCODE = 'connection_failure', DETAIL = v_err;
            END IF;
        ELSE
            n := r.reltuples::bigint;
        END IF;
        IF v_dist THEN
            BEGIN
                EXECUTE 'SELECT pg_catalog.citus_total_relation_size($1)' INTO sz USING r.oid;
            EXCEPTION WHEN active_sql_transaction THEN
                -- Citus refuses its size functions in a transaction that
                -- has modified several shards: ask each shard over
                -- connections of its own, which it allows
                EXECUTE $q$
                    SELECT sum(CASE WHEN c.success THEN c.result::bigint END)::bigint,
                           string_agg(c.result, '; ') FILTER (WHERE NOT c.success)
                    FROM pg_catalog.run_command_on_shards($1,
                             'SELECT pg_catalog.pg_total_relation_size(''%s''::pg_catalog.regclass)') AS c$q$
                INTO sz, v_err USING r.oid;
                IF v_err IS NOT NULL THEN
                    RAISE EXCEPTION 'could not read the sizes of the shards of %', r.oid::regclass
                        USING ERRCODE = 'connection_failure', DETAIL = v_err;
                END IF;
            END;
            v_any := true;
        ELSE
            sz := pg_total_relation_size(r.oid);
        END IF;
        total := total + sz;
        tables := tables || jsonb_build_object(r.relname::text,
                                               jsonb_build_object('rows', n, 'bytes', sz));
    END LOOP;
    IF v_any THEN
        EXECUTE $q$
            SELECT COALESCE(sum(CASE WHEN w.success THEN w.result::bigint END), 0)::bigint,
                   string_agg(w.nodename || ':' || w.nodeport || ': ' || w.result, '; ')
                       FILTER (WHERE NOT w.success)
            FROM pg_catalog.run_command_on_workers(
                     'SELECT pg_catalog.pg_database_size(pg_catalog.current_database())') AS w$q$
        INTO v_more, v_err;
        IF v_err IS NOT NULL THEN
            RAISE EXCEPTION 'could not read the size of the database on every worker'
                USING ERRCODE = 'connection_failure', DETAIL = v_err;
        END IF;
        v_db := v_db + v_more;
    END IF;
    RETURN jsonb_build_object(
        'extension_version', (SELECT extversion FROM pg_extension WHERE extname = 'chatstore'),
        'schema', (SELECT n.nspname FROM pg_extension AS e JOIN pg_namespace AS n
                   ON n.oid = e.extnamespace WHERE e.extname = 'chatstore'),
        'exact', exact,
        'tables', tables,
        'total_bytes', total,
        'database_bytes', v_db);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_stats(boolean) IS
    'extension version, and per table row counts (exact or estimated) and sizes, as JSON';

CREATE OR REPLACE FUNCTION @extschema@._chat_import_json(v jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT CASE WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'null' THEN NULL
                WHEN pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'string'
                THEN NULLIF((v OPERATOR(pg_catalog.#>>) '{}'::pg_catalog.text[]), '')::pg_catalog.jsonb
                ELSE v END;
END;

COMMENT ON FUNCTION @extschema@._chat_import_json(jsonb) IS
    'importer helper: a JSON value that may be stored as text, parsed; JSON null becomes NULL';

CREATE OR REPLACE FUNCTION @extschema@._chat_import_message(r jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}'::pg_catalog.jsonb)
    FROM pg_catalog.jsonb_each(pg_catalog.jsonb_build_object(
        'id',           r OPERATOR(pg_catalog.->>) 'id',
        'role',         COALESCE(r OPERATOR(pg_catalog.->>) 'role', r OPERATOR(pg_catalog.->>) 'type'),
        'content',      r OPERATOR(pg_catalog.->) 'content',
        'name',         r OPERATOR(pg_catalog.->) 'name',
        'model',        r OPERATOR(pg_catalog.->) 'model',
        'tool_calls',   @extschema@._chat_import_json(r OPERATOR(pg_catalog.->) 'tool_calls'),
        'tool_call_id', r OPERATOR(pg_catalog.->) 'tool_call_id',
        'metadata',     @extschema@._chat_import_json(r OPERATOR(pg_catalog.->) 'metadata'),
        'usage',        @extschema@._chat_import_json(COALESCE(r OPERATOR(pg_catalog.->) 'usage',
                                                              r OPERATOR(pg_catalog.->) 'usage_metadata')),
        'token_count',  r OPERATOR(pg_catalog.->) 'token_count',
        'parent_id',    r OPERATOR(pg_catalog.->) 'parent_id',
        'created_at',   r OPERATOR(pg_catalog.->) 'created_at')) AS e
    WHERE e.value IS NOT NULL AND e.value OPERATOR(pg_catalog.<>) 'null'::pg_catalog.jsonb;
END;

COMMENT ON FUNCTION @extschema@._chat_import_message(jsonb) IS
    'importer helper: a source message row as JSON, in chat_save_messages input form';

CREATE OR REPLACE FUNCTION @extschema@._chat_import_thread(
    thread   jsonb,
    messages jsonb,
    OUT created       boolean,
    OUT saved_count   integer,
    OUT skipped_count integer)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    tid         text := thread->>'id';
    v_owner     text := NULLIF(thread->>'user_id', '');  -- a source's '' is no owner
    src_created timestamptz := (thread->>'created_at')::timestamptz;
    src_updated timestamptz := (thread->>'updated_at')::timestamptz;
    v_now       timestamptz := now();
    v_title     text;
    v_metadata  jsonb;
    v_state     jsonb;
    v_prompt    bigint;
    v_compl     bigint;
    v_total     bigint;
    v_had       timestamptz;  -- the thread's updated_at before the import
    v_old       record;
    res         @extschema@.chat_save_result;
BEGIN
    IF tid IS NULL OR tid = '' THEN
        RAISE EXCEPTION 'source thread without an id'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The source row is %s.', left(thread::text, 200));
    END IF;
    IF messages IS NULL OR jsonb_typeof(messages) <> 'array' THEN
        RAISE EXCEPTION 'messages of source thread "%" must be a JSON array', tid
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    created := false;
    saved_count := 0;
    skipped_count := 0;

    SELECT t.user_id, t.updated_at INTO v_old
    FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
    IF NOT FOUND THEN
        v_title := coalesce(thread->>'title', '');
        v_metadata := coalesce(@extschema@._chat_import_json(thread->'metadata'), '{}');
        v_state := coalesce(@extschema@._chat_import_json(thread->'state'), '{}');
        INSERT INTO @extschema@.chat_threads AS t (id, user_id, title, metadata, state, created_at, updated_at)
        VALUES (tid, v_owner, v_title, v_metadata, v_state,
                coalesce(src_created, v_now),
                coalesce(src_updated, src_created, v_now))
        ON CONFLICT (id) DO NOTHING;
        created := FOUND;
        -- an import is explicit: a thread deleted under this id is made again
        DELETE FROM @extschema@.chat_thread_tombstones AS x WHERE x.id = tid;
        IF NOT created THEN   -- created concurrently: treat as existing
            SELECT t.user_id, t.updated_at INTO v_old
            FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        END IF;
    END IF;
    IF NOT created AND v_owner IS NOT NULL AND v_old.user_id IS DISTINCT FROM v_owner THEN
        RAISE EXCEPTION 'thread "%" already exists and belongs to another user', tid
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('The source thread belongs to "%s".', v_owner);
    END IF;

    IF jsonb_array_length(messages) > 0 THEN
        res := @extschema@.chat_save_messages(tid, messages, v_owner);
        saved_count := res.saved_count;
        skipped_count := res.skipped_count;
    END IF;

    -- session-level token totals (Inference Gateway UI) when the messages
    -- carry less.  updated_at is assigned here as the updated_at trigger
    -- would (a distributed database has no such trigger); the statement
    -- below sets its final value anyway.
    IF thread ? 'prompt_tokens' OR thread ? 'completion_tokens' OR thread ? 'total_tokens' THEN
        v_prompt := coalesce((thread->>'prompt_tokens')::bigint, 0);
        v_compl := coalesce((thread->>'completion_tokens')::bigint, 0);
        v_total := coalesce((thread->>'total_tokens')::bigint, 0);
        UPDATE @extschema@.chat_threads AS t
        SET prompt_tokens     = greatest(t.prompt_tokens, v_prompt),
            completion_tokens = greatest(t.completion_tokens, v_compl),
            total_tokens      = greatest(t.total_tokens, v_total),
            updated_at        = v_now
        WHERE t.id = tid
          AND (t.prompt_tokens < v_prompt OR t.completion_tokens < v_compl OR t.total_tokens < v_total);
    END IF;

    -- keep the source's recency: the newest of the source's updated_at, what
    -- chatstore had, and the newest imported message
    v_had := CASE WHEN created THEN NULL ELSE v_old.updated_at END;
    UPDATE @extschema@.chat_threads AS t
    SET updated_at = coalesce(greatest(src_updated, v_had, t.last_message_at), t.created_at)
    WHERE t.id = tid
      AND t.updated_at IS DISTINCT FROM coalesce(greatest(src_updated, v_had, t.last_message_at), t.created_at);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_import_thread(jsonb, jsonb) IS
    'importer core: create a thread when missing (keeping its timestamps) and save the messages it lacks';

CREATE OR REPLACE FUNCTION @extschema@._chat_import_check_source(source_schema text, tables text[])
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t text;
BEGIN
    IF source_schema IS NULL OR source_schema = '' THEN
        RAISE EXCEPTION 'source_schema must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF source_schema <> 'pg_temp' AND to_regnamespace(quote_ident(source_schema)) IS NULL THEN
        RAISE EXCEPTION 'schema "%" does not exist', source_schema
            USING ERRCODE = 'invalid_schema_name';
    END IF;
    FOREACH t IN ARRAY tables LOOP
        IF to_regclass(format('%I.%I', source_schema, t)) IS NULL THEN
            RAISE EXCEPTION 'table "%.%" does not exist', source_schema, t
                USING ERRCODE = 'undefined_table',
                      HINT = 'Point source_schema at the schema that holds the source system''s tables.';
        END IF;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_import_check_source(text, text[]) IS
    'importer helper: the source schema and its tables exist';

CREATE OR REPLACE FUNCTION @extschema@.chat_import_langmiddle(source_schema text)
RETURNS TABLE (threads_created bigint, threads_seen bigint,
               messages_saved bigint, messages_skipped bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r   record;
    res record;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['chat_threads', 'chat_messages']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', tj->>'id', 'user_id', tj->>'user_id', 'title', tj->>'title',
                      'metadata', tj->'metadata',
                      'state', coalesce(tj->'custom_state', tj->'state'),
                      'created_at', tj->'created_at', 'updated_at', tj->'updated_at') AS thread,
                  (SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                             ORDER BY m.created_at, m.ctid), '[]')
                   FROM %1$I.chat_messages AS m WHERE m.thread_id = t.id) AS messages
           FROM %1$I.chat_threads AS t, LATERAL to_jsonb(t) AS tj
           ORDER BY t.created_at, t.id$q$, source_schema)
    LOOP
        res := @extschema@._chat_import_thread(r.thread, r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_langmiddle(text) IS
    'import langmiddle''s chat_threads / chat_messages from a schema, idempotently (ids, order, timestamps kept)';

CREATE OR REPLACE FUNCTION @extschema@.chat_import_inference_gateway(source_schema text)
RETURNS TABLE (threads_created bigint, threads_seen bigint, messages_saved bigint,
               messages_skipped bigint, preferences_imported bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r        record;
    res      record;
    fk       text;
    msgs     text;
    seqorder text := '';
    v_now     timestamptz := now();
    p_user    text;
    p_active  text;
    p_model   text;
    p_created timestamptz;
    p_updated timestamptz;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['chat_sessions']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    preferences_imported := 0;

    IF to_regclass(format('%I.messages', source_schema)) IS NOT NULL THEN
        SELECT a.attname INTO fk FROM pg_attribute AS a
        WHERE a.attrelid = to_regclass(format('%I.messages', source_schema))
          AND a.attname IN ('chat_session_id', 'session_id') AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attname LIMIT 1;
        IF fk IS NULL THEN
            RAISE EXCEPTION 'table "%.messages" has no chat_session_id or session_id column', source_schema
                USING ERRCODE = 'undefined_column';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_attribute AS a
                   WHERE a.attrelid = to_regclass(format('%I.messages', source_schema))
                     AND a.attname = 'sequence_number' AND a.attnum > 0 AND NOT a.attisdropped) THEN
            seqorder := 'm.sequence_number, ';
        END IF;
        msgs := format(
            $q$(SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                          ORDER BY %3$s m.created_at, m.ctid), '[]')
                FROM %1$I.messages AS m WHERE m.%2$I = s.id)$q$, source_schema, fk, seqorder);
    ELSE
        -- messages without a time of their own get the session's
        msgs := $q$(SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(
                                        jsonb_build_object('created_at', sj->'created_at') || e.value)
                                      ORDER BY e.n), '[]')
                    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(sj->'messages') = 'array'
                                              THEN sj->'messages' ELSE '[]' END)
                         WITH ORDINALITY AS e(value, n))$q$;
    END IF;

    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', sj->>'id', 'user_id', sj->>'user_id', 'title', sj->>'title',
                      'created_at', sj->'created_at', 'updated_at', sj->'updated_at',
                      'prompt_tokens', coalesce(sj->'prompt_tokens', sj->'token_usage'->'prompt_tokens'),
                      'completion_tokens', coalesce(sj->'completion_tokens', sj->'token_usage'->'completion_tokens'),
                      'total_tokens', coalesce(sj->'total_tokens', sj->'token_usage'->'total_tokens')) AS thread,
                  %2$s AS messages
           FROM %1$I.chat_sessions AS s, LATERAL to_jsonb(s) AS sj
           ORDER BY s.created_at, s.id$q$, source_schema, msgs)
    LOOP
        res := @extschema@._chat_import_thread(jsonb_strip_nulls(r.thread), r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;

    -- preferences: imported when the user has none yet; an active chat that
    -- does not exist (or is another user's) is dropped.  One source row at
    -- a time, in the source's order (the first row of a user wins): the
    -- active chat is looked up by its id and the row inserted by its user,
    -- each a statement on one shard of a distributed database (an INSERT
    -- ... SELECT from a local table with a subquery on chat_threads is not
    -- one Citus can plan).
    IF to_regclass(format('%I.user_preferences', source_schema)) IS NOT NULL THEN
        FOR r IN EXECUTE format(
            $q$SELECT pj FROM %1$I.user_preferences AS p, LATERAL to_jsonb(p) AS pj
               WHERE coalesce(pj->>'user_id', '') <> ''$q$, source_schema)
        LOOP
            p_user := r.pj->>'user_id';
            p_active := r.pj->>'active_chat_id';
            IF p_active IS NOT NULL THEN
                SELECT t.id INTO p_active FROM @extschema@.chat_threads AS t
                WHERE t.id = p_active AND t.user_id = p_user;
            END IF;
            p_created := coalesce((r.pj->>'created_at')::timestamptz, v_now);
            p_updated := coalesce((r.pj->>'updated_at')::timestamptz, (r.pj->>'created_at')::timestamptz, v_now);
            p_model := r.pj->>'selected_model';
            INSERT INTO @extschema@.chat_user_preferences AS up
                (user_id, active_thread_id, selected_model, created_at, updated_at)
            VALUES (p_user, p_active, p_model, p_created, p_updated)
            ON CONFLICT (user_id) DO NOTHING;
            IF FOUND THEN
                preferences_imported := preferences_imported + 1;
            END IF;
        END LOOP;
    END IF;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_inference_gateway(text) IS
    'import Inference Gateway UI''s chat_sessions / messages / user_preferences from a schema, idempotently';

CREATE OR REPLACE FUNCTION @extschema@.chat_import_flux_rag(source_schema text, user_id text DEFAULT NULL)
RETURNS TABLE (threads_created bigint, threads_seen bigint,
               messages_saved bigint, messages_skipped bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $fn$
DECLARE
    r   record;
    res record;
BEGIN
    PERFORM @extschema@._chat_import_check_source(source_schema, ARRAY['sessions', 'messages']);
    threads_created := 0; threads_seen := 0; messages_saved := 0; messages_skipped := 0;
    FOR r IN EXECUTE format(
        $q$SELECT jsonb_build_object(
                      'id', sj->>'id', 'user_id', $1, 'title', sj->>'title',
                      'metadata', sj->'metadata',
                      'created_at', sj->'created_at', 'updated_at', sj->'updated_at') AS thread,
                  (SELECT coalesce(jsonb_agg(@extschema@._chat_import_message(to_jsonb(m))
                                             ORDER BY m.created_at, m.ctid), '[]')
                   FROM %1$I.messages AS m WHERE m.session_id = s.id) AS messages
           FROM %1$I.sessions AS s, LATERAL to_jsonb(s) AS sj
           ORDER BY s.created_at, s.id$q$, source_schema)
        USING user_id
    LOOP
        res := @extschema@._chat_import_thread(r.thread, r.messages);
        threads_seen := threads_seen + 1;
        threads_created := threads_created + res.created::int;
        messages_saved := messages_saved + res.saved_count;
        messages_skipped := messages_skipped + res.skipped_count;
    END LOOP;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_import_flux_rag(text, text) IS
    'import flux-rag''s sessions / messages from a schema (or pg_temp), idempotently, owned by user_id';

CREATE OR REPLACE FUNCTION @extschema@.chat_search(
    query            text,
    user_id          text        DEFAULT NULL,
    thread_id        text        DEFAULT NULL,
    roles            text[]      DEFAULT NULL,
    since            timestamptz DEFAULT NULL,
    until            timestamptz DEFAULT NULL,
    max_results      integer     DEFAULT 20,
    config           regconfig   DEFAULT 'simple',
    after_rank       double precision DEFAULT NULL,
    after_thread_id  text        DEFAULT NULL,
    after_seq        bigint      DEFAULT NULL,
    include_archived boolean     DEFAULT false,
    snippet_options  text        DEFAULT NULL)
RETURNS SETOF @extschema@.chat_search_result
LANGUAGE plpgsql STABLE ROWS 20
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning   -- no NOTICE for a query without words
AS $fn$
DECLARE
    cfg  text;
    q    tsquery;
    opts text := coalesce(snippet_options,
                          'StartSel=<b>, StopSel=</b>, MaxFragments=2, MaxWords=20, MinWords=5');
    sql  text;
BEGIN
    IF query IS NULL THEN
        RAISE EXCEPTION 'query must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF max_results IS NULL OR max_results < 1 OR max_results > 1000 THEN
        RAISE EXCEPTION 'max_results must be between 1 and 1000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(max_results::text, 'null'));
    END IF;
    IF (after_rank IS NULL) <> (after_thread_id IS NULL)
       OR (after_rank IS NULL) <> (after_seq IS NULL) THEN
        RAISE EXCEPTION 'after_rank, after_thread_id and after_seq must be given together'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the rank, thread_id and seq of the last hit of the previous page.';
    END IF;

    -- the input aliases of roles are accepted here too
    IF roles IS NOT NULL THEN
        roles := ARRAY(SELECT CASE r WHEN 'human' THEN 'user' WHEN 'ai' THEN 'assistant' ELSE r END
                       FROM unnest(roles) AS r);
    END IF;
    q := websearch_to_tsquery(config, query);
    IF numnode(q) = 0 THEN
        RETURN;                 -- no searchable word (empty, or only stop words)
    END IF;

    cfg := quote_literal(config::text) || '::pg_catalog.regconfig';
    sql := replace($q$
        SELECT r.thread_id, r.id, r.seq, r.role, r.rank,
               pg_catalog.ts_headline(%CFG%, pg_catalog.left(r.content, 100000), $1, $11),
               r.created_at
        FROM (SELECT m.thread_id, m.id, m.seq, m.role, m.content, m.created_at,
                     pg_catalog.ts_rank(pg_catalog.to_tsvector(%CFG%, pg_catalog.left(m.content, 100000)), $1)::pg_catalog.float8 AS rank
              FROM @extschema@.chat_messages AS m
              JOIN @extschema@.chat_threads AS t ON t.id OPERATOR(pg_catalog.=) m.thread_id
              WHERE m.content IS NOT NULL
                AND pg_catalog.to_tsvector(%CFG%, pg_catalog.left(m.content, 100000)) OPERATOR(pg_catalog.@@) $1
                AND ($2 IS NULL OR t.user_id OPERATOR(pg_catalog.=) $2)
                AND ($3 IS NULL OR m.thread_id OPERATOR(pg_catalog.=) $3)
                AND ($4 IS NULL OR m.role OPERATOR(pg_catalog.=) ANY ($4))
                AND ($5 IS NULL OR m.created_at OPERATOR(pg_catalog.>=) $5)
                AND ($6 IS NULL OR m.created_at OPERATOR(pg_catalog.<) $6)
                AND ($10 OR NOT t.archived)) AS r
        WHERE $7 IS NULL
           OR r.rank OPERATOR(pg_catalog.<) $7
           OR (r.rank OPERATOR(pg_catalog.=) $7
               AND (r.thread_id, r.seq) OPERATOR(pg_catalog.>) ($8, $9))
        ORDER BY r.rank DESC, r.thread_id, r.seq
        LIMIT $12$q$, '%CFG%', cfg);

    RETURN QUERY EXECUTE sql
        USING q, @extschema@._chat_user_arg(user_id), thread_id, roles, since, until,
              after_rank, after_thread_id, after_seq,
              coalesce(include_archived, false), opts, max_results;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_search(text, text, text, text[], timestamptz, timestamptz, integer, regconfig, double precision, text, bigint, boolean, text) IS
    'ranked full-text search over message content with highlighted snippets, keyset-paginated';

CREATE OR REPLACE FUNCTION @extschema@.chat_search_index_ddl(config regconfig)
RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT pg_catalog.format(
        'CREATE INDEX IF NOT EXISTS %I ON %I.chat_messages USING gin '
        '(pg_catalog.to_tsvector(%L::pg_catalog.regconfig, pg_catalog.left(content, 100000))) '
        'WHERE content IS NOT NULL',
        -- a configuration of pg_catalog: chat_messages_content_fts_<name>_idx;
        -- any other: its schema and name and a digest of both (so that
        -- public.english and pg_catalog.english get different indexes)
        CASE WHEN c.cfgnamespace OPERATOR(pg_catalog.=) 'pg_catalog'::pg_catalog.regnamespace
             THEN pg_catalog.left('chat_messages_content_fts_' OPERATOR(pg_catalog.||)
                                  pg_catalog.regexp_replace(c.cfgname::pg_catalog.text, '[^a-zA-Z0-9_]', '_', 'g'),
                                  55) OPERATOR(pg_catalog.||) '_idx'
             ELSE 'chat_messages_content_fts_' OPERATOR(pg_catalog.||)
                  pg_catalog.left(pg_catalog.regexp_replace(cn.nspname::pg_catalog.text OPERATOR(pg_catalog.||) '_'
                                                            OPERATOR(pg_catalog.||) c.cfgname::pg_catalog.text,
                                                            '[^a-zA-Z0-9_]', '_', 'g'), 24)
                  OPERATOR(pg_catalog.||) '_'
                  OPERATOR(pg_catalog.||) pg_catalog.left(pg_catalog.md5(pg_catalog.format('%I.%I', cn.nspname, c.cfgname)), 8)
                  OPERATOR(pg_catalog.||) '_idx' END,
        n.nspname, chat_search_index_ddl.config::pg_catalog.text)
    FROM pg_catalog.pg_ts_config AS c
         JOIN pg_catalog.pg_namespace AS cn ON cn.oid OPERATOR(pg_catalog.=) c.cfgnamespace,
         pg_catalog.pg_class AS r
         JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) chat_search_index_ddl.config::pg_catalog.oid
      AND r.oid OPERATOR(pg_catalog.=) '@extschema@.chat_messages'::pg_catalog.regclass;
END;

COMMENT ON FUNCTION @extschema@.chat_search_index_ddl(regconfig) IS
    'the CREATE INDEX statement of a search index for a text-search configuration';

CREATE OR REPLACE FUNCTION @extschema@._chat_search_index_config_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    EXECUTE @extschema@.chat_search_index_ddl(NEW.config::pg_catalog.regconfig);
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_search_index_config_trigger() IS
    'chatstore internal: creates the search index of a configuration when its row is inserted (by chat_create_search_index or pg_restore)';

CREATE OR REPLACE FUNCTION @extschema@._chat_search_config_name(config regconfig)
RETURNS text
LANGUAGE sql STABLE STRICT
BEGIN ATOMIC
    SELECT pg_catalog.format('%I.%I', n.nspname, c.cfgname)
    FROM pg_catalog.pg_ts_config AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.cfgnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) _chat_search_config_name.config::pg_catalog.oid;
END;

COMMENT ON FUNCTION @extschema@._chat_search_config_name(regconfig) IS
    'chatstore internal: the schema-qualified name of a text-search configuration';

CREATE OR REPLACE FUNCTION @extschema@.chat_create_search_index(config regconfig)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the trigger creates the index (again, when it was dropped by hand)
    INSERT INTO @extschema@.chat_search_index_config AS s (config)
    VALUES (@extschema@._chat_search_config_name(chat_create_search_index.config))
    ON CONFLICT ON CONSTRAINT chat_search_index_config_pkey DO UPDATE SET created_at = s.created_at;
    RETURN substring(@extschema@.chat_search_index_ddl(config) from '^CREATE INDEX IF NOT EXISTS (\S+) ');
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_search_index(regconfig) IS
    'create the GIN index that serves chat_search for another text-search configuration (kept across pg_dump and restore); returns its name';

CREATE OR REPLACE FUNCTION @extschema@.chat_drop_search_index(config regconfig)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    idx     text;
    dropped boolean;
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    idx := '@extschema@.' || substring(@extschema@.chat_search_index_ddl(config)
                                       from '^CREATE INDEX IF NOT EXISTS (\S+) ');
    DELETE FROM @extschema@.chat_search_index_config AS s
    WHERE s.config = @extschema@._chat_search_config_name(chat_drop_search_index.config);
    dropped := FOUND;
    IF pg_catalog.to_regclass(idx) IS NOT NULL THEN
        EXECUTE 'DROP INDEX ' || idx;
        dropped := true;
    END IF;
    RETURN dropped;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_drop_search_index(regconfig) IS
    'drop the search index of a text-search configuration made by chat_create_search_index (and forget it, so a restore does not re-create it); false when there was none';

CREATE OR REPLACE FUNCTION @extschema@._chat_retention_delete_range(
    thread_id text,
    from_seq  bigint,
    to_seq    bigint)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid  text := _chat_retention_delete_range.thread_id;
    n    bigint;
    seqs bigint[];
    leaf bigint;
    path int8multirange;
    res  @extschema@.chat_trim_result;
BEGIN
    PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
    -- the deleted messages become tombstones and the aggregates follow (as
    -- for any delete); a trim is not activity: updated_at stays.  The seqs
    -- are read first: a function that writes, called from a statement that
    -- reads a distributed table, would run on a worker, inside the shard
    -- query (refused by Citus)
    seqs := ARRAY(SELECT m.seq FROM @extschema@.chat_messages AS m
                  WHERE m.thread_id = tid AND m.seq >= from_seq AND m.seq < to_seq);
    n := @extschema@._chat_delete_messages(tid, seqs, replies_moved_up => false, activity => false);
    res.thread_id := tid;
    res.deleted_count := n;
    SELECT t.message_count INTO res.kept_count
    FROM @extschema@.chat_threads AS t WHERE t.id = tid;
    -- a branched thread's active path goes on through the tombstones, to
    -- its newest stored message (or, when all of it went, stays as it was)
    IF n > 0 THEN
        SELECT max(m.seq) INTO leaf
        FROM @extschema@.chat_messages AS m, @extschema@.chat_threads AS c
        WHERE c.id = tid AND m.thread_id = tid AND m.thread_id = c.id AND m.seq <@ c.active_path;
        IF leaf IS NOT NULL THEN
            path := @extschema@._chat_path_to(tid, leaf);
            UPDATE @extschema@.chat_threads AS t
            SET active_path = path,
                updated_at  = t.updated_at
            WHERE t.id = tid AND t.active_path IS NOT NULL;
        END IF;
    END IF;
    SELECT min(m.seq) INTO res.first_kept_seq
    FROM @extschema@.chat_messages AS m WHERE m.thread_id = tid;
    RETURN res;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_delete_range(text, bigint, bigint) IS
    'chatstore internal: delete a seq range of a locked thread (leaving tombstones) and correct its aggregates';

CREATE OR REPLACE FUNCTION @extschema@._chat_retention_first_non_system(thread_id text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid   text := _chat_retention_first_non_system.thread_id;
    first bigint;
BEGIN
    SELECT m.seq INTO first FROM @extschema@.chat_messages AS m
    WHERE m.thread_id = tid AND m.role <> ALL (ARRAY['system', 'developer']::text[])
    ORDER BY m.seq LIMIT 1;
    IF first IS NULL THEN
        SELECT t.last_seq + 1 INTO first FROM @extschema@.chat_threads AS t WHERE t.id = tid;
    END IF;
    RETURN first;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_first_non_system(text) IS
    'chatstore internal: seq of the first message that is not part of the thread''s leading system messages';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_delete_idle_threads(
    older_than  interval,
    user_id     text    DEFAULT NULL,
    archived    boolean DEFAULT NULL,
    max_threads integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user     text := @extschema@._chat_user_arg(chat_retention_delete_idle_threads.user_id);
    v_archived boolean := chat_retention_delete_idle_threads.archived;
    v_now      timestamptz := now();
    -- whether the statement trigger of part 10 (chat_threads_tombstone)
    -- writes the tombstones of the threads deleted here, as on one node;
    -- chat_distribute drops it (part 85), and then this function writes
    -- each tombstone itself.  Read once, from the catalog (fired: enabled,
    -- as session_replication_role decides), rather than writing every
    -- tombstone anyway with an upsert: on one node that would write each
    -- row twice, in a call that may delete thousands of threads.
    v_tomb_trigger boolean := EXISTS (
        SELECT FROM pg_catalog.pg_trigger AS g
        WHERE g.tgrelid = '@extschema@.chat_threads'::pg_catalog.regclass
          AND g.tgname = 'chat_threads_tombstone'
          AND (g.tgenabled = 'A'
               OR g.tgenabled = CASE WHEN pg_catalog.current_setting('session_replication_role') = 'replica'
                                     THEN 'R' ELSE 'O' END));
    cutoff     timestamptz;
    batch      integer;
    fetched    integer;
    done       bigint := 0;
    last_upd   timestamptz := '-infinity';
    last_id    text := '';       -- below every id (ids are not empty)
    cands      refcursor;
    c_id       text;
    c_upd      timestamptz;
    t          @extschema@.chat_threads;
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', older_than);
    END IF;
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := v_now - older_than;

    LOOP
        batch := least(coalesce(max_threads - done, 1000), 1000);
        EXIT WHEN batch <= 0;
        -- one plain statement per case (a good generic plan for each)
        IF v_user IS NULL THEN
            OPEN cands FOR
                SELECT x.id, x.updated_at FROM @extschema@.chat_threads AS x
                WHERE x.updated_at < cutoff
                  AND (x.updated_at, x.id) > (last_upd, last_id)
                  AND (v_archived IS NULL OR x.archived = v_archived)
                ORDER BY x.updated_at, x.id
                LIMIT batch;
        ELSE
            OPEN cands FOR
                SELECT x.id, x.updated_at FROM @extschema@.chat_threads AS x
                WHERE x.user_id = v_user
                  AND x.updated_at < cutoff
                  AND (x.updated_at, x.id) > (last_upd, last_id)
                  AND (v_archived IS NULL OR x.archived = v_archived)
                ORDER BY x.updated_at, x.id
                LIMIT batch;
        END IF;
        fetched := 0;
        LOOP
            FETCH cands INTO c_id, c_upd;
            EXIT WHEN NOT FOUND;
            fetched := fetched + 1;
            last_upd := c_upd;
            last_id := c_id;
            -- lock it unless a save holds it, if it still qualifies
            PERFORM 1 FROM @extschema@.chat_threads AS x
            WHERE x.id = c_id AND x.updated_at < cutoff
              AND (v_user IS NULL OR x.user_id = v_user)
              AND (v_archived IS NULL OR x.archived = v_archived)
            FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            DELETE FROM @extschema@.chat_threads AS x WHERE x.id = c_id RETURNING x.* INTO t;
            IF NOT v_tomb_trigger THEN
                INSERT INTO @extschema@.chat_thread_tombstones AS y (id, user_id, deleted_at)
                VALUES (t.id, t.user_id, v_now)
                ON CONFLICT ON CONSTRAINT chat_thread_tombstones_pkey
                DO UPDATE SET user_id = excluded.user_id, deleted_at = excluded.deleted_at;
            END IF;
            done := done + 1;
            RETURN NEXT t;
        END LOOP;
        CLOSE cands;
        EXIT WHEN fetched < batch;
    END LOOP;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_idle_threads(interval, text, boolean, integer) IS
    'delete threads (with their messages) not updated for longer than an interval; returns the deleted threads';

CREATE OR REPLACE FUNCTION @extschema@._chat_retention_trim_thread(
    thread_id    text,
    max_messages integer,
    cutoff       timestamptz,
    keep_system  boolean)
RETURNS @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tid     text := _chat_retention_trim_thread.thread_id;
    sys_end bigint;     -- first seq after the leading system messages
    cut     bigint;     -- first seq kept after them; NULL: nothing to delete
    locked  boolean := false;
BEGIN
    -- (each statement reads one thread by its id: one shard when distributed)
    LOOP
        IF keep_system THEN
            sys_end := @extschema@._chat_retention_first_non_system(tid);
        ELSE
            sys_end := 0;
        END IF;
        IF max_messages IS NULL THEN
            -- the first message at or after cutoff
            SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = tid AND m.seq >= sys_end AND m.created_at >= cutoff
            ORDER BY m.seq LIMIT 1;
            cut := coalesce(cut, 9223372036854775807);
        ELSIF max_messages = 0 THEN
            cut := 9223372036854775807;
        ELSE
            -- the max_messages-th newest message after the system prefix
            SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
            WHERE m.thread_id = tid AND m.seq >= sys_end
            ORDER BY m.seq DESC
            OFFSET max_messages - 1 LIMIT 1;
            IF cut IS NULL THEN
                RETURN NULL;    -- no more than max_messages
            END IF;
        END IF;
        -- never keep tool answers whose assistant message is deleted
        SELECT m.seq INTO cut FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = tid AND m.seq >= cut AND m.role <> 'tool'
        ORDER BY m.seq LIMIT 1;
        cut := coalesce(cut, 9223372036854775807);
        PERFORM 1 FROM @extschema@.chat_messages AS m
        WHERE m.thread_id = tid AND m.seq >= sys_end AND m.seq < cut
        LIMIT 1;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        EXIT WHEN locked;
        PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        IF NOT FOUND THEN
            RETURN NULL;    -- deleted meanwhile
        END IF;
        locked := true;
    END LOOP;
    RETURN @extschema@._chat_retention_delete_range(tid, sys_end, cut);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_trim_thread(text, integer, timestamptz, boolean) IS
    'chatstore internal: find, under the thread lock, the run of messages a retention trim deletes from one thread and delete it';

CREATE OR REPLACE FUNCTION @extschema@._chat_retention_trim_threads(
    max_messages integer,
    cutoff       timestamptz,
    thread_id    text,
    user_id      text,
    keep_system  boolean,
    max_threads  integer)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_thread text := _chat_retention_trim_threads.thread_id;
    v_user   text := @extschema@._chat_user_arg(_chat_retention_trim_threads.user_id);
    cands    refcursor;
    tid      text;
    done     integer := 0;
    r        @extschema@.chat_trim_result;
BEGIN
    IF max_threads IS NOT NULL AND max_threads < 0 THEN
        RAISE EXCEPTION 'max_threads must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF max_messages IS NOT NULL THEN
        IF v_thread IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.id = v_thread AND c.message_count > max_messages
                  AND (v_user IS NULL OR c.user_id = v_user);
        ELSIF v_user IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.user_id = v_user AND c.message_count > max_messages
                ORDER BY c.id;
        ELSE
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.message_count > max_messages
                ORDER BY c.id;
        END IF;
    ELSE
        IF v_thread IS NOT NULL THEN
            OPEN cands FOR
                SELECT c.id FROM @extschema@.chat_threads AS c
                WHERE c.id = v_thread AND (v_user IS NULL OR c.user_id = v_user)
                  AND EXISTS (SELECT FROM @extschema@.chat_messages AS m
                              WHERE m.thread_id = v_thread AND m.created_at < cutoff);
        ELSIF v_user IS NOT NULL THEN
            OPEN cands FOR
                SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
                JOIN @extschema@.chat_threads AS c ON c.id = m.thread_id
                WHERE c.user_id = v_user AND m.created_at < cutoff
                ORDER BY 1;
        ELSE
            -- (every message has its thread: foreign key)
            OPEN cands FOR
                SELECT DISTINCT m.thread_id FROM @extschema@.chat_messages AS m
                WHERE m.created_at < cutoff
                ORDER BY 1;
        END IF;
    END IF;
    LOOP
        EXIT WHEN done >= max_threads;
        FETCH cands INTO tid;
        EXIT WHEN NOT FOUND;
        r := @extschema@._chat_retention_trim_thread(tid, max_messages, cutoff, keep_system);
        IF r.deleted_count > 0 THEN
            done := done + 1;
            RETURN NEXT r;
        END IF;
    END LOOP;
    CLOSE cands;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_retention_trim_threads(integer, timestamptz, text, text, boolean, integer) IS
    'chatstore internal: trim the candidate threads of chat_retention_keep_last or chat_retention_delete_old_messages';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_keep_last(
    max_messages integer,
    thread_id    text    DEFAULT NULL,
    user_id      text    DEFAULT NULL,
    keep_system  boolean DEFAULT true,
    max_threads  integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF max_messages IS NULL OR max_messages < 0 THEN
        RAISE EXCEPTION 'max_messages must be zero or more'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(max_messages::text, 'null'));
    END IF;
    RETURN QUERY SELECT * FROM @extschema@._chat_retention_trim_threads(
        max_messages, NULL, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_keep_last(integer, text, text, boolean, integer) IS
    'keep only the newest N messages of each thread (after its leading system messages); returns what was removed per thread';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_delete_old_messages(
    older_than  interval,
    thread_id   text    DEFAULT NULL,
    user_id     text    DEFAULT NULL,
    keep_system boolean DEFAULT true,
    max_threads integer DEFAULT NULL)
RETURNS SETOF @extschema@.chat_trim_result
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF older_than IS NULL THEN
        RAISE EXCEPTION 'older_than must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', older_than);
    END IF;
    RETURN QUERY SELECT * FROM @extschema@._chat_retention_trim_threads(
        NULL, now() - older_than, thread_id, user_id, keep_system, max_threads);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_delete_old_messages(interval, text, text, boolean, integer) IS
    'delete the messages created longer ago than an interval (the oldest contiguous run of each thread); returns what was removed per thread';

CREATE OR REPLACE FUNCTION @extschema@.chat_archive_thread(
    thread_id text,
    archived  boolean DEFAULT true,
    user_id   text    DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(chat_archive_thread.user_id);
    v_now    timestamptz := now();
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    IF archived IS NULL THEN
        RAISE EXCEPTION 'archived must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- updated_at moves when the flag changes (what the updated_at trigger
    -- does on one node; a distributed table has no trigger)
    UPDATE @extschema@.chat_threads AS t
    SET archived   = chat_archive_thread.archived,
        updated_at = CASE WHEN t.archived IS DISTINCT FROM chat_archive_thread.archived
                          THEN v_now ELSE t.updated_at END
    WHERE t.id = chat_archive_thread.thread_id
      AND (v_user IS NULL OR t.user_id = v_user)
      AND (v_tenant IS NULL OR t.user_id = v_tenant);
    RETURN FOUND;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_archive_thread(text, boolean, text) IS
    'set or clear a thread''s archived flag (archived threads are hidden from lists and search by default); false when not found or not the owner';

CREATE OR REPLACE FUNCTION @extschema@.chat_retention_purge_tombstones(older_than interval DEFAULT NULL)
RETURNS TABLE (message_tombstones bigint, thread_tombstones bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    -- first: a call of the C library defines the chatstore.* settings, and
    -- a new session (a pg_cron job's) may not have loaded it yet (42704)
    loaded integer := @extschema@._chat_history_limit(NULL);
    keep   interval := COALESCE(older_than,
                                pg_catalog.current_setting('chatstore.tombstone_retention')::interval);
    cutoff timestamptz;
    tid    text;
    n      bigint;
BEGIN
    IF keep < interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', keep);
    END IF;
    cutoff := now() - keep;
    message_tombstones := 0;
    FOR tid IN
        SELECT DISTINCT x.thread_id FROM @extschema@.chat_message_tombstones AS x
        WHERE x.deleted_at < cutoff
        ORDER BY 1
    LOOP
        PERFORM 1 FROM @extschema@.chat_threads AS t WHERE t.id = tid FOR UPDATE;
        DELETE FROM @extschema@.chat_message_tombstones AS x
        WHERE x.thread_id = tid AND x.deleted_at < cutoff;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            UPDATE @extschema@.chat_threads AS t
            SET tombstone_count = greatest(t.tombstone_count - n, 0),
                updated_at      = t.updated_at    -- not activity
            WHERE t.id = tid;
            message_tombstones := message_tombstones + n;
        END IF;
    END LOOP;
    DELETE FROM @extschema@.chat_thread_tombstones AS x
    WHERE x.deleted_at < cutoff;
    GET DIAGNOSTICS thread_tombstones = ROW_COUNT;
    -- the text of streams whose message was deleted (or that a restart of a
    -- crashed server left without an in_progress message)
    DELETE FROM @extschema@.chat_stream_deltas AS x
    WHERE NOT EXISTS (SELECT FROM @extschema@.chat_messages AS m
                      WHERE m.thread_id = x.thread_id AND m.seq = x.seq
                        AND m.status = 'in_progress');
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_retention_purge_tombstones(interval) IS
    'purge the tombstones of deleted messages and threads older than older_than (default chatstore.tombstone_retention); returns the counts';

CREATE OR REPLACE FUNCTION @extschema@.chat_kv_purge_expired(
    all_tenants boolean DEFAULT false,
    max_keys    integer DEFAULT NULL)
RETURNS TABLE (tenant text, key text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_column
DECLARE
    v_all    boolean := coalesce(chat_kv_purge_expired.all_tenants, false);
    v_tenant text := coalesce(current_setting('chatstore.tenant', true), '');
    v_now    timestamptz := now();
    batch    integer;
    fetched  integer;
    done     bigint := 0;
    -- (keyset: expires_at, tenant, key; it starts below every row:
    -- expires_at >= -infinity, and '' is the least text)
    last_exp timestamptz := '-infinity';
    last_ten text := '';
    last_key text := '';
    cands    refcursor;
    c_ten    text;
    c_key    text;
    c_exp    timestamptz;
    d_tenant text[] := '{}';
    d_key    text[] := '{}';
    d_exp    timestamptz[] := '{}';
BEGIN
    IF max_keys < 0 THEN
        RAISE EXCEPTION 'max_keys must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    LOOP
        batch := least(coalesce(max_keys - done, 1000), 1000);
        EXIT WHEN batch <= 0;
        IF v_all THEN
            OPEN cands FOR
                SELECT kv.tenant, kv.key, kv.expires_at FROM @extschema@.chat_kv AS kv
                WHERE kv.expires_at <= v_now
                  AND (kv.expires_at, kv.tenant, kv.key) > (last_exp, last_ten, last_key)
                ORDER BY kv.expires_at, kv.tenant, kv.key
                LIMIT batch;
        ELSE
            OPEN cands FOR
                SELECT kv.tenant, kv.key, kv.expires_at FROM @extschema@.chat_kv AS kv
                WHERE kv.tenant = v_tenant AND kv.expires_at <= v_now
                  AND (kv.expires_at, kv.tenant, kv.key) > (last_exp, last_ten, last_key)
                ORDER BY kv.expires_at, kv.tenant, kv.key
                LIMIT batch;
        END IF;
        fetched := 0;
        LOOP
            FETCH cands INTO c_ten, c_key, c_exp;
            EXIT WHEN NOT FOUND;
            fetched := fetched + 1;
            last_exp := c_exp; last_ten := c_ten; last_key := c_key;
            -- lock it unless another transaction holds it, if still expired
            PERFORM 1 FROM @extschema@.chat_kv AS kv
            WHERE kv.key = c_key AND kv.tenant = c_ten AND kv.expires_at <= v_now
            FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            DELETE FROM @extschema@.chat_kv AS kv
            WHERE kv.key = c_key AND kv.tenant = c_ten
            RETURNING kv.expires_at INTO c_exp;
            d_tenant := d_tenant || c_ten;
            d_key := d_key || c_key;
            d_exp := d_exp || c_exp;
            done := done + 1;
        END LOOP;
        CLOSE cands;
        EXIT WHEN fetched < batch;
    END LOOP;
    RETURN QUERY
    SELECT d.tenant, d.key, d.expires_at
    FROM unnest(d_tenant, d_key, d_exp) AS d(tenant, key, expires_at)
    ORDER BY d.tenant, d.key COLLATE "C";   -- the collation of chat_kv.key
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_kv_purge_expired(boolean, integer) IS
    'delete expired key-values of the current tenant (or of all tenants); returns the deleted keys';

CREATE OR REPLACE FUNCTION @extschema@.chat_usage_daily(
    user_id   text        DEFAULT NULL,
    since     timestamptz DEFAULT NULL,
    until     timestamptz DEFAULT NULL,
    time_zone text        DEFAULT 'UTC')
RETURNS SETOF @extschema@.chat_usage_row
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_usage_daily.user_id);
    -- [since, until) as bounds an index can use: lo <= created_at <= hi,
    -- and < until when until is given (hi alone would keep created_at =
    -- until)
    v_lo    timestamptz := coalesce(since, '-infinity');
    v_hi    timestamptz := coalesce(until, 'infinity');
    v_until timestamptz := until;
BEGIN
    IF time_zone IS NULL THEN
        RAISE EXCEPTION 'time_zone must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF since IS NOT NULL AND until IS NOT NULL AND until < since THEN
        RAISE EXCEPTION 'until must not be earlier than since'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- feedback counts under the rated message's day, owner and model
    IF v_user IS NOT NULL THEN
        RETURN QUERY
        WITH u AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) AS messages,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint AS p,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint AS c,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint AS tot
            FROM @extschema@.chat_messages AS m
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE t.user_id = v_user
              AND m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3),
        fb AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) FILTER (WHERE f.rating > 0) AS up,
                   count(*) FILTER (WHERE f.rating < 0) AS down
            FROM @extschema@.chat_feedback AS f
            JOIN @extschema@.chat_messages AS m ON m.thread_id = f.thread_id AND m.id = f.message_id
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE t.user_id = v_user
              AND m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3)
        SELECT u.day, u.user_id, u.model, u.messages, u.p, u.c, u.tot,
               coalesce(fb.up, 0), coalesce(fb.down, 0)
        FROM u
        LEFT JOIN fb ON fb.day = u.day AND fb.user_id IS NOT DISTINCT FROM u.user_id
                    AND fb.model IS NOT DISTINCT FROM u.model
        ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST;
    ELSE
        RETURN QUERY
        WITH u AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) AS messages,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint AS p,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint AS c,
                   coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint AS tot
            FROM @extschema@.chat_messages AS m
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3),
        fb AS (
            SELECT (m.created_at AT TIME ZONE time_zone)::date AS day,
                   t.user_id,
                   m.model,
                   count(*) FILTER (WHERE f.rating > 0) AS up,
                   count(*) FILTER (WHERE f.rating < 0) AS down
            FROM @extschema@.chat_feedback AS f
            JOIN @extschema@.chat_messages AS m ON m.thread_id = f.thread_id AND m.id = f.message_id
            JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
            WHERE m.created_at >= v_lo AND m.created_at <= v_hi
              AND (v_until IS NULL OR m.created_at < v_until)
            GROUP BY 1, 2, 3)
        SELECT u.day, u.user_id, u.model, u.messages, u.p, u.c, u.tot,
               coalesce(fb.up, 0), coalesce(fb.down, 0)
        FROM u
        LEFT JOIN fb ON fb.day = u.day AND fb.user_id IS NOT DISTINCT FROM u.user_id
                    AND fb.model IS NOT DISTINCT FROM u.model
        ORDER BY 1, 2 NULLS FIRST, 3 NULLS FIRST;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_usage_daily(text, timestamptz, timestamptz, text) IS
    'messages, token sums and feedback counts per day, thread owner and model over a time range';

CREATE OR REPLACE FUNCTION @extschema@.chat_usage_totals(
    user_id text        DEFAULT NULL,
    since   timestamptz DEFAULT NULL,
    until   timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.chat_usage_total
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_usage_totals.user_id);
    -- [since, until) as index bounds (see chat_usage_daily)
    v_lo    timestamptz := coalesce(since, '-infinity');
    v_hi    timestamptz := coalesce(until, 'infinity');
    v_until timestamptz := until;
BEGIN
    IF since IS NOT NULL AND until IS NOT NULL AND until < since THEN
        RAISE EXCEPTION 'until must not be earlier than since'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF since IS NULL AND until IS NULL THEN
        IF v_user IS NOT NULL THEN
            RETURN QUERY
            SELECT t.user_id, count(*), sum(t.message_count)::bigint,
                   sum(t.prompt_tokens)::bigint, sum(t.completion_tokens)::bigint,
                   sum(t.total_tokens)::bigint
            FROM @extschema@.chat_threads AS t
            WHERE t.user_id = v_user
            GROUP BY t.user_id;
        ELSE
            RETURN QUERY
            SELECT t.user_id, count(*), sum(t.message_count)::bigint,
                   sum(t.prompt_tokens)::bigint, sum(t.completion_tokens)::bigint,
                   sum(t.total_tokens)::bigint
            FROM @extschema@.chat_threads AS t
            GROUP BY t.user_id
            ORDER BY t.user_id NULLS FIRST;
        END IF;
    ELSIF v_user IS NOT NULL THEN
        RETURN QUERY
        SELECT t.user_id, count(DISTINCT t.id), count(*),
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint
        FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
        WHERE t.user_id = v_user
          AND m.created_at >= v_lo AND m.created_at <= v_hi
          AND (v_until IS NULL OR m.created_at < v_until)
        GROUP BY t.user_id;
    ELSE
        RETURN QUERY
        SELECT t.user_id, count(DISTINCT t.id), count(*),
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'prompt')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'completion')), 0)::bigint,
               coalesce(sum(@extschema@.chat_usage_tokens(m.usage, 'total')), 0)::bigint
        FROM @extschema@.chat_messages AS m
        JOIN @extschema@.chat_threads AS t ON t.id = m.thread_id
        WHERE m.created_at >= v_lo AND m.created_at <= v_hi
          AND (v_until IS NULL OR m.created_at < v_until)
        GROUP BY t.user_id
        ORDER BY t.user_id NULLS FIRST;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_usage_totals(text, timestamptz, timestamptz) IS
    'threads, messages and token sums per thread owner, all time (from thread aggregates) or over a time range';

CREATE OR REPLACE FUNCTION @extschema@.chat_top_threads(
    user_id     text        DEFAULT NULL,
    max_threads integer     DEFAULT 10,
    since       timestamptz DEFAULT NULL)
RETURNS SETOF @extschema@.chat_threads
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user  text := @extschema@._chat_user_arg(chat_top_threads.user_id);
    v_since timestamptz := coalesce(chat_top_threads.since, '-infinity');
    v_limit integer := greatest(coalesce(chat_top_threads.max_threads, 10), 0);
BEGIN
    IF v_user IS NOT NULL THEN
        RETURN QUERY
        SELECT t.* FROM @extschema@.chat_threads AS t
        WHERE t.user_id = v_user AND t.updated_at >= v_since
        ORDER BY t.total_tokens DESC, t.id
        LIMIT v_limit;
    ELSE
        RETURN QUERY
        SELECT t.* FROM @extschema@.chat_threads AS t
        WHERE t.updated_at >= v_since
        ORDER BY t.total_tokens DESC, t.id
        LIMIT v_limit;
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_top_threads(text, integer, timestamptz) IS
    'threads ordered by total tokens (from the thread aggregates), optionally of one user and active since a time';

CREATE OR REPLACE FUNCTION @extschema@.chat_delete_user_data(user_id text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_user     text := chat_delete_user_data.user_id;
    ids        text[];
    tid        text;
    n          bigint;
    n_threads  bigint := 0;
    n_messages bigint := 0;
    n_prefs    bigint;
BEGIN
    IF v_user IS NULL OR v_user = '' THEN
        RAISE EXCEPTION 'user_id must not be null or empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Threads without an owner are deleted one by one with chat_delete_thread.';
    END IF;
    LOOP
        ids := ARRAY(SELECT t.id FROM @extschema@.chat_threads AS t
                     WHERE t.user_id = v_user ORDER BY t.id);
        EXIT WHEN cardinality(ids) = 0;
        FOREACH tid IN ARRAY ids LOOP
            PERFORM 1 FROM @extschema@.chat_threads AS t
            WHERE t.id = tid AND t.user_id = v_user
            FOR UPDATE;
            CONTINUE WHEN NOT FOUND;    -- deleted meanwhile
            DELETE FROM @extschema@.chat_messages AS m WHERE m.thread_id = tid;
            GET DIAGNOSTICS n = ROW_COUNT;
            n_messages := n_messages + n;
            -- (no tombstone is written here where no trigger writes one: the
            -- user's tombstones are all deleted below)
            DELETE FROM @extschema@.chat_threads AS t WHERE t.id = tid;
            GET DIAGNOSTICS n = ROW_COUNT;
            n_threads := n_threads + n;
        END LOOP;
    END LOOP;
    -- no trace of the user is kept: not even the ids of their deleted threads
    DELETE FROM @extschema@.chat_thread_tombstones AS x
    WHERE x.user_id = v_user;
    DELETE FROM @extschema@.chat_user_preferences AS p
    WHERE p.user_id = v_user;
    GET DIAGNOSTICS n_prefs = ROW_COUNT;
    RETURN jsonb_build_object('threads', n_threads, 'messages', n_messages,
                              'preferences', n_prefs);
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_delete_user_data(text) IS
    'delete every thread (with its messages) and the preferences of a user; returns the counts as JSON';

CREATE OR REPLACE FUNCTION @extschema@._chat_checkpoint_thread(thread_id text, user_id text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_tenant text := @extschema@._chat_write_tenant();
    v_user   text := @extschema@._chat_user_arg(_chat_checkpoint_thread.user_id);
    owner    text;
BEGIN
    PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
    WHERE t.id OPERATOR(pg_catalog.=) _chat_checkpoint_thread.thread_id;
    IF NOT FOUND THEN
        BEGIN
            PERFORM @extschema@.chat_create_thread(id => _chat_checkpoint_thread.thread_id,
                                                   user_id => _chat_checkpoint_thread.user_id);
            RETURN;
        EXCEPTION WHEN unique_violation THEN
            -- made meanwhile by another session: checked like an existing one
            SELECT t.user_id INTO owner FROM @extschema@.chat_threads AS t
            WHERE t.id OPERATOR(pg_catalog.=) _chat_checkpoint_thread.thread_id;
        END;
    END IF;
    IF (v_user IS NOT NULL AND owner IS DISTINCT FROM v_user)
       OR (v_tenant IS NOT NULL AND owner IS DISTINCT FROM v_tenant) THEN
        RAISE EXCEPTION 'thread "%" does not exist', thread_id
            USING ERRCODE = 'no_data_found';
    END IF;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_checkpoint_thread(text, text) IS
    'chatstore internal: make or check (owner, tenant) the thread a checkpoint call writes to';

CREATE OR REPLACE FUNCTION @extschema@.chat_checkpoint_put(
    thread_id     text,
    checkpoint_id text  DEFAULT NULL,
    record        bytea DEFAULT NULL,
    ns            text  DEFAULT '',
    blobs         bytea DEFAULT NULL,
    refs          jsonb DEFAULT NULL,
    messages      jsonb DEFAULT NULL,
    message_ids   text[] DEFAULT NULL,
    writes        jsonb DEFAULT NULL,
    patches       jsonb DEFAULT NULL,
    user_id       text  DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_saved  text[];
    v_done   text[] := '{}';
    w        jsonb;
    v_had    jsonb := '{}';
    v_thread text;
    v_t      @extschema@.chat_threads;
    v_old    jsonb;
    v_anchor text;
    v_seq    bigint;
    v_tenant text;
    v_confined boolean;
    v_owner_of text;    -- the thread v_owner is the user_id of (NULL: none read)
    v_owner  text;
BEGIN
    -- on Citus: run on the worker that holds the thread (_chat_delegating,
    -- part 05) when the call writes to that thread only (pending writes may
    -- name others: then routed statement by statement); the saves' NOTIFY
    -- comes back for this node to send
    IF @extschema@._chat_delegating() AND chat_checkpoint_put.thread_id IS NOT NULL
       AND NOT EXISTS (SELECT FROM jsonb_array_elements(CASE jsonb_typeof(writes) WHEN 'array' THEN writes ELSE '[]' END
                                                        || CASE jsonb_typeof(patches) WHEN 'array' THEN patches ELSE '[]' END) AS e
                       WHERE e.value ->> 'thread_id' IS DISTINCT FROM chat_checkpoint_put.thread_id) THEN
        DECLARE
            v_ctx jsonb := @extschema@._chat_delegate_ctx();
            r record;
        BEGIN
            SELECT * INTO r
            FROM @extschema@._chat_checkpoint_put_at(thread_id, checkpoint_id, record, ns, blobs, refs, messages,
                                                     message_ids, writes, patches, user_id, v_ctx);
            PERFORM @extschema@._chat_notify_relayed(r.notifies);
            RETURN r.result;
        END;
    END IF;
    IF checkpoint_id IS NOT NULL OR messages IS NOT NULL THEN
        PERFORM @extschema@._chat_required(thread_id, 'thread_id');
    END IF;
    IF (checkpoint_id IS NULL) <> (record IS NULL) THEN
        RAISE EXCEPTION 'checkpoint_id and record go together'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF checkpoint_id = '' THEN
        RAISE EXCEPTION 'checkpoint_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF refs IS NOT NULL AND jsonb_typeof(refs) <> 'object' THEN
        RAISE EXCEPTION 'refs must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (writes IS NOT NULL AND jsonb_typeof(writes) <> 'array')
       OR (patches IS NOT NULL AND jsonb_typeof(patches) <> 'array') THEN
        RAISE EXCEPTION '% must be a JSON array', CASE WHEN jsonb_typeof(writes) <> 'array' THEN 'writes' ELSE 'patches' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF messages IS NOT NULL THEN
        -- a batch that starts at a stored message of a one-line thread that is not its last: the
        -- new messages go below it, as a branch (the thread becomes a tree, as chat_edit_message
        -- makes it); a batch that starts elsewhere in a tree thread does so already
        IF jsonb_typeof(messages) = 'array' AND jsonb_typeof(messages -> 0 -> 'id') = 'string' THEN
            v_anchor := messages -> 0 ->> 'id';
            SELECT t.* INTO v_t FROM @extschema@.chat_threads AS t WHERE t.id = chat_checkpoint_put.thread_id;
            IF FOUND AND v_t.active_path IS NULL THEN
                SELECT m.seq INTO v_seq FROM @extschema@.chat_messages AS m
                WHERE m.thread_id = chat_checkpoint_put.thread_id AND m.id = v_anchor;
                IF v_seq < v_t.last_seq THEN
                    v_t := @extschema@._chat_branch_thread(thread_id, user_id);
                    PERFORM @extschema@._chat_branch_start(v_t);
                END IF;
            END IF;
        END IF;
        SELECT s.saved_ids INTO v_saved
        FROM @extschema@.chat_save_messages(thread_id => chat_checkpoint_put.thread_id,
                                            messages => chat_checkpoint_put.messages,
                                            user_id => chat_checkpoint_put.user_id) AS s;
        IF message_ids IS NOT NULL AND coalesce(v_saved, '{}') IS DISTINCT FROM message_ids THEN
            RAISE EXCEPTION 'the messages are not an append to the checkpoint''s messages'
                USING ERRCODE = 'CS003',
                      DETAIL = format('Saved %s, expected %s.', coalesce(v_saved, '{}'), message_ids);
        END IF;
        v_done := ARRAY[thread_id];
    END IF;
    -- the threads written to (chat_save_messages checked its own): made, or checked for the caller;
    -- a thread that exists and that the caller may write to (what _chat_checkpoint_thread checks:
    -- its owner is the user_id given, if any, and the caller's tenant, if confined) is read here
    -- only, the others (made, refused, an error) by _chat_checkpoint_thread
    FOR v_thread IN
        SELECT DISTINCT x.t FROM (
            SELECT chat_checkpoint_put.thread_id AS t WHERE checkpoint_id IS NOT NULL
            UNION ALL SELECT e.value ->> 'thread_id' FROM jsonb_array_elements(coalesce(writes, '[]')) AS e
            UNION ALL SELECT e.value ->> 'thread_id' FROM jsonb_array_elements(coalesce(patches, '[]')) AS e) AS x
        WHERE x.t IS NULL OR NOT x.t = ANY (v_done)
    LOOP
        IF v_confined IS NULL THEN
            v_tenant := @extschema@._chat_tenant();
            v_confined := v_tenant IS NOT NULL;
        END IF;
        SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
        v_owner_of := CASE WHEN FOUND THEN v_thread END;
        CONTINUE WHEN FOUND
            AND (chat_checkpoint_put.user_id IS NULL
                 OR (chat_checkpoint_put.user_id <> '' AND v_owner = chat_checkpoint_put.user_id))
            AND (NOT v_confined OR (v_tenant <> '' AND v_owner = v_tenant));
        PERFORM @extschema@._chat_checkpoint_thread(v_thread, user_id);
        v_owner_of := NULL;
    END LOOP;
    IF checkpoint_id IS NOT NULL THEN
        -- the rows carry their thread's user_id (tenant isolation keys them on it)
        IF v_owner_of IS DISTINCT FROM chat_checkpoint_put.thread_id THEN
            SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = chat_checkpoint_put.thread_id;
            v_owner_of := chat_checkpoint_put.thread_id;
        END IF;
        INSERT INTO @extschema@.chat_checkpoints AS c (thread_id, id, ns, record, blobs, refs, thread_user_id)
        VALUES (chat_checkpoint_put.thread_id, chat_checkpoint_put.checkpoint_id,
                coalesce(chat_checkpoint_put.ns, ''), chat_checkpoint_put.record, chat_checkpoint_put.blobs,
                chat_checkpoint_put.refs, v_owner)
        ON CONFLICT ON CONSTRAINT chat_checkpoints_pkey DO UPDATE
        SET ns = excluded.ns, record = excluded.record, blobs = excluded.blobs, refs = excluded.refs;
    END IF;
    FOR w IN SELECT e.value FROM jsonb_array_elements(coalesce(writes, '[]')) AS e LOOP
        v_thread := w ->> 'thread_id';
        IF w ->> 'checkpoint_id' IS NULL OR w ->> 'checkpoint_id' = '' OR w ->> 'task' IS NULL THEN
            RAISE EXCEPTION 'a pending write needs checkpoint_id and task'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- messages the write holds, saved first (save: as chat_save_messages takes them, the first
        -- one the stored message they follow; ids: what the save must return, else CS003)
        IF w ? 'save' THEN
            IF jsonb_typeof(w -> 'save') = 'array' AND jsonb_typeof(w -> 'save' -> 0 -> 'id') = 'string' THEN
                v_anchor := w -> 'save' -> 0 ->> 'id';
                SELECT t.* INTO v_t FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
                IF FOUND AND v_t.active_path IS NULL THEN
                    SELECT m.seq INTO v_seq FROM @extschema@.chat_messages AS m
                    WHERE m.thread_id = v_thread AND m.id = v_anchor;
                    IF v_seq < v_t.last_seq THEN
                        v_t := @extschema@._chat_branch_thread(v_thread, user_id);
                        PERFORM @extschema@._chat_branch_start(v_t);
                    END IF;
                END IF;
            END IF;
            SELECT s.saved_ids INTO v_saved
            FROM @extschema@.chat_save_messages(thread_id => v_thread, messages => w -> 'save',
                                                user_id => chat_checkpoint_put.user_id) AS s;
            IF coalesce(v_saved, '{}') IS DISTINCT FROM
               ARRAY(SELECT jsonb_array_elements_text(coalesce(w -> 'ids', '[]'))) THEN
                RAISE EXCEPTION 'the messages are not an append to the checkpoint''s messages'
                    USING ERRCODE = 'CS003',
                          DETAIL = format('Saved %s, expected %s.', coalesce(v_saved, '{}'), w -> 'ids');
            END IF;
        END IF;
        -- the task's writes before (their idx are returned), then the merge
        SELECT x.writes INTO v_old FROM @extschema@.chat_checkpoint_writes AS x
        WHERE x.thread_id = v_thread AND x.checkpoint_id = w ->> 'checkpoint_id' AND x.task = w ->> 'task'
        FOR UPDATE;
        v_had := v_had || jsonb_build_object(w ->> 'k',
                     coalesce((SELECT jsonb_agg(z) FROM jsonb_object_keys(v_old) AS z), '[]'));
        IF v_owner_of IS DISTINCT FROM v_thread THEN
            SELECT t.user_id INTO v_owner FROM @extschema@.chat_threads AS t WHERE t.id = v_thread;
            v_owner_of := v_thread;
        END IF;
        INSERT INTO @extschema@.chat_checkpoint_writes AS x (thread_id, checkpoint_id, task, path, writes,
                                                             thread_user_id)
        VALUES (v_thread, w ->> 'checkpoint_id', w ->> 'task', coalesce(w ->> 'path', ''),
                coalesce(w -> 'reg', '{}') || coalesce(v_old, '{}') || coalesce(w -> 'spec', '{}'), v_owner)
        ON CONFLICT ON CONSTRAINT chat_checkpoint_writes_pkey DO UPDATE
        SET path = excluded.path,
            writes = coalesce(w -> 'reg', '{}') || x.writes || coalesce(w -> 'spec', '{}');
    END LOOP;
    FOR w IN SELECT e.value FROM jsonb_array_elements(coalesce(patches, '[]')) AS e LOOP
        UPDATE @extschema@.chat_checkpoint_writes AS x
        SET writes = x.writes || (SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
                                  FROM jsonb_each(w -> 'w') AS e WHERE x.writes ? e.key)
        WHERE x.thread_id = w ->> 'thread_id' AND x.checkpoint_id = w ->> 'checkpoint_id'
          AND x.task = w ->> 'task' AND jsonb_typeof(w -> 'w') = 'object';
    END LOOP;
    RETURN v_had;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_checkpoint_put(text, text, bytea, text, bytea, jsonb, jsonb, text[], jsonb, jsonb, text) IS
    'store a checkpoint (its record and blobs), its new messages (chat_save_messages; CS003 when they are not the expected append) and pending writes, in one call';

CREATE OR REPLACE FUNCTION @extschema@._chat_checkpoint_put_at(
    thread_id text, checkpoint_id text, record bytea, ns text, blobs bytea, refs jsonb, messages jsonb,
    message_ids text[], writes jsonb, patches jsonb, user_id text, ctx jsonb,
    OUT result jsonb, OUT notifies jsonb)
RETURNS record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_delegated_begin(ctx);
    result := @extschema@.chat_checkpoint_put(thread_id, checkpoint_id, record, ns, blobs, refs, messages,
                                              message_ids, writes, patches, user_id);
    notifies := @extschema@._chat_delegated_end();
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_checkpoint_put_at(text, text, bytea, text, bytea, jsonb, jsonb, text[], jsonb, jsonb, text, jsonb) IS
    'chatstore internal: chat_checkpoint_put of one thread run on the worker that holds it (Citus), with the calling session''s values; returns its notifications';

CREATE OR REPLACE FUNCTION @extschema@._chat_data_relations()
RETURNS TABLE (rel regclass, relname name, relkind "char")
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass, c.relname, c.relkind
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
    JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) d.objid
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
      AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S']::"char"[])
      AND c.relname OPERATOR(pg_catalog.<>) ALL (
            ARRAY['chat_tenant_isolation_config', 'chat_search_index_config',
                  'chat_stream_deltas']::pg_catalog.name[])
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@._chat_data_relations() IS
    'chatstore internal: every table and sequence of the extension but its configuration tables';

CREATE OR REPLACE FUNCTION @extschema@._chat_tenant_isolation_apply(force boolean)
RETURNS TABLE (table_name regclass, keyed_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant    text := 'COALESCE(pg_catalog.current_setting(''chatstore.tenant'', true), '''')';
    cond      text;
    r         record;
    col       text;
BEGIN
    IF @extschema@._chat_is_distributed() THEN
        -- read on the node that holds the rows; unset there: 42501
        tenant := '@extschema@._chat_policy_tenant()';
        cond := 'true';
    ELSE
        -- the setting must be non-empty; the comparisons below are never true for NULL
        cond := tenant || ' OPERATOR(pg_catalog.<>) ''''';
    END IF;

    FOR r IN
        SELECT c.oid::regclass AS rel, c.relname,
               (SELECT a.attname FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                  AND a.attname OPERATOR(pg_catalog.=) ANY (ARRAY['tenant', 'thread_user_id', 'user_id']::pg_catalog.name[])
                  AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                ORDER BY pg_catalog.array_position(ARRAY['tenant', 'thread_user_id', 'user_id']::pg_catalog.name[], a.attname)
                LIMIT 1) AS key
        FROM @extschema@._chat_data_relations() AS t
        JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY c.relname
    LOOP
        IF r.key IS NULL THEN
            RAISE EXCEPTION 'table % has no tenant key', r.rel
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Tenant isolation keys every chatstore table on a column "tenant", "thread_user_id" (its thread''s user_id) or "user_id".',
                      HINT = 'Give the table one of those columns, or teach chat_enable_tenant_isolation how to key it.';
        END IF;
        keyed_on := r.key;
        col := pg_catalog.quote_ident(r.key);
        -- replace an earlier policy of ours (idempotent re-enable; in this
        -- transaction, so no session sees the table without one).  IF
        -- EXISTS: a table Citus distributed after the policy was made has
        -- it on the coordinator only
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS chatstore_tenant_isolation ON %s', r.rel);
        END IF;
        EXECUTE pg_catalog.format(
            'CREATE POLICY chatstore_tenant_isolation ON %1$s AS PERMISSIVE FOR ALL TO PUBLIC '
            'USING (%2$s OPERATOR(pg_catalog.=) %3$s AND %4$s) '
            'WITH CHECK (%2$s OPERATOR(pg_catalog.=) %3$s AND %4$s)',
            r.rel, col, tenant, cond);
        EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', r.rel);
        IF force THEN
            EXECUTE pg_catalog.format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', r.rel);
        ELSE
            EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', r.rel);
        END IF;
        table_name := r.rel;
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_tenant_isolation_apply(boolean) IS
    'chatstore internal: put the tenant policy and row-level security on every chatstore table (use chat_enable_tenant_isolation)';

CREATE OR REPLACE FUNCTION @extschema@.chat_enable_tenant_isolation(force boolean DEFAULT false)
RETURNS TABLE (table_name regclass, keyed_on text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- the tables first (only their owner can), then the switch, which pg_dump keeps
    RETURN QUERY SELECT a.table_name, a.keyed_on
                 FROM @extschema@._chat_tenant_isolation_apply(COALESCE(force, false)) AS a;
    INSERT INTO @extschema@.chat_tenant_isolation_config AS c (singleton, force, enabled_at)
    VALUES (true, COALESCE(chat_enable_tenant_isolation.force, false), pg_catalog.now())
    ON CONFLICT (singleton) DO UPDATE SET force = excluded.force, enabled_at = excluded.enabled_at;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_enable_tenant_isolation(boolean) IS
    'switch on row-level security on every chatstore table, keyed on the session setting chatstore.tenant (empty sees nothing); force also confines the table owner';

CREATE OR REPLACE FUNCTION @extschema@._chat_tenant_isolation_config_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM @extschema@._chat_tenant_isolation_apply(
        NEW.force AND COALESCE(pg_catalog.current_setting('row_security', true), 'on') OPERATOR(pg_catalog.<>) 'off');
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_tenant_isolation_config_trigger() IS
    'chatstore internal: re-applies tenant isolation when its switch row is inserted (by chat_enable_tenant_isolation or pg_restore)';

CREATE OR REPLACE FUNCTION @extschema@.chat_disable_tenant_isolation()
RETURNS TABLE (table_name regclass)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    DELETE FROM @extschema@.chat_tenant_isolation_config;
    FOR r IN
        SELECT t.rel FROM @extschema@._chat_data_relations() AS t
        WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
        ORDER BY t.relname
    LOOP
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) r.rel
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation') THEN
            EXECUTE pg_catalog.format('DROP POLICY IF EXISTS chatstore_tenant_isolation ON %s', r.rel);
        END IF;
        EXECUTE pg_catalog.format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', r.rel);
        EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', r.rel);
        table_name := r.rel;
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_disable_tenant_isolation() IS
    'switch off the row-level security that chat_enable_tenant_isolation switched on (drops its policies)';

CREATE OR REPLACE FUNCTION @extschema@.chat_tenant_isolation_status()
RETURNS TABLE (table_name regclass, rls_enabled boolean, rls_forced boolean, has_policy boolean)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_catalog.pg_policy AS p
                   WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                     AND p.polname OPERATOR(pg_catalog.=) 'chatstore_tenant_isolation')
    FROM @extschema@._chat_data_relations() AS t
    JOIN pg_catalog.pg_class AS c ON c.oid OPERATOR(pg_catalog.=) t.rel
    WHERE t.relkind OPERATOR(pg_catalog.<>) 'S'
    ORDER BY c.relname;
END;

COMMENT ON FUNCTION @extschema@.chat_tenant_isolation_status() IS
    'every chatstore table holding tenant data, with whether row-level security is enabled and forced and whether the tenant policy is on it';

CREATE OR REPLACE FUNCTION @extschema@._chat_thread_owner_trigger()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT t.rel FROM @extschema@._chat_data_relations() AS t
        WHERE t.relkind OPERATOR(pg_catalog.=) 'r'
          AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attname OPERATOR(pg_catalog.=) 'thread_user_id'
                        AND NOT a.attisdropped)
          AND EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
                      WHERE a.attrelid OPERATOR(pg_catalog.=) t.rel AND a.attname OPERATOR(pg_catalog.=) 'thread_id'
                        AND NOT a.attisdropped)
        ORDER BY t.relname
    LOOP
        EXECUTE pg_catalog.format(
            'UPDATE %s AS x SET thread_user_id = $1 WHERE x.thread_id OPERATOR(pg_catalog.=) $2', r.rel)
            USING NEW.user_id, NEW.id;
    END LOOP;
    RETURN NULL;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_thread_owner_trigger() IS
    'chatstore internal: a thread''s new user_id copied into the thread_user_id of its rows';

CREATE OR REPLACE FUNCTION @extschema@.chat_grant_app_role(role_name regrole)
RETURNS TABLE (object_name text, privileges text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r record;
BEGIN
    IF role_name IS NULL THEN
        RAISE EXCEPTION 'role_name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR r IN
        SELECT e.extnamespace::regnamespace AS nsp
        FROM pg_catalog.pg_extension AS e WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore'
    LOOP
        EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %s', r.nsp, role_name);
        object_name := r.nsp::text;
        privileges := 'USAGE';
        RETURN NEXT;
    END LOOP;
    FOR r IN
        SELECT t.rel, t.relkind FROM @extschema@._chat_data_relations() AS t
        ORDER BY t.relkind, t.relname
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON %s %s TO %s',
                                  CASE WHEN r.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                  r.rel, role_name);
        object_name := r.rel::text;
        privileges := 'SELECT';
        RETURN NEXT;
    END LOOP;
    FOR r IN
        SELECT f.fn FROM @extschema@._chat_app_functions() AS f ORDER BY f.fn::text
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', r.fn, role_name);
        object_name := r.fn::text;
        privileges := 'EXECUTE';
        RETURN NEXT;
    END LOOP;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_grant_app_role(regrole) IS
    'grant a role what an application needs: USAGE on the schema, SELECT on the tables, EXECUTE on the application functions (run as the owner)';

CREATE OR REPLACE FUNCTION @extschema@._chat_app_functions()
RETURNS TABLE (fn regprocedure)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.oid::pg_catalog.regprocedure
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
    JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
      AND p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.trigger'::pg_catalog.regtype
      AND (p.proname OPERATOR(pg_catalog.!~~) '\_%'
           OR p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['_chat_history_budget', '_chat_history_limit',
                                                         '_chat_required', '_chat_user_arg', '_chat_list_threads_routed',
                                                         '_chat_history_routed', '_chat_get_thread_routed',
                                                         '_chat_get_preferences_routed', '_chat_agent_state_load_routed',
                                                         '_chat_item', '_chat_tool_calls_openai', '_chat_as_chat',
                                                         '_chat_as_items', '_chat_call_ids', '_chat_context_format',
                                                         '_chat_api_item']::pg_catalog.name[]))
      AND p.proname OPERATOR(pg_catalog.<>) ALL (ARRAY[
            'chat_grant_app_role', 'chat_enable_tenant_isolation', 'chat_disable_tenant_isolation',
            'chat_retention_keep_last', 'chat_retention_delete_old_messages',
            'chat_retention_delete_idle_threads', 'chat_retention_purge_tombstones', 'chat_kv_purge_expired',
            'chat_import_langmiddle', 'chat_import_inference_gateway', 'chat_import_flux_rag',
            'chat_create_search_index', 'chat_drop_search_index', 'chat_search_index_ddl',
            'chat_delete_user_data', 'chat_distribute']::pg_catalog.name[]);
END;

COMMENT ON FUNCTION @extschema@._chat_app_functions() IS
    'chatstore internal: the functions chat_grant_app_role grants EXECUTE on';

CREATE OR REPLACE FUNCTION @extschema@._chat_distribution()
RETURNS TABLE (relname name, dist_column name, colocate_with name)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT * FROM (VALUES
        -- a thread and all that belongs to it, on one node
        ('chat_threads'::pg_catalog.name, 'id'::pg_catalog.name, NULL::pg_catalog.name),
        ('chat_messages', 'thread_id', 'chat_threads'),
        ('chat_message_tombstones', 'thread_id', 'chat_threads'),
        ('chat_thread_tombstones', 'id', 'chat_threads'),
        ('chat_stream_deltas', 'thread_id', 'chat_threads'),
        ('chat_summaries', 'thread_id', 'chat_threads'),
        ('chat_feedback', 'thread_id', 'chat_threads'),
        ('chat_checkpoints', 'thread_id', 'chat_threads'),
        ('chat_checkpoint_writes', 'thread_id', 'chat_threads'),
        -- per user and per session: spread over the same shards
        ('chat_user_preferences', 'user_id', 'chat_threads'),
        ('chat_agent_states', 'session_id', 'chat_threads'),
        -- keys (collation "C"): a group of their own
        ('chat_kv', 'key', NULL),
        ('chat_lists', 'key', 'chat_kv'),
        ('chat_list_items', 'key', 'chat_lists')) AS v(relname, dist_column, colocate_with);
END;

COMMENT ON FUNCTION @extschema@._chat_distribution() IS
    'chatstore internal: the tables chat_distribute distributes, by which column, colocated with which';

CREATE OR REPLACE FUNCTION @extschema@._chat_is_distributed()
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    yes boolean := false;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN false;
    END IF;
    -- (dynamic: the catalog exists only where Citus is installed)
    EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1)'
        INTO yes USING '@extschema@.chat_threads'::pg_catalog.regclass;
    RETURN yes;
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_is_distributed() IS
    'chatstore internal: whether the chat tables are distributed by Citus';

CREATE OR REPLACE FUNCTION @extschema@._chat_at_functions()
RETURNS TABLE (at_function pg_catalog.regprocedure, public_function pg_catalog.regprocedure,
               colocate_with pg_catalog.regclass)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.oid::pg_catalog.regprocedure, q.oid::pg_catalog.regprocedure,
           CASE WHEN p.proargnames[1] OPERATOR(pg_catalog.=) 'key'
                THEN '@extschema@.chat_lists'::pg_catalog.regclass
                ELSE '@extschema@.chat_threads'::pg_catalog.regclass END
    FROM pg_catalog.pg_depend AS d
    JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
    JOIN pg_catalog.pg_proc AS q
      ON q.pronamespace OPERATOR(pg_catalog.=) p.pronamespace
     AND ('_' OPERATOR(pg_catalog.||) q.proname OPERATOR(pg_catalog.||) '_at') OPERATOR(pg_catalog.=) p.proname
    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                             WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore')
      AND d.deptype OPERATOR(pg_catalog.=) 'e'
      AND p.proname OPERATOR(pg_catalog.~) '^_chat_.*_at$'
    ORDER BY 1;
END;

COMMENT ON FUNCTION @extschema@._chat_at_functions() IS
    'chatstore internal: the delegated variants (_chat_<name>_at) of the writing functions of one thread, and those functions';

CREATE OR REPLACE FUNCTION @extschema@._chat_citus_functions()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f       pg_catalog.regprocedure;
    r       record;
    v_ddl   text;
    v_group integer;
BEGIN
    -- on the coordinator of a distributed database, and on every worker
    -- (group > 0; chat_distribute runs this there before its own commit
    -- makes the distribution visible): a statement that calls a reader and
    -- reads a chat table is sent whole to a worker, where an inlined reader
    -- would read the worker's empty shell table (a silently wrong result)
    -- and its PL/pgSQL variant is refused by Citus
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO v_group;
    IF NOT (v_group OPERATOR(pg_catalog.>) 0 OR @extschema@._chat_is_distributed()) THEN
        RETURN;
    END IF;
    -- On this node only (chat_distribute runs this on each node): Citus
    -- would send these commands to the workers too, which it refuses in a
    -- transaction that has just distributed tables in parallel
    v_ddl := pg_catalog.current_setting('citus.enable_ddl_propagation');
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', 'off', true);
    -- the C functions keep generic plans (faster on one node); Citus
    -- routes a statement by the values of its parameters, so it needs a
    -- custom plan, and so does chat_context (generic on one node).  So do
    -- the PL/pgSQL functions: Citus cannot plan a generic plan of a
    -- statement over several shards (a user's threads, search, retention),
    -- which a session's plan_cache_mode = force_generic_plan would ask for
    FOREACH f IN ARRAY ARRAY[
        '@extschema@.chat_save_messages(text, jsonb, text, text[])',
        '@extschema@.chat_append_messages(text, jsonb, text)',
        '@extschema@.chat_add_message(text, text, text, text, jsonb, text, text, text, jsonb, text, jsonb, integer, text, timestamp with time zone)',
        '@extschema@._chat_history_budget(text, integer, bigint, bigint, integer)']::pg_catalog.regprocedure[]
        OPERATOR(pg_catalog.||) ARRAY(
            SELECT p.oid::pg_catalog.regprocedure
            FROM pg_catalog.pg_depend AS d
            JOIN pg_catalog.pg_proc AS p ON p.oid OPERATOR(pg_catalog.=) d.objid
            JOIN pg_catalog.pg_language AS l ON l.oid OPERATOR(pg_catalog.=) p.prolang
            WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
              AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
              AND d.refobjid OPERATOR(pg_catalog.=) (SELECT e.oid FROM pg_catalog.pg_extension AS e
                                                     WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore')
              AND d.deptype OPERATOR(pg_catalog.=) 'e'
              AND l.lanname OPERATOR(pg_catalog.=) 'plpgsql'
              AND p.prorettype OPERATOR(pg_catalog.<>) 'pg_catalog.trigger'::pg_catalog.regtype
            ORDER BY 1)
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET plan_cache_mode = force_custom_plan', f);
    END LOOP;
    -- and the writing functions of one thread (the saves: src/save.c) pass
    -- each call to their _at variant (_chat_delegating, part 05)
    FOR f IN SELECT a.public_function FROM @extschema@._chat_at_functions() AS a
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET chatstore.delegate_saves = on', f);
    END LOOP;
    -- chat_history, chat_get_thread, chat_list_threads, chat_get_preferences
    -- and chat_agent_state_load are inlined SQL functions on one node (the
    -- fastest there); Citus refuses an inlined function's parameterized
    -- statements: on Citus each calls its PL/pgSQL variant _<name>_routed
    -- (the same signature, defaults, owner, privileges and comment: only the
    -- body changes; running this again changes nothing)
    FOR r IN
        SELECT pg_catalog.format('%s.%I', p.pronamespace::pg_catalog.regnamespace, p.proname) AS fname,
               p.pronargs, p.proretset, p.prorows, p.proparallel,
               pg_catalog.pg_get_function_arguments(p.oid) AS args,
               pg_catalog.pg_get_function_result(p.oid) AS result,
               v.oid::pg_catalog.regproc AS routed
        FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_proc AS v
          ON v.pronamespace OPERATOR(pg_catalog.=) p.pronamespace
         AND v.proname OPERATOR(pg_catalog.=) ('_' OPERATOR(pg_catalog.||) p.proname OPERATOR(pg_catalog.||) '_routed')
         AND v.proargtypes OPERATOR(pg_catalog.=) p.proargtypes
        WHERE p.pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
          AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['chat_history', 'chat_get_thread', 'chat_list_threads',
                                                         'chat_get_preferences', 'chat_agent_state_load'])
        ORDER BY 1
    LOOP
        EXECUTE pg_catalog.format(
            'CREATE OR REPLACE FUNCTION %s(%s) RETURNS %s LANGUAGE sql STABLE %s %s AS %L',
            r.fname, r.args, r.result,
            CASE r.proparallel WHEN 's' THEN 'PARALLEL SAFE' WHEN 'r' THEN 'PARALLEL RESTRICTED' ELSE 'PARALLEL UNSAFE' END,
            CASE WHEN r.proretset THEN 'ROWS ' OPERATOR(pg_catalog.||) r.prorows::pg_catalog.text ELSE '' END,
            pg_catalog.format('SELECT * FROM %s(%s)', r.routed,
                              (SELECT pg_catalog.string_agg('$' OPERATOR(pg_catalog.||) i::pg_catalog.text, ', ' ORDER BY i)
                               FROM pg_catalog.generate_series(1, r.pronargs) AS i)));
    END LOOP;
    PERFORM pg_catalog.set_config('citus.enable_ddl_propagation', v_ddl, true);
END
$fn$;

COMMENT ON FUNCTION @extschema@._chat_citus_functions() IS
    'chatstore internal: the function settings of a node of a distributed database (custom plans, delegated saves, the readers'' PL/pgSQL variants)';

CREATE OR REPLACE FUNCTION @extschema@.chat_distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, distribution_column name, colocated_with regclass, shards integer, action text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ext_nsp  name;
    n_shards integer;
    r        record;
    trg      text[];
    done     boolean;
    moved    pg_catalog.regclass[] := '{}';
    t        pg_catalog.regclass;
    v_msgs   text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension AS e WHERE e.extname = 'citus') THEN
        RAISE EXCEPTION 'chat_distribute needs the citus extension'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Install Citus, add it to shared_preload_libraries, CREATE EXTENSION citus and add the worker nodes first (README.md#scaling-out).';
    END IF;
    IF shard_count IS NOT NULL AND (shard_count < 1 OR shard_count > 64000) THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000, got %', shard_count
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    n_shards := COALESCE(shard_count, pg_catalog.current_setting('citus.shard_count')::integer);
    SELECT n.nspname INTO STRICT ext_nsp
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'chatstore';

    -- what Citus refuses on a distributed table (see the head of this part)
    FOREACH trg SLICE 1 IN ARRAY ARRAY[
            ['chat_threads', 'chat_threads_updated_at'],
            ['chat_threads', 'chat_threads_tombstone'],
            ['chat_threads', 'chat_threads_owner'],
            ['chat_user_preferences', 'chat_user_preferences_updated_at'],
            ['chat_kv', 'chat_kv_updated_at'],
            ['chat_lists', 'chat_lists_updated_at'],
            ['chat_agent_states', 'chat_agent_states_updated_at']]
    LOOP
        -- (Citus refuses even DROP TRIGGER IF EXISTS on a distributed
        -- table: on a second run there is nothing to drop)
        IF EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                   WHERE g.tgrelid = pg_catalog.format('%I.%I', ext_nsp, trg[1])::pg_catalog.regclass
                     AND g.tgname = trg[2]) THEN
            EXECUTE pg_catalog.format('DROP TRIGGER %I ON %I.%I', trg[2], ext_nsp, trg[1]);
        END IF;
    END LOOP;
    -- (no IF EXISTS: its NOTICE on every later run would be noise)
    IF EXISTS (SELECT FROM pg_catalog.pg_constraint AS k
               WHERE k.conrelid = pg_catalog.format('%I.chat_user_preferences', ext_nsp)::pg_catalog.regclass
                 AND k.conname = 'chat_user_preferences_active_thread_fkey') THEN
        EXECUTE pg_catalog.format('ALTER TABLE %I.chat_user_preferences DROP CONSTRAINT chat_user_preferences_active_thread_fkey',
                                  ext_nsp);
    END IF;

    -- quietly: Citus's notices about copying rows end with a hint to truncate
    -- the local copies, which this function does (below)
    v_msgs := pg_catalog.current_setting('client_min_messages');
    PERFORM pg_catalog.set_config('client_min_messages', 'warning', true);
    FOR r IN SELECT d.relname, d.dist_column, d.colocate_with FROM @extschema@._chat_distribution() AS d
    LOOP
        table_name := pg_catalog.format('%I.%I', ext_nsp, r.relname)::pg_catalog.regclass;
        distribution_column := r.dist_column;
        colocated_with := CASE WHEN r.colocate_with IS NOT NULL
                               THEN pg_catalog.format('%I.%I', ext_nsp, r.colocate_with)::pg_catalog.regclass END;
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition AS p WHERE p.logicalrelid = $1)'
            INTO done USING table_name;
        IF done THEN
            action := 'already distributed';
        ELSIF r.colocate_with IS NULL THEN
            -- the first table of a colocation group decides its shard count
            EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => ''none'', shard_count => $3)'
                USING table_name, r.dist_column::text, n_shards;
            action := 'distributed';
        ELSE
            EXECUTE 'SELECT pg_catalog.create_distributed_table($1, $2, colocate_with => $3)'
                USING table_name, r.dist_column::text, colocated_with::text;
            action := 'distributed';
        END IF;
        IF action = 'distributed' THEN
            moved := table_name OPERATOR(pg_catalog.||) moved;
        END IF;
        EXECUTE 'SELECT pg_catalog.count(*)::integer FROM pg_catalog.pg_dist_shard AS s WHERE s.logicalrelid = $1'
            INTO shards USING table_name;
        RETURN NEXT;
    END LOOP;
    -- the rows copied into the shards stay in the coordinator's own files
    -- (invisible) until truncated there: free that space, last distributed
    -- first (a table's rows before those they reference; each truncation
    -- cascades over the local copies only)
    FOREACH t IN ARRAY moved
    LOOP
        EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)' USING t;
    END LOOP;
    PERFORM pg_catalog.set_config('client_min_messages', v_msgs, true);
    -- The writing functions of one thread run on the worker that holds the
    -- thread: their _at variants are distributed functions on the thread id,
    -- colocated with the threads, delegated even inside a transaction
    -- (force_delegation: a call made by a public function is in one).  (Here, not in
    -- _chat_citus_functions: an update script cannot, the workers get the
    -- new version's functions only after it ran on the coordinator.)
    FOR r IN SELECT a.at_function, a.colocate_with FROM @extschema@._chat_at_functions() AS a
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_object AS o
                                WHERE o.classid OPERATOR(pg_catalog.=) ''pg_catalog.pg_proc''::pg_catalog.regclass
                                  AND o.objid OPERATOR(pg_catalog.=) $1
                                  AND o.distribution_argument_index IS NOT NULL)'
            INTO done USING r.at_function::pg_catalog.oid;
        IF NOT done THEN
            EXECUTE 'SELECT pg_catalog.create_distributed_function($1, ''$1'', colocate_with => $2, force_delegation => true)'
                USING r.at_function, r.colocate_with::pg_catalog.text;
        END IF;
    END LOOP;
    PERFORM @extschema@._chat_citus_functions();
    -- and on the workers (their own connections: what this transaction
    -- changed is not visible to them before it commits)
    FOR r IN EXECUTE 'SELECT w.nodename, w.nodeport, w.success, w.result
                      FROM pg_catalog.run_command_on_workers($1) AS w'
             USING pg_catalog.format('SELECT %I._chat_citus_functions()', ext_nsp)
    LOOP
        IF NOT r.success THEN
            RAISE EXCEPTION 'chat_distribute could not set up the functions on worker %:%: %',
                r.nodename, r.nodeport, r.result
                USING ERRCODE = 'connection_failure';
        END IF;
    END LOOP;
    -- tenant isolation, when on: its policies read the tenant on the node
    -- that holds the rows from now on (_chat_tenant_isolation_apply).  Last:
    -- its DDL locks the workers' tables, which the workers' own connections
    -- above would wait for
    IF EXISTS (SELECT FROM @extschema@.chat_tenant_isolation_config) THEN
        PERFORM @extschema@._chat_tenant_isolation_apply(
            (SELECT c.force FROM @extschema@.chat_tenant_isolation_config AS c));
    END IF;
    RETURN;
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_distribute(integer) IS
    'distribute the chat tables with Citus (threads and their messages by thread id, colocated); harmless to run again';

-- ---------------------------------------------------------------------------
-- a distributed database keeps its per-function settings
-- ---------------------------------------------------------------------------
SELECT @extschema@._chat_citus_functions();

-- a writing function of one thread runs on the worker that holds the thread
-- once chat_distribute has made its _at variant a distributed function,
-- which it cannot do here for the functions this update creates (the
-- workers get them only after this script ran on the coordinator); until
-- then such a function works routed statement by statement.  A WARNING (an
-- extension script does not show NOTICEs), on the coordinator only (group 0;
-- Citus runs this script on the workers too), when one of the _at variants
-- is not distributed yet.
DO $delegate$
DECLARE
    missing pg_catalog.text;
    coordinator boolean;
BEGIN
    IF @extschema@._chat_is_distributed() THEN
        EXECUTE 'SELECT groupid OPERATOR(pg_catalog.=) 0 FROM pg_catalog.pg_dist_local_group' INTO coordinator;
    END IF;
    IF coordinator THEN
        EXECUTE 'SELECT pg_catalog.string_agg(a.public_function::pg_catalog.text, '', '' ORDER BY a.public_function::pg_catalog.text)
                 FROM @extschema@._chat_at_functions() AS a
                 WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_dist_object AS o
                                   WHERE o.classid OPERATOR(pg_catalog.=) ''pg_catalog.pg_proc''::pg_catalog.regclass
                                     AND o.objid OPERATOR(pg_catalog.=) a.at_function
                                     AND o.distribution_argument_index IS NOT NULL)'
            INTO missing;
        IF missing IS NOT NULL THEN
            RAISE WARNING 'chatstore 1.8 runs more writing functions on the worker that holds their thread or list (%): run SELECT chat_distribute() once more on the coordinator (harmless) to switch it on', missing;
        END IF;
    END IF;
END
$delegate$;

-- ---------------------------------------------------------------------------
-- privileges, as part 90 and chat_grant_app_role leave them: no function is
-- executable by PUBLIC; roles that were given the application grants read
-- the new tables and execute the application functions; tenant isolation,
-- when on, covers the new tables
-- ---------------------------------------------------------------------------
DO $privileges$
DECLARE
    f pg_catalog.regprocedure;
    r record;
BEGIN
    FOR f IN
        SELECT d.objid::pg_catalog.regprocedure
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
    FOR r IN
        -- roles granted SELECT on chat_messages directly (chat_grant_app_role)
        SELECT DISTINCT a.grantee::pg_catalog.regrole AS role
        FROM pg_catalog.pg_class AS c,
             pg_catalog.aclexplode(c.relacl) AS a
        JOIN pg_catalog.pg_roles AS g ON g.oid OPERATOR(pg_catalog.=) a.grantee
        WHERE c.oid OPERATOR(pg_catalog.=) '@extschema@.chat_messages'::pg_catalog.regclass
          AND a.privilege_type OPERATOR(pg_catalog.=) 'SELECT'
          AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
          AND NOT g.rolsuper
    LOOP
        PERFORM @extschema@.chat_grant_app_role(r.role);
    END LOOP;
    IF EXISTS (SELECT FROM @extschema@.chat_tenant_isolation_config) THEN
        PERFORM @extschema@._chat_tenant_isolation_apply(
            (SELECT c.force FROM @extschema@.chat_tenant_isolation_config AS c));
    END IF;
END
$privileges$;

-- ---------------------------------------------------------------------------
-- privileges and owners, as part 90 leaves them
-- ---------------------------------------------------------------------------
-- chatstore -- part 90: privileges
--
-- No function of the extension is executable by PUBLIC (but one, below): the owner (and
-- superusers) run everything, an application role gets EXECUTE on the
-- application functions from chat_grant_app_role (part 80).  The writing
-- functions are SECURITY DEFINER, so EXECUTE on them is what lets a role
-- write; internal helpers are never callable by roles that were not given
-- them.  Kept last, so it covers every function the parts above created.
DO $privileges$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::pg_catalog.regprocedure
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$privileges$;

-- The one exception: the tenant the policies of a distributed database read
-- (part 05).  Every role subject to them runs it, on every node, and a GRANT
-- to a role made on the coordinator does not reach the workers; it reads
-- only the caller's own setting.
GRANT EXECUTE ON FUNCTION @extschema@._chat_policy_tenant() TO PUBLIC;

-- Owners.  chatstore is a trusted extension: a role that is not a superuser
-- but has CREATE on the database (its owner, say) may CREATE EXTENSION
-- chatstore, and PostgreSQL then runs this script as the bootstrap superuser,
-- which would own every object it creates.  When the extension's owner
-- (pg_extension.extowner: the role that ran CREATE EXTENSION) is not a
-- superuser, every object of the extension that a superuser owns is given to
-- it, so that role is what the superuser who installs chatstore is
-- otherwise: the owner of the tables (tenant isolation, grants, maintenance)
-- and of the SECURITY DEFINER functions, which therefore run as that role and
-- never as a superuser.  When a superuser owns the extension nothing changes.
-- Kept last: nothing of the script runs after the objects change hands.
-- Names are built from the catalogs (%I.%I, regprocedure, regrole), not by
-- substituting @extowner@ or @extschema@ into a string.
DO $owner$
DECLARE
    ext_owner pg_catalog.regrole;
    ext_owner_super boolean;
    r record;
BEGIN
    SELECT e.extowner::pg_catalog.regrole, a.rolsuper INTO STRICT ext_owner, ext_owner_super
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_roles AS a ON a.oid OPERATOR(pg_catalog.=) e.extowner
    WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore';
    IF ext_owner_super THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT d.classid::pg_catalog.regclass AS catalog, d.objid,
               pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what,
               COALESCE(c.relowner, t.typowner, p.proowner) AS owner
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        LEFT JOIN pg_catalog.pg_class AS c
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND c.oid OPERATOR(pg_catalog.=) d.objid
        LEFT JOIN pg_catalog.pg_type AS t
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
              AND t.oid OPERATOR(pg_catalog.=) d.objid
        LEFT JOIN pg_catalog.pg_proc AS p
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
              AND p.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
        ORDER BY d.classid, d.objid
    LOOP
        IF r.owner IS NULL THEN
            -- a new kind of object: give it an ALTER ... OWNER below
            RAISE EXCEPTION 'chatstore: no owner rule for %', r.what;
        END IF;
        CONTINUE WHEN NOT (SELECT a.rolsuper FROM pg_catalog.pg_roles AS a
                           WHERE a.oid OPERATOR(pg_catalog.=) r.owner);
        IF r.catalog OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass THEN
            -- a table (its indexes, row type and owned sequences follow it)
            -- or a sequence
            EXECUTE (SELECT pg_catalog.format('ALTER %s %I.%I OWNER TO %s',
                                              CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                              n.nspname, c.relname, ext_owner)
                     FROM pg_catalog.pg_class AS c
                     JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                     WHERE c.oid OPERATOR(pg_catalog.=) r.objid
                       AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S']::pg_catalog."char"[]));
        ELSIF r.catalog OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass THEN
            -- a composite type (CREATE TYPE ... AS)
            EXECUTE (SELECT pg_catalog.format('ALTER TYPE %I.%I OWNER TO %s', n.nspname, t.typname, ext_owner)
                     FROM pg_catalog.pg_type AS t
                     JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
                     WHERE t.oid OPERATOR(pg_catalog.=) r.objid);
        ELSE
            EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %s',
                                      r.objid::pg_catalog.regprocedure, ext_owner);
        END IF;
    END LOOP;
END
$owner$;
