/*
 * content_rules.c: the rules of an event's rich content that every writer
 * meets, the API or direct SQL (BEFORE triggers event_content_rules,
 * event_faqs_rules and event_reviews_rules, one C function):
 *
 *   - reviews: a user writes only their own review (user_id is the caller),
 *     only a tenant admin moderates, an edited review goes back to moderation,
 *     and a review is deleted only by its author or a tenant admin;
 *   - content: highlights are at most 50 strings of 1 to 500 characters; media
 *     at most 50 items, each an https link (a string, or an object with "url"
 *     and optional "type", "title", "caption", "alt"), never javascript: or
 *     data: URLs, never a megabyte string;
 *   - FAQs: at most 100 per event (positions 0..99).
 *
 * See docs/discovery.md "Rich content" and docs/tenancy.md "Write rules".
 */
#include "discovery/discovery.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "lifecycle/lifecycle.h"

PG_FUNCTION_INFO_V1(evs_content_rules_trigger);

#define HIGHLIGHTS_MAX		50
#define HIGHLIGHT_CHARS_MAX	500
#define MEDIA_MAX			50
#define MEDIA_TEXT_MAX		500
#define FAQS_MAX			100

static void pg_attribute_noreturn()
content_invalid(const char *field, int index, const char *problem, const char *hint)
{
	ereport(ERROR,
			(errcode(EVS_ERR_VALIDATION),
			 index >= 0 ? errmsg("%s[%d]: %s", field, index, problem) : errmsg("%s: %s", field, problem),
			 hint ? errhint("%s", hint) : 0));
}

#define MEDIA_HINT "Media are https links: \"https://cdn.example.com/a.jpg\" or {\"url\": \"https://...\", \"type\": \"image\", \"caption\": \"...\"}."

/* A string of 1..max characters. */
static bool
short_string(JsonbValue *v, int max)
{
	int			chars;

	if (v->type != jbvString || v->val.string.len == 0 || v->val.string.len > max * MAX_MULTIBYTE_CHAR_LEN)
		return false;
	chars = pg_mbstrlen_with_len(v->val.string.val, v->val.string.len);
	return chars >= 1 && chars <= max;
}

static void
check_link(JsonbValue *v, int index)
{
	char	   *url;

	if (v->type != jbvString || v->val.string.len > 2048)
		content_invalid("media", index, "url must be an https link of at most 2048 characters", MEDIA_HINT);
	url = pnstrdup(v->val.string.val, v->val.string.len);
	if (!evs_valid_https_url(url))
		content_invalid("media", index, "url must be an https link (https://host.tld/...)", MEDIA_HINT);
}

/* One media item: a link, or an object with a url and short text fields. */
static void
check_media_item(JsonbValue *item, int index)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		has_url = false;

	if (item->type == jbvString)
	{
		check_link(item, index);
		return;
	}
	if (item->type != jbvBinary || !JsonContainerIsObject(item->val.binary.data))
		content_invalid("media", index, "must be a link or an object with a \"url\"", MEDIA_HINT);
	it = JsonbIteratorInit(item->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);
		if (strcmp(key, "url") == 0)
		{
			check_link(&v, index);
			has_url = true;
		}
		else if (strcmp(key, "type") == 0)
		{
			if (v.type != jbvString ||
				!((v.val.string.len == 5 && strncmp(v.val.string.val, "image", 5) == 0) ||
				  (v.val.string.len == 5 && strncmp(v.val.string.val, "video", 5) == 0) ||
				  (v.val.string.len == 5 && strncmp(v.val.string.val, "audio", 5) == 0)))
				content_invalid("media", index, "type must be image, video or audio", MEDIA_HINT);
		}
		else if (strcmp(key, "title") == 0 || strcmp(key, "caption") == 0 || strcmp(key, "alt") == 0)
		{
			if (!short_string(&v, MEDIA_TEXT_MAX))
				content_invalid("media", index, psprintf("%s must be a string of 1 to %d characters", key, MEDIA_TEXT_MAX),
								MEDIA_HINT);
		}
		else
			content_invalid("media", index, psprintf("unknown key \"%.40s\"", key),
							"Allowed keys: url, type, title, caption, alt.");
	}
	if (!has_url)
		content_invalid("media", index, "needs a \"url\"", MEDIA_HINT);
}

