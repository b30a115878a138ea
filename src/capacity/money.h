/*
 * money.h: exact money (money.c) and pricing tiers (pricing.c), shared with the
 * hold path in reserve.c, which locks a price snapshot into each hold.
 */
#ifndef EVS_MONEY_H
#define EVS_MONEY_H

#include "core/core.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#define EVS_TAX_RATE_ONE INT64CONST(100000000)	/* tax rates are in 1e-8 units */
#define EVS_PERCENT_ONE INT64CONST(10000)	/* percentages are in 1e-2 percent units */

/* How a line rounds each figure it derives (discount, percentage fee, tax). */
typedef enum EvsRounding
{
	EVS_ROUND_HALF_EVEN = 0,	/* an exact half goes to the even neighbour */
	EVS_ROUND_HALF_UP			/* an exact half goes up (amounts are never negative) */
} EvsRounding;

/* What one line is priced from: the tier's active figures at one moment. */
typedef struct EvsPriceInput
{
	int64		unit_price;			/* as displayed: includes tax when tax_included */
	int64		service_fee;		/* per ticket */
	int64		facility_fee;		/* per ticket */
	int64		tax_rate_e8;		/* 0 .. 1e8 */
	int32		group_size_min;		/* 0: no group discount */
	int64		group_discount_e2;	/* percent in 1e-2 units: 0 .. 10000 */
	int64		fee_percentage_e2;	/* percent of the tickets after discount, 1e-2 units: 0 .. 10000 */
	bool		tax_included;		/* prices and fees contain the tax */
	bool		fees_taxable;		/* fees bear tax like tickets */
	EvsRounding rounding;
	char		currency[4];
	int			minor_unit;
	const char *price_kind;			/* base, dynamic, early_bird, last_minute */
} EvsPriceInput;

/* One priced line (docs/money.md "The price of one line"); every figure >= 0. */
typedef struct EvsPriceLine
{
	int32		quantity;
	int64		unit_price;
	int64		base_total;			/* unit_price * quantity */
	int64		group_discount;
	int64		service_fee;
	int64		facility_fee;
	int64		percentage_fee;
	int64		subtotal;			/* base_total - group_discount + the three fees */
	int64		tax_base;			/* the net amount the tax is levied on */
	int64		tax;
	int64		net;				/* total - tax */
	int64		total;				/* what the buyer pays */
} EvsPriceLine;

/* A pricing tier as the hold path needs it (pricing.c). */
typedef struct EvsPricing
{
	Datum		id;
	Datum		event_id;
	bool		has_capacity;
	Datum		capacity_id;
	bool		is_active;
	bool		has_sales_start;
	TimestampTz sales_start_at;
	bool		has_sales_end;
	TimestampTz sales_end_at;
	int32		max_per_order;		/* 0: none */
	int32		max_per_customer;	/* 0: none */
	EvsPriceInput price;
} EvsPricing;

extern int64 evs_money_add(int64 a, int64 b, const char *what);
extern int64 evs_money_sub(int64 a, int64 b, const char *what);
extern int64 evs_money_mul(int64 a, int64 b, const char *what);
extern int64 evs_money_scale(int64 amount, int64 num, int64 den, EvsRounding mode, const char *what);
extern bool evs_rounding_from_name(const char *name, EvsRounding *mode);
extern void evs_price_line(const EvsPriceInput *in, int32 quantity, EvsPriceLine *out);
extern Datum evs_price_line_jsonb(const EvsPriceInput *in, const EvsPriceLine *line);

/*
 * The tier's columns as the price of a line needs them (p = tier, c = currency).
 * Rates leave SQL as exact integers: numeric * 10^k is exact, so is ::int8 (the
 * tier rules refuse more decimals than that). A 1.0 schema has no tax mode
 * columns: its tiers are tax-exclusive, fees taxed, half-even, and
 * evs_pricing_prepare() reads them so (evs_pricing_has_tax_mode in pricing.c).
 */
#define EVS_PRICING_COLUMNS_1_0 \
	"p.id, p.event_id, p.capacity_id, p.is_active, p.sales_start_at, p.sales_end_at," \
	" p.max_per_order, p.max_per_customer, p.base_price, p.current_price, p.is_dynamic," \
	" p.early_bird_price, p.early_bird_ends_at, p.last_minute_price, p.last_minute_starts_at," \
	" p.service_fee, p.facility_fee, (p.tax_rate * 100000000)::int8," \
	" p.group_size_min, (p.group_discount_percentage * 100)::int8, p.currency::text, c.minor_unit"
#define EVS_PRICING_COLUMNS \
	EVS_PRICING_COLUMNS_1_0 ", p.tax_included, p.fees_taxable, p.rounding_mode, (p.fee_percentage * 100)::int8"
#define EVS_PRICING_COLUMNS_RELEASED \
	EVS_PRICING_COLUMNS_1_0 ", false, true, 'half_even'::text, 0::int8"
#define EVS_PRICING_NCOLUMNS 26

/* Whether the schema this library serves has the tiers' tax mode columns (not 1.0). */
extern bool evs_pricing_has_tax_mode(void);
/* The kept plan (*plan, made once) of "head <the tier's columns> tail" for the schema this library serves. */
extern SPIPlanPtr evs_pricing_prepare(SPIPlanPtr *plan, const char *head, const char *tail,
									  int nargs, Oid *types);

/* Loads the tier (tenant-filtered; runs as caller of SPI, needs SPI connected). */
extern bool evs_pricing_load(Datum tenant_id, Datum pricing_id, TimestampTz at, EvsPricing *out);
/* Reads a tier from a row whose columns o .. o+25 are EVS_PRICING_COLUMNS. */
extern void evs_pricing_from_row(HeapTuple tup, TupleDesc desc, int o, TimestampTz at, EvsPricing *out);

#endif
