/*
 * lifecycle.c: the writes of an event's life after its creation: update,
 * soft delete, publish and every other transition, postpone and reschedule.
 * Each call is one transaction: validation first, then the rows, the outbox
 * messages and the idempotency record, so a failure leaves nothing behind.
 * Status changes go through the state machine trigger (state_machine.c);
 * field rules are in validation.c. Creation is in event_create.c, local
 * cancellation in cancellation.c, confirmation tokens in confirmation.c.
 * See docs/lifecycle.md and docs/outbox.md.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"
#include "utils/uuid.h"
#include "capacity/capacity.h"

PG_FUNCTION_INFO_V1(evs_api_update_event);
PG_FUNCTION_INFO_V1(evs_api_delete_event);
PG_FUNCTION_INFO_V1(evs_api_publish_event);
PG_FUNCTION_INFO_V1(evs_api_transition_event);
PG_FUNCTION_INFO_V1(evs_api_postpone_event);
PG_FUNCTION_INFO_V1(evs_api_reschedule_event);

/* Fields whose change after sales needs an admin's confirmed override (docs/lifecycle.md). */
#define CRITICAL_FIELDS "{venue_id,starts_at,ends_at,capacity,timezone}"

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

/* The names in a jsonb array of field names (the changed fields), in order. */
static List *
field_names(Jsonb *names)
{
	JsonbIterator *it = JsonbIteratorInit(&names->root);
	JsonbValue	v;
	JsonbIteratorToken tok;
	List	   *out = NIL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_ELEM && v.type == jbvString)
			out = lappend(out, pnstrdup(v.val.string.val, v.val.string.len));
	return out;
}

/*
 * The field classes (docs/lifecycle.md "Edits while on sale"). Before sales
 * (DRAFT to PUBLISHED) every updatable field may change; critical ones need a
 * confirmed change once tickets are sold. While the event sells (ON_SALE,
 * SALES_PAUSED, SOLD_OUT) its presentation may change freely, its critical
 * fields through the same confirmation flow, and nothing else.
 */
static const char *const presentation_fields[] = {
	"name", "description", "short_description", "image_url", "tags", "is_featured", "featured_order",
	"age_restriction", "category_id", NULL
};

static bool
in_list(const char *const *list, const char *s)
{
	for (int i = 0; list[i]; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* Whether the event sells now: its details change by field class. */
static bool
is_selling(EventRow *ev)
{
	static const char *const selling[] = {"ON_SALE", "SALES_PAUSED", "SOLD_OUT", NULL};

	return in_list(selling, ev->status);
}

static void
require_modifiable(EventRow *ev)
{
	static const char *const ok[] = {"DRAFT", "REVIEW", "APPROVED", "PUBLISHED", NULL};

	if (in_list(ok, ev->status) || is_selling(ev))
		return;
	ereport(ERROR,
			(errcode(EVS_ERR_CONFLICT),
			 errmsg("an event in status %s cannot be modified", ev->status),
			 errdetail("Details can be changed in DRAFT, REVIEW, APPROVED and PUBLISHED, and while on sale "
					   "(ON_SALE, SALES_PAUSED, SOLD_OUT) by field class."),
			 errhint("To move dates of a postponed event, reschedule it.")));
}

/*
 * While the event sells, the changed fields (a jsonb array of names) must be
 * presentation fields or critical ones (`critical`: those of CRITICAL_FIELDS
 * among them, which go through the confirmation gate); the rest are settled
 * once sales begin.
 */
static void
require_class_on_sale(EventRow *ev, Jsonb *changed, Jsonb *critical)
{
	StringInfoData refused;
	ListCell   *lc;

	if (!is_selling(ev))
		return;
	initStringInfo(&refused);
	foreach(lc, field_names(changed))
	{
		char	   *k = lfirst(lc);
		JsonbValue	v = {.type = jbvString, .val.string = {.len = strlen(k), .val = k}};

		if (!in_list(presentation_fields, k) && !findJsonbValueFromContainer(&critical->root, JB_FARRAY, &v))
			appendStringInfo(&refused, "%s%s", refused.len ? ", " : "", k);
	}
	if (refused.len > 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("these fields cannot change while the event is %s: %s", ev->status, refused.data),
				 errdetail("While an event sells, its name, descriptions, image, tags, category, featured flag "
						   "and order and age restriction change freely; venue, dates, capacity and time zone "
						   "through the confirmation flow; the other fields are settled."),
				 errhint("Change the presentation fields alone, or postpone the event first.")));
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
						evs_uuid_text(ev->id), expected, ev->version),
				 errhint("Read the event again and reapply your change.")));
}

