-- Shared helpers for the pg_regress files (they all run, in name order, in
-- one database that already has the extension).

CREATE SCHEMA regress;

-- try(sql): runs sql and shows how it ended: 'ok', or the error's SQLSTATE,
-- message and detail, so an expected file asserts the exact SQLSTATE.  A
-- constraint named in the message loses the shard suffix Citus gives it
-- ("chat_threads_pkey_102013" is the shard's "chat_threads_pkey").
CREATE FUNCTION regress.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        msg := regexp_replace(msg, 'constraint "(chat_[a-z_]+)_[0-9]{6,}"', 'constraint "\1"');
    END IF;
    RETURN st || ': ' || msg || CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END;
END $$;

-- scans(table): the scans of a table so far, as jsonb (sequential scans and
-- each index's scans, from the cumulative statistics: call
-- pg_stat_force_next_flush() in the statement that scans).
-- On Citus (scripts/citus.sh) a distributed table's scans happen on the
-- workers, in their shards: the sum over the shards, by index name without
-- the shard suffix, once the worker backends of the statements before have
-- ended (the suite does not keep connections to the workers:
-- citus.max_cached_conns_per_worker = 0) and so reported their statistics.
CREATE FUNCTION regress.scans(rel text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    distributed boolean := false;
    per_node jsonb;
    busy bigint;
    tries int := 0;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
            INTO distributed USING rel::regclass;
    END IF;
    IF NOT distributed THEN
        RETURN (SELECT jsonb_build_object('seq_scan', t.seq_scan) ||
                       COALESCE((SELECT jsonb_object_agg(i.indexrelname, i.idx_scan)
                                 FROM pg_stat_user_indexes i WHERE i.relid = t.relid), '{}')
                FROM pg_stat_user_tables t WHERE t.relid = rel::regclass);
    END IF;
    LOOP
        EXECUTE $q$SELECT COALESCE(sum(r.result::bigint), 0) FROM run_command_on_workers(
            'SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND backend_type = ''client backend'' AND pid <> pg_backend_pid()') r$q$ INTO busy;
        EXIT WHEN busy = 0 OR tries >= 200;
        tries := tries + 1;
        PERFORM pg_sleep(0.05);
    END LOOP;
    EXECUTE format($q$SELECT jsonb_agg(r.result::jsonb) FROM run_command_on_workers(%L) r$q$,
        format($w$SELECT jsonb_build_object('seq_scan', COALESCE(sum(t.seq_scan), 0)) ||
                  COALESCE((SELECT jsonb_object_agg(x.name, x.n) FROM (
                      SELECT regexp_replace(i.indexrelname, '_[0-9]+$', '') AS name, sum(i.idx_scan) AS n
                      FROM pg_stat_user_indexes i
                      WHERE i.relname ~ ('^' || %L || '_[0-9]+$') GROUP BY 1) x), '{}')
           FROM pg_stat_user_tables t WHERE t.relname ~ ('^' || %L || '_[0-9]+$')$w$, rel, rel))
        INTO per_node;
    RETURN (SELECT jsonb_object_agg(e.key, e.n)
            FROM (SELECT k.key, sum(k.value::bigint) AS n
                  FROM jsonb_array_elements(per_node) a, jsonb_each_text(a.value) k GROUP BY k.key) e);
END $$;
CREATE FUNCTION regress.scans(rel text, before jsonb) RETURNS TABLE (scan text, n bigint) LANGUAGE sql AS $$
    SELECT a.key, a.value::bigint - (before ->> a.key)::bigint
    FROM jsonb_each_text(regress.scans(rel)) a
    WHERE a.value::bigint <> (before ->> a.key)::bigint
    ORDER BY 1
$$;
