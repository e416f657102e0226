/*
 * spi_util.c
 *		Extension schema lookup, kept SPI plans, array construction.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "spi_util.h"

static SPIPlanPtr kept_plans[CS_PLAN_COUNT];
static Oid	kept_plans_nsp = InvalidOid;

Oid
chatstore_schema_of(FunctionCallInfo fcinfo)
{
	Oid			nsp = get_func_namespace(fcinfo->flinfo->fn_oid);

	if (!OidIsValid(nsp))
		elog(ERROR, "chatstore: cannot find the schema of function %u",
			 fcinfo->flinfo->fn_oid);
	return nsp;
}

/* sql with every "@S@" replaced by the quoted schema name */
static char *
expand_schema(const char *sql, Oid nsp)
{
	const char *schema;
	StringInfoData buf;
	const char *p;

	schema = get_namespace_name(nsp);
	if (schema == NULL)
		elog(ERROR, "chatstore: schema %u does not exist", nsp);
	schema = quote_identifier(schema);
	initStringInfo(&buf);
	for (p = sql; *p; p++)
	{
		if (p[0] == '@' && p[1] == 'S' && p[2] == '@')
		{
			appendStringInfoString(&buf, schema);
			p += 2;
		}
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

SPIPlanPtr
chatstore_plan(ChatPlanSlot slot, Oid nsp, const char *sql,
			   int nargs, const Oid *argtypes)
{
	SPIPlanPtr	plan;
	int			i;

	if (kept_plans_nsp != nsp)
	{
		for (i = 0; i < CS_PLAN_COUNT; i++)
		{
			if (kept_plans[i] != NULL)
				SPI_freeplan(kept_plans[i]);
			kept_plans[i] = NULL;
		}
		kept_plans_nsp = nsp;
	}
	if (kept_plans[slot] != NULL)
		return kept_plans[slot];

	/*
	 * Generic plans: every statement is a lookup within one thread through
	 * an index whose best plan does not depend on the values, so the plan
	 * cache must not re-plan with custom values on each call.
	 */
	plan = SPI_prepare_cursor(expand_schema(sql, nsp), nargs, (Oid *) argtypes,
							  CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "chatstore: SPI_prepare failed: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "chatstore: SPI_keepplan failed");
	kept_plans[slot] = plan;
	return plan;
}

ArrayType *
chatstore_array(Datum *values, bool *nulls, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1];
	int			lbs[1];

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	if (n == 0)
		return construct_empty_array(elemtype);
	dims[0] = n;
	lbs[0] = 1;
	return construct_md_array(values, nulls, 1, dims, lbs, elemtype,
							  typlen, typbyval, typalign);
}

void
chatstore_spi_check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "chatstore: %s failed: %s", what, SPI_result_code_string(rc));
}
