# Installing without superuser: chatstore is a trusted extension.  A role
# that is not a superuser (no CREATEDB, no CREATEROLE) but owns its database
# runs CREATE EXTENSION chatstore and ALTER EXTENSION chatstore UPDATE;
# PostgreSQL runs the scripts as the bootstrap superuser.  Checked here:
#
#   * it works: every object of the extension ends up owned by that role (no
#     SECURITY DEFINER function of chatstore runs as a superuser), and the
#     role uses chatstore as the installing superuser does (chat_grant_app_role
#     for an application role that saves and reads, tenant isolation);
#   * every older shipped version installs the same way and updates to the
#     current one, its data kept (while a version older than 1.4 is installed
#     this way its objects are the superuser's, and the role can execute none
#     of its SECURITY DEFINER functions nor write its tables: inert until
#     updated; 1.4 and later give them to the role);
#   * all of it again with hostile objects the role created beforehand in the
#     target schema (public, which it owns): shadows of the built-ins the
#     scripts use, overloads that win over pg_catalog's when called without a
#     schema, overloads of chatstore's internal functions, operators, temp
#     tables.  Each calls a trap that counts (a sequence, kept on rollback) and
#     tries ALTER ROLE ... SUPERUSER.  Not one trap may be called, and the role
#     must never become a superuser;
#   * objects with chatstore's own names make CREATE or UPDATE fail cleanly
#     (CVE-2022-2625: nothing a user made is replaced or adopted);
#   * the role cannot escalate through the extension afterwards: the writing
#     (SECURITY DEFINER) functions run as the role itself, it cannot write C
#     functions, nor give its functions to a superuser.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('trusted');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE cs_dbo LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE ROLE cs_app LOGIN NOSUPERUSER NOBYPASSRLS;
});

sub as_dbo { my ($db, $sql) = @_; return $node->safe_psql($db, $sql, extra_params => [ '-U', 'cs_dbo' ]); }
sub as_app { my ($db, $sql) = @_; return $node->safe_psql($db, $sql, extra_params => [ '-U', 'cs_app' ]); }
sub try_dbo
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, extra_params => [ '-U', 'cs_dbo' ]);
	return ($ret, $err);
}

is($node->safe_psql('postgres', q{SELECT trusted FROM pg_available_extension_versions WHERE name = 'chatstore' AND version = (SELECT default_version FROM pg_available_extensions WHERE name = 'chatstore')}),
	't', 'chatstore is marked trusted');

# the shipped versions (full scripts), as 003_upgrade.pl finds them
my $sharedir = $node->safe_psql('postgres', q{SELECT setting FROM pg_config WHERE name = 'SHAREDIR'});
opendir(my $dh, "$sharedir/extension") or die "cannot open $sharedir/extension: $!";
my @versions = sort map { /^chatstore--(.+)\.sql$/ ? ($1) : () }
  grep { /^chatstore--.*\.sql$/ && !/^chatstore--.+--.+\.sql$/ } readdir($dh);
closedir($dh);
my $default = $node->safe_psql('postgres', q{SELECT default_version FROM pg_available_extensions WHERE name = 'chatstore'});
my @older = grep { $_ ne $default } @versions;
# version_lt('1.3', '1.4'): numeric, part by part
sub version_lt
{
	my ($a, $b) = @_;
	my @a = split /\./, $a;
	my @b = split /\./, $b;
	for my $i (0 .. 1)
	{
		return $a[$i] < $b[$i] if $a[$i] != $b[$i];
	}
	return 0;
}
note("default $default; older versions: @older");

my $dbn = 0;
sub new_db
{
	my $db = 'trusted' . ++$dbn;
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER cs_dbo");
	return $db;
}

