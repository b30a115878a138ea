/*
 * lifecycle.c: the writes of an event's life: create (with metadata, schedules
 * and sections), update, soft delete, publish and every other transition,
 * postpone and reschedule, local cancellation. Each call is one transaction:
 * validation first, then the rows, the outbox messages and the idempotency
 * record, so a failure leaves nothing behind. Status changes go through the
 * state machine trigger (state_machine.c); field rules are in validation.c.
 * See docs/lifecycle.md and docs/outbox.md.
 */
#include "eventsvc.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/uuid.h"
#include "validation.h"

PG_FUNCTION_INFO_V1(evs_sql_event_create);
PG_FUNCTION_INFO_V1(evs_api_update_event);
PG_FUNCTION_INFO_V1(evs_api_delete_event);
PG_FUNCTION_INFO_V1(evs_api_publish_event);
PG_FUNCTION_INFO_V1(evs_api_transition_event);
PG_FUNCTION_INFO_V1(evs_api_postpone_event);
PG_FUNCTION_INFO_V1(evs_api_reschedule_event);
PG_FUNCTION_INFO_V1(evs_api_cancel_event);

/* Fields whose change after sales needs an admin's confirmed override (map 4.7). */
#define CRITICAL_FIELDS "{venue_id,starts_at,ends_at,capacity,timezone}"
#define CONFIRMATION_TTL "5 minutes"
/* What a token is bound to: the event ($2), the operation ($4) and the exact change ($5). */
#define CHANGE_HASH "sha256(convert_to($2::text || '|' || $4 || '|' || $5::text, 'UTF8'))"

/* ---------- running as the owner ---------- */

void
evs_become_owner(EvsOwnerContext *ctx)
{
	Oid			nsp = get_namespace_oid("eventsvc", false);
	HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema eventsvc");
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec);
	SetUserIdAndSecContext(owner, ctx->saved_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
evs_restore_user(EvsOwnerContext *ctx)
{
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec);
}

/* ---------- small SPI helpers: one statement, checked result ---------- */

typedef struct Args
{
	int			n;
	Oid			types[10];
	Datum		values[10];
	char		nulls[10];
} Args;

static void
arg(Args *a, Oid type, Datum value, bool isnull)
{
	Assert(a->n < 10);
	a->types[a->n] = type;
	a->values[a->n] = value;
	a->nulls[a->n] = isnull ? 'n' : ' ';
	a->n++;
}

/*
 * Every statement of this file is a string literal, so its address names it:
 * the first run prepares and keeps the plan, later runs reuse it (the plan
 * cache replans on schema or role changes). A full cache only costs speed.
 */
#define PLAN_SLOTS 64
static struct
{
	const char *sql;
	SPIPlanPtr	plan;
}			plans[PLAN_SLOTS];
static int	nplans = 0;

static int
run(const char *sql, Args *a)
{
	SPIPlanPtr	plan = NULL;
	int			n = a ? a->n : 0;

	for (int i = 0; i < nplans && plan == NULL; i++)
		if (plans[i].sql == sql)
			plan = plans[i].plan;
	if (plan == NULL && nplans < PLAN_SLOTS)
	{
		plan = SPI_prepare(sql, n, a ? a->types : NULL);
		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_prepare failed (%s): %s", SPI_result_code_string(SPI_result), sql);
		plans[nplans].sql = sql;
		plans[nplans].plan = plan;
		nplans++;
	}
	if (plan == NULL)
		return SPI_execute_with_args(sql, n, a ? a->types : NULL, a ? a->values : NULL,
									 a ? a->nulls : NULL, false, 0);
	return SPI_execute_plan(plan, a ? a->values : NULL, a ? a->nulls : NULL, false, 0);
}

static void
exec(const char *sql, Args *a, int expect_rc)
{
	int			rc = run(sql, a);

	if (rc != expect_rc)
		elog(ERROR, "lifecycle statement failed (%s): %s", SPI_result_code_string(rc), sql);
}

static Datum
get(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, isnull);
}

static char *
get_text(int row, int col)
{
	bool		isnull;
	Datum		d = get(row, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* The single jsonb value a query (or INSERT/UPDATE ... RETURNING) returns, or NULL. */
static Jsonb *
query_jsonb(const char *sql, Args *a)
{
	bool		isnull;
	Datum		d;

	int			rc = run(sql, a);

	if (rc != SPI_OK_SELECT && rc != SPI_OK_INSERT_RETURNING && rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "lifecycle statement failed (%s): %s", SPI_result_code_string(rc), sql);
	if (SPI_processed != 1)
		return NULL;
	d = get(0, 1, &isnull);
	return isnull ? NULL : DatumGetJsonbP(d);
}

static Datum
jsonb_datum(Jsonb *j)
{
	return JsonbPGetDatum(j);
}

static Jsonb *
cstring_jsonb(const char *s)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

static void
begin_spi(void)
{
	int			rc = SPI_connect();

	evs_field_prefix(NULL);		/* an earlier call may have failed inside a list */
	if (rc != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
}

/* Copy the result out of SPI memory, close SPI and return it. */
static Datum
finish_spi(Jsonb *result)
{
	Datum		d = SPI_datumTransfer(JsonbPGetDatum(result), false, -1);

	SPI_finish();
	return d;
}

static char *
uuid_text(Datum id)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, id));
}

/* ---------- shared pieces of the workflows ---------- */

typedef struct EventRow
{
	Datum		tenant;
	Datum		id;
	char	   *status;
	int32		version;
	Datum		venue_id;
	Jsonb	   *row;			/* to_jsonb of the row, without search_vector */
} EventRow;

/* Lock the event row for this transaction; a deleted or foreign event is "not found". */
static void
lock_event(Datum tenant, Datum id, EventRow *ev)
{
	Args		a = {0};
	bool		isnull;

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	exec("SELECT e.status::text, e.version, e.venue_id, to_jsonb(e) - 'search_vector'"
		 " FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2 AND e.deleted_at IS NULL"
		 " FOR UPDATE", &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("event %s not found", uuid_text(id)),
				 errhint("The event does not exist, was deleted, or belongs to another tenant.")));
	ev->tenant = tenant;
	ev->id = id;
	ev->status = get_text(0, 1);
	ev->version = DatumGetInt32(get(0, 2, &isnull));
	ev->venue_id = get(0, 3, &isnull);
	ev->row = DatumGetJsonbP(get(0, 4, &isnull));
}

/*
 * Creates and moves at one venue are serialised for the rest of the
 * transaction, so the overlap and slug checks below see every committed
 * competitor and concurrent creates get a clean PT409, not 23P01.
 */
static void
lock_venue(Datum tenant, Datum venue)
{
	Args		a = {0};

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, venue, false);
	exec("SELECT pg_advisory_xact_lock(hashtextextended('eventsvc.venue/' || $1::text || '/' || $2::text, 0))",
		 &a, SPI_OK_SELECT);
}

