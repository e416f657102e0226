-- chatstore 1.0 -- part 30: full-text search over message content
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
        USING q, user_id, thread_id, roles, since, until,
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
        pg_catalog.left('chat_messages_content_fts_' OPERATOR(pg_catalog.||)
                        pg_catalog.regexp_replace(c.cfgname::pg_catalog.text, '[^a-zA-Z0-9_]', '_', 'g'),
                        55) OPERATOR(pg_catalog.||) '_idx',
        n.nspname, chat_search_index_ddl.config::pg_catalog.text)
    FROM pg_catalog.pg_ts_config AS c,
         pg_catalog.pg_class AS r
         JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
    WHERE c.oid OPERATOR(pg_catalog.=) chat_search_index_ddl.config::pg_catalog.oid
      AND r.oid OPERATOR(pg_catalog.=) '@extschema@.chat_messages'::pg_catalog.regclass;
END;

COMMENT ON FUNCTION @extschema@.chat_search_index_ddl(regconfig) IS
    'the CREATE INDEX statement of a search index for a text-search configuration';

CREATE FUNCTION @extschema@.chat_create_search_index(config regconfig)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ddl text;
BEGIN
    IF config IS NULL THEN
        RAISE EXCEPTION 'config must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    ddl := @extschema@.chat_search_index_ddl(config);
    EXECUTE ddl;
    RETURN substring(ddl from '^CREATE INDEX IF NOT EXISTS (\S+) ');
END
$fn$;

COMMENT ON FUNCTION @extschema@.chat_create_search_index(regconfig) IS
    'create the GIN index that serves chat_search for another text-search configuration; returns its name';
