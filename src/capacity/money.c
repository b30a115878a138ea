/*
 * money.c: exact money. Amounts are int64 counts of the currency's minor unit,
 * rates are exact decimals turned into integers (tax in 1e-8, discounts in
 * 1e-2 percent), products are formed in 128 bits and rounded once per line,
 * half to even. No binary floating point anywhere here; overflow is an error.
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
 * round(amount * num / den), half to even, for amount >= 0, 0 <= num, den > 0.
 * Half-even keeps the sum of many roundings unbiased (the banker's rule).
 */
int64
evs_money_scale_half_even(int64 amount, int64 num, int64 den, const char *what)
{
	__int128	p,
				q,
				r;

	Assert(amount >= 0 && num >= 0 && den > 0);
	p = (__int128) amount * (__int128) num;
	q = p / den;
	r = p % den;
	if (2 * r > den || (2 * r == den && (q & 1) != 0))
		q++;
	if (q > (__int128) PG_INT64_MAX)
		money_overflow(what);
	return (int64) q;
}

/*
 * Price one line of `quantity` tickets. Order (docs/money.md):
 *   base_total     = unit * qty
 *   group_discount = round_he(base_total * pct / 100)   when qty >= group minimum
 *   service_fee    = fee * qty, facility_fee = fee * qty (fees are not discounted)
 *   subtotal       = base_total - group_discount + service_fee + facility_fee
 *   tax            = round_he(subtotal * rate)
 *   total          = subtotal + tax
 */
void
evs_price_line(const EvsPriceInput *in, int32 quantity, EvsPriceLine *out)
{
	if (quantity < 1)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("quantity must be at least 1, not %d", quantity)));
	if (in->unit_price < 0 || in->service_fee < 0 || in->facility_fee < 0 ||
		in->tax_rate_e8 < 0 || in->tax_rate_e8 > EVS_TAX_RATE_ONE ||
		in->group_discount_e2 < 0 || in->group_discount_e2 > 10000)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("pricing tier holds a negative amount or a rate out of range")));

	out->quantity = quantity;
	out->unit_price = in->unit_price;
	out->base_total = evs_money_mul(in->unit_price, quantity, "base total");
	out->group_discount = 0;
	if (in->group_size_min > 0 && quantity >= in->group_size_min)
		out->group_discount = evs_money_scale_half_even(out->base_total, in->group_discount_e2,
														10000, "group discount");
	out->service_fee = evs_money_mul(in->service_fee, quantity, "service fee");
	out->facility_fee = evs_money_mul(in->facility_fee, quantity, "facility fee");
	out->subtotal = evs_money_sub(out->base_total, out->group_discount, "subtotal");
	out->subtotal = evs_money_add(out->subtotal, out->service_fee, "subtotal");
	out->subtotal = evs_money_add(out->subtotal, out->facility_fee, "subtotal");
	out->tax = evs_money_scale_half_even(out->subtotal, in->tax_rate_e8, EVS_TAX_RATE_ONE, "tax");
	out->total = evs_money_add(out->subtotal, out->tax, "total");
}

/* The rate as an exact decimal with its 8 places (0.0825 -> 0.08250000). */
static Numeric
tax_rate_numeric(int64 rate_e8)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%lld.%08lld", (long long) (rate_e8 / EVS_TAX_RATE_ONE),
			 (long long) (rate_e8 % EVS_TAX_RATE_ONE));
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
		a->minor_unit == b->minor_unit && strcmp(a->currency, b->currency) == 0 &&
		strcmp(a->price_kind, b->price_kind) == 0;
}

static Jsonb *
price_line_build(const EvsPriceInput *in, const EvsPriceLine *l)
{
	JsonbParseState *st = NULL;

	/* keys in jsonb's own order (length, then bytes): its sort then only checks */
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_int(&st, "tax", l->tax);
	evs_jsonb_push_int(&st, "total", l->total);
	evs_jsonb_push_text(&st, "currency", in->currency);
	evs_jsonb_push_int(&st, "quantity", l->quantity);
	evs_jsonb_push_text(&st, "rounding", "half-even per line");
	evs_jsonb_push_int(&st, "subtotal", l->subtotal);
	evs_jsonb_push_numeric(&st, "tax_rate", tax_rate_numeric(in->tax_rate_e8));
	evs_jsonb_push_int(&st, "base_total", l->base_total);
	evs_jsonb_push_int(&st, "minor_unit", in->minor_unit);
	evs_jsonb_push_text(&st, "price_kind", in->price_kind);
	evs_jsonb_push_int(&st, "unit_price", l->unit_price);
	evs_jsonb_push_int(&st, "service_fee", l->service_fee);
	evs_jsonb_push_int(&st, "facility_fee", l->facility_fee);
	evs_jsonb_push_int(&st, "group_discount", l->group_discount);
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