/* The venue exists for this tenant and is active; returns its capacity and zone. */
static int32
check_venue(Datum tenant, Datum venue, char **timezone)
{
	Args		a = {0};
	bool		isnull;

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, venue, false);
	exec("SELECT capacity, is_active, timezone FROM eventsvc.venues WHERE tenant_id = $1 AND id = $2",
		 &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_NOT_FOUND),
				 errmsg("venue_id: venue %s not found", uuid_text(venue)),
				 errhint("Use a venue of your tenant; the venue list comes from venue-service.")));
	if (!DatumGetBool(get(0, 2, &isnull)))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("venue_id: venue %s is not active", uuid_text(venue)),
				 errhint("Choose an active venue.")));
	if (timezone)
		*timezone = get_text(0, 3);
	return DatumGetInt32(get(0, 1, &isnull));
}

/* No other live single event at the venue overlaps [starts, ends). */
static void
check_overlap(Datum tenant, Datum venue, Jsonb *ev, Datum self, bool has_self)
{
	Args		a = {0};

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, venue, false);
	arg(&a, JSONBOID, jsonb_datum(ev), false);
	arg(&a, UUIDOID, self, !has_self);
	exec("SELECT o.name, o.id::text, o.starts_at::text, o.ends_at::text FROM eventsvc.events o"
		 " WHERE o.tenant_id = $1 AND o.venue_id = $2 AND o.event_type = 'single'"
		 "   AND o.deleted_at IS NULL AND o.status <> 'CANCELLED'"
		 "   AND coalesce($3->>'event_type', 'single') = 'single'"
		 "   AND tstzrange(o.starts_at, o.ends_at) && tstzrange(($3->>'starts_at')::timestamptz, ($3->>'ends_at')::timestamptz)"
		 "   AND ($4::uuid IS NULL OR o.id <> $4) LIMIT 1", &a, SPI_OK_SELECT);
	if (SPI_processed == 1)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("another event at this venue overlaps: \"%s\" (%s)", get_text(0, 1), get_text(0, 2)),
				 errdetail("It runs from %s to %s.", get_text(0, 3), get_text(0, 4)),
				 errhint("Choose other dates or another venue.")));
}

/* The name's slug, with -2, -3, ... when taken at this venue (venue is locked). */
static char *
unique_slug(Datum tenant, Datum venue, const char *name, Datum self, bool has_self)
{
	Args		a = {0};

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, venue, false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_slugify(name)), false);
	arg(&a, UUIDOID, self, !has_self);
	exec("WITH taken AS (SELECT slug FROM eventsvc.events"
		 "  WHERE tenant_id = $1 AND venue_id = $2 AND (slug = $3 OR slug LIKE $3 || '-%')"
		 "    AND ($4::uuid IS NULL OR id <> $4)) "
		 "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM taken WHERE slug = $3) THEN $3"
		 " ELSE $3 || '-' || (SELECT min(n) FROM generate_series(2, (SELECT count(*) FROM taken) + 2) n"
		 "   WHERE NOT EXISTS (SELECT 1 FROM taken WHERE slug = $3 || '-' || n)) END",
		 &a, SPI_OK_SELECT);
	return get_text(0, 1);
}

static Jsonb *
event_document(Datum id)
{
	Args		a = {0};

	arg(&a, UUIDOID, id, false);
	return query_jsonb("SELECT eventsvc.event_document($1)", &a);
}

/*
 * One outbox message: the event summary (eventsvc.event_message) merged with
 * the routing key's own fields. Exchanges are decided in docs/outbox.md.
 */
static void
emit(Datum tenant, Datum event, const char *routing_key, Jsonb *extra)
{
	const char *exchange = strcmp(routing_key, "event.blockchain_sync_requested") == 0
		? "event-lifecycle" : "tickettoken_events";
	Args		a = {0};
	Jsonb	   *data;
	EvsOwnerContext ctx;

	arg(&a, UUIDOID, event, false);
	arg(&a, JSONBOID, extra ? jsonb_datum(extra) : (Datum) 0, extra == NULL);
	data = query_jsonb("SELECT eventsvc.event_message($1) || coalesce($2, '{}')", &a);
	evs_become_owner(&ctx);
	(void) evs_outbox_emit(tenant, event, exchange, routing_key, jsonb_datum(data));
	evs_restore_user(&ctx);
}

/* Sections of a create request: objects with a name and a whole total; returns the sum. */
/* Bounds the work one create call can ask for (the duplicate-name check is quadratic). */
#define EVS_MAX_ITEMS_PER_CREATE 200

static int64
check_sections(Jsonb *sections)
{
	Args		a = {0};
	int64		sum = 0;

	if (sections == NULL)
		return 0;
	if (!JB_ROOT_IS_ARRAY(sections) || JB_ROOT_IS_SCALAR(sections))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("sections: must be an array of objects"),
				 errhint("Example: [{\"section_name\": \"Floor\", \"total_capacity\": 500}].")));
	if (JsonContainerSize(&sections->root) > EVS_MAX_ITEMS_PER_CREATE)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("sections: %u given, at most %d per call",
						JsonContainerSize(&sections->root), EVS_MAX_ITEMS_PER_CREATE),
				 errhint("Create the event first, then add more sections with api.create_section.")));
	arg(&a, JSONBOID, jsonb_datum(sections), false);
	exec("SELECT s, ord::int FROM jsonb_array_elements($1) WITH ORDINALITY AS t(s, ord)"
		 " ORDER BY ord", &a, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Jsonb	   *s = DatumGetJsonbP(get(i, 1, &isnull));
		char	   *name;
		int32		total;

		if (!JB_ROOT_IS_OBJECT(s))
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("sections[%d]: must be an object", (int) i)));
		evs_field_prefix(psprintf("sections[%d].", (int) i));
		name = evs_field_text(s, "section_name");
		if (name == NULL || strspn(name, " ") == strlen(name) || strlen(name) > 100)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("sections[%d].section_name: is required, 1 to 100 characters", (int) i)));
		if (!evs_field_int(s, "total_capacity", &total) || total < 0)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("sections[%d].total_capacity: is required, a whole number 0 or more", (int) i)));
		for (uint64 j = 0; j < i; j++)
		{
			char	   *other = evs_field_text(DatumGetJsonbP(get(j, 1, &isnull)), "section_name");

			if (strcmp(other, name) == 0)
				ereport(ERROR,
						(errcode(EVS_ERR_VALIDATION),
						 errmsg("sections[%d].section_name: \"%s\" is given twice", (int) i, name),
						 errhint("Section names are unique within an event.")));
		}
		evs_field_prefix(NULL);
		sum += total;
		CHECK_FOR_INTERRUPTS();
	}
	return sum;
}

