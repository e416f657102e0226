-- chatstore -- part 07: Responses items and the two model API shapes
--
-- A message is stored once, in the columns of chat_messages, whichever shape
-- it came in: a Chat Completions message, or a Responses / Conversations
-- item (src/msg_input.c, read_item: the item without its body, which content
-- or parts keep, is chat_messages.item).  These functions give a row back in
-- either shape; chat_context and chat_items use them.  They run as their
-- caller (chat_grant_app_role grants EXECUTE on them, part 80).

-- The item a row was saved from, with its body put back; NULL for a row
-- saved as a chat message.
CREATE FUNCTION @extschema@._chat_item(m @extschema@.chat_messages)
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

-- tool_calls in the OpenAI shape: LangChain's {name, args, id} become
-- {id, type: "function", function: {name, arguments: <args as JSON text>}};
-- OpenAI-shaped calls are kept as they are.
CREATE FUNCTION @extschema@._chat_tool_calls_openai(tool_calls jsonb)
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

-- A row as a Chat Completions message; NULL when it has none (a reasoning
-- item and other items that are not a message, a call or its answer).  A
-- function_call item is an assistant message with that one call
-- (chat_context merges consecutive calls into one message).
CREATE FUNCTION @extschema@._chat_as_chat(m @extschema@.chat_messages)
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

-- A row as Responses API input items (an array: a chat assistant message
-- with tool calls is its text and one function_call per call).  An item row
-- is the item as saved; a legacy "function" message has no item form ([]).
CREATE FUNCTION @extschema@._chat_as_items(m @extschema@.chat_messages)
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

-- The call ids a row makes (an assistant message's tool_calls ids, a call
-- item's call_id; NULL for a call without an id) and the call id a row
-- answers: what chat_context pairs by.  NULL when the row makes no call.
CREATE FUNCTION @extschema@._chat_call_ids(m @extschema@.chat_messages)
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

-- chat_context's format argument: 'chat' or 'responses', else 22023
CREATE FUNCTION @extschema@._chat_context_format(format text)
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

-- An item as the Responses API takes it as input: the OpenAI Agents SDK's
-- own item shapes (callId, function_call_result, providerData), which a
-- session stores as the SDK gives them, in the API's shapes; any other item
-- as it is.  chat_context's format 'responses' sends items through it.
CREATE FUNCTION @extschema@._chat_api_item(item jsonb)
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
