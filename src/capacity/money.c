/*
 * money.c: exact money. Amounts are int64 counts of the currency's minor unit,
 * rates are exact decimals turned into integers (tax in 1e-8, discounts and
 * fees in 1e-2 percent), products are formed in 128 bits and rounded once per
 * line in the tier's mode (half-even or half-up). Tax-included tiers keep the
 * displayed amounts as the charge and derive the tax inside them. No binary
 * floating point anywhere here; overflow is an error.
 */
#include "core/core.h"

#include "common/int.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "capacity/money.h"

static void
money_overflow(const char *what)
{
	ereport(ERROR,
			(errcode(EVS_ERR_OVERFLOW),
			 errmsg("amount out of range: %s does not fit in 64-bit minor units", what),
			 errhint("Use a smaller quantity or price.")));
}

/* a + b, or an overflow error naming `what`. */
int64
evs_money_add(int64 a, int64 b, const char *what)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		money_overflow(what);
	return r;
}

/* a - b, or an overflow error naming `what`. */
int64
evs_money_sub(int64 a, int64 b, const char *what)
{
	int64		r;

	if (pg_sub_s64_overflow(a, b, &r))
		money_overflow(what);
	return r;
}

/* a * b, or an overflow error naming `what`. */
int64
evs_money_mul(int64 a, int64 b, const char *what)
{
	int64		r;

	if (pg_mul_s64_overflow(a, b, &r))
		money_overflow(what);
	return r;
}

/*
 * round(amount * num / den) for amount >= 0, 0 <= num, den > 0, in the tier's
 * mode: half-even keeps the sum of many roundings unbiased (the banker's rule),
 * half-up is the commercial rule some tax offices ask for. The product is
 * formed in 128 bits, so it is exact for every int64 amount and rate.
 */
int64
evs_money_scale(int64 amount, int64 num, int64 den, EvsRounding mode, const char *what)
{
	__int128	p,
				q,
				r;

	Assert(amount >= 0 && num >= 0 && den > 0);
	p = (__int128) amount * (__int128) num;
	q = p / den;
	r = p % den;
	if (2 * r > den || (2 * r == den && (mode == EVS_ROUND_HALF_UP || (q & 1) != 0)))
		q++;
	if (q > (__int128) PG_INT64_MAX)
		money_overflow(what);
	return (int64) q;
}

/* The rounding modes by the names tiers store (rounding_mode) and the locked price shows. */
static const struct
{
	EvsRounding mode;
	const char *name;			/* the column's value */
	const char *label;			/* the locked price's "rounding" */
}			roundings[] = {
	{EVS_ROUND_HALF_EVEN, "half_even", "half-even per line"},
	{EVS_ROUND_HALF_UP, "half_up", "half-up per line"},
};

bool
evs_rounding_from_name(const char *name, EvsRounding *mode)
{
	for (size_t i = 0; i < lengthof(roundings); i++)
		if (strcmp(roundings[i].name, name) == 0)
		{
			*mode = roundings[i].mode;
			return true;
		}
	return false;
}

static const char *
rounding_name(EvsRounding mode, bool label)
{
	for (size_t i = 0; i < lengthof(roundings); i++)
		if (roundings[i].mode == mode)
			return label ? roundings[i].label : roundings[i].name;
	elog(ERROR, "unknown rounding mode %d", (int) mode);
	return NULL;				/* keep the compiler quiet */
}

/*
 * Price one line of `quantity` tickets, rounding each derived figure once for
 * the whole line in the tier's mode (docs/money.md has the formulas and why):
 *   base_total     = unit * qty                       (as displayed: gross when tax_included)
 *   group_discount = round(base_total * pct / 100)    when qty >= group minimum
 *   tickets        = base_total - group_discount
 *   service_fee    = fee * qty, facility_fee = fee * qty (fixed fees are not discounted)
 *   percentage_fee = round(tickets * fee_pct / 100)
 *   subtotal       = tickets + service_fee + facility_fee + percentage_fee
 *   taxable        = subtotal, or tickets when fees bear no tax
 * tax-exclusive:  tax = round(taxable * rate),            total = subtotal + tax
 * tax-included:   tax = round(taxable * rate / (1+rate)), total = subtotal
 *   net = total - tax, tax_base = net - untaxed fees
 * With tax included the charged total is the displayed amounts exactly: the
 * rounding only splits it into net and tax.
 */
