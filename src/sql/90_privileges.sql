-- chatstore -- part 90: privileges
--
-- No function of the extension is executable by PUBLIC (but one, below): the owner (and
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

-- The one exception: the tenant the policies of a distributed database read
-- (part 05).  Every role subject to them runs it, on every node, and a GRANT
-- to a role made on the coordinator does not reach the workers; it reads
-- only the caller's own setting.
GRANT EXECUTE ON FUNCTION @extschema@._chat_policy_tenant() TO PUBLIC;

-- Owners.  chatstore is a trusted extension: a role that is not a superuser
-- but has CREATE on the database (its owner, say) may CREATE EXTENSION
-- chatstore, and PostgreSQL then runs this script as the bootstrap superuser,
-- which would own every object it creates.  When the extension's owner
-- (pg_extension.extowner: the role that ran CREATE EXTENSION) is not a
-- superuser, every object of the extension that a superuser owns is given to
-- it, so that role is what the superuser who installs chatstore is
-- otherwise: the owner of the tables (tenant isolation, grants, maintenance)
-- and of the SECURITY DEFINER functions, which therefore run as that role and
-- never as a superuser.  When a superuser owns the extension nothing changes.
-- Kept last: nothing of the script runs after the objects change hands.
-- Names are built from the catalogs (%I.%I, regprocedure, regrole), not by
-- substituting @extowner@ or @extschema@ into a string.
DO $owner$
DECLARE
    ext_owner pg_catalog.regrole;
    ext_owner_super boolean;
    r record;
BEGIN
    SELECT e.extowner::pg_catalog.regrole, a.rolsuper INTO STRICT ext_owner, ext_owner_super
    FROM pg_catalog.pg_extension AS e
    JOIN pg_catalog.pg_roles AS a ON a.oid OPERATOR(pg_catalog.=) e.extowner
    WHERE e.extname OPERATOR(pg_catalog.=) 'chatstore';
    IF ext_owner_super THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT d.classid::pg_catalog.regclass AS catalog, d.objid,
               pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what,
               COALESCE(c.relowner, t.typowner, p.proowner) AS owner
        FROM pg_catalog.pg_depend AS d
        JOIN pg_catalog.pg_extension AS e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
        LEFT JOIN pg_catalog.pg_class AS c
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
              AND c.oid OPERATOR(pg_catalog.=) d.objid
        LEFT JOIN pg_catalog.pg_type AS t
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
              AND t.oid OPERATOR(pg_catalog.=) d.objid
        LEFT JOIN pg_catalog.pg_proc AS p
               ON d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
              AND p.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND e.extname OPERATOR(pg_catalog.=) 'chatstore'
        ORDER BY d.classid, d.objid
    LOOP
        IF r.owner IS NULL THEN
            -- a new kind of object: give it an ALTER ... OWNER below
            RAISE EXCEPTION 'chatstore: no owner rule for %', r.what;
        END IF;
        CONTINUE WHEN NOT (SELECT a.rolsuper FROM pg_catalog.pg_roles AS a
                           WHERE a.oid OPERATOR(pg_catalog.=) r.owner);
        IF r.catalog OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass THEN
            -- a table (its indexes, row type and owned sequences follow it)
            -- or a sequence
            EXECUTE (SELECT pg_catalog.format('ALTER %s %I.%I OWNER TO %s',
                                              CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                              n.nspname, c.relname, ext_owner)
                     FROM pg_catalog.pg_class AS c
                     JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                     WHERE c.oid OPERATOR(pg_catalog.=) r.objid
                       AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'S']::pg_catalog."char"[]));
        ELSIF r.catalog OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass THEN
            -- a composite type (CREATE TYPE ... AS)
            EXECUTE (SELECT pg_catalog.format('ALTER TYPE %I.%I OWNER TO %s', n.nspname, t.typname, ext_owner)
                     FROM pg_catalog.pg_type AS t
                     JOIN pg_catalog.pg_namespace AS n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
                     WHERE t.oid OPERATOR(pg_catalog.=) r.objid);
        ELSE
            EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %s',
                                      r.objid::pg_catalog.regprocedure, ext_owner);
        END IF;
    END LOOP;
END
$owner$;
