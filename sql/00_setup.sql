-- Shared helpers for the pg_regress files (they all run, in name order, in
-- one database that already has the extension).

CREATE SCHEMA regress;

-- try(sql): runs sql and shows how it ended: 'ok', or the error's SQLSTATE,
-- message and detail, so an expected file asserts the exact SQLSTATE
CREATE FUNCTION regress.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RETURN st || ': ' || msg || CASE WHEN det <> '' THEN ' (' || det || ')' ELSE '' END;
END $$;

-- scans(table): the scans of a table so far, as jsonb (sequential scans and
-- each index's scans, from the cumulative statistics: call
-- pg_stat_force_next_flush() in the statement that scans).
-- scans(table, before): which of them moved since before, and by how much:
-- a test of the path a PL/pgSQL function's statement took
CREATE FUNCTION regress.scans(rel text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('seq_scan', t.seq_scan) ||
           COALESCE((SELECT jsonb_object_agg(i.indexrelname, i.idx_scan)
                     FROM pg_stat_user_indexes i WHERE i.relid = t.relid), '{}')
    FROM pg_stat_user_tables t WHERE t.relid = rel::regclass
$$;
CREATE FUNCTION regress.scans(rel text, before jsonb) RETURNS TABLE (scan text, n bigint) LANGUAGE sql AS $$
    SELECT a.key, a.value::bigint - (before ->> a.key)::bigint
    FROM jsonb_each_text(regress.scans(rel)) a
    WHERE a.value::bigint <> (before ->> a.key)::bigint
    ORDER BY 1
$$;