void
evs_price_line(const EvsPriceInput *in, int32 quantity, EvsPriceLine *out)
{
	int64		tickets,
				taxable;

	if (quantity < 1)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("quantity must be at least 1, not %d", quantity)));
	if (in->unit_price < 0 || in->service_fee < 0 || in->facility_fee < 0 ||
		in->tax_rate_e8 < 0 || in->tax_rate_e8 > EVS_TAX_RATE_ONE ||
		in->group_discount_e2 < 0 || in->group_discount_e2 > EVS_PERCENT_ONE ||
		in->fee_percentage_e2 < 0 || in->fee_percentage_e2 > EVS_PERCENT_ONE)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("pricing tier holds a negative amount or a rate out of range")));

	out->quantity = quantity;
	out->unit_price = in->unit_price;
	out->base_total = evs_money_mul(in->unit_price, quantity, "base total");
	out->group_discount = 0;
	if (in->group_size_min > 0 && quantity >= in->group_size_min)
		out->group_discount = evs_money_scale(out->base_total, in->group_discount_e2, EVS_PERCENT_ONE,
											  in->rounding, "group discount");
	tickets = out->base_total - out->group_discount;	/* the discount is at most 100 % */
	out->service_fee = evs_money_mul(in->service_fee, quantity, "service fee");
	out->facility_fee = evs_money_mul(in->facility_fee, quantity, "facility fee");
	out->percentage_fee = 0;
	if (in->fee_percentage_e2 > 0)
		out->percentage_fee = evs_money_scale(tickets, in->fee_percentage_e2, EVS_PERCENT_ONE,
											  in->rounding, "percentage fee");
	out->subtotal = evs_money_add(tickets, out->service_fee, "subtotal");
	out->subtotal = evs_money_add(out->subtotal, out->facility_fee, "subtotal");
	out->subtotal = evs_money_add(out->subtotal, out->percentage_fee, "subtotal");
	taxable = in->fees_taxable ? out->subtotal : tickets;
	if (in->tax_included)
	{
		/* the tax inside a gross amount: taxable * rate / (1 + rate), at most half of it */
		out->tax = evs_money_scale(taxable, in->tax_rate_e8, EVS_TAX_RATE_ONE + in->tax_rate_e8,
								   in->rounding, "tax");
		out->total = out->subtotal;
		out->tax_base = taxable - out->tax;
	}
	else
	{
		out->tax = evs_money_scale(taxable, in->tax_rate_e8, EVS_TAX_RATE_ONE, in->rounding, "tax");
		out->total = evs_money_add(out->subtotal, out->tax, "total");
		out->tax_base = taxable;
	}
	out->net = out->total - out->tax;
}

