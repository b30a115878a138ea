/*
 * section_counters.c: the counter rows (eventsvc.section_counters) and the
 * event customers (eventsvc.event_customers). Every hold change adds what it
 * did to the counter rows in its own transaction: seats held and sold,
 * revenue, hold counts, first-time customers and buyers, per section and
 * currency. So a section's seats are one read of a few rows, whatever the
 * number of its holds, and under MVCC the rows and the holds always agree in
 * any one snapshot.
 *
 * Each backend writes its own stripe (its backend slot), so two writers never
 * wait on each other's counter row and the update is a HOT update of a row
 * nobody else locks (counter_stripes.c writes them). Readers sum the stripes
 * of a section.
 *
 * A library built to serve 1.0 (the schema before counter rows) writes none
 * and sums the holds, as that version did.
 * docs/capacity.md "Counter rows".
 */
#include "core/core.h"

#include "access/stratnum.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "capacity/capacity_internal.h"
#include "capacity/money.h"

/*
 * Whether the schema this library serves has counter rows: they came with
 * 1.1. (A database still at 1.0 is refused before any of this runs, see
 * core/version.c; a library built to serve 1.0 writes none.)
 */
bool
evs_counters_ready(void)
{
	return strcmp(evs_library_version, "1.0") != 0;
}


/*
 * The statement that changes many holds at once (the sweep, a reservation
 * reclaiming overdue holds, an event's cancellation): `update` is an UPDATE of
 * capacity_holds aliased h (without RETURNING), `counted` the hold count
 * column its new state adds to. The statement returns one row per section:
 * tenant_id, capacity_id, seats freed, holds changed; with counter rows it
 * also takes the seats off their `held` in the same statement, on stripe
 * $`stripe_param`. Returned text is palloc'd.
 */
char *
evs_counters_bulk_sql(const char *update, const char *counted, int stripe_param)
{
	const char *counters =
		", k AS (INSERT INTO eventsvc.section_counters AS k (tenant_id, capacity_id, currency, stripe, held, %s)"
		"  SELECT tenant_id, capacity_id, currency, $%d, -seats, n FROM g"
		"  ON CONFLICT (tenant_id, capacity_id, currency, stripe) DO UPDATE"
		"  SET held = k.held + excluded.held, %s = k.%s + excluded.%s)";

	return psprintf("WITH u AS (%s RETURNING h.tenant_id, h.capacity_id, h.currency, h.quantity),"
					" g AS (SELECT tenant_id, capacity_id, coalesce(currency, '') AS currency,"
					"  sum(quantity)::int8 AS seats, count(*)::int8 AS n FROM u GROUP BY 1, 2, 3)%s"
					" SELECT tenant_id, capacity_id, sum(seats)::int8, sum(n)::int8 FROM g GROUP BY 1, 2",
					update,
					evs_counters_ready() ? psprintf(counters, counted, stripe_param, counted, counted, counted) : "");
}

/*
 * Seats held (ACTIVE) and sold (CONFIRMED) in a section: the sums of its
 * counter rows, or of its holds in a database without them. Latest snapshot
 * (a REPEATABLE READ transaction counts what is committed now) with this
 * transaction's own changes. SPI connected.
 */
void
evs_section_seats(Datum tenant, Datum section, int64 *held, int64 *sold)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	bool		ready = evs_counters_ready();
	Datum		v[2] = {tenant, section};
	bool		isnull;
	int			rc;

	evs_counters_flush();
	if (plans[ready] == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plans[ready] = evs_spi_prepare_kept(ready
			? "SELECT coalesce(sum(held), 0)::int8, coalesce(sum(sold), 0)::int8 FROM eventsvc.section_counters"
			  " WHERE tenant_id = $1 AND capacity_id = $2"
			: "SELECT coalesce(sum(quantity) FILTER (WHERE state = 'ACTIVE'), 0)::int8,"
			  " coalesce(sum(quantity) FILTER (WHERE state = 'CONFIRMED'), 0)::int8"
			  " FROM eventsvc.capacity_holds WHERE tenant_id = $1 AND capacity_id = $2"
			  " AND state IN " EVS_SEAT_STATES, 2, t);
	}
	rc = SPI_execute_snapshot(plans[ready], v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "section seat count failed: %s", SPI_result_code_string(rc));
	*held = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*sold = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/* Seats held or sold in a section (see evs_section_seats). */
int64
evs_section_held_latest(Datum tenant, Datum section)
{
	int64		held,
				sold;

	evs_section_seats(tenant, section, &held, &sold);
	return held + sold;
}

