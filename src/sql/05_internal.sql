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

COMMENT ON FUNCTION @extschema@._chat_policy_tenant() IS
    'chatstore internal: chatstore.tenant on this node for the tenant policies of a distributed database, 42501 when unset';