# -------------------------------------------------------------------------
# the hostile objects, created by cs_dbo in public before CREATE EXTENSION
# -------------------------------------------------------------------------
my $trap_sql = q{
CREATE SEQUENCE public.cs_trap_hits;
GRANT USAGE, UPDATE, SELECT ON SEQUENCE public.cs_trap_hits TO PUBLIC;
CREATE TABLE public.cs_trap_log (who text, what text);
GRANT INSERT ON public.cs_trap_log TO PUBLIC;
CREATE FUNCTION public.cs_trap(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('public.cs_trap_hits');
    INSERT INTO public.cs_trap_log VALUES (current_user, what);
    BEGIN
        EXECUTE 'ALTER ROLE cs_dbo SUPERUSER';   -- works only as a superuser
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RAISE WARNING 'trap % called as %', what, current_user;
END $$;
};

my $hostile_sql = $trap_sql . q{
-- a shadow of every overload of the built-ins chatstore's scripts use (as
-- sql/80_search_path.sql; pg_catalog is searched first during the scripts,
-- so these lose to an exact match, and are there for anything unqualified)
DO $build$
DECLARE
    p record;
    args text;
    call text;
    body text;
BEGIN
    FOR p IN
        SELECT f.proname, f.pronargs, f.proretset, f.prorettype,
               pg_catalog.pg_get_function_identity_arguments(f.oid) AS idargs,
               pg_catalog.format_type(f.prorettype, NULL) AS rettype
        FROM pg_catalog.pg_proc f
        WHERE f.pronamespace = 'pg_catalog'::regnamespace
          AND f.prokind = 'f' AND f.proallargtypes IS NULL AND f.provariadic = 0
          AND f.proname = ANY (ARRAY[
              'now', 'clock_timestamp', 'gen_random_uuid', 'random', 'md5', 'hashtext',
              'current_setting', 'set_config', 'jsonb_typeof', 'jsonb_array_length',
              'jsonb_array_elements', 'jsonb_each', 'jsonb_object_keys', 'jsonb_set', 'to_jsonb',
              'left', 'length', 'octet_length', 'char_length', 'lower', 'upper', 'btrim', 'substr',
              'substring', 'replace', 'strpos', 'split_part', 'regexp_replace', 'regexp_match',
              'quote_ident', 'quote_literal', 'quote_nullable', 'unnest', 'array_length',
              'cardinality', 'array_append', 'generate_series', 'to_tsvector', 'round', 'trunc',
              'pg_extension_config_dump', 'pg_describe_object', 'pg_get_indexdef',
              'pg_get_function_identity_arguments', 'has_table_privilege', 'aclexplode',
              'pg_advisory_xact_lock', 'txid_current', 'nextval', 'format_type', 'greatest', 'least'])
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(f.proargtypes::oid[] || f.prorettype) AS t(oid)
                          JOIN pg_catalog.pg_type AS ty ON ty.oid = t.oid
                          WHERE ty.typtype = 'p'
                            AND ty.typname NOT IN ('anyelement', 'anyarray', 'anynonarray',
                                                   'anycompatible', 'anycompatiblearray', 'void'))
          AND f.prorettype <> 'record'::regtype
    LOOP
        SELECT pg_catalog.string_agg(pg_catalog.format('$%s', i), ', ')
        INTO args FROM pg_catalog.generate_series(1, p.pronargs) AS i;
        call := pg_catalog.format('pg_catalog.%I(%s)', p.proname, COALESCE(args, ''));
        IF p.proretset THEN
            body := pg_catalog.format('RETURN QUERY SELECT * FROM %s;', call);
        ELSIF p.prorettype = 'void'::regtype THEN
            body := pg_catalog.format('PERFORM %s; RETURN;', call);
        ELSE
            body := pg_catalog.format('RETURN %s;', call);
        END IF;
        BEGIN
            EXECUTE pg_catalog.format(
                'CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS %L',
                p.proname, p.idargs, CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END, p.rettype,
                pg_catalog.format('BEGIN PERFORM public.cs_trap(%L); %s END',
                                  p.proname || '(' || p.idargs || ')', body));
        EXCEPTION WHEN OTHERS THEN NULL;   -- a signature plpgsql cannot have
        END;
    END LOOP;
END
$build$;