/*
 * The data of event.updated: the changed fields (an array of names), their
 * previous values, and their new values taken from the merged row.
 */
static Jsonb *
update_message(Jsonb *changed, Jsonb *previous, Jsonb *merged)
{
	JsonbParseState *st = NULL;
	ListCell   *lc;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_jsonb(&st, "changed_fields", changed);
	evs_jsonb_push_jsonb(&st, "previous", previous);
	evs_jsonb_begin_object(&st, "changes");
	foreach(lc, field_names(changed))
	{
		char	   *k = lfirst(lc);

		evs_jsonb_push_value(&st, k, evs_jsonb_get(merged, k));
	}
	(void) evs_jsonb_end(&st);
	return evs_jsonb_end(&st);
}

/*
 * api.update_event(event_id, expected_version, changes, confirmation_token,
 * idempotency_key)
 */
Datum
evs_api_update_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
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
	EvsArgs		a = {0};
	JsonbParseState *st = NULL;
	bool		venue_moved,
				dates_moved,
				capacity_changed;
	char	   *slug;
	Datum		new_venue;

	if (PG_ARGISNULL(2))
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("changes: is required")));
	evs_check_size(tenant, "changes", PG_GETARG_DATUM(2), false, true);
	changes = PG_GETARG_JSONB_P(2);
	check_change_keys(changes);

	lc_begin_spi();
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "event_id", id);
	if (PG_ARGISNULL(1))
		evs_jsonb_push_null(&st, "expected_version");
	else
		evs_jsonb_push_int(&st, "expected_version", PG_GETARG_INT32(1));
	evs_jsonb_push_jsonb(&st, "changes", changes);
	if (PG_ARGISNULL(3))
		evs_jsonb_push_null(&st, "confirmation_token");
	else
		evs_jsonb_push_uuid(&st, "confirmation_token", PG_GETARG_DATUM(3));
	request = evs_jsonb_end(&st);
	replay = evs_idempotency_begin(&idem, "update_event", lc_opt_text(fcinfo, 4), request);
	if (replay)
		PG_RETURN_DATUM(evs_spi_finish_jsonb(replay));

	lc_lock_event(tenant, id, &ev);
	check_version(&ev, fcinfo, 1);
	require_modifiable(&ev);

	/* The would-be row, and which fields really change (compared as typed values). */
	memset(&a, 0, sizeof(a));
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(changes), false);
	evs_exec("WITH c AS (SELECT ($3 - 'category_id') || CASE WHEN $3 ? 'category_id'"
			"   THEN jsonb_build_object('primary_category_id', $3->'category_id') ELSE '{}' END AS c),"
			" x AS (SELECT to_jsonb(n) - 'search_vector' AS new, to_jsonb(e) - 'search_vector' AS old, c.c"
			"   FROM eventsvc.events e, c, jsonb_populate_record(e, c.c) n WHERE e.tenant_id = $1 AND e.id = $2),"
			" k AS (SELECT k FROM x, jsonb_object_keys(x.c) k WHERE x.new->k IS DISTINCT FROM x.old->k) "
			"SELECT x.new, coalesce((SELECT jsonb_agg(k ORDER BY k) FROM k), '[]'),"
			" coalesce((SELECT jsonb_agg(k ORDER BY k) FROM k WHERE k = ANY ('" CRITICAL_FIELDS "'::text[])), '[]'),"
			" coalesce((SELECT jsonb_object_agg(k, x.old->k) FROM k), '{}'), x.c FROM x",
			&a, SPI_OK_SELECT);
	merged = DatumGetJsonbP(evs_get_notnull(0, 1, "the changed event"));
	changed = DatumGetJsonbP(evs_get_notnull(0, 2, "the changed fields"));
	critical = DatumGetJsonbP(evs_get_notnull(0, 3, "the critical changed fields"));
	previous = DatumGetJsonbP(evs_get_notnull(0, 4, "the previous values"));
	changes = DatumGetJsonbP(evs_get_notnull(0, 5, "the changes"));
	require_class_on_sale(&ev, changed, critical);

	if (JB_ROOT_COUNT(changed) == 0)
	{
		doc = lc_event_document(id);
		evs_idempotency_finish(&idem, doc);
		PG_RETURN_DATUM(evs_spi_finish_jsonb(doc));
	}

	venue_moved = getKeyJsonValueFromContainer(&previous->root, "venue_id", 8, NULL) != NULL;
	dates_moved = getKeyJsonValueFromContainer(&previous->root, "starts_at", 9, NULL) != NULL ||
		getKeyJsonValueFromContainer(&previous->root, "ends_at", 7, NULL) != NULL;
	capacity_changed = getKeyJsonValueFromContainer(&previous->root, "capacity", 8, NULL) != NULL;
	evs_validate_event(merged, getKeyJsonValueFromContainer(&previous->root, "starts_at", 9, NULL) != NULL);
	lc_check_category(merged);

	gate = lc_confirmation_gate(&ev, "update_event", changes, critical, !PG_ARGISNULL(3),
								PG_ARGISNULL(3) ? (Datum) 0 : PG_GETARG_DATUM(3));
	if (gate)
	{
		/* Not the final answer: the retry carries the token, so the key is freed. */
		evs_idempotency_abandon(&idem);
		PG_RETURN_DATUM(evs_spi_finish_jsonb(gate));
	}

	new_venue = DirectFunctionCall1(uuid_in, CStringGetDatum(evs_field_text(merged, "venue_id")));
	slug = evs_field_text(merged, "slug");
	if (venue_moved || dates_moved || capacity_changed)
	{
		int32		venue_capacity;
		int32		capacity = 0;
		bool		has_capacity = evs_field_int(merged, "capacity", &capacity);

		lc_lock_venue(tenant, new_venue);
		venue_capacity = lc_check_venue(tenant, new_venue, NULL);
		lc_check_capacity_fits(lc_sections_total(tenant, id), has_capacity, capacity, venue_capacity);
		lc_check_overlap(tenant, new_venue, merged, id, true);
		if (venue_moved)
			slug = lc_unique_slug(tenant, new_venue, evs_field_text(merged, "name"), id, true);
	}

	memset(&a, 0, sizeof(a));
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(changes), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(slug), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_arg(&a, INT4OID, Int32GetDatum(ev.version), false);
	evs_exec("UPDATE eventsvc.events e SET (venue_id, name, slug, description, short_description, visibility,"
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
		evs_arg(&a, UUIDOID, tenant, false);
		evs_arg(&a, UUIDOID, id, false);
		evs_arg(&a, JSONBOID, JsonbPGetDatum(ev.row), false);
		evs_exec("UPDATE eventsvc.event_schedules s SET starts_at = e.starts_at, ends_at = e.ends_at,"
				"  doors_open_at = e.doors_open, updated_at = eventsvc.now()"
				" FROM eventsvc.events e WHERE e.tenant_id = $1 AND e.id = $2 AND e.event_type = 'single'"
				"  AND s.tenant_id = $1 AND s.event_id = $2 AND s.starts_at = ($3->>'starts_at')::timestamptz",
				&a, SPI_OK_UPDATE);
	}

	lc_emit(tenant, id, EVS_RK_EVENT_UPDATED, update_message(changed, previous, merged));
	if (getKeyJsonValueFromContainer(&previous->root, "artist_wallet", 13, NULL) ||
		getKeyJsonValueFromContainer(&previous->root, "event_pda", 9, NULL))
		lc_emit(tenant, id, EVS_RK_BLOCKCHAIN_SYNC, NULL);

	doc = lc_event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(doc));
}

