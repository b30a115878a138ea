/*
 * confirmation.c: critical-change confirmation tokens: after sales,
 * a change of a critical field needs a tenant admin who confirms it with a
 * token bound to the event, the user and the exact change. Declared in
 * lifecycle_internal.h; see docs/lifecycle.md.
 */
#include "core/core.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "lifecycle/lifecycle_internal.h"
#include "lifecycle/validation.h"

#define CONFIRMATION_TTL "5 minutes"
/* What a token is bound to: the event ($2), the operation ($4) and the exact change ($5). */
#define CHANGE_HASH "sha256(convert_to($2::text || '|' || $4 || '|' || $5::text, 'UTF8'))"

/*
 * The critical-change gate. With no sold tickets, or no critical
 * field in the change, returns NULL: go ahead. Otherwise only a tenant admin
 * may go on: without a token a new one is stored and returned as the
 * {"status":"confirmation_required"} result (the caller must then stop, and
 * a successful result keeps the token row); with a token the token must be
 * live, unused and issued to this actor for exactly this change of this
 * event; it is consumed and NULL is returned.
 */
Jsonb *
lc_confirmation_gate(EventRow *ev, const char *operation, Jsonb *change, Jsonb *fields,
					 bool has_token, Datum token)
{
	int64		sold;
	EvsArgs		a = {0};
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

	evs_arg(&a, UUIDOID, ev->tenant, false);
	evs_arg(&a, UUIDOID, ev->id, false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(actor), false);
	evs_arg(&a, TEXTOID, CStringGetTextDatum(operation), false);
	evs_arg(&a, JSONBOID, JsonbPGetDatum(change), false);
	if (!has_token)
	{
		Jsonb	   *result;
		EvsRoleSwitch ctx;

		evs_arg(&a, JSONBOID, JsonbPGetDatum(fields), false);
		evs_arg(&a, INT8OID, Int64GetDatum(sold), false);
		evs_become_owner(&ctx);
		result = evs_query_jsonb(
			"INSERT INTO eventsvc.confirmation_tokens AS t (tenant_id, event_id, actor_id, change_hash, change, created_at, expires_at)"
			" VALUES ($1, $2, $3, " CHANGE_HASH ", $5, eventsvc.now(), eventsvc.now() + interval '" CONFIRMATION_TTL "')"
			" RETURNING jsonb_build_object('status', 'confirmation_required', 'token', t.token,"
			"  'expires_at', t.expires_at, 'event_id', t.event_id, 'operation', $4, 'fields', $6,"
			"  'sold_tickets', $7, 'change', $5)", &a);
		evs_switch_back(&ctx);
		if (result == NULL)
			elog(ERROR, "confirmation token insert returned nothing");
		return result;
	}

	evs_arg(&a, UUIDOID, token, false);
	{
		EvsRoleSwitch ctx;
		bool		same_event,
					same_actor,
					same_change,
					live,
					unused;
		char	   *expires;

		evs_become_owner(&ctx);
		evs_exec("SELECT event_id = $2, actor_id = $3, change_hash = " CHANGE_HASH ", expires_at > eventsvc.now(),"
				" used_at IS NULL, expires_at::text FROM eventsvc.confirmation_tokens"
				" WHERE tenant_id = $1 AND token = $6 FOR UPDATE", &a, SPI_OK_SELECT);
		evs_switch_back(&ctx);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s is not known", evs_uuid_text(token)),
					 errhint("Call again without confirmation_token to get a new token.")));
		same_event = DatumGetBool(evs_get(0, 1, &isnull));
		same_actor = DatumGetBool(evs_get(0, 2, &isnull));
		same_change = DatumGetBool(evs_get(0, 3, &isnull));
		live = DatumGetBool(evs_get(0, 4, &isnull));
		unused = DatumGetBool(evs_get(0, 5, &isnull));
		expires = evs_get_text(0, 6);
		if (!unused)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s was already used", evs_uuid_text(token)),
					 errhint("A token confirms one change once; call again without confirmation_token for a new one.")));
		if (!live)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s expired at %s", evs_uuid_text(token), expires),
					 errhint("Tokens live 5 minutes; call again without confirmation_token for a new one.")));
		if (!same_event || !same_actor || !same_change)
			ereport(ERROR,
					(errcode(EVS_ERR_CONFIRMATION_REQUIRED),
					 errmsg("confirmation token %s was issued for a different %s", evs_uuid_text(token),
							!same_event ? "event" : !same_actor ? "user" : "change"),
					 errhint("A token confirms exactly the change it was issued for, by the same user.")));
		evs_become_owner(&ctx);
		evs_exec("UPDATE eventsvc.confirmation_tokens SET used_at = eventsvc.now() WHERE tenant_id = $1 AND token = $6",
				&a, SPI_OK_UPDATE);
		evs_switch_back(&ctx);
	}
	/* the write rules of events let this transaction make the confirmed change */
	evs_note_confirmed_change(ev->id);
	return NULL;
}