-- overloads that beat pg_catalog's variadic "any" built-ins when called
-- without a schema (an exact match wins over a variadic one)
DO $var$
DECLARE sig text[];
BEGIN
    FOREACH sig SLICE 1 IN ARRAY ARRAY[
        ['format', 'text, text', 'text'], ['format', 'text, text, text', 'text'],
        ['format', 'text, regclass', 'text'], ['format', 'text, regprocedure', 'text'],
        ['format', 'text, text, regclass', 'text'], ['format', 'text, text, regrole', 'text'],
        ['format', 'text, name, name, regrole', 'text'], ['format', 'text, regprocedure, regrole', 'text'],
        ['concat', 'text, text', 'text'], ['concat_ws', 'text, text, text', 'text'],
        ['jsonb_build_object', 'text, text', 'jsonb'], ['jsonb_build_object', 'text, jsonb', 'jsonb'],
        ['jsonb_build_array', 'text', 'jsonb'], ['jsonb_build_array', 'jsonb', 'jsonb']] LOOP
        EXECUTE pg_catalog.format(
            'CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L', sig[1], sig[2], sig[3],
            pg_catalog.format('BEGIN PERFORM public.cs_trap(%L); RETURN NULL; END',
                              sig[1] || '(' || sig[2] || ')'));
    END LOOP;
END
$var$;

-- overloads of chatstore's own (internal) functions, with signatures no
-- version has: a call that bound to one of them would run the role's code
CREATE FUNCTION public._chat_required(value varchar, what varchar) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_required(varchar, varchar)'); RETURN value; END $$;
CREATE FUNCTION public._chat_tenant(integer) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_tenant(integer)'); RETURN NULL; END $$;
CREATE FUNCTION public._chat_write_tenant(integer) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_write_tenant(integer)'); RETURN NULL; END $$;
CREATE FUNCTION public._chat_user_arg(user_id varchar) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_user_arg(varchar)'); RETURN user_id; END $$;
CREATE FUNCTION public._chat_data_relations(integer) RETURNS SETOF regclass LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_data_relations(integer)'); END $$;
CREATE FUNCTION public._chat_app_functions(integer) RETURNS SETOF regprocedure LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_app_functions(integer)'); END $$;
CREATE FUNCTION public._chat_tenant_isolation_apply(integer) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_tenant_isolation_apply(integer)'); END $$;
CREATE FUNCTION public.chat_grant_app_role(text) RETURNS void LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('chat_grant_app_role(text)'); END $$;
CREATE FUNCTION public.chat_search_index_ddl(text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('chat_search_index_ddl(text)'); RETURN NULL; END $$;
CREATE FUNCTION public._chat_search_config_name(text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_search_config_name(text)'); RETURN NULL; END $$;
CREATE FUNCTION public._chat_fingerprint(varchar, varchar, jsonb, varchar, varchar, jsonb) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('_chat_fingerprint(varchar, ...)'); RETURN 0; END $$;

-- operators: on types pg_catalog has no exact operator for (varchar), which
-- win over text's when called without a schema, and exact shadows
CREATE FUNCTION public.cs_trap_op_vv(a varchar, b varchar) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator(varchar, varchar)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_op_nv(a name, b varchar) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator(name, varchar)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_op_rr(a regclass, b regclass) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator(regclass, regclass)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_op_tt(a text, b text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator(text, text)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_op_bb(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator(bigint, bigint)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_op_ct(a "char", b text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('operator("char", text)'); RETURN true; END $$;
CREATE FUNCTION public.cs_trap_cat(a text, b text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('text || text'); RETURN a OPERATOR(pg_catalog.||) b; END $$;
CREATE FUNCTION public.cs_trap_jt(a jsonb, b text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('jsonb ->> text'); RETURN a OPERATOR(pg_catalog.->>) b; END $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.cs_trap_op_vv);
CREATE OPERATOR public.<> (LEFTARG = varchar, RIGHTARG = varchar, FUNCTION = public.cs_trap_op_vv);
CREATE OPERATOR public.= (LEFTARG = name, RIGHTARG = varchar, FUNCTION = public.cs_trap_op_nv);
CREATE OPERATOR public.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = public.cs_trap_op_rr);
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.cs_trap_op_tt);
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = public.cs_trap_op_tt);
CREATE OPERATOR public.<= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.cs_trap_op_bb);
CREATE OPERATOR public.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.cs_trap_op_bb);
CREATE OPERATOR public.= (LEFTARG = "char", RIGHTARG = text, FUNCTION = public.cs_trap_op_ct);
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.cs_trap_cat);
CREATE OPERATOR public.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.cs_trap_jt);