/* ---------- delete ---------- */

/*
 * api.delete_event(event_id, idempotency_key): soft delete. Only DRAFT and
 * CANCELLED events may be deleted (a live event is cancelled first, which
 * starts the refunds); sold tickets need a tenant admin.
 */
static Jsonb *
delete_action(EventRow *ev, const void *context)
{
	EvsArgs		a = {0};
	int64		sold;
	Jsonb	   *result;

	(void) context;
	if (strcmp(ev->status, "DRAFT") != 0 && strcmp(ev->status, "CANCELLED") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("an event in status %s cannot be deleted", ev->status),
				 errdetail("Only DRAFT and CANCELLED events can be deleted."),
				 errhint("Cancel it first with api.cancel_event, which also refunds buyers.")));
	sold = evs_event_sold_count(ev->tenant, ev->id);
	if (sold > 0 && !evs_is_tenant_admin())
		ereport(ERROR,
				(errcode(EVS_ERR_FORBIDDEN),
				 errmsg("event %s has " INT64_FORMAT " sold tickets; only a tenant admin may delete it",
						evs_uuid_text(ev->id), sold),
				 errhint("Call as a member of role eventsvc_admin.")));

	evs_arg(&a, UUIDOID, ev->tenant, false);
	evs_arg(&a, UUIDOID, ev->id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	result = evs_query_jsonb("UPDATE eventsvc.events SET deleted_at = eventsvc.now(), status = 'CANCELLED',"
							"  updated_by = $3, updated_at = eventsvc.now()"
							" WHERE tenant_id = $1 AND id = $2"
							" RETURNING jsonb_build_object('event_id', id, 'status', status, 'deleted_at', deleted_at,"
							"  'version', version)", &a);
	if (result == NULL)
		elog(ERROR, "soft delete of event %s updated nothing", evs_uuid_text(ev->id));
	lc_emit(ev->tenant, ev->id, EVS_RK_EVENT_DELETED,
			lc_json_pair("previous_status", ev->status, "deleted_by", evs_current_actor()));
	return result;
}

