/*
 * capacity/capacity_internal.h: what the capacity files share and nothing
 * outside the area uses: the escrow counters (escrow.c) as the hold path uses
 * them, the hold store (hold_store.c), the sweep's read start
 * (sweep_horizon.c), the threshold messages (thresholds.c). See
 * docs/capacity.md for the design and its invariants.
 */
#ifndef EVS_CAPACITY_INTERNAL_H
#define EVS_CAPACITY_INTERNAL_H

#include "capacity/capacity.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/spi.h"
#include "storage/lock.h"
#include "utils/uuid.h"


/*
 * A section's seats, as every path that returns or offers them names it: the
 * tenant and the section (a per-date dimension adds its occurrence here).
 */
typedef struct EvsSeatKey
{
	Datum		tenant;
	Datum		section;
} EvsSeatKey;

#define EVS_LOCK_SELLOUT 0x4559		/* advisory lock class: an event's sell-out decision against returns */
#define EVS_LOCK_SALES 0x4553		/* advisory lock class: an event's sales against its cancellation */

/* The hold states whose seats are taken (held or sold), for SQL: state IN EVS_SEAT_STATES */
#define EVS_SEAT_STATES "('ACTIVE', 'CONFIRMED')"

/* each module's settings (and shared memory), from evs_capacity_init */
extern void evs_reserve_init(void);
extern void evs_escrow_init(void);
extern void evs_hold_sweep_init(void);
extern void evs_sweep_horizon_init(void);
extern void evs_customer_limit_init(void);
extern void evs_payment_init(void);
extern void evs_hold_archive_init(void);
extern void evs_waitlist_init(void);
extern void evs_postponement_init(void);

/*
 * The entry points that answer with jsonb (those a 1.0 database still calls):
 * hold_result.c makes the row of the declared type from it (api.holds, api.price_line, api.allowance).
 */