-- aggregates with built-in names
CREATE FUNCTION public.cs_trap_agg(state bigint) RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('count(*)'); RETURN state; END $$;
CREATE AGGREGATE public.count(*) (sfunc = public.cs_trap_agg, stype = bigint, initcond = '0');
CREATE FUNCTION public.cs_trap_agg_t(state text, v text, d text) RETURNS text LANGUAGE plpgsql
    AS $$ BEGIN PERFORM public.cs_trap('string_agg'); RETURN state; END $$;
CREATE AGGREGATE public.string_agg(text, text) (sfunc = public.cs_trap_agg_t, stype = text);

-- tables and types named like catalogs and built-in types
CREATE TABLE public.pg_depend (objid oid, classid oid, refobjid oid, refclassid oid, deptype "char");
CREATE TABLE public.pg_extension (oid oid, extname name, extnamespace oid, extowner oid);
CREATE TABLE public.pg_proc (oid oid, proname name);
CREATE TYPE public.jsonb AS (x int);
CREATE TYPE public.regclass AS (x int);
CREATE DOMAIN public.int8multirange AS integer;
};

# the positive control: with these objects, SQL that does not qualify its
# names does run the traps
{
	my $db = new_db();
	as_dbo($db, $hostile_sql);
	as_dbo($db, q{SELECT format('%s', 'x'::text), 'a'::varchar = 'a'::varchar});
	is(as_dbo($db, q{SELECT last_value FROM public.cs_trap_hits}), '2',
		'positive control: unqualified calls hit the traps');
}

# hits of the traps so far, and whether cs_dbo became a superuser
sub traps_quiet
{
	my ($db, $label) = @_;
	my $hits = $node->safe_psql($db,
		q{SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.cs_trap_hits});
	is($hits, '0', "$label: no trap called");
	is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'cs_dbo'}),
		'f', "$label: cs_dbo is not a superuser");
	return;
}

