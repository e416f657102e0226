-- chatstore -- part 17: today's model APIs: items, streaming, compaction,
-- feedback (doc/items.md, doc/streaming.md, doc/context.md#compaction,
-- doc/feedback.md)

-- ---------------------------------------------------------------------------
-- items
-- ---------------------------------------------------------------------------

-- The history (active path) as Responses items, oldest first, nothing left
-- out: what a session store (the OpenAI Agents SDK's Session) reads back.
-- An item row gives the item saved; a chat message row its item form (an
-- assistant message with tool calls: its text, then one function_call per
-- call, all with the row's seq and id).
CREATE FUNCTION @extschema@.chat_items(
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

-- ---------------------------------------------------------------------------
-- streaming
-- ---------------------------------------------------------------------------

-- the message being streamed, for the stream functions: owner and tenant
-- checked, the stream's advisory lock taken (appends and the finish of one
-- message run one at a time; no row is locked, so an append writes no WAL
-- but its commit).  P0002 when the thread or message is not there.
CREATE FUNCTION @extschema@._chat_stream_message(thread_id text, message_id text, user_id text)
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

-- Start a message that is streamed: an empty message with status
-- in_progress (a save like any other: seq, owner, NOTIFY).
CREATE FUNCTION @extschema@.chat_stream_start(
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

CREATE FUNCTION @extschema@._chat_stream_start_at(thread_id text, role text, message_id text, model text, metadata jsonb, user_id text, ctx jsonb,
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

-- Append text to a message being streamed; returns the length (characters)
-- of its text so far.  With chatstore.notify on, sends on the channel
-- chatstore_stream {"thread_id", "message_id", "seq", "event": "delta",
-- "offset", "delta"} (without "delta", and "truncated": true, when it does
-- not fit in a notification).
CREATE FUNCTION @extschema@.chat_stream_append(
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

CREATE FUNCTION @extschema@._chat_stream_append_at(thread_id text, message_id text, delta text, user_id text, ctx jsonb,
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

-- The text of a streamed message from a character offset on (a reader that
-- reconnects passes the end_offset it has), its status, and its length so
-- far; no row when the thread or message is not there or not the caller's.
CREATE FUNCTION @extschema@.chat_stream_read(
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

-- Finish a streamed message: its text becomes the message's content (once),
-- with the status (completed, incomplete or failed), the finish reason and
-- the usage, which the thread's token sums count from now on.
CREATE FUNCTION @extschema@.chat_stream_finish(
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

CREATE FUNCTION @extschema@._chat_stream_finish_at(thread_id text, message_id text, status text, finish_reason text, usage jsonb, user_id text, ctx jsonb,
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

-- ---------------------------------------------------------------------------
-- the model-ready context (here, after the stream functions it reads)
-- ---------------------------------------------------------------------------

-- The history as one JSON array ready to send to a model: format 'chat'
-- gives Chat Completions messages, 'responses' Responses API input items
-- (doc/context.md).
--
-- The window is chat_history's; when a summary (chat_compact) on the active
-- path stands for its older messages, the window is the leading system
-- messages, the latest such summary, and the newest messages after what it
-- stands for (max_messages and max_tokens count those; the budget counts the
-- summary and the system messages too).  Messages still streaming are left
-- out unless include_incomplete.
--
-- A model API rejects a tool call without its answer and an answer without
-- its call, so calls and answers are paired by id: a message that makes
-- calls stays only when every call has an answer in the window, an answer
-- only when the message with its call stays, wherever they are; the answers
-- follow their call (in 'chat', consecutive function_call items after an
-- assistant message are one assistant message).  Rows with no form in the
-- format asked (reasoning and other items in 'chat') are left out first.
CREATE FUNCTION @extschema@.chat_context(
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

-- ---------------------------------------------------------------------------
-- compaction
-- ---------------------------------------------------------------------------

-- Store a summary standing for a thread's messages up to up_to_seq (a
-- message on its active path).  summary: a JSON string (a system message
-- with that text), a chat message ({"role", "content"}), or an item (a
-- provider's opaque compaction item, {"type": "compaction", ...}, kept as
-- it is).  Returns the summary's id (1, 2, ... per thread).
CREATE FUNCTION @extschema@.chat_compact(
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

CREATE FUNCTION @extschema@._chat_compact_at(thread_id text, up_to_seq bigint, summary jsonb, user_id text, token_count integer, ctx jsonb)
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

CREATE FUNCTION @extschema@.chat_summaries(
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

CREATE FUNCTION @extschema@.chat_delete_summary(
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

CREATE FUNCTION @extschema@._chat_delete_summary_at(thread_id text, summary_id bigint, user_id text, ctx jsonb)
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

-- ---------------------------------------------------------------------------
-- feedback
-- ---------------------------------------------------------------------------

-- the rater of a feedback call: rater when given (only a call that names
-- no user may name another rater), else the user named, else the thread's
-- owner.  P0002 when the thread or message is not there or not the caller's.
CREATE FUNCTION @extschema@._chat_feedback_target(thread_id text, message_id text, user_id text,
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

-- Rate a message: rating 1 (up), -1 (down) or any integer from -10 to 10,
-- an optional tag (1 to 64 bytes) and comment (up to 10,000 bytes).  The
-- rater is the thread's owner, or rater (trusted calls, which name no
-- user_id).  A second call by the same rater replaces the first.
CREATE FUNCTION @extschema@.chat_set_feedback(
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

CREATE FUNCTION @extschema@._chat_set_feedback_at(thread_id text, message_id text, rating integer, tag text, comment text, user_id text, rater text, ctx jsonb)
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

CREATE FUNCTION @extschema@.chat_delete_feedback(
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

CREATE FUNCTION @extschema@._chat_delete_feedback_at(thread_id text, message_id text, user_id text, rater text, ctx jsonb)
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

-- the feedback on a thread's messages, in message order
CREATE FUNCTION @extschema@.chat_list_feedback(
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