static void
check_schedules(Jsonb *schedules)
{
	Args		a = {0};

	if (schedules == NULL)
		return;
	if (!JB_ROOT_IS_ARRAY(schedules) || JB_ROOT_IS_SCALAR(schedules))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("schedules: must be an array of objects"),
				 errhint("Example: [{\"starts_at\": \"...\", \"ends_at\": \"...\"}].")));
	if (JsonContainerSize(&schedules->root) > EVS_MAX_ITEMS_PER_CREATE)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("schedules: %u given, at most %d per call",
						JsonContainerSize(&schedules->root), EVS_MAX_ITEMS_PER_CREATE),
				 errhint("Create the event first, then add more schedules with api.create_schedule.")));
	arg(&a, JSONBOID, jsonb_datum(schedules), false);
	exec("SELECT s FROM jsonb_array_elements($1) s", &a, SPI_OK_SELECT);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Jsonb	   *s = DatumGetJsonbP(get(i, 1, &isnull));
		TimestampTz st,
					en,
					doors;
		char	   *tz;

		if (!JB_ROOT_IS_OBJECT(s))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("schedules[%d]: must be an object", (int) i)));
		evs_field_prefix(psprintf("schedules[%d].", (int) i));
		if (!evs_field_timestamptz(s, "starts_at", &st) || !evs_field_timestamptz(s, "ends_at", &en))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d]: starts_at and ends_at are required", (int) i)));
		if (en <= st)
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].ends_at: must be after starts_at", (int) i)));
		if (evs_field_timestamptz(s, "doors_open_at", &doors) && doors > st)
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].doors_open_at: must be at or before starts_at", (int) i)));
		tz = evs_field_text(s, "timezone");
		if (tz != NULL && !evs_valid_timezone(tz))
			ereport(ERROR, (errcode(EVS_ERR_VALIDATION),
							errmsg("schedules[%d].timezone: \"%s\" is not an IANA time zone name", (int) i, tz)));
		evs_field_prefix(NULL);
	}
}

static void
check_category(Jsonb *ev)
{
	char	   *cat = evs_field_text(ev, "primary_category_id");
	Args		a = {0};

	if (cat == NULL)
		return;
	arg(&a, TEXTOID, CStringGetTextDatum(cat), false);
	exec("SELECT 1 FROM eventsvc.event_categories WHERE id = $1::uuid AND is_active", &a, SPI_OK_SELECT);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("category_id: %s is not an active category", cat),
				 errhint("See api.event_categories or eventsvc.event_categories.")));
}

/* Section totals of an existing event. */
static int64
sections_total(Datum tenant, Datum id)
{
	Args		a = {0};
	bool		isnull;

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	exec("SELECT coalesce(sum(total_capacity), 0)::bigint FROM eventsvc.event_capacity"
		 " WHERE tenant_id = $1 AND event_id = $2", &a, SPI_OK_SELECT);
	return DatumGetInt64(get(0, 1, &isnull));
}

static void
check_capacity_fits(int64 sections, bool has_capacity, int32 capacity, int32 venue_capacity)
{
	if (has_capacity && sections > capacity)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("capacity: %d is less than the sections' total " INT64_FORMAT, capacity, sections)));
	if ((has_capacity ? capacity : sections) > venue_capacity)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: " INT64_FORMAT " exceeds the venue's capacity of %d",
						has_capacity ? "capacity" : "sections",
						has_capacity ? (int64) capacity : sections, venue_capacity),
				 errhint("The sections together must fit in the venue.")));
}

/*
 * The critical-change gate (map 4.7). With no sold tickets, or no critical
 * field in the change, returns NULL: go ahead. Otherwise only a tenant admin
 * may go on: without a token a new one is stored and returned as the
 * {"status":"confirmation_required"} result (the caller must then stop, and
 * a successful result keeps the token row); with a token the token must be
 * live, unused and issued to this actor for exactly this change of this
 * event; it is consumed and NULL is returned.
 */
static Jsonb *
confirmation_gate(EventRow *ev, const char *operation, Jsonb *change, Jsonb *fields,
				  bool has_token, Datum token)
{
	int64		sold;
	Args		a = {0};
	bool		isnull;
	char	   *actor = evs_current_actor();

	if (fields == NULL || JB_ROOT_COUNT(fields) == 0)
		return NULL;
	sold = evs_event_sold_count(ev->tenant, ev->id);
	if (sold == 0)
		return NULL;
	if (!evs_is_tenant_admin())
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("changing %s after " INT64_FORMAT " tickets were sold needs a tenant admin",
						JsonbToCString(NULL, &fields->root, VARSIZE(fields)), sold),
				 errhint("A tenant admin (role eventsvc_admin) can override and confirm the change.")));

	arg(&a, UUIDOID, ev->tenant, false);
	arg(&a, UUIDOID, ev->id, false);
	arg(&a, TEXTOID, CStringGetTextDatum(actor), false);
	arg(&a, TEXTOID, CStringGetTextDatum(operation), false);
	arg(&a, JSONBOID, jsonb_datum(change), false);
	if (!has_token)
	{
		Jsonb	   *result;
		EvsOwnerContext ctx;

		arg(&a, JSONBOID, jsonb_datum(fields), false);
		arg(&a, INT8OID, Int64GetDatum(sold), false);
		evs_become_owner(&ctx);
		result = query_jsonb(
			"INSERT INTO eventsvc.confirmation_tokens AS t (tenant_id, event_id, actor_id, change_hash, change, created_at, expires_at)"
			" VALUES ($1, $2, $3, " CHANGE_HASH ", $5, eventsvc.now(), eventsvc.now() + interval '" CONFIRMATION_TTL "')"
			" RETURNING jsonb_build_object('status', 'confirmation_required', 'token', t.token,"
			"  'expires_at', t.expires_at, 'event_id', t.event_id, 'operation', $4, 'fields', $6,"
			"  'sold_tickets', $7, 'change', $5)", &a);
		evs_restore_user(&ctx);
		if (result == NULL)
			elog(ERROR, "confirmation token insert returned nothing");
		return result;
	}

	arg(&a, UUIDOID, token, false);
	{
		EvsOwnerContext ctx;
		bool		same_event,
					same_actor,
					same_change,
					live,
					unused;
		char	   *expires;

		evs_become_owner(&ctx);
		exec("SELECT event_id = $2, actor_id = $3, change_hash = " CHANGE_HASH ", expires_at > eventsvc.now(),"
			 " used_at IS NULL, expires_at::text FROM eventsvc.confirmation_tokens"
			 " WHERE tenant_id = $1 AND token = $6 FOR UPDATE", &a, SPI_OK_SELECT);
		evs_restore_user(&ctx);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s is not known", uuid_text(token)),
					 errhint("Call again without confirmation_token to get a new token.")));
		same_event = DatumGetBool(get(0, 1, &isnull));
		same_actor = DatumGetBool(get(0, 2, &isnull));
		same_change = DatumGetBool(get(0, 3, &isnull));
		live = DatumGetBool(get(0, 4, &isnull));
		unused = DatumGetBool(get(0, 5, &isnull));
		expires = get_text(0, 6);
		if (!unused)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s was already used", uuid_text(token)),
					 errhint("A token confirms one change once; call again without confirmation_token for a new one.")));
		if (!live)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s expired at %s", uuid_text(token), expires),
					 errhint("Tokens live 5 minutes; call again without confirmation_token for a new one.")));
		if (!same_event || !same_actor || !same_change)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s was issued for a different %s", uuid_text(token),
							!same_event ? "event" : !same_actor ? "user" : "change"),
					 errhint("A token confirms exactly the change it was issued for, by the same user.")));
		evs_become_owner(&ctx);
		exec("UPDATE eventsvc.confirmation_tokens SET used_at = eventsvc.now() WHERE tenant_id = $1 AND token = $6",
			 &a, SPI_OK_UPDATE);
		evs_restore_user(&ctx);
	}
	return NULL;
}