/* One amount of a locked price line or of a refund's lines (minor units); 0 and !present when it has none. */
int64
evs_line_figure(Jsonb *line, const char *key, bool *present)
{
	JsonbValue *v = line != NULL ? evs_jsonb_get(line, key) : NULL;

	*present = v != NULL && v->type == jbvNumeric;
	if (!*present)
		return 0;
	return DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(v->val.numeric)));
}

/* A line's fees: service, facility and percentage. */
static int64
line_fees(Jsonb *line)
{
	bool		present;
	int64		fees = evs_line_figure(line, "service_fee", &present);

	fees = evs_money_add(fees, evs_line_figure(line, "facility_fee", &present), "fees");
	return evs_money_add(fees, evs_line_figure(line, "percentage_fee", &present), "fees");
}

/*
 * What a purchase adds to the money columns when it is confirmed: one
 * purchase of `bought` seats, charged its locked total, with its line's gross
 * (base_total), group discount, fees and tax. A purchase without a locked
 * line was charged bought x unit price (its gross), with no discount, fee or
 * tax (docs/money.md "Revenue"). Overflow is an error, never a wrap.
 */
void
evs_counters_purchase(Jsonb *locked_price, int32 bought, int64 unit_price, EvsCounterChange *c)
{
	bool		present;
	int64		gross = evs_line_figure(locked_price, "base_total", &present);
	int64		charged;

	if (!present)
		gross = evs_money_mul((int64) bought, unit_price, "the purchase's gross");
	charged = evs_line_figure(locked_price, "total", &present);
	if (!present)
		charged = gross;
	c->purchases = evs_money_add(c->purchases, 1, "purchases");
	c->bought = evs_money_add(c->bought, bought, "seats bought");
	c->charged = evs_money_add(c->charged, charged, "charged");
	c->gross = evs_money_add(c->gross, gross, "gross");
	c->discounts = evs_money_add(c->discounts, evs_line_figure(locked_price, "group_discount", &present), "discounts");
	c->fees = evs_money_add(c->fees, line_fees(locked_price), "fees");
	c->tax = evs_money_add(c->tax, evs_line_figure(locked_price, "tax", &present), "tax");
}

/*
 * What a refund takes off: its seats and amount count as refunded, and each
 * figure's share (its lines, as stored with the refund) leaves the figures of
 * the seats still sold.
 */
void
evs_counters_refund(int32 quantity, int64 amount, Jsonb *lines, EvsCounterChange *c)
{
	bool		present;

	c->refunded_seats = evs_money_add(c->refunded_seats, quantity, "seats refunded");
	c->refunded = evs_money_add(c->refunded, amount, "refunded");
	c->gross = evs_money_sub(c->gross, evs_line_figure(lines, "base_total", &present), "gross");
	c->discounts = evs_money_sub(c->discounts, evs_line_figure(lines, "group_discount", &present), "discounts");
	c->fees = evs_money_sub(c->fees, line_fees(lines), "fees");
	c->tax = evs_money_sub(c->tax, evs_line_figure(lines, "tax", &present), "tax");
}

/* The event_customers row of (tenant, event, holder) through its key, latest snapshot: found, and bought. */
static bool
customer_row(Datum tenant, Datum event_id, const char *holder, bool *bought)
{
	static const char *const columns[] = {"bought"};
	ScanKeyData key[3];
	Datum		values[1];
	bool		nulls[1];

	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_UUID_EQ, tenant);
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_UUID_EQ, event_id);
	ScanKeyEntryInitialize(&key[2], 0, 3, BTEqualStrategyNumber, InvalidOid, DEFAULT_COLLATION_OID,
						   F_TEXTEQ, CStringGetTextDatum(holder));
	if (!evs_row_by_key("event_customers", "event_customers_pkey", 3, key, GetLatestSnapshot(),
						1, columns, values, nulls))
		return false;
	*bought = !nulls[0] && DatumGetBool(values[0]);
	return true;
}

/*
 * Whether this is the holder's first hold of the event (true once per holder
 * and event, whoever races: the primary key decides). Most calls find the row
 * and write nothing. SPI connected.
 */
bool
evs_customer_new(Datum tenant, Datum event_id, const char *holder)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {tenant, event_id, CStringGetTextDatum(holder)};
	bool		bought;
	int			rc;

	if (!evs_counters_ready() || customer_row(tenant, event_id, holder, &bought))
		return false;
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.event_customers (tenant_id, event_id, holder_id)"
									" VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", 3, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "event customer insert failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/* Whether this confirmation is the holder's first purchase in the event (once per holder and event). SPI connected. */
