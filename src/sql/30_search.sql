-- chatstore -- part 30: full-text search over message content
--
-- Served by chat_messages_content_fts_idx (part 00), a GIN index on
--   to_tsvector('simple', left(content, 100000)) WHERE content IS NOT NULL
-- The query below repeats that expression exactly, so the index is used.  A
-- text-search configuration other than 'simple' can be searched too; it is
-- served by an index only after chat_create_search_index(config) made one.

-- one search hit
CREATE TYPE @extschema@.chat_search_result AS (
    thread_id  text,
    message_id text,
    seq        bigint,
    role       text,
    rank       double precision,
    snippet    text,
    created_at timestamptz
);

COMMENT ON TYPE @extschema@.chat_search_result IS
    'chatstore: one hit of chat_search';

-- Ranked search.  Order: rank DESC, thread_id, seq.  rank is ts_rank as
-- double precision, so that it survives a round trip through any client
-- (JavaScript numbers, Python floats) exactly.  Keyset paging: pass
-- the last hit's rank, thread_id and seq as after_rank / after_thread_id /
-- after_seq to get the next page.  The query is websearch syntax ("quoted
-- phrase", or, -not).  The query text is built with the configuration as a
-- quoted literal (so that the planner can match an index made for it);
-- every value is passed as a parameter, and the query is planned for the
-- values of each call.
CREATE FUNCTION @extschema@.chat_search(
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

-- A GIN index for searching with another text-search configuration (the
-- built-in index serves 'simple' only).  Returns the index name; does
-- nothing when it exists.  On a large table, run the statement shown by
-- chat_search_index_ddl(config) with CREATE INDEX CONCURRENTLY instead.
CREATE FUNCTION @extschema@.chat_search_index_ddl(config regconfig)
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

-- The extra search indexes made by chat_create_search_index, one row per
-- text-search configuration (its schema-qualified name: oids differ from one
-- database to another).  pg_dump does not dump an index added to an
-- extension's table, so the list is kept here (registered with
-- pg_extension_config_dump) and a trigger creates the index when pg_restore
-- loads the row.  Not tenant data.
CREATE TABLE @extschema@.chat_search_index_config (
    config     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT chat_search_index_config_pkey PRIMARY KEY (config)
);

COMMENT ON TABLE @extschema@.chat_search_index_config IS
    'chatstore: the text-search configurations that have a search index of their own (kept by pg_dump, re-created on restore)';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.chat_search_index_config', '');

-- a row inserted (by chat_create_search_index or pg_restore): create its index
CREATE FUNCTION @extschema@._chat_search_index_config_trigger()
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

CREATE TRIGGER chat_search_index_config_apply
    AFTER INSERT OR UPDATE ON @extschema@.chat_search_index_config
    FOR EACH ROW EXECUTE FUNCTION @extschema@._chat_search_index_config_trigger();

-- the schema-qualified name of a text-search configuration.  Internal.
CREATE FUNCTION @extschema@._chat_search_config_name(config regconfig)
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

CREATE FUNCTION @extschema@.chat_create_search_index(config regconfig)
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

CREATE FUNCTION @extschema@.chat_drop_search_index(config regconfig)
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