/* A key-value pair of jsonb objects: {"k": v}. */
static Jsonb *
json_pair(const char *k1, const char *v1, const char *k2, const char *v2)
{
	Args		a = {0};

	arg(&a, TEXTOID, CStringGetTextDatum(k1), false);
	arg(&a, TEXTOID, v1 ? CStringGetTextDatum(v1) : (Datum) 0, v1 == NULL);
	arg(&a, TEXTOID, CStringGetTextDatum(k2 ? k2 : "_"), false);
	arg(&a, TEXTOID, v2 ? CStringGetTextDatum(v2) : (Datum) 0, v2 == NULL);
	return query_jsonb(k2 ? "SELECT jsonb_build_object($1, $2, $3, $4)" : "SELECT jsonb_build_object($1, $2)", &a);
}

static char *
opt_text(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static Datum
require_uuid(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required", name)));
	return PG_GETARG_DATUM(n);
}

/* ---------- create ---------- */

/*
 * eventsvc.event_create(request jsonb, idempotency_key text): api.create_event
 * packs its named parameters into `request` (column names of eventsvc.events
 * plus metadata, schedules and sections).
 */
Datum
evs_sql_event_create(PG_FUNCTION_ARGS)
{
	Jsonb	   *req;
	Datum		tenant = evs_current_tenant();
	EvsIdempotency idem;
	Jsonb	   *replay;
	char	   *venue_text;
	Datum		venue;
	Datum		id;
	char	   *venue_tz;
	int32		venue_capacity,
				capacity = 0;
	bool		has_capacity;
	int64		sections_sum;
	Jsonb	   *sections,
			   *schedules,
			   *metadata;
	char	   *slug;
	Args		a = {0};
	bool		isnull;
	Jsonb	   *doc;

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("request: is required")));
	req = PG_GETARG_JSONB_P(0);
	if (!JB_ROOT_IS_OBJECT(req))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("request: must be a JSON object")));

	begin_spi();
	replay = evs_idempotency_begin(&idem, "create_event", opt_text(fcinfo, 1), req);
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));

	evs_validate_event(req, true);
	venue_text = evs_field_text(req, "venue_id");
	if (venue_text == NULL)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("venue_id: is required")));
	venue = DirectFunctionCall1(uuid_in, CStringGetDatum(venue_text));
	check_category(req);

	{
		JsonbValue *v;

		v = getKeyJsonValueFromContainer(&req->root, "sections", 8, NULL);
		sections = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
		v = getKeyJsonValueFromContainer(&req->root, "schedules", 9, NULL);
		schedules = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
		v = getKeyJsonValueFromContainer(&req->root, "metadata", 8, NULL);
		metadata = (v && v->type != jbvNull) ? JsonbValueToJsonb(v) : NULL;
	}
	if (metadata && !JB_ROOT_IS_OBJECT(metadata))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("metadata: must be a JSON object")));
	sections_sum = check_sections(sections);
	check_schedules(schedules);
	has_capacity = evs_field_int(req, "capacity", &capacity);

	lock_venue(tenant, venue);
	venue_capacity = check_venue(tenant, venue, &venue_tz);
	check_capacity_fits(sections_sum, has_capacity, capacity, venue_capacity);
	check_overlap(tenant, venue, req, (Datum) 0, false);
	slug = unique_slug(tenant, venue, evs_field_text(req, "name"), (Datum) 0, false);

	arg(&a, UUIDOID, tenant, false);
	arg(&a, JSONBOID, jsonb_datum(req), false);
	arg(&a, TEXTOID, CStringGetTextDatum(slug), false);
	arg(&a, TEXTOID, CStringGetTextDatum(venue_tz), false);
	arg(&a, INT4OID, Int32GetDatum(has_capacity ? capacity : (int32) sections_sum),
		!has_capacity && sections == NULL);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	exec("INSERT INTO eventsvc.events (tenant_id, venue_id, name, slug, description, short_description,"
		 "  visibility, event_type, primary_category_id, tags, starts_at, ends_at, doors_open, timezone,"
		 "  capacity, is_virtual, is_hybrid, virtual_event_url, image_url, age_restriction, artist_wallet,"
		 "  artist_percentage, venue_percentage, event_pda, blockchain_status, created_by, updated_by) "
		 "SELECT $1, r.venue_id, btrim(r.name), $3, r.description, r.short_description,"
		 "  coalesce(r.visibility, 'PUBLIC'), coalesce(r.event_type, 'single'), r.primary_category_id,"
		 "  coalesce(r.tags, '{}'), r.starts_at, r.ends_at, r.doors_open, coalesce(r.timezone, $4),"
		 "  $5, coalesce(r.is_virtual, false), coalesce(r.is_hybrid, false), r.virtual_event_url, r.image_url,"
		 "  coalesce(r.age_restriction, 0), r.artist_wallet, r.artist_percentage, r.venue_percentage, r.event_pda,"
		 "  CASE WHEN r.artist_wallet IS NOT NULL OR r.event_pda IS NOT NULL THEN 'pending' ELSE 'none' END"
		 "  ::eventsvc.blockchain_status, $6, $6"
		 " FROM jsonb_populate_record(NULL::eventsvc.events, $2) r RETURNING id",
		 &a, SPI_OK_INSERT_RETURNING);
	id = SPI_datumTransfer(get(0, 1, &isnull), false, UUID_LEN);

	memset(&a, 0, sizeof(a));
	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	arg(&a, JSONBOID, metadata ? jsonb_datum(metadata) : (Datum) 0, metadata == NULL);
	exec("INSERT INTO eventsvc.event_metadata (tenant_id, event_id, performers, headliner, supporting_acts,"
		 "  production_company, sponsors, custom_fields) "
		 "SELECT $1, $2, coalesce(m.performers, '[]'), m.headliner, coalesce(m.supporting_acts, '{}'),"
		 "  m.production_company, coalesce(m.sponsors, '[]'), coalesce(m.custom_fields, '{}')"
		 " FROM jsonb_populate_record(NULL::eventsvc.event_metadata, coalesce($3, '{}')) m",
		 &a, SPI_OK_INSERT);

	/* Without explicit schedules, a dated event gets one schedule of its own dates. */
	a.values[2] = schedules ? jsonb_datum(schedules) : (Datum) 0;
	a.nulls[2] = schedules ? ' ' : 'n';
	exec("INSERT INTO eventsvc.event_schedules (tenant_id, event_id, starts_at, ends_at, doors_open_at,"
		 "  timezone, is_recurring, recurrence_rule, recurrence_end, notes) "
		 "SELECT $1, $2, s.starts_at, s.ends_at, s.doors_open_at, coalesce(s.timezone, e.timezone),"
		 "  coalesce(s.is_recurring, false), s.recurrence_rule, s.recurrence_end, s.notes"
		 " FROM eventsvc.events e, jsonb_populate_recordset(NULL::eventsvc.event_schedules,"
		 "   coalesce($3, CASE WHEN e.starts_at IS NOT NULL THEN jsonb_build_array(jsonb_build_object("
		 "     'starts_at', e.starts_at, 'ends_at', e.ends_at, 'doors_open_at', e.doors_open)) ELSE '[]' END)) s"
		 " WHERE e.tenant_id = $1 AND e.id = $2", &a, SPI_OK_INSERT);

	if (sections)
	{
		a.values[2] = jsonb_datum(sections);
		a.nulls[2] = ' ';
		exec("INSERT INTO eventsvc.event_capacity (tenant_id, event_id, section_name, section_code, tier,"
			 "  total_capacity, available_capacity, minimum_purchase, maximum_purchase, row_config, seat_map) "
			 "SELECT $1, $2, btrim(c.section_name), c.section_code, c.tier, c.total_capacity, c.total_capacity,"
			 "  coalesce(c.minimum_purchase, 1), c.maximum_purchase, c.row_config, c.seat_map"
			 " FROM jsonb_populate_recordset(NULL::eventsvc.event_capacity, $3) c", &a, SPI_OK_INSERT);
	}

	emit(tenant, id, "event.created", NULL);
	if (evs_field_text(req, "artist_wallet") || evs_field_text(req, "event_pda"))
		emit(tenant, id, "event.blockchain_sync_requested", NULL);

	doc = event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(finish_spi(doc));
}