# owners of the extension's objects
my $owners_sql = q{
WITH ext AS (SELECT oid, extowner FROM pg_extension WHERE extname = 'chatstore'),
m AS (SELECT d.classid, d.objid FROM pg_depend d, ext
      WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
o AS (SELECT m.classid, m.objid, COALESCE(c.relowner, t.typowner, p.proowner) AS owner, p.prosecdef
      FROM m
      LEFT JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      LEFT JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
      LEFT JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid)
SELECT (SELECT extowner::regrole::text FROM ext)
       || ' members=' || count(*)
       || ' not_owner=' || count(*) FILTER (WHERE owner IS DISTINCT FROM (SELECT extowner FROM ext))
       || ' superuser_secdef=' || count(*) FILTER (WHERE prosecdef AND owner IN (SELECT oid FROM pg_roles WHERE rolsuper))
       || ' foreign_indexes=' || (SELECT count(*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                 JOIN pg_class tc ON tc.oid = i.indrelid
                                 WHERE tc.oid IN (SELECT objid FROM m WHERE classid = 'pg_class'::regclass)
                                   AND ic.relowner <> tc.relowner)
FROM o;
};

sub owned_by_dbo
{
	my ($db, $label) = @_;
	like($node->safe_psql($db, $owners_sql),
		qr/^cs_dbo members=\d+ not_owner=0 superuser_secdef=0 foreign_indexes=0$/,
		"$label: the extension and every object of it are cs_dbo's; no SECURITY DEFINER function is a superuser's");
	return;
}

# an older version installed by cs_dbo: its objects are the bootstrap
# superuser's, and cs_dbo can neither execute a SECURITY DEFINER function of
# it nor write its tables
my $inert_sql = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'chatstore'),
m AS (SELECT d.classid, d.objid FROM pg_depend d, ext
      WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e')
SELECT 'secdef_executable=' || (SELECT count(*) FROM m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
                                WHERE p.prosecdef AND has_function_privilege('cs_dbo', p.oid, 'EXECUTE'))
    || ' writable=' || (SELECT count(*) FROM m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
                        WHERE c.relkind = 'r' AND has_table_privilege('cs_dbo', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES'))
    || ' owned_by_dbo=' || (SELECT count(*) FROM m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
                            WHERE c.relowner = 'cs_dbo'::regrole);
};

# cs_dbo uses chatstore as its owner: grants an application role, which
# saves and reads; switches tenant isolation on and off (needs the tables)
sub usable
{
	my ($db, $label) = @_;
	ok(as_dbo($db, q{SELECT count(*) FROM chat_grant_app_role('cs_app'::regrole)}) > 3,
		"$label: chat_grant_app_role as cs_dbo");
	is(as_app($db, q{SELECT saved_count FROM chat_save_messages('t-app',
		'[{"id": "a1", "role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]'::jsonb, 'u1')}),
		'2', "$label: the application role saves");
	is(as_app($db, q{SELECT string_agg(content, ',' ORDER BY seq) FROM chat_history('t-app')}),
		'hi,hello', "$label: the application role reads");
	my ($ret, $out, $err) = $node->psql($db,
		q{INSERT INTO chat_messages (thread_id, id, seq, role) VALUES ('t-app', 'x', 99, 'user')},
		extra_params => [ '-U', 'cs_app' ]);
	like($err, qr/permission denied/, "$label: the application role cannot write the tables directly");
	ok(as_dbo($db, q{SELECT count(*) FROM chat_enable_tenant_isolation()}) > 3,
		"$label: cs_dbo switches tenant isolation on (it owns the tables)");
	is(as_app($db, q{SET chatstore.tenant = 'u2'; SELECT count(*) FROM chat_threads WHERE id = 't-app'}),
		'0', "$label: isolated: another tenant does not see the thread");
	is(as_app($db, q{SET chatstore.tenant = 'u1'; SELECT count(*) FROM chat_threads WHERE id = 't-app'}),
		'1', "$label: isolated: the thread's tenant sees it");
	as_dbo($db, q{SELECT count(*) FROM chat_disable_tenant_isolation()});
	return;
}

# -------------------------------------------------------------------------
# CREATE EXTENSION of the current version, without and with hostile objects
# -------------------------------------------------------------------------
for my $hostile (0, 1)
{
	my $label = ($hostile ? 'hostile ' : '') . "CREATE EXTENSION $default";
	my $db = new_db();
	as_dbo($db, $hostile ? $hostile_sql : $trap_sql);
	# in one session with temp objects of the same names
	as_dbo($db, q{
CREATE TEMP TABLE chat_threads (id int);
CREATE TEMP TABLE pg_extension (extname name, extowner oid);
CREATE TEMP TABLE pg_class (oid oid, relname name);
CREATE EXTENSION chatstore;
});
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'chatstore'}),
		$default, "$label as cs_dbo: installed");
	owned_by_dbo($db, $label);
	traps_quiet($db, "$label, install");
	usable($db, $label);
	traps_quiet($db, "$label, use");
	if ($hostile)
	{
		is($node->safe_psql($db, q{
SELECT count(*) FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = 'cs_dbo'::regrole
  AND p.prosrc LIKE '%cs_trap%'
  AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')}),
			'0', "$label: no hostile function became a member of the extension");
	}
}

# -------------------------------------------------------------------------
# every older version: CREATE EXTENSION VERSION v, then UPDATE, as cs_dbo
# -------------------------------------------------------------------------
for my $v (@older)
{
	for my $hostile (0, 1)
	{
		my $label = ($hostile ? 'hostile ' : '') . "$v -> $default";
		my $db = new_db();
		as_dbo($db, $hostile ? $hostile_sql : $trap_sql);
		as_dbo($db, "CREATE EXTENSION chatstore VERSION '$v'");
		is($node->safe_psql($db, q{SELECT extowner::regrole::text || ' ' || extversion FROM pg_extension WHERE extname = 'chatstore'}),
			"cs_dbo $v", "$label: cs_dbo installs $v");
		if (version_lt($v, '1.4'))
		{
			is($node->safe_psql($db, $inert_sql), 'secdef_executable=0 writable=0 owned_by_dbo=0',
				"$label: $v as installed by cs_dbo is the superuser's and inert for cs_dbo");
		}
		else
		{
			# 1.4 and later give their objects to the role that installs them
			owned_by_dbo($db, "$label, $v as installed");
		}
		traps_quiet($db, "$label, install $v");
		# data written before the update (by a superuser: cs_dbo cannot yet)
		$node->safe_psql($db, q{SELECT chat_save_messages('t-old',
			'[{"id": "o1", "role": "user", "content": "old"}, {"role": "assistant", "content": "kept"}]'::jsonb, 'u0')});
		as_dbo($db, 'ALTER EXTENSION chatstore UPDATE');
		is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'chatstore'}),
			$default, "$label: cs_dbo updates to $default");
		owned_by_dbo($db, $label);
		traps_quiet($db, "$label, update");
		as_dbo($db, q{SELECT count(*) FROM chat_grant_app_role('cs_app'::regrole)});
		is(as_app($db, q{SELECT string_agg(content, ',' ORDER BY seq) FROM chat_history('t-old')}),
			'old,kept', "$label: the data is kept");
		usable($db, $label);
		traps_quiet($db, "$label, use");
	}
}

