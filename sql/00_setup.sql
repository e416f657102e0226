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