/* ---------- update ---------- */

static const char *const updatable_fields[] = {
	"name", "description", "short_description", "visibility", "category_id", "tags",
	"starts_at", "ends_at", "doors_open", "timezone", "capacity", "venue_id", "is_virtual",
	"is_hybrid", "virtual_event_url", "image_url", "age_restriction", "artist_wallet",
	"artist_percentage", "venue_percentage", "event_pda", "is_featured", "featured_order", NULL
};

static void
check_change_keys(Jsonb *changes)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			keys = 0;

	if (!JB_ROOT_IS_OBJECT(changes))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes: must be a JSON object")));
	it = JsonbIteratorInit(&changes->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		bool		ok = false;
		char	   *k;

		if (tok != WJB_KEY)
			continue;
		keys++;
		k = pnstrdup(v.val.string.val, v.val.string.len);
		for (int i = 0; updatable_fields[i]; i++)
			ok |= strcmp(k, updatable_fields[i]) == 0;
		if (!ok)
			ereport(ERROR,
					(errcode(EVS_ERR_VALIDATION),
					 errmsg("changes.%s: cannot be changed by api.update_event", k),
					 errhint("%s", strcmp(k, "status") == 0
							 ? "Use api.publish_event, api.transition_event, api.postpone_event or api.cancel_event."
							 : "Changeable: name, description, short_description, visibility, category_id, tags, "
							 "starts_at, ends_at, doors_open, timezone, capacity, venue_id, is_virtual, is_hybrid, "
							 "virtual_event_url, image_url, age_restriction, artist_wallet, artist_percentage, "
							 "venue_percentage, event_pda, is_featured, featured_order.")));
	}
	if (keys == 0)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes: nothing to change")));
}

static void
require_modifiable(EventRow *ev)
{
	static const char *const ok[] = {"DRAFT", "REVIEW", "APPROVED", "PUBLISHED", NULL};

	for (int i = 0; ok[i]; i++)
		if (strcmp(ev->status, ok[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(EVS_ERR_CONFLICT),
			 errmsg("an event in status %s cannot be modified", ev->status),
			 errdetail("Details can be changed only in DRAFT, REVIEW, APPROVED or PUBLISHED."),
			 errhint("To move dates of an event on sale, postpone it and reschedule it.")));
}

static void
check_version(EventRow *ev, FunctionCallInfo fcinfo, int n)
{
	int32		expected;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("expected_version: is required"),
				 errhint("Send the version you read; the event is at version %d.", ev->version)));
	expected = PG_GETARG_INT32(n);
	if (expected != ev->version)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s was changed by someone else: expected version %d, current version %d",
						uuid_text(ev->id), expected, ev->version),
				 errhint("Read the event again and reapply your change.")));
}

/*
 * api.update_event(event_id, expected_version, changes, confirmation_token,
 * idempotency_key)
 */