/* A rate kept as an integer of 10^-places units, as an exact decimal (0.0825 -> 0.08250000). */
static Numeric
scaled_numeric(int64 v, int places)
{
	char		buf[48];
	int64		one = 1;

	for (int i = 0; i < places; i++)
		one *= 10;
	snprintf(buf, sizeof(buf), "%lld.%0*lld", (long long) (v / one), places, (long long) (v % one));
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * The last price lines turned into jsonb, by their inputs: the object is a
 * pure function of the input and the quantity, and an on-sale prices the same
 * few lines over and over (same tier, one to a few seats).
 */
#define PRICE_MEMO_SIZE 8

typedef struct PriceMemo
{
	EvsPriceInput in;			/* price_kind compared by content */
	int32		quantity;
	Jsonb	   *jsonb;			/* in TopMemoryContext */
} PriceMemo;

static PriceMemo price_memo[PRICE_MEMO_SIZE];
static int	price_memo_next = 0;

static bool
same_input(const EvsPriceInput *a, const EvsPriceInput *b)
{
	return a->unit_price == b->unit_price && a->service_fee == b->service_fee &&
		a->facility_fee == b->facility_fee && a->tax_rate_e8 == b->tax_rate_e8 &&
		a->group_size_min == b->group_size_min && a->group_discount_e2 == b->group_discount_e2 &&
		a->fee_percentage_e2 == b->fee_percentage_e2 && a->tax_included == b->tax_included &&
		a->fees_taxable == b->fees_taxable && a->rounding == b->rounding &&
		a->minor_unit == b->minor_unit && strcmp(a->currency, b->currency) == 0 &&
		strcmp(a->price_kind, b->price_kind) == 0;
}

static Jsonb *
price_line_build(const EvsPriceInput *in, const EvsPriceLine *l)
{
	JsonbParseState *st = NULL;

	/* keys in jsonb's own order (length, then bytes): its sort then only checks */
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "net", l->net);
	evs_jsonb_push_int(&st, "tax", l->tax);
	evs_jsonb_push_int(&st, "total", l->total);
	evs_jsonb_push_text(&st, "currency", in->currency);
	evs_jsonb_push_int(&st, "quantity", l->quantity);
	evs_jsonb_push_text(&st, "rounding", rounding_name(in->rounding, true));
	evs_jsonb_push_int(&st, "subtotal", l->subtotal);
	evs_jsonb_push_int(&st, "tax_base", l->tax_base);
	evs_jsonb_push_numeric(&st, "tax_rate", scaled_numeric(in->tax_rate_e8, 8));
	evs_jsonb_push_int(&st, "base_total", l->base_total);
	evs_jsonb_push_int(&st, "minor_unit", in->minor_unit);
	evs_jsonb_push_text(&st, "price_kind", in->price_kind);
	evs_jsonb_push_int(&st, "unit_price", l->unit_price);
	evs_jsonb_push_int(&st, "service_fee", l->service_fee);
	evs_jsonb_push_int(&st, "facility_fee", l->facility_fee);
	evs_jsonb_push_bool(&st, "fees_taxable", in->fees_taxable);
	evs_jsonb_push_bool(&st, "tax_included", in->tax_included);
	evs_jsonb_push_text(&st, "rounding_mode", rounding_name(in->rounding, false));
	evs_jsonb_push_numeric(&st, "fee_percentage", scaled_numeric(in->fee_percentage_e2, 2));
	evs_jsonb_push_int(&st, "group_discount", l->group_discount);
	evs_jsonb_push_int(&st, "percentage_fee", l->percentage_fee);
	return evs_jsonb_end(&st);
}

/* The jsonb object api.calculate_price returns and holds keep as locked_price (a fresh copy). */
Datum
evs_price_line_jsonb(const EvsPriceInput *in, const EvsPriceLine *l)
{
	Jsonb	   *j = NULL;
	Jsonb	   *copy;
	PriceMemo  *m;

	for (int i = 0; i < PRICE_MEMO_SIZE && j == NULL; i++)
		if (price_memo[i].jsonb != NULL && price_memo[i].quantity == l->quantity &&
			same_input(&price_memo[i].in, in))
			j = price_memo[i].jsonb;
	if (j == NULL)
	{
		Jsonb	   *kept;
		char	   *kind;

		j = price_line_build(in, l);
		m = &price_memo[price_memo_next];
		price_memo_next = (price_memo_next + 1) % PRICE_MEMO_SIZE;
		if (m->jsonb != NULL)
		{
			pfree(m->jsonb);
			pfree((char *) m->in.price_kind);
			m->jsonb = NULL;	/* empty until the new entry is complete */
		}
		kept = MemoryContextAlloc(TopMemoryContext, VARSIZE(j));
		kind = MemoryContextStrdup(TopMemoryContext, in->price_kind);
		memcpy(kept, j, VARSIZE(j));
		m->in = *in;
		m->in.price_kind = kind;
		m->quantity = l->quantity;
		m->jsonb = kept;
		return JsonbPGetDatum(j);
	}
	copy = palloc(VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return JsonbPGetDatum(copy);
}
