-- chatstore -- part 05: internal helpers written in C (src/chatstore.c,
-- src/msg_input.c), declared early so that every later part can use them.
-- Names start with _: they are not part of the API.

-- The fingerprint (version 2) of a message's fields: the first 8 bytes,
-- read as a big-endian signed bigint, of the SHA-256 of a canonical byte
-- encoding defined in src/msg_input.c.  chat_save_messages writes it (with
-- chat_messages.fingerprint_version = 2) and computes it from the columns
-- of rows written by 1.0 and 1.1 (fingerprint_version NULL) when it aligns
-- id-less re-sends.  Values are hashed as given; NULLs are allowed.
CREATE FUNCTION @extschema@._chat_fingerprint(
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

REVOKE ALL ON FUNCTION @extschema@._chat_fingerprint(text, text, jsonb, text, text, jsonb) FROM PUBLIC;

-- the same, for a message saved as a Responses item (1.4): the stored item
-- (chat_messages.item) is hashed after the other fields; a NULL item gives
-- the value of the six-argument form
CREATE FUNCTION @extschema@._chat_fingerprint(
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

-- value, or 22023 "<what> must not be null or empty": the check of a
-- required argument inside an SQL-standard function body, e.g.
--   WHERE kv.key = @extschema@._chat_required(chat_kv_get.key, 'key')
-- (such functions run as their caller: chat_grant_app_role grants EXECUTE
-- on it to application roles; part 90 revokes it from PUBLIC)
CREATE FUNCTION @extschema@._chat_required(value text, what text)
RETURNS text
AS 'MODULE_PATHNAME', 'chat_required'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_required(text, text) IS
    'chatstore internal: value, or 22023 when it is null or empty';

-- NULL when the calling role (the session's, or SET ROLE's; not the owner
-- of a SECURITY DEFINER function running now) is not confined by tenant
-- isolation, else the setting chatstore.tenant ('' when unset).  Confined
-- means what row-level security does on chat_threads for that role: it is
-- enabled there, and the role is neither superuser nor BYPASSRLS nor the
-- table's owner (unless FORCE).  Functions that run as the extension owner
-- confine their callers with it (through _chat_write_tenant, part 10).
CREATE FUNCTION @extschema@._chat_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'chat_tenant'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_tenant() IS
    'chatstore internal: the tenant the calling role is confined to, or NULL when it is not confined';

-- The tenant of the row-level security policies of a distributed database
-- (part 80): chatstore.tenant on the node evaluating the policy, or 42501
-- when it is unset there (a session-level SET does not reach the workers:
-- fail loudly, never read as nobody).  Executable by PUBLIC (part 90):
-- every role the policies confine runs it, on every node.
CREATE FUNCTION @extschema@._chat_policy_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'chat_policy_tenant'
LANGUAGE C STABLE PARALLEL SAFE;

-- Delegated calls (Citus, chatstore 1.7; README.md#scaling-out): a writing
-- function of the coordinator with chatstore.delegate_saves = on
-- (_chat_delegating()) passes its call to its _<name>_at variant, which
-- chat_distribute makes a distributed function on the thread id: it runs on
-- the worker that holds the thread, with the calling session's values
-- (_chat_delegate_ctx()): the tenant the caller is confined to, its
-- chatstore.tenant, the transaction's time (_chat_now()), TimeZone, limits
-- and chatstore.notify, which _chat_delegated_begin makes hold there until
-- _chat_delegated_leave, or _chat_delegated_end, which also returns the
-- call's notifications: a worker keeps them (_chat_notify) for the
-- coordinator to send (_chat_notify_relayed), where the listeners are
-- (1.8).  Internal (the owner's).
CREATE FUNCTION @extschema@._chat_delegated_enter(
    confined_tenant text, tenant text, at timestamptz, time_zone text,
    max_batch_messages integer, max_message_bytes integer, notify boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_delegated_enter'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_enter(text, text, timestamptz, text, integer, integer, boolean) IS
    'chatstore internal: the calling session''s values hold on this node for a delegated call';

CREATE FUNCTION @extschema@._chat_delegated_leave()
RETURNS void
AS 'MODULE_PATHNAME', 'chat_delegated_leave'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_leave() IS
    'chatstore internal: the end of a delegated call';

CREATE FUNCTION @extschema@._chat_delegated_end()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'chat_delegated_end'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_delegated_end() IS
    'chatstore internal: the end of a delegated call, and its notifications ([[channel, payload], ...]) for the coordinator';

-- A notification on a channel of chatstore (chatstore_messages,
-- chatstore_stream): sent at commit, or kept in a delegated call.
CREATE FUNCTION @extschema@._chat_notify(channel text, payload text)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_notify'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_notify(text, text) IS
    'chatstore internal: NOTIFY on a channel of chatstore (kept for the coordinator in a delegated call)';

CREATE FUNCTION @extschema@._chat_notify_relayed(notifications jsonb)
RETURNS void
AS 'MODULE_PATHNAME', 'chat_notify_relayed'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION @extschema@._chat_notify_relayed(jsonb) IS
    'chatstore internal: send the notifications a delegated call returned';

CREATE FUNCTION @extschema@._chat_delegating()
RETURNS boolean
AS 'MODULE_PATHNAME', 'chat_delegating'
LANGUAGE C STABLE;

COMMENT ON FUNCTION @extschema@._chat_delegating() IS
    'chatstore internal: a writing function passes its call to its _at variant (Citus)';

CREATE FUNCTION @extschema@._chat_now()
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'chat_now'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@._chat_now() IS
    'chatstore internal: the calling session''s transaction time (now(), or the caller''s in a delegated call)';

CREATE FUNCTION @extschema@._chat_delegate_ctx()
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

CREATE FUNCTION @extschema@._chat_delegated_begin(ctx jsonb)
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