Datum
evs_api_update_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = require_uuid(fcinfo, 0, "event_id");
	Jsonb	   *changes;
	Jsonb	   *request;
	Jsonb	   *merged,
			   *changed,
			   *critical,
			   *previous,
			   *gate,
			   *doc;
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay;
	Args		a = {0};
	bool		isnull;
	bool		venue_moved,
				dates_moved,
				capacity_changed;
	char	   *slug;
	Datum		new_venue;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes: is required")));
	changes = PG_GETARG_JSONB_P(2);
	check_change_keys(changes);

	begin_spi();
	arg(&a, UUIDOID, id, false);
	arg(&a, INT4OID, PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	arg(&a, JSONBOID, jsonb_datum(changes), false);
	arg(&a, UUIDOID, PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3));
	request = query_jsonb("SELECT jsonb_build_object('event_id', $1, 'expected_version', $2, 'changes', $3,"
						  " 'confirmation_token', $4)", &a);
	replay = evs_idempotency_begin(&idem, "update_event", opt_text(fcinfo, 4), request);
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));

	lock_event(tenant, id, &ev);
	check_version(&ev, fcinfo, 1);
	require_modifiable(&ev);

	/* The would-be row, and which fields really change (compared as typed values). */
	memset(&a, 0, sizeof(a));
	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	arg(&a, JSONBOID, jsonb_datum(changes), false);
	exec("WITH c AS (SELECT ($3 - 'category_id') || CASE WHEN $3 ? 'category_id'"
		 "   THEN jsonb_build_object('primary_category_id', $3->'category_id') ELSE '{}' END AS c),"
		 " x AS (SELECT to_jsonb(n) - 'search_vector' AS new, to_jsonb(e) - 'search_vector' AS old, c.c"
		 "   FROM eventsvc.events e, c, jsonb_populate_record(e, c.c) n WHERE e.tenant_id = $1 AND e.id = $2),"
		 " k AS (SELECT k FROM x, jsonb_object_keys(x.c) k WHERE x.new->k IS DISTINCT FROM x.old->k) "
		 "SELECT x.new, coalesce((SELECT jsonb_agg(k ORDER BY k) FROM k), '[]'),"
		 " coalesce((SELECT jsonb_agg(k ORDER BY k) FROM k WHERE k = ANY ('" CRITICAL_FIELDS "'::text[])), '[]'),"
		 " coalesce((SELECT jsonb_object_agg(k, x.old->k) FROM k), '{}'), x.c FROM x",
		 &a, SPI_OK_SELECT);
	merged = DatumGetJsonbP(get(0, 1, &isnull));
	changed = DatumGetJsonbP(get(0, 2, &isnull));
	critical = DatumGetJsonbP(get(0, 3, &isnull));
	previous = DatumGetJsonbP(get(0, 4, &isnull));
	changes = DatumGetJsonbP(get(0, 5, &isnull));

	if (JB_ROOT_COUNT(changed) == 0)
	{
		doc = event_document(id);
		evs_idempotency_finish(&idem, doc);
		PG_RETURN_DATUM(finish_spi(doc));
	}

	venue_moved = getKeyJsonValueFromContainer(&previous->root, "venue_id", 8, NULL) != NULL;
	dates_moved = getKeyJsonValueFromContainer(&previous->root, "starts_at", 9, NULL) != NULL ||
		getKeyJsonValueFromContainer(&previous->root, "ends_at", 7, NULL) != NULL;
	capacity_changed = getKeyJsonValueFromContainer(&previous->root, "capacity", 8, NULL) != NULL;
	evs_validate_event(merged, getKeyJsonValueFromContainer(&previous->root, "starts_at", 9, NULL) != NULL);
	check_category(merged);

	gate = confirmation_gate(&ev, "update_event", changes, critical, !PG_ARGISNULL(3),
							 PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3));
	if (gate)
	{
		/* Not the final answer: the retry carries the token, so the key is freed. */
		evs_idempotency_abandon(&idem);
		PG_RETURN_DATUM(finish_spi(gate));
	}

	new_venue = DirectFunctionCall1(uuid_in, CStringGetDatum(evs_field_text(merged, "venue_id")));
	slug = evs_field_text(merged, "slug");
	if (venue_moved || dates_moved || capacity_changed)
	{
		int32		venue_capacity;
		int32		capacity = 0;
		bool		has_capacity = evs_field_int(merged, "capacity", &capacity);

		lock_venue(tenant, new_venue);
		venue_capacity = check_venue(tenant, new_venue, NULL);
		check_capacity_fits(sections_total(tenant, id), has_capacity, capacity, venue_capacity);
		check_overlap(tenant, new_venue, merged, id, true);
		if (venue_moved)
			slug = unique_slug(tenant, new_venue, evs_field_text(merged, "name"), id, true);
	}

	memset(&a, 0, sizeof(a));
	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	arg(&a, JSONBOID, jsonb_datum(changes), false);
	arg(&a, TEXTOID, CStringGetTextDatum(slug), false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	arg(&a, INT4OID, Int32GetDatum(ev.version), false);
	exec("UPDATE eventsvc.events e SET (venue_id, name, slug, description, short_description, visibility,"
		 "  primary_category_id, tags, starts_at, ends_at, doors_open, timezone, capacity, is_virtual,"
		 "  is_hybrid, virtual_event_url, image_url, age_restriction, artist_wallet, artist_percentage,"
		 "  venue_percentage, event_pda, is_featured, featured_order, blockchain_status, updated_by,"
		 "  updated_at, version) ="
		 " (SELECT n.venue_id, btrim(n.name), $4, n.description, n.short_description, n.visibility,"
		 "  n.primary_category_id, n.tags, n.starts_at, n.ends_at, n.doors_open, n.timezone, n.capacity,"
		 "  n.is_virtual, n.is_hybrid, n.virtual_event_url, n.image_url, n.age_restriction, n.artist_wallet,"
		 "  n.artist_percentage, n.venue_percentage, n.event_pda, n.is_featured, n.featured_order,"
		 "  CASE WHEN ($3 ? 'artist_wallet' OR $3 ? 'event_pda') AND (n.artist_wallet IS NOT NULL OR n.event_pda IS NOT NULL)"
		 "   THEN 'pending'::eventsvc.blockchain_status ELSE e.blockchain_status END, $5, eventsvc.now(), $6"
		 "  FROM jsonb_populate_record(e, $3) n)"
		 " WHERE e.tenant_id = $1 AND e.id = $2", &a, SPI_OK_UPDATE);

	/* A single event's schedule follows its dates. */
	if (dates_moved)
	{
		memset(&a, 0, sizeof(a));
		arg(&a, UUIDOID, tenant, false);
		arg(&a, UUIDOID, id, false);
		arg(&a, JSONBOID, jsonb_datum(ev.row), false);
		exec("UPDATE eventsvc.event_schedules s SET starts_at = e.starts_at, ends_at = e.ends_at,"
			 "  doors_open_at = e.doors_open, updated_at = eventsvc.now()"
			 " FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2 AND e.event_type = 'single'"
			 "  AND s.tenant_id = $1 AND s.event_id = $2 AND s.starts_at = ($3->>'starts_at')::timestamptz",
			 &a, SPI_OK_UPDATE);
	}

	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(changed), false);
	arg(&a, JSONBOID, jsonb_datum(previous), false);
	arg(&a, JSONBOID, jsonb_datum(merged), false);
	emit(tenant, id, "event.updated",
		 query_jsonb("SELECT jsonb_build_object('changed_fields', $1, 'previous', $2,"
					 " 'changes', (SELECT jsonb_object_agg(k, $3->k) FROM jsonb_array_elements_text($1) k))", &a));
	if (getKeyJsonValueFromContainer(&previous->root, "artist_wallet", 13, NULL) ||
		getKeyJsonValueFromContainer(&previous->root, "event_pda", 9, NULL))
		emit(tenant, id, "event.blockchain_sync_requested", NULL);

	doc = event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(finish_spi(doc));
}

/* ---------- delete ---------- */

/*
 * api.delete_event(event_id, idempotency_key): soft delete. Only DRAFT and
 * CANCELLED events may be deleted (a live event is cancelled first, which
 * starts the refunds); sold tickets need a tenant admin.
 */
Datum
evs_api_delete_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = require_uuid(fcinfo, 0, "event_id");
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *result;
	Args		a = {0};
	int64		sold;

	begin_spi();
	replay = evs_idempotency_begin(&idem, "delete_event", opt_text(fcinfo, 1),
								   json_pair("event_id", uuid_text(id), NULL, NULL));
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));
	lock_event(tenant, id, &ev);
	if (strcmp(ev.status, "DRAFT") != 0 && strcmp(ev.status, "CANCELLED") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("an event in status %s cannot be deleted", ev.status),
				 errdetail("Only DRAFT and CANCELLED events can be deleted."),
				 errhint("Cancel it first with api.cancel_event, which also refunds buyers.")));
	sold = evs_event_sold_count(tenant, id);
	if (sold > 0 && !evs_is_tenant_admin())
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("event %s has " INT64_FORMAT " sold tickets; only a tenant admin may delete it",
						uuid_text(id), sold),
				 errhint("Call as a member of role eventsvc_admin.")));

	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	result = query_jsonb("UPDATE eventsvc.events SET deleted_at = eventsvc.now(), status = 'CANCELLED',"
						 "  updated_by = $3, updated_at = eventsvc.now()"
						 " WHERE tenant_id = $1 AND id = $2"
						 " RETURNING jsonb_build_object('event_id', id, 'status', status, 'deleted_at', deleted_at,"
						 "  'version', version)", &a);
	if (result == NULL)
		elog(ERROR, "soft delete of event %s updated nothing", uuid_text(id));
	emit(tenant, id, "event.deleted", json_pair("previous_status", ev.status, "deleted_by", evs_current_actor()));
	evs_idempotency_finish(&idem, result);
	PG_RETURN_DATUM(finish_spi(result));
}

