-- chatstore -- part 20: what the seed systems need beyond the core
--
--   preferences   (Inference Gateway UI)   chat_get_preferences / chat_set_preferences
--   key-value     (cipher)                 chat_kv_set / _get / _delete / _list
--   ordered lists (cipher)                 chat_kvlist_append / _append_many / _range /
--                                          _length / _trim / _delete / _info
--   agent state   (Forge AI SDK)           chat_agent_state_save / _load / _delete /
--                                          _list / _count, chat_health
--   usage         (Inference Gateway UI)   chat_thread_usage / chat_user_usage
--   listing       (IG UI, langmiddle)      chat_get_thread_with_messages,
--                                          chat_list_threads_with_messages,
--                                          chat_search_threads
--   stats                                  chat_stats
--
-- Tables without a user (key-value, lists, agent states) carry a tenant
-- column (the chatstore.tenant setting, '' = no tenant) that is part of their
-- key; every function here filters on the current tenant.

-- ---------------------------------------------------------------------------
-- user preferences
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_user_preferences (
    user_id          text        NOT NULL,
    active_thread_id text,
    selected_model   text,
    settings         jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_user_preferences_pkey PRIMARY KEY (user_id),
    CONSTRAINT chat_user_preferences_active_thread_fkey FOREIGN KEY (active_thread_id)
        REFERENCES @extschema@.chat_threads (id) ON DELETE SET NULL,
    CONSTRAINT chat_user_preferences_user_id_check
        CHECK (user_id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(user_id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_user_preferences_settings_check
        CHECK (pg_catalog.jsonb_typeof(settings) OPERATOR(pg_catalog.=) 'object')
);

COMMENT ON TABLE @extschema@.chat_user_preferences IS
    'chatstore: per-user preferences (active thread, selected model, free-form settings)';

-- serves ON DELETE SET NULL when a thread is deleted
CREATE INDEX chat_user_preferences_active_thread_idx
    ON @extschema@.chat_user_preferences (active_thread_id)
    WHERE active_thread_id IS NOT NULL;

CREATE TRIGGER chat_user_preferences_updated_at
    BEFORE UPDATE ON @extschema@.chat_user_preferences
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_set_updated_at_trigger();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_user_preferences', '');

-- PL/pgSQL, not an SQL-standard body: Citus cannot plan the parameterized
-- statements of SQL functions on distributed tables.  On Citus
-- chat_user_preferences has no foreign key to chat_threads (Citus refuses
-- it: the tables are distributed by different columns), so a deleted
-- thread can stay behind as active_thread_id: it is not returned (on one
-- node the key's ON DELETE SET NULL has already cleared it).  Two routed
-- lookups by the distribution columns (user_id, then the thread's id), not
-- a join, which Citus could not run across the two tables.
-- On one node an SQL function inlined into the caller's query (the
-- fastest there); on Citus it calls _chat_get_preferences_routed, its PL/pgSQL
-- variant below (_chat_citus_functions).
CREATE FUNCTION @extschema@.chat_get_preferences(user_id text)
RETURNS SETOF @extschema@.chat_user_preferences
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.* FROM @extschema@.chat_user_preferences AS p
    WHERE p.user_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_get_preferences.user_id, 'user_id');
END;

-- chat_get_preferences on Citus: PL/pgSQL, routed by Citus; it hides an
-- active thread that no longer exists (no foreign key on Citus).
-- Internal; application roles may execute it.
CREATE FUNCTION @extschema@._chat_get_preferences_routed(user_id text)
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

-- NULL arguments leave the stored value unchanged; '' clears active_thread_id
-- or selected_model.  settings is merged (shallow, ||) into the stored object;
-- a key whose new value is JSON null is removed.
CREATE FUNCTION @extschema@.chat_set_preferences(
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

-- ---------------------------------------------------------------------------
-- key-value store
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_kv (
    tenant     text        NOT NULL DEFAULT COALESCE(pg_catalog.current_setting('chatstore.tenant', true), ''),
    key        text        COLLATE "C" NOT NULL,
    value      jsonb       NOT NULL,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_kv_pkey PRIMARY KEY (tenant, key),
    CONSTRAINT chat_kv_key_check
        CHECK (key OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(key) OPERATOR(pg_catalog.<=) 1024)
);

COMMENT ON TABLE @extschema@.chat_kv IS
    'chatstore: key-value store (jsonb values, optional expiry), one namespace per tenant';

-- purging expired keys
CREATE INDEX chat_kv_expires_at_idx
    ON @extschema@.chat_kv (expires_at) WHERE expires_at IS NOT NULL;

CREATE TRIGGER chat_kv_updated_at
    BEFORE UPDATE ON @extschema@.chat_kv
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_set_updated_at_trigger();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_kv', '');

CREATE FUNCTION @extschema@.chat_kv_set(
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

-- SQL NULL when the key does not exist or has expired; a stored JSON null
-- comes back as 'null'::jsonb
CREATE FUNCTION @extschema@.chat_kv_get(key text)
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

CREATE FUNCTION @extschema@.chat_kv_delete(key text)
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

-- keys starting with prefix (compared literally: % and _ are ordinary
-- characters), in byte order, after after_key (keyset paging)
CREATE FUNCTION @extschema@.chat_kv_list(
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

-- ---------------------------------------------------------------------------
-- ordered lists
-- ---------------------------------------------------------------------------
-- The header row hands out positions: an append locks it (INSERT ... ON
-- CONFLICT DO UPDATE) and reserves [next_pos, next_pos + n), so concurrent
-- appends queue on it and never collide.  Items are contiguous from head_pos
-- to next_pos - 1; index i of the list is position head_pos + i.
CREATE TABLE @extschema@.chat_lists (
    tenant     text        NOT NULL DEFAULT COALESCE(pg_catalog.current_setting('chatstore.tenant', true), ''),
    key        text        COLLATE "C" NOT NULL,
    metadata   jsonb       NOT NULL DEFAULT '{}',
    head_pos   bigint      NOT NULL DEFAULT 0,
    next_pos   bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_lists_pkey PRIMARY KEY (tenant, key),
    CONSTRAINT chat_lists_key_check
        CHECK (key OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(key) OPERATOR(pg_catalog.<=) 1024),
    CONSTRAINT chat_lists_pos_check CHECK (head_pos OPERATOR(pg_catalog.<=) next_pos),
    CONSTRAINT chat_lists_metadata_check
        CHECK (pg_catalog.jsonb_typeof(metadata) OPERATOR(pg_catalog.=) 'object')
);

COMMENT ON TABLE @extschema@.chat_lists IS
    'chatstore: one row per ordered list; hands out item positions under its row lock';

CREATE TABLE @extschema@.chat_list_items (
    tenant     text        NOT NULL,
    key        text        COLLATE "C" NOT NULL,
    pos        bigint      NOT NULL,
    value      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_list_items_pkey PRIMARY KEY (tenant, key, pos),
    CONSTRAINT chat_list_items_list_fkey FOREIGN KEY (tenant, key)
        REFERENCES @extschema@.chat_lists (tenant, key) ON DELETE CASCADE
);

COMMENT ON TABLE @extschema@.chat_list_items IS
    'chatstore: the values of the ordered lists, by position';

CREATE TRIGGER chat_lists_updated_at
    BEFORE UPDATE ON @extschema@.chat_lists
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_set_updated_at_trigger();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_lists', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_list_items', '');

-- append the elements of a JSON array; returns the list's new length
CREATE FUNCTION @extschema@.chat_kvlist_append_many(
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

CREATE FUNCTION @extschema@._chat_kvlist_append_many_at(key text, "values" jsonb, metadata jsonb, ctx jsonb)
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

CREATE FUNCTION @extschema@.chat_kvlist_append(
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

CREATE FUNCTION @extschema@.chat_kvlist_length(key text)
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

-- Redis LRANGE semantics: start and stop are 0-based and inclusive; negative
-- indexes count from the end (-1 is the last value); out-of-range indexes are
-- clamped; start > stop gives nothing.
CREATE FUNCTION @extschema@.chat_kvlist_range(
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

-- Redis LTRIM semantics: keep only indexes start..stop (inclusive, negative
-- from the end); returns the new length.  Trimming a list to nothing keeps
-- the (empty) list and its metadata.
CREATE FUNCTION @extschema@.chat_kvlist_trim(
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

CREATE FUNCTION @extschema@._chat_kvlist_trim_at(key text, start bigint, stop bigint, ctx jsonb)
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

CREATE FUNCTION @extschema@.chat_kvlist_delete(key text)
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

CREATE FUNCTION @extschema@.chat_kvlist_info(key text)
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

-- The 1.0/1.1 names of the list functions (easily confused with
-- chat_list_threads).  Deprecated: they call the chat_kvlist_* functions and
-- go away in 1.3.  (SQL bodies are fine here, also on Citus: they read no
-- table themselves.)
CREATE FUNCTION @extschema@.chat_list_append_many(key text, "values" jsonb, metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_append_many(chat_list_append_many.key, chat_list_append_many."values",
                                               chat_list_append_many.metadata);
END;

CREATE FUNCTION @extschema@.chat_list_append(key text, value jsonb, metadata jsonb DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_append(chat_list_append.key, chat_list_append.value, chat_list_append.metadata);
END;

CREATE FUNCTION @extschema@.chat_list_length(key text)
RETURNS bigint
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_length(chat_list_length.key);
END;

CREATE FUNCTION @extschema@.chat_list_range(key text, start bigint DEFAULT 0, stop bigint DEFAULT -1)
RETURNS TABLE (idx bigint, value jsonb, created_at timestamptz)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT r.idx, r.value, r.created_at
    FROM @extschema@.chat_kvlist_range(chat_list_range.key, chat_list_range.start, chat_list_range.stop) AS r;
END;

CREATE FUNCTION @extschema@.chat_list_trim(key text, start bigint, stop bigint)
RETURNS bigint
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_trim(chat_list_trim.key, chat_list_trim.start, chat_list_trim.stop);
END;

CREATE FUNCTION @extschema@.chat_list_delete(key text)
RETURNS boolean
LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT @extschema@.chat_kvlist_delete(chat_list_delete.key);
END;

CREATE FUNCTION @extschema@.chat_list_info(key text)
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

-- ---------------------------------------------------------------------------
-- agent state store
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.chat_agent_states (
    tenant     text        NOT NULL DEFAULT COALESCE(pg_catalog.current_setting('chatstore.tenant', true), ''),
    agent_id   text        NOT NULL,
    session_id text        NOT NULL,
    state      jsonb       NOT NULL,
    version    bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_agent_states_pkey PRIMARY KEY (tenant, agent_id, session_id),
    CONSTRAINT chat_agent_states_agent_id_check
        CHECK (agent_id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(agent_id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_agent_states_session_id_check
        CHECK (session_id OPERATOR(pg_catalog.<>) '' AND pg_catalog.octet_length(session_id) OPERATOR(pg_catalog.<=) 512),
    CONSTRAINT chat_agent_states_version_check CHECK (version OPERATOR(pg_catalog.>=) 1)
);

COMMENT ON TABLE @extschema@.chat_agent_states IS
    'chatstore: agent state per (agent_id, session_id) with a version for optimistic concurrency';

CREATE INDEX chat_agent_states_recent_idx
    ON @extschema@.chat_agent_states (tenant, agent_id, updated_at DESC, session_id DESC);
CREATE INDEX chat_agent_states_state_idx
    ON @extschema@.chat_agent_states USING gin (state jsonb_path_ops);

CREATE TRIGGER chat_agent_states_updated_at
    BEFORE UPDATE ON @extschema@.chat_agent_states
    FOR EACH ROW EXECUTE FUNCTION @extschema@.chat_set_updated_at_trigger();

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_agent_states', '');

-- Save (upsert) and return the new version (1 for a new row).
-- expected_version NULL: unconditional.  0: only when no state exists yet.
-- N > 0: only when the stored version is N.  Otherwise SQLSTATE CS001
-- (chatstore's "stale version"): someone else saved first; reload and retry.
-- Not 40001: drivers retry serialization failures with the same arguments,
-- which would fail again with the same stale version.
CREATE FUNCTION @extschema@.chat_agent_state_save(
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

-- one row, or no row when there is no state (distinct from a stored '{}')
-- On one node an SQL function inlined into the caller's query (the
-- fastest there); on Citus it calls _chat_agent_state_load_routed, its PL/pgSQL
-- variant below (_chat_citus_functions).
CREATE FUNCTION @extschema@.chat_agent_state_load(agent_id text, session_id text)
RETURNS SETOF @extschema@.chat_agent_states
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.*
    FROM @extschema@.chat_agent_states AS s
    WHERE s.tenant OPERATOR(pg_catalog.=) COALESCE(pg_catalog.current_setting('chatstore.tenant', true), '')
      AND s.agent_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_agent_state_load.agent_id, 'agent_id')
      AND s.session_id OPERATOR(pg_catalog.=) @extschema@._chat_required(chat_agent_state_load.session_id, 'session_id');
END;

-- chat_agent_state_load on Citus: PL/pgSQL (the tenant read on the
-- coordinator), routed by Citus.  Internal; application roles may execute it.
CREATE FUNCTION @extschema@._chat_agent_state_load_routed(agent_id text, session_id text)
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

CREATE FUNCTION @extschema@.chat_agent_state_delete(agent_id text, session_id text)
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

-- an agent's sessions, most recently saved first; keyset paging with the
-- last row's updated_at and session_id; optional state @> filter
CREATE FUNCTION @extschema@.chat_agent_state_list(
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

CREATE FUNCTION @extschema@.chat_agent_state_count(agent_id text)
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

-- every stored state of the current tenant, whatever the agent (Forge's Count())
CREATE FUNCTION @extschema@.chat_agent_state_count_all()
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

-- ---------------------------------------------------------------------------
-- usage
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_thread_usage(thread_id text, user_id text DEFAULT NULL)
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

-- messages of the user's threads created in [from_time, to_time)
CREATE FUNCTION @extschema@.chat_user_usage(
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

-- ---------------------------------------------------------------------------
-- listing: threads with their messages, as JSON
-- ---------------------------------------------------------------------------
-- a message as JSON: every column except thread_id and the internal fingerprint
CREATE FUNCTION @extschema@.chat_message_json(m @extschema@.chat_messages)
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

-- thread object with "messages": [...] oldest first; NULL when the thread does
-- not exist or belongs to another user.  max_messages: only the latest N.
CREATE FUNCTION @extschema@.chat_get_thread_with_messages(
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

-- a page of chat_list_threads, each thread with its messages, as a JSON array
CREATE FUNCTION @extschema@.chat_list_threads_with_messages(
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

-- langmiddle search_threads: filter by ids, metadata @> and state @>, sorted
CREATE FUNCTION @extschema@.chat_search_threads(
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

-- ---------------------------------------------------------------------------
-- health and stats
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.chat_health()
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

-- per table of the extension: rows (exact count(*) when exact, else the
-- planner's estimate, -1 when never analyzed) and total bytes with indexes.
-- A table distributed by Citus is an empty shell on the coordinator: its
-- bytes are its shards' (citus_total_relation_size), its estimate the sum of
-- the shards' (-1 when none was analyzed), and database_bytes adds up the
-- database on the coordinator and every worker.  Citus is called through
-- EXECUTE only, so the function is the same with and without it.
CREATE FUNCTION @extschema@.chat_stats(exact boolean DEFAULT true)
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