# -------------------------------------------------------------------------
# objects with chatstore's names: CREATE / UPDATE fail cleanly, nothing of
# the role's is replaced or adopted, no trap is called
# -------------------------------------------------------------------------
my @collisions = (
	[ 'a table chat_threads', q{CREATE TABLE public.chat_threads (id int)}, qr/already exists/ ],
	[ 'a type chat_save_result', q{CREATE TYPE public.chat_save_result AS (x int)}, qr/already exists/ ],
	[ 'a function chat_grant_app_role(regrole)',
		q{CREATE FUNCTION public.chat_grant_app_role(role_name regrole) RETURNS TABLE (object_name text, privileges text)
		  LANGUAGE plpgsql AS $$ BEGIN PERFORM public.cs_trap('chat_grant_app_role(regrole)'); END $$},
		qr/already exists/ ],
	[ 'a function _chat_tenant()',
		q{CREATE FUNCTION public._chat_tenant() RETURNS text LANGUAGE plpgsql
		  AS $$ BEGIN PERFORM public.cs_trap('_chat_tenant()'); RETURN NULL; END $$},
		qr/already exists/ ],);
for my $c (@collisions)
{
	my ($what, $sql, $re) = @$c;
	my $db = new_db();
	as_dbo($db, $trap_sql);
	as_dbo($db, $sql);
	my ($ret, $err) = try_dbo($db, 'CREATE EXTENSION chatstore');
	isnt($ret, 0, "$what made beforehand: CREATE EXTENSION fails");
	like($err, $re, "$what made beforehand: the error says why");
	is($node->safe_psql($db, q{SELECT count(*) FROM pg_extension WHERE extname = 'chatstore'}), '0',
		"$what made beforehand: no extension left");
	traps_quiet($db, "$what made beforehand");
}

# an update script creates (CREATE OR REPLACE) a function of the new version
# that the role made beforehand: PostgreSQL refuses to adopt it
# (CVE-2022-2625), the update fails and the role's function is unchanged
if (grep { $_ eq '1.3' } @older)
{
	for my $c (
		[ 'a function chat_delete_summary(text, bigint, text) (new in 1.4)',
			q{CREATE FUNCTION public.chat_delete_summary(thread_id text, summary_id bigint, user_id text DEFAULT NULL)
			  RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN PERFORM public.cs_trap('chat_delete_summary'); RETURN false; END $$},
			qr/is not a member of extension|already exists/ ],
		[ 'a table chat_summaries (new in 1.4)', q{CREATE TABLE public.chat_summaries (x int)}, qr/already exists/ ])
	{
		my ($what, $sql, $re) = @$c;
		my $db = new_db();
		as_dbo($db, $trap_sql);
		as_dbo($db, q{CREATE EXTENSION chatstore VERSION '1.3'});
		as_dbo($db, $sql);
		my ($ret, $err) = try_dbo($db, 'ALTER EXTENSION chatstore UPDATE');
		isnt($ret, 0, "1.3 -> $default with $what: the update fails");
		like($err, $re, "1.3 -> $default with $what: the error says why");
		is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'chatstore'}), '1.3',
			"1.3 -> $default with $what: still 1.3");
		is($node->safe_psql($db, q{
SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'chatstore' AND d.deptype = 'e'
  AND ((d.classid = 'pg_proc'::regclass AND d.objid IN (SELECT oid FROM pg_proc WHERE proowner = 'cs_dbo'::regrole))
    OR (d.classid = 'pg_class'::regclass AND d.objid IN (SELECT oid FROM pg_class WHERE relowner = 'cs_dbo'::regrole)))}),
			'0', "1.3 -> $default with $what: nothing of cs_dbo's became a member");
		traps_quiet($db, "1.3 -> $default with $what");
	}
}