/* ---------- cancel ---------- */

static Jsonb *
cancel_locked(EventRow *ev, const char *reason)
{
	Args		a = {0};
	Jsonb	   *info;
	Jsonb	   *doc;

	if (reason == NULL || strspn(reason, " \t\r\n") == strlen(reason) || strlen(reason) > 2000)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("reason: is required, 1 to 2000 characters"),
				 errhint("Buyers see the reason in their cancellation notice.")));
	if (strcmp(ev->status, "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s is already cancelled", uuid_text(ev->id)),
				 errhint("Retries of one cancellation should send the same idempotency_key to get the first result.")));

	arg(&a, UUIDOID, ev->tenant, false);
	arg(&a, UUIDOID, ev->id, false);
	arg(&a, TEXTOID, CStringGetTextDatum(reason), false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	exec("UPDATE eventsvc.events SET status = 'CANCELLED', cancelled_at = eventsvc.now(),"
		 "  cancellation_reason = $3, cancelled_by = $4, updated_by = $4, updated_at = eventsvc.now()"
		 " WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	/*
	 * Active holds go back through the capacity code (which keeps the seat
	 * counters right); then every section is closed: nothing is available any
	 * more. The report and its saga steps are written as the owner: API roles
	 * cannot write them.
	 */
	{
		EvsOwnerContext ctx;
		int64		released = evs_release_event_holds(ev->tenant, ev->id);

		arg(&a, INT8OID, Int64GetDatum(released), false);
		exec("UPDATE eventsvc.event_capacity SET available_capacity = 0, is_active = false,"
			 "  updated_at = eventsvc.now() WHERE tenant_id = $1 AND event_id = $2", &a, SPI_OK_UPDATE);
		evs_become_owner(&ctx);
		info = query_jsonb(
			"WITH rep AS (INSERT INTO eventsvc.event_cancellation_reports (tenant_id, event_id, status, reason,"
			"   cancelled_by, holds_released, created_at, updated_at)"
			"   VALUES ($1, $2, 'pending', $3, $4, $5, eventsvc.now(), eventsvc.now())"
			"   RETURNING id, holds_released),"
			" steps AS (INSERT INTO eventsvc.cancellation_steps (tenant_id, report_id, step_no, step, next_attempt_at, updated_at)"
			"   SELECT $1, rep.id, s.no, s.step, eventsvc.now(), eventsvc.now() FROM rep,"
			"   (VALUES (1, 'fetch_tickets'), (2, 'cancel_tickets'), (3, 'refund_payments'),"
			"           (4, 'cancel_listings'), (5, 'notify_holders')) AS s(no, step) RETURNING 1) "
			"SELECT jsonb_build_object('report_id', rep.id, 'holds_released', rep.holds_released,"
			" 'sections_closed', (SELECT count(*) FROM eventsvc.event_capacity"
			"   WHERE tenant_id = $1 AND event_id = $2 AND NOT is_active),"
			" 'saga_steps', (SELECT count(*) FROM steps)) FROM rep",
			&a);
		evs_restore_user(&ctx);
	}
	if (info == NULL)
		elog(ERROR, "cancellation report of event %s was not written", uuid_text(ev->id));

	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(info), false);
	arg(&a, TEXTOID, CStringGetTextDatum(ev->status), false);
	emit(ev->tenant, ev->id, "event.cancelled",
		 query_jsonb("SELECT jsonb_build_object('phase', 'initiated', 'previous_status', $2) || $1", &a));

	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(event_document(ev->id)), false);
	arg(&a, JSONBOID, jsonb_datum(info), false);
	doc = query_jsonb("SELECT $1 || jsonb_build_object('cancellation', $2)", &a);
	return doc;
}

/* api.cancel_event(event_id, reason, idempotency_key) */
Datum
evs_api_cancel_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = require_uuid(fcinfo, 0, "event_id");
	char	   *reason = opt_text(fcinfo, 1);
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *result;

	begin_spi();
	replay = evs_idempotency_begin(&idem, "cancel_event", opt_text(fcinfo, 2),
								   json_pair("event_id", uuid_text(id), "reason", reason));
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));
	lock_event(tenant, id, &ev);
	result = cancel_locked(&ev, reason);
	evs_idempotency_finish(&idem, result);
	PG_RETURN_DATUM(finish_spi(result));
}

/* ---------- transitions ---------- */

/*
 * Move a locked event to `to` (through the trigger) and emit the message of
 * that status: event.published, event.soldout, or event.updated with the
 * status change. CANCELLED is the full cancellation.
 */
static Jsonb *
transition_locked(EventRow *ev, const char *to, const char *reason)
{
	Args		a = {0};
	const char *key;
	TimestampTz starts;

	if (strcmp(to, "CANCELLED") == 0)
		return cancel_locked(ev, reason);
	evs_check_transition(ev->tenant, ev->id, ev->status, to);
	if (strcmp(ev->status, to) == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s is already %s", uuid_text(ev->id), to)));
	if ((strcmp(to, "PUBLISHED") == 0 || strcmp(to, "ON_SALE") == 0) &&
		evs_field_timestamptz(ev->row, "starts_at", &starts) && starts <= evs_now())
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("starts_at: the event has already started; it cannot become %s", to),
				 errhint("Reschedule or complete the event instead.")));

	arg(&a, UUIDOID, ev->tenant, false);
	arg(&a, UUIDOID, ev->id, false);
	arg(&a, TEXTOID, CStringGetTextDatum(to), false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	exec("UPDATE eventsvc.events SET status = $3::eventsvc.event_status, updated_by = $4,"
		 "  updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	key = strcmp(to, "PUBLISHED") == 0 ? "event.published"
		: strcmp(to, "SOLD_OUT") == 0 ? "event.soldout" : "event.updated";
	memset(&a, 0, sizeof(a));
	arg(&a, TEXTOID, CStringGetTextDatum(ev->status), false);
	arg(&a, TEXTOID, CStringGetTextDatum(to), false);
	arg(&a, TEXTOID, reason ? CStringGetTextDatum(reason) : (Datum) 0, reason == NULL);
	emit(ev->tenant, ev->id, key,
		 query_jsonb("SELECT jsonb_build_object('previous_status', $1, 'changed_fields', jsonb_build_array('status'),"
					 " 'previous', jsonb_build_object('status', $1)) || jsonb_strip_nulls(jsonb_build_object('reason', $3))", &a));
	return event_document(ev->id);
}

static Datum
transition_call(FunctionCallInfo fcinfo, const char *operation, const char *to,
				const char *reason, int key_arg)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = require_uuid(fcinfo, 0, "event_id");
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *result;
	Args		a = {0};

	if (to == NULL)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("status: is required")));
	begin_spi();
	arg(&a, UUIDOID, id, false);
	arg(&a, TEXTOID, CStringGetTextDatum(to), false);
	arg(&a, TEXTOID, reason ? CStringGetTextDatum(reason) : (Datum) 0, reason == NULL);
	replay = evs_idempotency_begin(&idem, operation, opt_text(fcinfo, key_arg),
								   query_jsonb("SELECT jsonb_build_object('event_id', $1, 'status', $2, 'reason', $3)", &a));
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));
	lock_event(tenant, id, &ev);
	result = transition_locked(&ev, to, reason);
	evs_idempotency_finish(&idem, result);
	PG_RETURN_DATUM(finish_spi(result));
}

