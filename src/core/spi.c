/*
 * spi.c: the one way eventsvc runs SQL from C: connect, prepare a plan and
 * keep it for the session, run one statement and check its result code.
 * Errors are raised, never returned.
 */
#include "core/core.h"

#include "utils/builtins.h"

/* SPI_connect, or an error; refused while the schema is of another version (version.c). */
void
evs_spi_connect(void)
{
	int			rc;

	evs_require_current_schema();
	rc = SPI_connect();

	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/* A plan prepared and kept for the session (the plan cache replans on schema or role changes). */
SPIPlanPtr
evs_spi_prepare_kept(const char *sql, int nargs, Oid *types)
{
	SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

	if (p == NULL || SPI_keepplan(p) != 0)
		elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
	return p;
}

/* Copies a datum out of SPI memory (into the caller's context), closes SPI and returns it. */
Datum
evs_spi_finish_datum(Datum value, bool byval, int typlen)
{
	Datum		d = SPI_datumTransfer(value, byval, typlen);

	SPI_finish();
	return d;
}

/* Adds the next argument ($1, $2, ...) of a statement. */
void
evs_arg(EvsArgs *a, Oid type, Datum value, bool isnull)
{
	Assert(a->n < EVS_ARGS_MAX);
	a->types[a->n] = type;
	a->values[a->n] = value;
	a->nulls[a->n] = isnull ? 'n' : ' ';
	a->n++;
}

/*
 * Statements run by evs_exec are string literals, so a statement's address
 * names it: the first run prepares and keeps the plan, later runs reuse it.
 * A full table only costs speed (the statement is then planned every time).
 */
#define PLAN_SLOTS 64
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			plans[PLAN_SLOTS];
static int	nplans = 0;

static int
run(const char *sql, EvsArgs *a)
{
	SPIPlanPtr	plan = NULL;
	int			n = a ? a->n : 0;

	for (int i = 0; i < nplans && plan == NULL; i++)
		if (plans[i].sql == sql)
			plan = plans[i].plan;
	if (plan == NULL && nplans < PLAN_SLOTS)
	{
		plan = evs_spi_prepare_kept(sql, n, a ? a->types : NULL);
		plans[nplans].sql = sql;
		plans[nplans].plan = plan;
		nplans++;
	}
	if (plan == NULL)
		return SPI_execute_with_args(sql, n, a ? a->types : NULL, a ? a->values : NULL,
									 a ? a->nulls : NULL, false, 0);
	return SPI_execute_plan(plan, a ? a->values : NULL, a ? a->nulls : NULL, false, 0);
}

/* Runs the statement `sql` (a string literal) and requires result code expect_rc. */
void
evs_exec(const char *sql, EvsArgs *a, int expect_rc)
{
	int			rc = run(sql, a);

	if (rc != expect_rc)
		elog(ERROR, "statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

/* A value the C code counts on is NULL, or its row is missing: an internal error naming it. */
static void
pg_attribute_noreturn()
missing(const char *what, const char *detail)
{
	ereport(ERROR,
			(errcode(EVS_ERR_INTERNAL),
			 errmsg("internal error: %s is missing", what),
			 errdetail_internal("%s", detail),
			 errhint("The statement or the schema no longer returns what eventsvc expects; report this.")));
}

/* missing() for column `col` of a result found NULL. */
static void
pg_attribute_noreturn()
missing_column(TupleDesc desc, int col, const char *what)
{
	char	   *name = SPI_fname(desc, col);

	missing(what, psprintf("Column %d (%s) of a statement's result is NULL.", col, name ? name : "unknown"));
}

/* Column `col` (from 1) of row `row` (from 0) of the last result. */
Datum
evs_get(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * Column `col` (from 1) of `tuple`, a row of an SPI result, that the caller
 * uses as a value (dereferences, copies, or counts on): NULL there means a
 * statement or the schema no longer returns what the C code expects, raised
 * as an internal error naming `what` rather than a crash on a NULL pointer.
 * Sites where NULL means something (absent, no limit) test isnull themselves.
 */
Datum
evs_getbinval_notnull(HeapTuple tuple, TupleDesc desc, int col, const char *what)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tuple, desc, col, &isnull);

	if (isnull)
		missing_column(desc, col, what);
	return d;
}

/* The text form (SPI_getvalue) of column `col` of `tuple`, never NULL: as evs_getbinval_notnull. */
char *
evs_getvalue_notnull(HeapTuple tuple, TupleDesc desc, int col, const char *what)
{
	char	   *v = SPI_getvalue(tuple, desc, col);

	if (v == NULL)
		missing_column(desc, col, what);
	return v;
}

/* Column `col` of row `row` of the last result, which must have that row; never NULL: as evs_getbinval_notnull. */
Datum
evs_get_notnull(int row, int col, const char *what)
{
	if (SPI_tuptable == NULL || (uint64) row >= SPI_processed)
		missing(what, psprintf("The statement returned " UINT64_FORMAT " rows, not row %d.", SPI_processed, row + 1));
	return evs_getbinval_notnull(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, what);
}

/* A text column of the last result as a C string, NULL for NULL. */
char *
evs_get_text(int row, int col)
{
	bool		isnull;
	Datum		d = evs_get(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The single jsonb value a query (or INSERT/UPDATE ... RETURNING) returns, or NULL. */
Jsonb *
evs_query_jsonb(const char *sql, EvsArgs *a)
{
	bool		isnull;
	Datum		d;
	int			rc = run(sql, a);

	if (rc != SPI_OK_SELECT && rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "statement failed (%s): %s", SPI_result_code_string(rc), sql);
	if (SPI_processed != 1)
		return NULL;
	d = evs_get(0, 1, &isnull);
	return isnull ? NULL : DatumGetJsonbP(d);
}

/* As evs_query_jsonb, for a statement that always returns one value: none is an internal error naming `what`. */
Jsonb *
evs_query_jsonb_notnull(const char *sql, EvsArgs *a, const char *what)
{
	Jsonb	   *j = evs_query_jsonb(sql, a);

	if (j == NULL)
		missing(what, psprintf("The statement returned " UINT64_FORMAT " rows, or NULL.", SPI_processed));
	return j;
}