# -------------------------------------------------------------------------
# no escalation through the installed extension
# -------------------------------------------------------------------------
{
	my $db = new_db();
	as_dbo($db, $hostile_sql);
	as_dbo($db, 'CREATE EXTENSION chatstore');
	as_dbo($db, q{SELECT count(*) FROM chat_grant_app_role('cs_app'::regrole)});

	# cs_dbo's trigger on its chat_threads: fired inside chat_save_messages
	# (SECURITY DEFINER, C), it runs as cs_dbo, not as a superuser
	as_dbo($db, q{
CREATE FUNCTION public.cs_who() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM public.cs_trap('trigger in a SECURITY DEFINER function'); RETURN NEW; END $$;
CREATE TRIGGER cs_who BEFORE INSERT ON chat_threads FOR EACH ROW EXECUTE FUNCTION public.cs_who();
});
	as_app($db, q{SELECT chat_save_messages('t-esc', '[{"role": "user", "content": "x"}]'::jsonb, 'u1')});
	is($node->safe_psql($db, q{SELECT string_agg(DISTINCT who, ',') FROM public.cs_trap_log}), 'cs_dbo',
		'a SECURITY DEFINER function of chatstore runs as the extension owner cs_dbo, not a superuser');
	is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'cs_dbo'}), 'f',
		'cs_dbo is still not a superuser');

	my ($ret, $err) = try_dbo($db, q{CREATE OR REPLACE FUNCTION chat_set_updated_at_trigger() RETURNS trigger
		AS '$libdir/chatstore', 'chat_set_updated_at_trigger' LANGUAGE C});
	like($err, qr/permission denied for language c/, 'cs_dbo cannot redefine a C function of chatstore');
	($ret, $err) = try_dbo($db, q{CREATE FUNCTION public.cs_c() RETURNS text AS '$libdir/chatstore', 'chat_tenant' LANGUAGE C});
	like($err, qr/permission denied for language c/, 'cs_dbo cannot declare C functions of chatstore.so');
	($ret, $err) = try_dbo($db, q{ALTER FUNCTION chat_save_messages(text, jsonb, text, text[]) OWNER TO postgres});
	like($err, qr/must be (a )?member of role|permission denied/, 'cs_dbo cannot give a chatstore function to a superuser');
	($ret, $err) = try_dbo($db, q{ALTER FUNCTION chat_save_messages(text, jsonb, text, text[]) COST 101});
	is($ret, 0, 'cs_dbo may change its own functions (they run as cs_dbo)');
	is($node->safe_psql($db, q{SELECT proowner::regrole::text FROM pg_proc WHERE oid = 'chat_save_messages(text, jsonb, text, text[])'::regprocedure}),
		'cs_dbo', '... and they stay cs_dbo\'s');
}

# -------------------------------------------------------------------------
# a superuser still installs as before: it owns everything
# -------------------------------------------------------------------------
{
	my $db = new_db();
	$node->safe_psql($db, 'CREATE EXTENSION chatstore');
	like($node->safe_psql($db, $owners_sql), qr/^postgres members=\d+ not_owner=0 superuser_secdef=\d+ foreign_indexes=0$/,
		'installed by a superuser: the superuser owns every object, as before');
	($node->safe_psql($db, q{SELECT count(*) FROM chat_grant_app_role('cs_app'::regrole)}) > 3)
	  or die;
	is(as_app($db, q{SELECT saved_count FROM chat_save_messages('t-su', '[{"role": "user", "content": "x"}]'::jsonb, 'u1')}),
		'1', 'installed by a superuser: the application role saves');
}

$node->stop;
done_testing();