/* api.publish_event(event_id, idempotency_key) */
Datum
evs_api_publish_event(PG_FUNCTION_ARGS)
{
	return transition_call(fcinfo, "publish_event", "PUBLISHED", NULL, 1);
}

/* api.transition_event(event_id, status, reason, idempotency_key) */
Datum
evs_api_transition_event(PG_FUNCTION_ARGS)
{
	return transition_call(fcinfo, "transition_event", opt_text(fcinfo, 1), opt_text(fcinfo, 2), 3);
}

/* api.postpone_event(event_id, reason, idempotency_key) */
Datum
evs_api_postpone_event(PG_FUNCTION_ARGS)
{
	return transition_call(fcinfo, "postpone_event", "POSTPONED", opt_text(fcinfo, 1), 2);
}

/*
 * api.reschedule_event(event_id, starts_at, ends_at, doors_open, status,
 * confirmation_token, idempotency_key): a POSTPONED event gets new dates
 * (RESCHEDULED) and goes back to PUBLISHED or ON_SALE in one call. New dates
 * after sales are a critical change.
 */
Datum
evs_api_reschedule_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = require_uuid(fcinfo, 0, "event_id");
	const char *target = PG_ARGISNULL(4) ? "PUBLISHED" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *change,
			   *merged,
			   *fields,
			   *gate,
			   *doc;
	Args		a = {0};

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required", PG_ARGISNULL(1) ? "starts_at" : "ends_at")));
	if (strcmp(target, "PUBLISHED") != 0 && strcmp(target, "ON_SALE") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("status: a rescheduled event returns to PUBLISHED or ON_SALE, not \"%s\"", target)));

	begin_spi();
	arg(&a, TIMESTAMPTZOID, PG_GETARG_DATUM(1), false);
	arg(&a, TIMESTAMPTZOID, PG_GETARG_DATUM(2), false);
	arg(&a, TIMESTAMPTZOID, PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3), PG_ARGISNULL(3));
	arg(&a, TEXTOID, CStringGetTextDatum(target), false);
	change = query_jsonb("SELECT jsonb_build_object('starts_at', $1, 'ends_at', $2, 'doors_open', $3, 'status', $4)", &a);
	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(change), false);
	arg(&a, UUIDOID, id, false);
	arg(&a, UUIDOID, PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5), PG_ARGISNULL(5));
	replay = evs_idempotency_begin(&idem, "reschedule_event", opt_text(fcinfo, 6),
								   query_jsonb("SELECT $1 || jsonb_build_object('event_id', $2, 'confirmation_token', $3)", &a));
	if (replay)
		PG_RETURN_DATUM(finish_spi(replay));

	lock_event(tenant, id, &ev);
	{
		int			from = evs_status_from_name(ev.status);

		if (!evs_transition_allowed(from, evs_status_from_name("RESCHEDULED")))
			evs_check_transition(tenant, id, ev.status, "RESCHEDULED");
	}

	/* Doors keep their distance to the start when not given. */
	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(ev.row), false);
	arg(&a, JSONBOID, jsonb_datum(change), false);
	merged = query_jsonb("SELECT $1 || jsonb_build_object('starts_at', $2->'starts_at', 'ends_at', $2->'ends_at',"
						 " 'doors_open', coalesce(nullif($2->'doors_open', 'null'), to_jsonb(($2->>'starts_at')::timestamptz"
						 "   - (($1->>'starts_at')::timestamptz - ($1->>'doors_open')::timestamptz))))", &a);
	evs_validate_event(merged, true);
	fields = cstring_jsonb("[\"starts_at\", \"ends_at\"]");
	gate = confirmation_gate(&ev, "reschedule_event", change, fields, !PG_ARGISNULL(5),
							 PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5));
	if (gate)
	{
		evs_idempotency_abandon(&idem);
		PG_RETURN_DATUM(finish_spi(gate));
	}
	lock_venue(tenant, ev.venue_id);
	check_overlap(tenant, ev.venue_id, merged, id, true);

	memset(&a, 0, sizeof(a));
	arg(&a, UUIDOID, tenant, false);
	arg(&a, UUIDOID, id, false);
	arg(&a, JSONBOID, jsonb_datum(merged), false);
	arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	arg(&a, JSONBOID, jsonb_datum(ev.row), false);
	arg(&a, TEXTOID, CStringGetTextDatum(target), false);
	exec("UPDATE eventsvc.events SET status = 'RESCHEDULED', starts_at = ($3->>'starts_at')::timestamptz,"
		 "  ends_at = ($3->>'ends_at')::timestamptz, doors_open = ($3->>'doors_open')::timestamptz,"
		 "  updated_by = $4, updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);
	exec("UPDATE eventsvc.event_schedules SET starts_at = ($3->>'starts_at')::timestamptz,"
		 "  ends_at = ($3->>'ends_at')::timestamptz, doors_open_at = ($3->>'doors_open')::timestamptz,"
		 "  status = 'SCHEDULED', updated_at = eventsvc.now()"
		 " WHERE tenant_id = $1 AND event_id = $2 AND starts_at = ($5->>'starts_at')::timestamptz",
		 &a, SPI_OK_UPDATE);
	exec("UPDATE eventsvc.events SET status = $6::eventsvc.event_status, updated_at = eventsvc.now()"
		 " WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	memset(&a, 0, sizeof(a));
	arg(&a, JSONBOID, jsonb_datum(ev.row), false);
	arg(&a, JSONBOID, jsonb_datum(merged), false);
	arg(&a, TEXTOID, CStringGetTextDatum(ev.status), false);
	emit(tenant, id, "event.rescheduled",
		 query_jsonb("SELECT jsonb_build_object('previous_status', $3, 'previous', jsonb_build_object("
					 " 'starts_at', $1->'starts_at', 'ends_at', $1->'ends_at', 'doors_open', $1->'doors_open'))", &a));

	doc = event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(finish_spi(doc));
}