/* api.delete_event(event_id, idempotency_key). */
Datum
evs_api_delete_event(PG_FUNCTION_ARGS)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	Jsonb	   *request;

	lc_begin_spi();
	request = lc_json_pair("event_id", evs_uuid_text(id), NULL, NULL);
	return lc_event_call(tenant, id, "delete_event", lc_opt_text(fcinfo, 1), request,
						 delete_action, NULL);
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
	EvsArgs		a = {0};
	const char *key;
	TimestampTz starts;
	JsonbParseState *st = NULL;

	if (strcmp(to, "CANCELLED") == 0)
		return lc_cancel_locked(ev, reason, false, (Datum) 0);
	evs_check_transition(ev->tenant, ev->id, ev->status, to);
	if (strcmp(ev->status, to) == 0)
		ereport(ERROR,
				(errcode(EVS_ERR_CONFLICT),
				 errmsg("event %s is already %s", evs_uuid_text(ev->id), to)));
	if ((strcmp(to, "PUBLISHED") == 0 || strcmp(to, "ON_SALE") == 0) &&
		evs_field_timestamptz(ev->row, "starts_at", &starts) && starts <= evs_now())
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("starts_at: the event has already started; it cannot become %s", to),
				 errhint("Reschedule or complete the event instead.")));

	evs_arg(&a, UUIDOID, ev->tenant, false);
	evs_arg(&a, UUIDOID, ev->id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(to), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_exec("UPDATE eventsvc.events SET status = $3::eventsvc.event_status, updated_by = $4,"
			"  updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	key = strcmp(to, "PUBLISHED") == 0 ? EVS_RK_EVENT_PUBLISHED
		: strcmp(to, "SOLD_OUT") == 0 ? EVS_RK_EVENT_SOLDOUT : EVS_RK_EVENT_UPDATED;
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "previous_status", ev->status);
	evs_jsonb_begin_array(&st, "changed_fields");
	evs_jsonb_push_text(&st, NULL, "status");
	(void) evs_jsonb_end(&st);
	evs_jsonb_begin_object(&st, "previous");
	evs_jsonb_push_text(&st, "status", ev->status);
	(void) evs_jsonb_end(&st);
	if (reason != NULL)
		evs_jsonb_push_text(&st, "reason", reason);
	lc_emit(ev->tenant, ev->id, key, evs_jsonb_end(&st));
	/* the holders of a postponed event choose: keep their seats or a refund */
	if (strcmp(to, "POSTPONED") == 0)
		(void) evs_postponement_open(ev->tenant, ev->id, (Datum) 0, "POSTPONED");
	return lc_event_document(ev->id);
}

