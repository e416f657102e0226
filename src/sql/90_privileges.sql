-- chatstore -- part 90: privileges
--
-- No function of the extension is executable by PUBLIC: the owner (and
-- superusers) run everything, an application role gets EXECUTE on the
-- application functions from chat_grant_app_role (part 80).  The writing
-- functions are SECURITY DEFINER, so EXECUTE on them is what lets a role
-- write; internal helpers are never callable by roles that were not given
-- them.  Kept last, so it covers every function the parts above created.
DO $privileges$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::pg_catalog.regprocedure
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$privileges$;