bool
evs_customer_first_purchase(Datum tenant, Datum event_id, const char *holder)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[3] = {tenant, event_id, CStringGetTextDatum(holder)};
	bool		bought = false;
	int			rc;

	if (!evs_counters_ready() || (customer_row(tenant, event_id, holder, &bought) && bought))
		return false;
	if (plan == NULL)
	{
		Oid			t[3] = {UUIDOID, UUIDOID, TEXTOID};

		plan = evs_spi_prepare_kept("INSERT INTO eventsvc.event_customers AS c (tenant_id, event_id, holder_id, bought)"
									" VALUES ($1, $2, $3, true) ON CONFLICT (tenant_id, event_id, holder_id)"
									" DO UPDATE SET bought = true WHERE NOT c.bought", 3, t);
	}
	rc = SPI_execute_snapshot(plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "event customer update failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/*
 * The statement that corrects counter rows to what their holds add up to:
 * the holds and the counter rows of the sections chosen by `holds_where` and
 * `counters_where`, summed per tenant, section and currency in one snapshot;
 * the difference goes to the stripe given as parameter `stripe_param`.
 */
static char *
repair_statement(const char *holds_where, const char *counters_where, const char *stripe_param)
{
	return psprintf(
		"WITH h AS (SELECT tenant_id, capacity_id, coalesce(currency, '')::text AS currency,"
		"   coalesce(sum(quantity) FILTER (WHERE state = 'ACTIVE'), 0)::int8 AS held,"
		"   coalesce(sum(quantity) FILTER (WHERE state = 'CONFIRMED'), 0)::int8 AS sold,"
		"   coalesce(sum(quantity::int8 * unit_price) FILTER (WHERE state = 'CONFIRMED'), 0)::int8 AS revenue,"
		"   count(*)::int8 AS holds, count(*) FILTER (WHERE state = 'CONFIRMED')::int8 AS confirmed,"
		"   count(*) FILTER (WHERE state = 'EXPIRED')::int8 AS expired,"
		"   count(*) FILTER (WHERE state = 'RELEASED')::int8 AS released, " EVS_SQL_HOLD_MONEY
		"   FROM eventsvc.capacity_holds %s GROUP BY 1, 2, 3),"
		/* the refunds of the same sections (the holds' condition names only tenant_id and capacity_id) */
		" r AS (SELECT tenant_id, capacity_id, coalesce(currency, '')::text AS currency, " EVS_SQL_REFUND_MONEY
		"   FROM eventsvc.hold_refunds %s GROUP BY 1, 2, 3),"
		/* what the rows should say: the holds' seats and money, less the refunds */
		" w AS (SELECT tenant_id, capacity_id, currency, coalesce(h.held, 0) AS held, coalesce(h.sold, 0) AS sold,"
		"   coalesce(h.revenue, 0) AS revenue, coalesce(h.holds, 0) AS holds, coalesce(h.confirmed, 0) AS confirmed,"
		"   coalesce(h.expired, 0) AS expired, coalesce(h.released, 0) AS released, " EVS_SQL_MONEY_KEPT
		"   FROM h FULL JOIN r USING (tenant_id, capacity_id, currency)),"
		" k AS (SELECT tenant_id, capacity_id, currency, sum(held)::int8 AS held, sum(sold)::int8 AS sold,"
		"   sum(revenue)::int8 AS revenue, sum(holds)::int8 AS holds, sum(holds_confirmed)::int8 AS confirmed,"
		"   sum(holds_expired)::int8 AS expired, sum(holds_released)::int8 AS released,"
		"   sum(purchases)::int8 AS purchases, sum(bought)::int8 AS bought, sum(charged)::int8 AS charged,"
		"   sum(gross)::int8 AS gross, sum(discounts)::int8 AS discounts, sum(fees)::int8 AS fees,"
		"   sum(tax)::int8 AS tax, sum(refunded_seats)::int8 AS refunded_seats, sum(refunded)::int8 AS refunded"
		"   FROM eventsvc.section_counters %s GROUP BY 1, 2, 3),"
		" d AS (SELECT tenant_id, capacity_id, currency, coalesce(w.held, 0) - coalesce(k.held, 0) AS held,"
		"   coalesce(w.sold, 0) - coalesce(k.sold, 0) AS sold, coalesce(w.revenue, 0) - coalesce(k.revenue, 0) AS revenue,"
		"   coalesce(w.holds, 0) - coalesce(k.holds, 0) AS holds,"
		"   coalesce(w.confirmed, 0) - coalesce(k.confirmed, 0) AS confirmed,"
		"   coalesce(w.expired, 0) - coalesce(k.expired, 0) AS expired,"
		"   coalesce(w.released, 0) - coalesce(k.released, 0) AS released,"
		"   coalesce(w.purchases, 0) - coalesce(k.purchases, 0) AS purchases, coalesce(w.bought, 0) - coalesce(k.bought, 0) AS bought,"
		"   coalesce(w.charged, 0) - coalesce(k.charged, 0) AS charged, coalesce(w.gross, 0) - coalesce(k.gross, 0) AS gross,"
		"   coalesce(w.discounts, 0) - coalesce(k.discounts, 0) AS discounts, coalesce(w.fees, 0) - coalesce(k.fees, 0) AS fees,"
		"   coalesce(w.tax, 0) - coalesce(k.tax, 0) AS tax, coalesce(w.refunded_seats, 0) - coalesce(k.refunded_seats, 0) AS refunded_seats,"
		"   coalesce(w.refunded, 0) - coalesce(k.refunded, 0) AS refunded"
		"   FROM w FULL JOIN k USING (tenant_id, capacity_id, currency))"
		" INSERT INTO eventsvc.section_counters AS c (tenant_id, capacity_id, currency, stripe, held, sold, revenue,"
		"   holds, holds_confirmed, holds_expired, holds_released, " EVS_SQL_MONEY_COLUMNS ")"
		" SELECT tenant_id, capacity_id, currency, %s, held, sold, revenue, holds, confirmed, expired, released, "
		EVS_SQL_MONEY_COLUMNS " FROM d"
		"  WHERE (held, sold, revenue, holds, confirmed, expired, released, " EVS_SQL_MONEY_COLUMNS ")"
		"    <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)"
		" ON CONFLICT (tenant_id, capacity_id, currency, stripe) DO UPDATE SET held = c.held + excluded.held,"
		"  sold = c.sold + excluded.sold, revenue = c.revenue + excluded.revenue, holds = c.holds + excluded.holds,"
		"  holds_confirmed = c.holds_confirmed + excluded.holds_confirmed,"
		"  holds_expired = c.holds_expired + excluded.holds_expired,"
		"  holds_released = c.holds_released + excluded.holds_released,"
		"  purchases = c.purchases + excluded.purchases, bought = c.bought + excluded.bought, charged = c.charged + excluded.charged,"
		"  gross = c.gross + excluded.gross, discounts = c.discounts + excluded.discounts, fees = c.fees + excluded.fees,"
		"  tax = c.tax + excluded.tax, refunded_seats = c.refunded_seats + excluded.refunded_seats, refunded = c.refunded + excluded.refunded",
		holds_where, holds_where, counters_where, stripe_param);
}

/*
 * Corrects the counter rows of a section id, in every tenant that has one, to
 * what its holds add up to (the repair after hold rows were written around
 * the hold functions). One statement, so one snapshot sees the holds and the
 * rows; the difference goes to this backend's stripe. Transactions in flight
 * change both in their own commit, so the difference stays right.
 */
void
evs_counters_repair(Datum section_id)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {section_id, Int32GetDatum(evs_counters_stripe())};
	int			guc_level;
	int			rc;

	if (!evs_counters_ready())
		return;
	evs_counters_flush();
	evs_spi_connect();
	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, INT4OID};

		/*
		 * The section id names no tenant. Its counter rows are found by their
		 * section index; its holds by their key (tenant_id, capacity_id, ...)
		 * probed once per tenant, and per tenant of its counter rows (one that
		 * is gone), never read whole.
		 */
		plan = evs_spi_prepare_kept(repair_statement(
			"WHERE capacity_id = $1 AND tenant_id = ANY (ARRAY("
			"  SELECT id FROM eventsvc.tenants UNION SELECT tenant_id FROM eventsvc.section_counters WHERE capacity_id = $1))",
			"WHERE capacity_id = $1", "$2"), 2, t);
	}

	/*
	 * A few index probes: the planner's estimate for a thousand tenants'
	 * probes is above jit_above_cost, and compiling would cost a hundred
	 * times the probes, once per section repaired.
	 */
	guc_level = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	rc = SPI_execute_plan(plan, v, NULL, false, 0);
	AtEOXact_GUC(true, guc_level);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "counter row repair failed: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/*
 * The same correction for every section of this database in one statement
 * (one pass over the holds and the counter rows, grouped): what a restore
 * needs, where a repair per section would probe the holds once per section.
 * Returns how many counter rows it changed.
 */
int64
evs_counters_repair_all(void)
{
	Datum		v[1] = {Int32GetDatum(evs_counters_stripe())};
	Oid			t[1] = {INT4OID};
	int64		changed;
	int			rc;

	if (!evs_counters_ready())
		return 0;
	evs_counters_flush();
	evs_spi_connect();
	rc = SPI_execute_with_args(repair_statement("", "", "$1"), 1, t, v, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "counter row repair failed: %s", SPI_result_code_string(rc));
	changed = (int64) SPI_processed;
	SPI_finish();
	return changed;
}