typedef struct Transition
{
	const char *to;
	const char *reason;
} Transition;

static Jsonb *
transition_action(EventRow *ev, const void *context)
{
	const Transition *t = context;

	return transition_locked(ev, t->to, t->reason);
}

static Datum
transition_call(FunctionCallInfo fcinfo, const char *operation, const char *to,
				const char *reason, int key_arg)
{
	Datum		tenant = evs_current_tenant();
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	Transition	t = {to, reason};
	JsonbParseState *st = NULL;
	Jsonb	   *request;

	if (to == NULL)
		ereport(ERROR, (errcode(EVS_ERR_VALIDATION), errmsg("status: is required")));
	lc_begin_spi();
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_uuid(&st, "event_id", id);
	evs_jsonb_push_text(&st, "status", to);
	evs_jsonb_push_text(&st, "reason", reason);
	request = evs_jsonb_end(&st);
	return lc_event_call(tenant, id, operation, lc_opt_text(fcinfo, key_arg), request,
						 transition_action, &t);
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
	return transition_call(fcinfo, "transition_event", lc_opt_text(fcinfo, 1), lc_opt_text(fcinfo, 2), 3);
}

/* api.postpone_event(event_id, reason, idempotency_key) */
Datum
evs_api_postpone_event(PG_FUNCTION_ARGS)
{
	return transition_call(fcinfo, "postpone_event", "POSTPONED", lc_opt_text(fcinfo, 1), 2);
}

/* A time of the event row (to_jsonb text), false when it has none. */
static bool
row_time(Jsonb *row, const char *key, TimestampTz *t)
{
	JsonbValue *v = evs_jsonb_get(row, key);

	if (v == NULL || v->type != jbvString)
		return false;
	*t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												 CStringGetDatum(pnstrdup(v->val.string.val, v->val.string.len)),
												 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	return true;
}

/*
 * The event row with the new dates of api.reschedule_event: doors not given
 * keep their distance to the start (new start - (old start - old doors)),
 * none when the row had none.
 */