extern PGDLLEXPORT Datum evs_sql_reserve_capacity(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_confirm_hold(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_release_hold(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_extend_hold(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_start_payment(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_confirm_payment(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_calculate_price(PG_FUNCTION_ARGS);
extern PGDLLEXPORT Datum evs_sql_seat_allowance(PG_FUNCTION_ARGS);

/*
 * reserve.c: the hold api.reserve_capacity just made, as C values, for the row
 * hold_result.c returns (no jsonb to make and read back on the hottest call).
 * made is false when the answer was a replay of an earlier call (Idempotency-Key).
 */
typedef struct EvsNewHold
{
	bool		made;
	pg_uuid_t	id;
	pg_uuid_t	event_id;
	pg_uuid_t	capacity_id;
	bool		priced;
	pg_uuid_t	pricing_id;		/* when priced */
	const char *holder;
	int32		quantity;
	char		currency[4];	/* when priced */
	int64		unit_price;		/* when priced */
	Jsonb	   *locked_price;	/* when priced */
	TimestampTz expires_at;
	TimestampTz created_at;
} EvsNewHold;
extern Datum evs_reserve_capacity_made(FunctionCallInfo fcinfo, EvsNewHold *made);

/* reserve.c: the longest life of a hold, which an extension reads too */
extern int	evs_hold_max_seconds;

/*
 * escrow.c: the sections' shared seat counters. A handle names a section's
 * slot and the tag it had (a slot can change hands; every use checks).
 */
typedef struct EvsEscrowKey
{
	Oid			dbid;
	Oid			holds_rel;
	pg_uuid_t	tenant;
	pg_uuid_t	section;
} EvsEscrowKey;
typedef struct EvsEscrowEntry
{
	EvsEscrowKey key;
	int			slot;
	uint32		tag;
} EvsEscrowEntry;
/* The section's counter, a slot assigned if it has none (false: none to be had; use the row-lock path). */
extern bool evs_escrow_section(Datum tenant, Datum section, EvsEscrowEntry *e);
/* The section's counter; a slot assigned only from the free ones within the tenant's share. */
extern bool evs_escrow_section_if_free(Datum tenant, Datum section, EvsEscrowEntry *e);
/* The section's counter if it has a slot; never assigns one. */
extern bool evs_escrow_find(Datum tenant, Datum section, EvsEscrowEntry *e);
typedef enum EvsTake
{
	EVS_TAKE_OK,				/* taken: given back if the (sub)transaction aborts */
	EVS_TAKE_SHORT,				/* not enough free: *remaining says how many are */
	EVS_TAKE_NO_COUNTER			/* the counter is not valid and could not be built in time: row-lock path */
} EvsTake;
/* Takes n seats, building the counter first if needed (at most eventsvc.escrow_build_wait_ms). */
extern EvsTake evs_escrow_take(EvsEscrowEntry *e, Datum tenant, Datum section, int64 n, int64 *remaining);
/* The row-lock path: the section's seat lock until commit; returns seats others took on its counter, in flight. */
extern int64 evs_seats_lock(Datum tenant, Datum section);
/* Before a change of hold rows that frees seats of a section; after it, the seats (back at commit). */
extern void evs_seats_give_begin(Datum tenant, Datum section);
extern void evs_seats_give_end(Datum tenant, Datum section, int64 n);
/* Whether the counter is valid, built now if it is stale. */
extern bool evs_escrow_ready(EvsEscrowEntry *e, Datum tenant, Datum section);
/* The counter's free seats; false when it is not valid (count the rows instead). */
extern bool evs_escrow_free(EvsEscrowEntry *e, int64 *free);
/* records of open transactions on the counter */
extern int	evs_escrow_in_flight(EvsEscrowEntry *e);
typedef struct EvsEscrowReading
{
	bool		stable;			/* nothing moved while it was read */
	bool		valid;
	uint32		generation;
	uint64		changes;
	int			in_flight;		/* every open transaction's records */
	int			others;			/* other transactions' records */
	int64		available;
	int64		own_pending;	/* seats this transaction gives back at commit */
} EvsEscrowReading;
extern void evs_escrow_read(EvsEscrowEntry *e, EvsEscrowReading *r);

/* reserve.c: takes seats of a section for a hold this transaction writes; false when too few remain */
extern bool evs_section_take(Datum tenant, Datum section_id, int32 quantity, int64 *remaining);
/* reserve.c: takes as many as are free, at most `max` (*taken) */
extern void evs_section_take_up_to(Datum tenant, Datum section_id, int64 max, int64 *taken);
/* reserve.c: seats free in the open pool now */
extern int64 evs_section_free(Datum tenant, Datum section_id);
/* reserve.c: a new version-4 uuid */
extern Datum evs_new_uuid(void);

/* hold_store.c: a new hold row, written without the executor */
typedef struct EvsHoldRow
{
	Datum		tenant_id;
	Datum		id;
	Datum		event_id;
	Datum		capacity_id;
	const char *holder_id;
	int32		quantity;
	TimestampTz expires_at;
	TimestampTz created_at;
	bool		priced;			/* the four below only when priced */
	Datum		pricing_id;
	const char *currency;
	int64		unit_price;
	Datum		locked_price;	/* jsonb */
} EvsHoldRow;
/* Written directly, or through SQL when an operator has changed the table; SPI connected. */
extern void evs_hold_insert(const EvsHoldRow *row);
/* After evs_hold_insert: whether the table has the 1.1 columns (phase, payment, ...), NULL in a new hold. */
extern bool evs_hold_has_life_columns(void);

/* hold_store.c: hold rows change only while this is true (the DML guard trigger). */
extern bool evs_hold_writer_active;
/* Statements that write hold rows run through here: the guard trigger lets them pass. */
extern int	evs_hold_write(SPIPlanPtr plan, Datum *values, const char *nulls, long limit);

/* section_counters.c: the counter rows, written by every hold change in its transaction */
typedef struct EvsCounterChange
{
	int64		held;			/* seats of ACTIVE holds */
	int64		sold;			/* seats of CONFIRMED holds */
	int64		revenue;		/* quantity x locked unit price of CONFIRMED holds */
	int64		holds;			/* holds made */
	int64		confirmed;
	int64		expired;
	int64		released;
	int64		customers;		/* holders' first holds of the event */
	int64		buying;			/* holders' first confirmed holds of the event */
	/* money (docs/money.md "Revenue"): added by confirmations, taken off by refunds */
	int64		purchases;		/* holds confirmed (a purchase refunded in full stays one) */
	int64		bought;			/* seats the purchases bought */
	int64		charged;		/* their locked totals (quantity x unit price without a line) */
	int64		gross;			/* base_total of the seats still sold */
	int64		discounts;		/* group discounts of the seats still sold */
	int64		fees;			/* service, facility and percentage fees of the seats still sold */
	int64		tax;			/* tax of the seats still sold */
	int64		refunded_seats; /* seats refunded */
	int64		refunded;		/* paid back: the refunds' amounts */
} EvsCounterChange;
/* What a purchase of `bought` seats adds to the money columns (its locked line; no line: bought x unit price). */
extern void evs_counters_purchase(Jsonb *locked_price, int32 bought, int64 unit_price, EvsCounterChange *c);
/* What a refund of `quantity` seats paying back `amount` with these lines takes off the money columns. */
extern void evs_counters_refund(int32 quantity, int64 amount, Jsonb *lines, EvsCounterChange *c);
/* One amount of a locked price line or a refund's lines, minor units (0 and !present when it has none). */
extern int64 evs_line_figure(Jsonb *line, const char *key, bool *present);

/*
 * The money columns as the purchases and refunds add up to, for the drift
 * check and the repair (the same figures as the counter rows keep): aggregates
 * over eventsvc.capacity_holds (columns unqualified) and over
 * eventsvc.hold_refunds (likewise). The rebuild (part 44) writes the same SQL.
 */
#define EVS_SQL_PURCHASE "state::text IN ('CONFIRMED', 'REFUNDED')"
#define EVS_SQL_BOUGHT \
	"(CASE WHEN state::text = 'REFUNDED' THEN refunded_quantity ELSE quantity + coalesce(refunded_quantity, 0) END)::int8"
#define EVS_SQL_GROSS "coalesce((locked_price ->> 'base_total')::int8, " EVS_SQL_BOUGHT " * unit_price)"
#define EVS_SQL_FEES(col) \
	"coalesce((" col " ->> 'service_fee')::int8, 0) + coalesce((" col " ->> 'facility_fee')::int8, 0)" \
	" + coalesce((" col " ->> 'percentage_fee')::int8, 0)"
#define EVS_SQL_HOLD_MONEY \
	"count(*) FILTER (WHERE " EVS_SQL_PURCHASE ")::int8 AS purchases," \
	" coalesce(sum(" EVS_SQL_BOUGHT ") FILTER (WHERE " EVS_SQL_PURCHASE "), 0)::int8 AS bought," \
	" coalesce(sum(coalesce((locked_price ->> 'total')::int8, " EVS_SQL_GROSS ")) FILTER (WHERE " EVS_SQL_PURCHASE \
	"), 0)::int8 AS charged," \
	" coalesce(sum(" EVS_SQL_GROSS ") FILTER (WHERE " EVS_SQL_PURCHASE "), 0)::int8 AS gross," \
	" coalesce(sum((locked_price ->> 'group_discount')::int8) FILTER (WHERE " EVS_SQL_PURCHASE "), 0)::int8 AS discounts," \
	" coalesce(sum(" EVS_SQL_FEES("locked_price") ") FILTER (WHERE " EVS_SQL_PURCHASE "), 0)::int8 AS fees," \
	" coalesce(sum((locked_price ->> 'tax')::int8) FILTER (WHERE " EVS_SQL_PURCHASE "), 0)::int8 AS tax"
#define EVS_SQL_REFUND_MONEY \
	"coalesce(sum(quantity), 0)::int8 AS refunded_seats, coalesce(sum(amount), 0)::int8 AS refunded," \
	" coalesce(sum((lines ->> 'base_total')::int8), 0)::int8 AS gross," \
	" coalesce(sum((lines ->> 'group_discount')::int8), 0)::int8 AS discounts," \
	" coalesce(sum(" EVS_SQL_FEES("lines") "), 0)::int8 AS fees, coalesce(sum((lines ->> 'tax')::int8), 0)::int8 AS tax"
/*
 * Per (key..., currency): the holds' money `h` (EVS_SQL_HOLD_MONEY) and the
 * refunds' `r` (EVS_SQL_REFUND_MONEY) joined into what the counter rows keep:
 * the select list of "FROM h FULL JOIN r USING (...)".
 */
#define EVS_SQL_MONEY_KEPT \
	"coalesce(h.purchases, 0) AS purchases, coalesce(h.bought, 0) AS bought, coalesce(h.charged, 0) AS charged," \
	" coalesce(h.gross, 0) - coalesce(r.gross, 0) AS gross, coalesce(h.discounts, 0) - coalesce(r.discounts, 0) AS discounts," \
	" coalesce(h.fees, 0) - coalesce(r.fees, 0) AS fees, coalesce(h.tax, 0) - coalesce(r.tax, 0) AS tax," \
	" coalesce(r.refunded_seats, 0) AS refunded_seats, coalesce(r.refunded, 0) AS refunded"
#define EVS_SQL_MONEY_COLUMNS "purchases, bought, charged, gross, discounts, fees, tax, refunded_seats, refunded"
extern bool evs_counters_ready(void);
extern int32 evs_counters_stripe(void);
extern void evs_counters_add(Datum tenant, Datum section, const char *currency, const EvsCounterChange *c);
/* Writes this transaction's pending counter changes (before reading counter rows). */
extern void evs_counters_flush(void);
extern char *evs_counters_bulk_sql(const char *update, const char *counted, int stripe_param);
/* Corrects the counter rows of a section id (every tenant) to what its holds add up to. SPI not needed. */
extern void evs_counters_repair(Datum section_id);
extern int64 evs_counters_repair_all(void);
/* Seats held and sold in a section (counter rows; holds in a 1.0 database), latest snapshot. */
extern void evs_section_seats(Datum tenant, Datum section, int64 *held, int64 *sold);
extern int64 evs_section_held_latest(Datum tenant, Datum section);	/* held + sold */
extern bool evs_customer_new(Datum tenant, Datum event_id, const char *holder);
extern bool evs_customer_first_purchase(Datum tenant, Datum event_id, const char *holder);

/* hold_archive.c: moves up to limit ended holds past their retention to the archive (as the owner) */
extern int64 evs_archive_holds(int limit);

/* hold_sweep.c: expires a section's overdue holds now, for a request short of seats; returns the seats freed.
 * The caller registers the give (evs_seats_give_begin) before and returns the seats (evs_seats_returned). */
extern int64 evs_reclaim_expired(Datum tenant, Datum section_id);

/*
 * hold_settings.c: settings a tenant may override (eventsvc.tenant_hold_settings);
 * the value in force is the tenant's, else the cluster's. SPI connected.
 */
typedef enum EvsHoldSettingId
{
	EVS_SETTING_MAX_SEATS,		/* seats per customer per event (0: none) */
	EVS_SETTING_PAYMENT_WINDOW, /* seconds a hold in payment has */
	EVS_SETTING_OFFER_WINDOW,	/* seconds a waitlist offer has */
	EVS_HOLD_SETTINGS
} EvsHoldSettingId;
extern int	evs_hold_setting(Datum tenant, EvsHoldSettingId id);
/* Whether the library serves the 1.1 schema (a library built for 1.0 keeps the 1.0 behaviour). */
extern bool evs_holds_schema_ready(void);
/* The statement for the 1.1 schema (dates of a series, docs/series.md) or the one for 1.0. */
#define EVS_SERIES_SQL(v1_1, v1_0) (evs_holds_schema_ready() ? (v1_1) : (v1_0))
/* section_read.c: the section statement's parts of the hold path, a series' refusals (true: the date is sold out) */
extern const char *evs_section_read_columns(void);
extern const char *evs_section_read_from(void);
extern bool evs_series_refusal(bool per_date, const char *date_status, Datum section_id);

/* payment.c: the cluster's settings of a hold's payment phase */
extern int	evs_payment_window_seconds;
extern int	evs_hold_max_renewals;
extern int	evs_hold_max_life_seconds;

/* customer_limit.c: the cluster's per-customer limit (0: none), which a tenant may override */
extern int	evs_max_seats_per_holder;
/*
 * customer_limit.c: refuses a reservation that would take the customer past
 * the event's per-customer limit (or the tier's, `tier_limit` > 0). SPI connected.
 */
extern void evs_customer_limit_check(Datum tenant, Datum event_id, const char *holder, int32 tier_limit,
									 int32 quantity);

/* hold_life.c: a hold as the steps after its reservation read it (locked for the change) */
typedef struct EvsHold
{
	Datum		tenant;
	Datum		id;
	Datum		event_id;
	Datum		capacity_id;
	bool		has_pricing;
	Datum		pricing_id;
	char	   *holder;
	int32		quantity;
	char	   *state;			/* ACTIVE, CONFIRMED, RELEASED, EXPIRED, REFUND_REQUIRED, REFUNDED */
	char	   *phase;			/* NULL, PAYMENT, WAITLIST, OFFERED */
	TimestampTz expires_at;
	TimestampTz created_at;
	bool		expired;		/* expires_at has passed (eventsvc.now()) */
	char	   *payment_ref;	/* NULL: no payment started */
	Jsonb	   *locked_price;	/* NULL: no price (complimentary) */
	char	   *currency;
	int32		renewals;
	bool		confirmed;		/* has a confirmed_at */
	int64		unit_price;		/* locked unit price (0 without a price) */
	int32		refunded_quantity;	/* seats of a purchase refunded so far */
	bool		has_entry;		/* a waitlist hold: */
	Datum		waitlist_entry_id;
} EvsHold;
extern bool evs_hold_lock(Datum tenant, Datum hold_id, EvsHold *h);
/* hold_life.c: a sale of the hold begins (before the hold is locked): true when its event is cancelled. SPI connected. */
extern bool evs_hold_sale_begin(Datum tenant, Datum hold_id);
/* hold_life.c: confirm and release refuse a hold the waitlist is still gathering (from the changed row) */
extern void evs_hold_changed_waitlist(Datum tenant, Jsonb *row, bool confirmed);
extern bool evs_hold_read(Datum tenant, Datum hold_id, EvsHold *h);
/* hold_change.c: refuses a change of a hold that is not live, saying why (PT404, PT409, PT410) */
extern void evs_hold_refused(Datum tenant, Datum hold_id, const char *action) pg_attribute_noreturn();
/* payment.c: the total of the hold's locked price line (0 without a price) */
extern int64 evs_hold_total(const EvsHold *h);
extern void evs_hold_not_found(Datum hold_id) pg_attribute_noreturn();
extern void evs_hold_require_actor(const EvsHold *h, bool staff_only, const char *action);
extern Jsonb *evs_hold_row_jsonb(Datum tenant, Datum hold_id);
extern void evs_hold_audit(const EvsHold *h, const char *action, int32 quantity, int64 amount, Jsonb *detail);
/* The section's counter rows follow the hold from one state and size to another. */
extern void evs_hold_counters_move(const EvsHold *h, const char *from, int32 from_quantity, const char *to,
								   int32 to_quantity);

/*
 * seat_return.c: the one path of seats that come back to a section (the rows
 * that held them have changed): the waitlist first, then the open pool; a
 * SOLD_OUT event is ON_SALE again. `keep` of the open seats stay with the
 * caller. Returns the seats that reached the open pool. SPI connected.
 */
extern int64 evs_seats_returned(const EvsSeatKey *key, int64 seats, int64 keep);
extern void evs_uuid_locktag(LOCKTAG *tag, Datum id, uint16 lock_class);
extern void evs_sellout_lock(Datum event_id, bool exclusive);

/* refund.c: what a refund of `quantity` more seats of a purchase gives back (docs/holds.md "Refunds") */
typedef struct EvsRefundLines
{
	int32		quantity;		/* seats refunded now */
	int32		before;			/* seats of the purchase refunded before */
	int32		of;				/* seats the purchase had */
	int64		amount;			/* paid back: the share of the line's total, minor units */
	Jsonb	   *lines;			/* each amount figure of the locked line: its share */
} EvsRefundLines;
/* Who caused a refund: the buyer asked (the policy's time rule applies), or the organiser did (cancelled, postponed). */
typedef enum EvsRefundCause
{
	EVS_REFUND_REQUESTED,		/* asked of the payment service by a payment.refund_requested message */
	EVS_REFUND_ORGANISER,		/* the organiser's (a date of a series cancelled): a message too */
	EVS_REFUND_ORGANISER_CALLED	/* the organiser's, paid by the worker's call with the refund's key
								 * (an event's cancellation saga, a postponement): no message */
} EvsRefundCause;
extern void evs_refund_lines(const EvsHold *purchase, int32 quantity, EvsRefundCause cause, EvsRefundLines *out);
/* refund.c: refunds quantity seats (0: all still sold) of a purchase in this transaction; the refund row as jsonb */
extern Jsonb *evs_refund(Datum tenant, Datum hold_id, int32 quantity, const char *reason, EvsRefundCause cause);

/* refund_policy.c: the policy in force stored with a purchase when it is sold; its effect on a refund */
extern void evs_refund_policy_capture(Datum tenant, Datum hold_id, bool has_pricing, Datum pricing_id);
extern void evs_refund_policy_apply(const EvsHold *purchase, EvsRefundCause cause, int64 fees_share,
									EvsRefundLines *out, JsonbParseState **st);

/* waitlist.c, waitlist_api.c: a section's waitlist (docs/holds.md "Waitlist") */
extern int	evs_offer_window_seconds;
/* the return path's first step: the waitlist takes what its entries wait for; returns the rest */
extern int64 evs_waitlist_take_seats(const EvsSeatKey *key, int64 seats);
extern void evs_waitlist_lock(const EvsSeatKey *key, bool exclusive);
extern void evs_waitlist_drain(const EvsSeatKey *key, Datum event_id);
/* the expiry sweep draws free seats of sections whose entries still lack some */
extern int64 evs_waitlist_sweep_draw(int limit);
extern void evs_waitlist_count(const EvsSeatKey *key, int32 waiting, int64 wanted, int64 gathered, int32 offers_out,
							   int64 offers_made, int64 conversions, int64 lapsed, int64 left);
extern void evs_waitlist_release_hold(Datum tenant, Datum hold_id, const char *reason);
extern void evs_waitlist_close(Datum tenant, Datum scope_id, bool date);
/* hold_sweep.c, event_refunds.c: one date of a series cancelled (series.c) */
extern int64 evs_release_date_holds(Datum tenant_id, Datum occurrence_id);
extern Jsonb *evs_refund_date_purchases(Datum tenant_id, Datum occurrence_id, const char *reason);
/* postponement.c: a date being cancelled locks its open window's decisions before its holds. SPI connected. */
extern void evs_postponement_date_lock(Datum tenant_id, Datum event_id, Datum occurrence_id);
/* postponement.c: a date cancelled: its open decision window closes with the cancellation's refunds. SPI connected. */
extern void evs_postponement_date_cancelled(Datum tenant_id, Datum event_id, Datum occurrence_id, Jsonb *refunds);
/* waitlist.c: a late payment of a lapsed offer locks the section's waitlist first, then converts the entry */
extern void evs_waitlist_section_lock(Datum tenant, Datum section);
extern void evs_waitlist_offer_revived(Datum tenant, Datum section, Datum entry_id);

/* thresholds.c: outbox messages after a reservation / a confirmation */
extern void evs_capacity_thresholds(Datum tenant, Datum event_id, Datum section_id, int32 total,
									int64 remaining, int32 quantity, Datum occurrence);
extern void evs_event_soldout_check(Datum tenant, Datum event_id, Datum section_id);
/* sellout.c: the message of a date of a series whose status the last statement changed (RETURNING schedule_id, starts_at, ends_at, status) */
extern void evs_date_status_message(Datum tenant, Datum event_id, Datum occurrence, const char *key,
									const char *action, const char *previous, const char *reason);

/*
 * sweep_horizon.c: where the expiry sweep starts reading (no ACTIVE hold
 * expires before it). Writers announce themselves before writing hold rows
 * and report each new hold's expiry; a sweep reads the start first, then the
 * oldest open writer, and proposes a new start that applies at its commit.
 */
extern void evs_sweep_note_writer(void);
extern void evs_sweep_note_expiry(TimestampTz expires);
extern TimestampTz evs_sweep_start(uint64 *gen);
extern TimestampTz evs_sweep_oldest_writer(void);
extern void evs_sweep_propose(TimestampTz new_horizon, uint64 gen);
extern bool evs_sweep_wrote_holds(void);
extern void evs_sweep_horizon_reset(void);

#endif
