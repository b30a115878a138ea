/*
 * jsonb.c: the one way eventsvc builds jsonb in C: values pushed straight
 * from C types into a parse state, no text to parse and no SQL round trip.
 * A NULL key pushes an array element; a NULL string or Jsonb pushes JSON null.
 * Keys may come in any order (jsonb sorts them; a repeated key keeps its last
 * value, as jsonb_in and || do).
 */
#include "core/core.h"

#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/numeric.h"

static void
push(JsonbParseState **st, const char *key, JsonbValue *v)
{
	if (key != NULL)
	{
		evs_jsonb_push_key(st, key);
		(void) pushJsonbValue(st, WJB_VALUE, v);
	}
	else
		(void) pushJsonbValue(st, WJB_ELEM, v);
}

/* Opens an object: the outermost one (key NULL, *st NULL), a keyed value or an array element. */
void
evs_jsonb_begin_object(JsonbParseState **st, const char *key)
{
	if (key != NULL)
		evs_jsonb_push_key(st, key);
	(void) pushJsonbValue(st, WJB_BEGIN_OBJECT, NULL);
}

/* Opens an array, as evs_jsonb_begin_object opens an object. */
void
evs_jsonb_begin_array(JsonbParseState **st, const char *key)
{
	if (key != NULL)
		evs_jsonb_push_key(st, key);
	(void) pushJsonbValue(st, WJB_BEGIN_ARRAY, NULL);
}

/* Closes the innermost open object or array; returns the jsonb when that was the outermost, else NULL. */
Jsonb *
evs_jsonb_end(JsonbParseState **st)
{
	JsonbValue *v = pushJsonbValue(st, (*st)->contVal.type == jbvArray ? WJB_END_ARRAY : WJB_END_OBJECT, NULL);

	return *st == NULL ? JsonbValueToJsonb(v) : NULL;
}

/* Pushes a key of the open object (its value comes next). */
void
evs_jsonb_push_key(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	(void) pushJsonbValue(st, WJB_KEY, &k);
}

/* Pushes a string (the parse state keeps the pointer until the value is built). */
void
evs_jsonb_push_text(JsonbParseState **st, const char *key, const char *str)
{
	JsonbValue	v;

	if (str == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) str;
		v.val.string.len = strlen(str);
	}
	push(st, key, &v);
}

/* Pushes a number. */
void
evs_jsonb_push_numeric(JsonbParseState **st, const char *key, Numeric n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = n;
	push(st, key, &v);
}

/* Pushes an integer as a JSON number. */
void
evs_jsonb_push_int(JsonbParseState **st, const char *key, int64 n)
{
	evs_jsonb_push_numeric(st, key, int64_to_numeric(n));
}

/* Pushes true or false. */
void
evs_jsonb_push_bool(JsonbParseState **st, const char *key, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	push(st, key, &v);
}

/* Pushes JSON null. */
void
evs_jsonb_push_null(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvNull;
	push(st, key, &v);
}

/* Pushes a time as to_jsonb(timestamptz) writes it (ISO 8601, the session's time zone). */
void
evs_jsonb_push_time(JsonbParseState **st, const char *key, TimestampTz t)
{
	char		buf[MAXDATELEN + 1];

	/* the parse state keeps the pointer until the object is built: copy out of the stack */
	evs_jsonb_push_text(st, key, pstrdup(JsonEncodeDateTime(buf, TimestampTzGetDatum(t), TIMESTAMPTZOID, NULL)));
}

/* Pushes a uuid as its text. */
void
evs_jsonb_push_uuid(JsonbParseState **st, const char *key, Datum uuid)
{
	evs_jsonb_push_text(st, key, evs_uuid_text(uuid));
}

/* Pushes a jsonb value whole (an object, an array or a scalar); NULL: JSON null. */
void
evs_jsonb_push_jsonb(JsonbParseState **st, const char *key, Jsonb *j)
{
	JsonbValue	v;

	if (j == NULL)
	{
		evs_jsonb_push_null(st, key);
		return;
	}
	v.type = jbvBinary;
	v.val.binary.data = &j->root;
	v.val.binary.len = VARSIZE(j) - VARHDRSZ;
	push(st, key, &v);
}

/* Pushes a value read from another jsonb (getKeyJsonValueFromContainer); NULL: JSON null. */
void
evs_jsonb_push_value(JsonbParseState **st, const char *key, JsonbValue *v)
{
	if (v == NULL)
		evs_jsonb_push_null(st, key);
	else
		push(st, key, v);
}

/* Pushes every key and value of the object obj into the open object (obj || ... in SQL). */
void
evs_jsonb_push_fields(JsonbParseState **st, Jsonb *obj)
{
	JsonbIterator *it = JsonbIteratorInit(&obj->root);
	JsonbValue	v;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (tok == WJB_KEY || tok == WJB_VALUE)
			(void) pushJsonbValue(st, tok, &v);
}

/* The value of `key` in the object obj, or NULL. */
JsonbValue *
evs_jsonb_get(Jsonb *obj, const char *key)
{
	return getKeyJsonValueFromContainer(&obj->root, key, strlen(key), NULL);
}

/*
 * What ->> gives for a value read from a jsonb (evs_jsonb_get): a string's
 * value, a number's or boolean's text, a container's JSON text; NULL for a
 * missing key or a JSON null. Palloc'd in the current context.
 */
char *
evs_jsonb_text(JsonbValue *v)
{
	if (v == NULL)
		return NULL;
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvBinary:
			return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
		default:
			return NULL;
	}
}