static Jsonb *
rescheduled_row(Jsonb *row, FunctionCallInfo fcinfo)
{
	JsonbParseState *st = NULL;
	TimestampTz old_start,
				old_doors;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_fields(&st, row);
	evs_jsonb_push_time(&st, "starts_at", PG_GETARG_TIMESTAMPTZ(1));
	evs_jsonb_push_time(&st, "ends_at", PG_GETARG_TIMESTAMPTZ(2));
	if (!PG_ARGISNULL(3))
		evs_jsonb_push_time(&st, "doors_open", PG_GETARG_TIMESTAMPTZ(3));
	else if (row_time(row, "starts_at", &old_start) && row_time(row, "doors_open", &old_doors))
		evs_jsonb_push_time(&st, "doors_open",
							DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval, PG_GETARG_DATUM(1),
																	DirectFunctionCall2(timestamp_mi,
																						TimestampTzGetDatum(old_start),
																						TimestampTzGetDatum(old_doors)))));
	else
		evs_jsonb_push_null(&st, "doors_open");
	return evs_jsonb_end(&st);
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
	Datum		id = lc_require_uuid(fcinfo, 0, "event_id");
	const char *target = PG_ARGISNULL(4) ? "PUBLISHED" : text_to_cstring(PG_GETARG_TEXT_PP(4));
	EventRow	ev;
	EvsIdempotency idem;
	Jsonb	   *replay,
			   *change,
			   *merged,
			   *fields,
			   *gate,
			   *doc;
	EvsArgs		a = {0};
	JsonbParseState *st = NULL;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("%s: is required", PG_ARGISNULL(1) ? "starts_at" : "ends_at")));
	if (strcmp(target, "PUBLISHED") != 0 && strcmp(target, "ON_SALE") != 0)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("status: a rescheduled event returns to PUBLISHED or ON_SALE, not \"%s\"", target)));

	lc_begin_spi();
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_time(&st, "starts_at", PG_GETARG_TIMESTAMPTZ(1));
	evs_jsonb_push_time(&st, "ends_at", PG_GETARG_TIMESTAMPTZ(2));
	if (PG_ARGISNULL(3))
		evs_jsonb_push_null(&st, "doors_open");
	else
		evs_jsonb_push_time(&st, "doors_open", PG_GETARG_TIMESTAMPTZ(3));
	evs_jsonb_push_text(&st, "status", target);
	change = evs_jsonb_end(&st);
	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_fields(&st, change);
	evs_jsonb_push_uuid(&st, "event_id", id);
	if (PG_ARGISNULL(5))
		evs_jsonb_push_null(&st, "confirmation_token");
	else
		evs_jsonb_push_uuid(&st, "confirmation_token", PG_GETARG_DATUM(5));
	replay = evs_idempotency_begin(&idem, "reschedule_event", lc_opt_text(fcinfo, 6), evs_jsonb_end(&st));
	if (replay)
		PG_RETURN_DATUM(evs_spi_finish_jsonb(replay));

	lc_lock_event(tenant, id, &ev);
	{
		int			from = evs_status_from_name(ev.status);

		if (!evs_transition_allowed(from, evs_status_from_name("RESCHEDULED")))
			evs_check_transition(tenant, id, ev.status, "RESCHEDULED");
	}

	merged = rescheduled_row(ev.row, fcinfo);
	evs_validate_event(merged, true);
	evs_jsonb_begin_array(&st, NULL);
	evs_jsonb_push_text(&st, NULL, "starts_at");
	evs_jsonb_push_text(&st, NULL, "ends_at");
	fields = evs_jsonb_end(&st);
	gate = lc_confirmation_gate(&ev, "reschedule_event", change, fields, !PG_ARGISNULL(5),
								PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5));
	if (gate)
	{
		evs_idempotency_abandon(&idem);
		PG_RETURN_DATUM(evs_spi_finish_jsonb(gate));
	}
	lc_lock_venue(tenant, ev.venue_id);
	lc_check_overlap(tenant, ev.venue_id, merged, id, true);

	memset(&a, 0, sizeof(a));
	evs_arg(&a, UUIDOID, tenant, false);
	evs_arg(&a, UUIDOID, id, false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(merged), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(evs_current_actor()), false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(ev.row), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(target), false);
	evs_exec("UPDATE eventsvc.events SET status = 'RESCHEDULED', starts_at = ($3->>'starts_at')::timestamptz,"
			"  ends_at = ($3->>'ends_at')::timestamptz, doors_open = ($3->>'doors_open')::timestamptz,"
			"  updated_by = $4, updated_at = eventsvc.now() WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);
	evs_exec("UPDATE eventsvc.event_schedules SET starts_at = ($3->>'starts_at')::timestamptz,"
			"  ends_at = ($3->>'ends_at')::timestamptz, doors_open_at = ($3->>'doors_open')::timestamptz,"
			"  status = 'SCHEDULED', updated_at = eventsvc.now()"
			" WHERE tenant_id = $1 AND event_id = $2 AND starts_at = ($5->>'starts_at')::timestamptz",
			&a, SPI_OK_UPDATE);
	evs_exec("UPDATE eventsvc.events SET status = $6::eventsvc.event_status, updated_at = eventsvc.now()"
			" WHERE tenant_id = $1 AND id = $2", &a, SPI_OK_UPDATE);

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "previous_status", ev.status);
	evs_jsonb_begin_object(&st, "previous");
	evs_jsonb_push_value(&st, "starts_at", evs_jsonb_get(ev.row, "starts_at"));
	evs_jsonb_push_value(&st, "ends_at", evs_jsonb_get(ev.row, "ends_at"));
	evs_jsonb_push_value(&st, "doors_open", evs_jsonb_get(ev.row, "doors_open"));
	(void) evs_jsonb_end(&st);
	lc_emit(tenant, id, EVS_RK_EVENT_RESCHEDULED, evs_jsonb_end(&st));
	/* holders decide with the new date known: the window lasts at least a full window from now */
	(void) evs_postponement_open(tenant, id, (Datum) 0, "RESCHEDULED");

	doc = lc_event_document(id);
	evs_idempotency_finish(&idem, doc);
	PG_RETURN_DATUM(evs_spi_finish_jsonb(doc));
}