/* highlights and media of one event_content row */
static void
check_content(TupleDesc desc, HeapTuple tup)
{
	Datum		d;
	Jsonb	   *jb;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			n;

	if (evs_tup_get(tup, desc, "highlights", &d) && JB_ROOT_IS_ARRAY(jb = DatumGetJsonbP(d)) && !JB_ROOT_IS_SCALAR(jb))
	{
		if (JB_ROOT_COUNT(jb) > HIGHLIGHTS_MAX)
			content_invalid("highlights", -1, psprintf("at most %d entries, got %d", HIGHLIGHTS_MAX, JB_ROOT_COUNT(jb)), NULL);
		it = JsonbIteratorInit(&jb->root);
		n = 0;
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
			{
				if (!short_string(&v, HIGHLIGHT_CHARS_MAX))
					content_invalid("highlights", n, psprintf("must be a string of 1 to %d characters", HIGHLIGHT_CHARS_MAX),
									"For example [\"Full orchestra\", \"Doors 19:00\"].");
				n++;
			}
	}
	if (evs_tup_get(tup, desc, "media", &d) && JB_ROOT_IS_ARRAY(jb = DatumGetJsonbP(d)) && !JB_ROOT_IS_SCALAR(jb))
	{
		if (JB_ROOT_COUNT(jb) > MEDIA_MAX)
			content_invalid("media", -1, psprintf("at most %d entries, got %d", MEDIA_MAX, JB_ROOT_COUNT(jb)), NULL);
		it = JsonbIteratorInit(&jb->root);
		n = 0;
		while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
			if (tok == WJB_ELEM)
				check_media_item(&v, n++);
	}
}

static void
check_faq(TupleDesc desc, HeapTuple tup)
{
	Datum		d;
	int32		position = evs_tup_get(tup, desc, "position", &d) ? DatumGetInt32(d) : 0;

	if (position >= FAQS_MAX)
		ereport(ERROR,
				(errcode(EVS_ERR_VALIDATION),
				 errmsg("faqs: an event has at most %d FAQs (positions 0 to %d), got position %d",
						FAQS_MAX, FAQS_MAX - 1, position),
				 errhint("Replace the list with api.set_event_faqs.")));
}

/*
 * Reviews: a user writes only their own review and cannot moderate; an
 * edited review goes back to moderation; only the author or a tenant admin
 * deletes one. A tenant admin (or a superuser) writes freely.
 */
static HeapTuple
check_review(TriggerData *td, TupleDesc desc)
{
	HeapTuple	oldtup = td->tg_trigtuple;
	HeapTuple	newtup = td->tg_newtuple;
	char	   *actor;
	int			cols[3];
	Datum		vals[3];
	bool		nulls[3] = {false, false, false};
	int			n = 0;

	if (evs_is_tenant_admin())
		return TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? newtup : oldtup;
	actor = evs_current_actor();

	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		char	   *author = evs_tup_text(oldtup, desc, "user_id");

		if (author == NULL || strcmp(author, actor) != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("a review can only be deleted by its author or a tenant admin")));
		return oldtup;
	}
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		char	   *state = evs_tup_text(oldtup, desc, "moderation_state");

		newtup = oldtup;		/* an insert's new row is tg_trigtuple */
		if (state == NULL || strcmp(state, "pending") != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("only a tenant admin may moderate reviews"),
					 errhint("New reviews start as pending; an admin approves them with api.moderate_review.")));
		cols[n] = SPI_fnumber(desc, "user_id");
		vals[n++] = CStringGetTextDatum(actor);
	}
	else
	{
		char	   *author = evs_tup_text(oldtup, desc, "user_id");
		char	   *new_author = evs_tup_text(newtup, desc, "user_id");
		char	   *old_state = evs_tup_text(oldtup, desc, "moderation_state");
		char	   *new_state = evs_tup_text(newtup, desc, "moderation_state");

		if (author == NULL || strcmp(author, actor) != 0 || new_author == NULL || strcmp(new_author, author) != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("a review can only be changed by its author")));
		if (strcmp(old_state, new_state) != 0)
			ereport(ERROR,
					(errcode(EVS_ERR_FORBIDDEN),
					 errmsg("only a tenant admin may moderate reviews")));
		/* an edited review goes back to moderation */
		if (evs_tup_changed(desc, oldtup, newtup, "rating") || evs_tup_changed(desc, oldtup, newtup, "title") ||
			evs_tup_changed(desc, oldtup, newtup, "body"))
		{
			cols[n] = SPI_fnumber(desc, "moderation_state");
			vals[n++] = CStringGetTextDatum("pending");
		}
	}
	cols[n] = SPI_fnumber(desc, "updated_at");
	vals[n++] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return heap_modify_tuple_by_cols(newtup, desc, n, cols, vals, nulls);
}

Datum
evs_content_rules_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	const char *table;
	HeapTuple	newtup;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BEFORE(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.content_rules_trigger must be a BEFORE row trigger")));
	desc = RelationGetDescr(td->tg_relation);
	table = RelationGetRelationName(td->tg_relation);
	newtup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;

	if (evs_write_rules_skipped())
		return PointerGetDatum(TRIGGER_FIRED_BY_DELETE(td->tg_event) ? td->tg_trigtuple : newtup);

	if (strcmp(table, "event_reviews") == 0)
		return PointerGetDatum(check_review(td, desc));
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		return PointerGetDatum(td->tg_trigtuple);
	if (strcmp(table, "event_content") == 0)
		check_content(desc, newtup);
	else if (strcmp(table, "event_faqs") == 0)
		check_faq(desc, newtup);
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("eventsvc.content_rules_trigger does not know table %s", table)));
	return PointerGetDatum(newtup);
}
