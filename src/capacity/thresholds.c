/*
 * thresholds.c: the outbox messages a reservation or a confirmation can cause:
 * event.capacity.warning / .critical when a section, the whole event, or one
 * date of a series (its sections together) crosses 80 % / 95 % of its seats
 * (the sell-out is in sellout.c). docs/capacity.md "Thresholds" states the
 * rules and their races; a date's lines are decided exactly as the event's,
 * with a state row, a section list and a lock of their own (docs/series.md).
 */
#include "core/core.h"

#include "access/stratnum.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/uuid.h"
#include "capacity/capacity_internal.h"

#define EVS_LOCK_THRESHOLD 0x4558	/* advisory lock class: the event-wide threshold state */
#define EVS_LOCK_DATE_THRESHOLD 0x455B	/* advisory lock class: a date's threshold state */

/*
 * Whose lines: the event's (its sections that are not date sections) or one
 * date's (its sections). Everything below is the same for both but the state
 * table, the section list, the lock and the message's scope. The outbox
 * aggregate is the event either way.
 */
typedef struct Scope
{
	bool		date;			/* a date of a series: id is the occurrence */
	Datum		id;				/* the event or the occurrence */
	Datum		event_id;
} Scope;

#define SCOPE_TABLE(sc) ((sc)->date ? "occurrence_capacity_thresholds" : "event_capacity_thresholds")

static const struct
{
	int			percent;
	const char *key;
}			lines[] = {{80, EVS_RK_CAPACITY_WARNING}, {95, EVS_RK_CAPACITY_CRITICAL}};

/* used / total has reached percent, in integers */
static inline bool
at_or_above(int64 used, int64 total, int percent)
{
	return used * 100 >= (int64) percent * total;
}

/* ---- thresholds: 80 % and 95 % of a section ---- */

static void
emit_section(Datum tenant, Datum event_id, const char *key, Datum section_id, int32 total,
			 int64 used, int threshold)
{
	JsonbParseState *st = NULL;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "scope", "section");
	evs_jsonb_push_uuid(&st, "capacity_id", section_id);
	evs_jsonb_push_int(&st, "total_capacity", total);
	evs_jsonb_push_int(&st, "held_or_sold", used);
	evs_jsonb_push_int(&st, "threshold_percent", threshold);
	(void) evs_outbox_emit_key(tenant, event_id, key, evs_jsonb_end(&st));
}

/*
 * A reservation that moved the section's counter across 80 % or 95 % of its
 * seats emits event.capacity.warning / .critical. Counter moves are atomic, so
 * exactly one reservation crosses each line on the way up; if it aborts, the
 * next one to cross emits instead. Seats given back and taken again cross again.
 */
static void
section_thresholds(Datum tenant, Datum event_id, Datum section_id, int32 total, int64 remaining,
				   int32 quantity)
{
	int64		after = total - remaining;
	int64		before = after - quantity;

	if (total <= 0)
		return;
	for (int i = 0; i < (int) lengthof(lines); i++)
		if (!at_or_above(before, total, lines[i].percent) && at_or_above(after, total, lines[i].percent))
			emit_section(tenant, event_id, lines[i].key, section_id, total, after, lines[i].percent);
}

/* ---- the event as a whole ---- */

/*
 * The event's active sections, and its threshold state as this reservation's
 * statement saw it (its snapshot was taken before the seats were): level is the
 * highest line reported for the current crossing, changes the number of state
 * writes so far (0, 0 when the event has no state row yet).
 */
typedef struct EventSeats
{
	int			nsections;
	Datum	   *sections;
	int32	   *totals;
	EvsEscrowEntry *counters;	/* handles: a slot and its tag, checked on use */
	bool	   *has_counter;	/* false for a section on the row-lock path */
	int64		capacity;
	int			level;
	int64		changes;
} EventSeats;

/*
 * The section list of an event, kept per session: reading it is the costly
 * part of the common path on an event with many sections. It is valid while
 * the event's sections_version (bumped by a trigger on every change of its
 * sections, and read in the same snapshot as the rest) has not moved. The
 * state table's OID is in the key: a re-created extension starts versions over.
 */
typedef struct SectionsKey
{
	Oid			state_rel;
	pg_uuid_t	tenant;
	pg_uuid_t	event;			/* or the date */
} SectionsKey;

typedef struct SectionsEntry
{
	SectionsKey key;
	int64		version;
	int			n;
	int64		capacity;
	pg_uuid_t  *ids;
	int32	   *totals;
	EvsEscrowEntry *counters;	/* handles: a slot and its tag, checked on use */
	bool	   *has_counter;
} SectionsEntry;

#define SECTIONS_CACHE_MAX 1024	/* events; past that the cache starts over */

static HTAB *sections_cache = NULL;
static MemoryContext sections_cxt = NULL;

static SectionsEntry *
sections_cache_entry(Datum tenant, const Scope *sc)
{
	SectionsKey key;
	SectionsEntry *entry;
	bool		found;

	if (sections_cache == NULL || hash_get_num_entries(sections_cache) >= SECTIONS_CACHE_MAX)
	{
		HASHCTL		info;

		if (sections_cxt == NULL)
			sections_cxt = AllocSetContextCreate(TopMemoryContext, "eventsvc event sections",
												 ALLOCSET_SMALL_SIZES);
		else
			MemoryContextReset(sections_cxt);	/* the table and every list with it */
		memset(&info, 0, sizeof(info));
		info.keysize = sizeof(SectionsKey);
		info.entrysize = sizeof(SectionsEntry);
		info.hcxt = sections_cxt;
		sections_cache = hash_create("eventsvc event sections", 64, &info, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.state_rel = evs_relation_oid(SCOPE_TABLE(sc));	/* and so the scope */
	memcpy(&key.tenant, DatumGetUUIDP(tenant), sizeof(pg_uuid_t));
	memcpy(&key.event, DatumGetUUIDP(sc->id), sizeof(pg_uuid_t));
	entry = hash_search(sections_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		entry->version = -1;
		entry->n = 0;
		entry->capacity = 0;
		entry->ids = NULL;
		entry->totals = NULL;
		entry->counters = NULL;
		entry->has_counter = NULL;
	}
	return entry;
}

/* Reads the active sections into the entry (the statement's snapshot). */
static void
sections_cache_fill(SectionsEntry *entry, Datum tenant, const Scope *sc, int64 version)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	SPIPlanPtr *plan = &plans[sc->date];
	Datum		v[2] = {tenant, sc->id};
	bool		isnull;
	Datum		d;
	Datum	   *ids = NULL;
	Datum	   *totals = NULL;
	int			n = 0,
				m = 0;
	int			rc;

	if (*plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		/* one row of arrays: a row per section costs far more when an event has many */
		*plan = evs_spi_prepare_kept(sc->date
									 ? "SELECT array_agg(s.id), array_agg(s.total_capacity) FROM eventsvc.event_capacity s"
									 " WHERE s.tenant_id = $1 AND s.occurrence_id = $2 AND s.is_active"
									 : EVS_SERIES_SQL(
			"SELECT array_agg(s.id), array_agg(s.total_capacity) FROM eventsvc.event_capacity s"
			" WHERE s.tenant_id = $1 AND s.event_id = $2 AND s.is_active AND s.occurrence_id IS NULL",
			"SELECT array_agg(s.id), array_agg(s.total_capacity) FROM eventsvc.event_capacity s"
			" WHERE s.tenant_id = $1 AND s.event_id = $2 AND s.is_active"), 2, t);
	}
	rc = SPI_execute_plan(*plan, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "event section list failed: %s", SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		deconstruct_array(DatumGetArrayTypeP(d), UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, &ids, NULL, &n);
		d = evs_getbinval_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, "the sections' seats");
		deconstruct_array(DatumGetArrayTypeP(d), INT4OID, sizeof(int32), true, TYPALIGN_INT, &totals, NULL, &m);
		if (m != n)
			elog(ERROR, "event section list is inconsistent");
	}
	entry->version = -1;		/* until filled: an error below leaves it unusable */
	if (entry->ids != NULL)
		pfree(entry->ids);
	if (entry->totals != NULL)
		pfree(entry->totals);
	if (entry->counters != NULL)
		pfree(entry->counters);
	if (entry->has_counter != NULL)
		pfree(entry->has_counter);
	entry->ids = MemoryContextAlloc(sections_cxt, sizeof(pg_uuid_t) * Max(n, 1));
	entry->totals = MemoryContextAlloc(sections_cxt, sizeof(int32) * Max(n, 1));
	entry->counters = MemoryContextAlloc(sections_cxt, sizeof(EvsEscrowEntry) * Max(n, 1));
	entry->has_counter = MemoryContextAlloc(sections_cxt, sizeof(bool) * Max(n, 1));
	entry->n = 0;
	entry->capacity = 0;
	for (int i = 0; i < n; i++)
	{
		memcpy(&entry->ids[i], DatumGetUUIDP(ids[i]), sizeof(pg_uuid_t));
		entry->totals[i] = DatumGetInt32(totals[i]);
		entry->capacity += entry->totals[i];
		/*
		 * Every section of the event gets its counter now, if one is free, so
		 * the common path reads no rows; never one taken over from a section
		 * that was reserved (sections without demand must not push it out).
		 */
		entry->has_counter[i] = evs_escrow_section_if_free(tenant, UUIDPGetDatum(&entry->ids[i]), &entry->counters[i]) &&
			evs_escrow_ready(&entry->counters[i], tenant, UUIDPGetDatum(&entry->ids[i]));
	}
	entry->n = n;
	/* version 0: no state row, so no trigger has counted changes; read again next time */
	entry->version = version > 0 ? version : -1;
}

/*
 * The event's threshold state row (level, changes, sections_version) through
 * its primary key, without the executor: the reservation path reads it every
 * time. False when the event has no row yet.
 */
static bool
state_row_read(Datum tenant, const Scope *sc, Snapshot snapshot, int *level, int64 *changes, int64 *version)
{
	static const char *const columns[] = {"level", "changes", "sections_version"};
	ScanKeyData key[2];
	Datum		values[3];
	bool		nulls[3];

	/* the table's first two columns are its key */
	ScanKeyInit(&key[0], 1, BTEqualStrategyNumber, F_UUID_EQ, tenant);
	ScanKeyInit(&key[1], 2, BTEqualStrategyNumber, F_UUID_EQ, sc->id);
	if (!evs_row_by_key(SCOPE_TABLE(sc), sc->date ? "occurrence_capacity_thresholds_pkey"
						: "event_capacity_thresholds_pkey", 2, key, snapshot, 3, columns, values, nulls))
		return false;
	*level = DatumGetInt16(values[0]);
	*changes = DatumGetInt64(values[1]);
	*version = DatumGetInt64(values[2]);
	return true;
}

static void
event_seats_load(Datum tenant, const Scope *sc, EventSeats *es)
{
	int64		version = 0;
	SectionsEntry *entry;

	es->level = 0;
	es->changes = 0;
	/* the statement's snapshot, so a state row seen here was committed before our seats were taken */
	(void) state_row_read(tenant, sc, GetActiveSnapshot(), &es->level, &es->changes, &version);
	entry = sections_cache_entry(tenant, sc);
	if (entry->version != version)
		sections_cache_fill(entry, tenant, sc, version);
	/* a copy: the cache may start over before this reservation is done with it */
	es->nsections = entry->n;
	es->capacity = entry->capacity;
	{
		pg_uuid_t  *ids = palloc(sizeof(pg_uuid_t) * Max(entry->n, 1));

		memcpy(ids, entry->ids, sizeof(pg_uuid_t) * entry->n);
		memcpy(es->totals = palloc(sizeof(int32) * Max(entry->n, 1)), entry->totals, sizeof(int32) * entry->n);
		memcpy(es->counters = palloc(sizeof(EvsEscrowEntry) * Max(entry->n, 1)), entry->counters,
			   sizeof(EvsEscrowEntry) * entry->n);
		memcpy(es->has_counter = palloc(sizeof(bool) * Max(entry->n, 1)), entry->has_counter,
			   sizeof(bool) * entry->n);
		es->sections = palloc(sizeof(Datum) * Max(entry->n, 1));
		for (int i = 0; i < entry->n; i++)
			es->sections[i] = UUIDPGetDatum(&ids[i]);
	}
}

/*
 * Seats held or sold over the event's sections: from the shared counters
 * (no lock, no row read), or from the rows for a section without a counter.
 * Counters include the seats of reservations still in flight, like the
 * section thresholds do. The common path reads the counters it remembers;
 * the locked decision looks each one up again (and rebuilds one that an
 * operator reset).
 */
static int64
event_held(Datum tenant, const EventSeats *es, bool recheck)
{
	int64		used = 0;

	for (int i = 0; i < es->nsections; i++)
	{
		EvsEscrowEntry e = es->counters[i];
		bool		counter = es->has_counter[i];
		int64		free;
		int64		held;

		if (recheck)
			counter = evs_escrow_find(tenant, es->sections[i], &e) && evs_escrow_ready(&e, tenant, es->sections[i]);
		if (counter && evs_escrow_free(&e, &free))
			held = es->totals[i] - free;
		else
			held = evs_section_held_latest(tenant, es->sections[i]);

		used += Max(held, 0);
	}
	return used;
}

static void
threshold_locktag(LOCKTAG *tag, Datum tenant, const Scope *sc)
{
	uint32		ev = hash_bytes((const unsigned char *) DatumGetUUIDP(sc->id), UUID_LEN);
	uint32		tn = hash_bytes((const unsigned char *) DatumGetUUIDP(tenant), UUID_LEN);

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, ev, tn, sc->date ? EVS_LOCK_DATE_THRESHOLD : EVS_LOCK_THRESHOLD);
}

/* The committed state (latest snapshot, not the statement's). */
static void
state_latest(Datum tenant, const Scope *sc, int *level, int64 *changes)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	SPIPlanPtr *plan = &plans[sc->date];
	Datum		v[2] = {tenant, sc->id};
	bool		isnull;
	int			rc;

	if (*plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		*plan = evs_spi_prepare_kept(sc->date
									 ? "SELECT level, changes FROM eventsvc.occurrence_capacity_thresholds"
									 " WHERE tenant_id = $1 AND occurrence_id = $2"
									 : "SELECT level, changes FROM eventsvc.event_capacity_thresholds"
									 " WHERE tenant_id = $1 AND event_id = $2", 2, t);
	}
	rc = SPI_execute_snapshot(*plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, true, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "threshold state read failed: %s", SPI_result_code_string(rc));
	*level = 0;
	*changes = 0;
	if (SPI_processed == 1)
	{
		*level = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*changes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
}

/* Latest snapshot: under REPEATABLE READ a row written after our snapshot is not a serialization error. */
static void
state_write(Datum tenant, const Scope *sc, int level)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	SPIPlanPtr *plan = &plans[sc->date];
	Datum		v[4] = {tenant, sc->id, Int16GetDatum((int16) level), TimestampTzGetDatum(evs_now())};
	int			rc;

	if (*plan == NULL)
	{
		Oid			t[4] = {UUIDOID, UUIDOID, INT2OID, TIMESTAMPTZOID};

		*plan = evs_spi_prepare_kept(sc->date
									 ? "INSERT INTO eventsvc.occurrence_capacity_thresholds AS t"
									 " (tenant_id, occurrence_id, level, changes, updated_at) VALUES ($1, $2, $3, 1, $4)"
									 " ON CONFLICT (tenant_id, occurrence_id) DO UPDATE"
									 " SET level = excluded.level, changes = t.changes + 1, updated_at = excluded.updated_at"
									 : "INSERT INTO eventsvc.event_capacity_thresholds AS t"
									 " (tenant_id, event_id, level, changes, updated_at) VALUES ($1, $2, $3, 1, $4)"
									 " ON CONFLICT (tenant_id, event_id) DO UPDATE"
									 " SET level = excluded.level, changes = t.changes + 1, updated_at = excluded.updated_at",
									 4, t);
	}
	rc = SPI_execute_snapshot(*plan, v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, true, 0);
	if (rc != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "threshold state write failed: %s", SPI_result_code_string(rc));
}

/* A date's start, as its messages give it (read only when a line of the date is reported). */
static char *
date_starts_at(Datum tenant, Datum occurrence)
{
	static SPIPlanPtr plan = NULL;
	Datum		v[2] = {tenant, occurrence};
	int			rc;

	if (plan == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plan = evs_spi_prepare_kept("SELECT to_jsonb(starts_at) #>> '{}' FROM eventsvc.event_occurrences"
									" WHERE tenant_id = $1 AND id = $2", 2, t);
	}
	rc = SPI_execute_plan(plan, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "date start read failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 1 ? evs_getvalue_notnull(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, "the date's start") : NULL;
}

static void
emit_event(Datum tenant, const Scope *sc, const char *key, const EventSeats *es, int64 used, int threshold)
{
	JsonbParseState *st = NULL;

	evs_jsonb_begin_object(&st, NULL);
	evs_jsonb_push_text(&st, "scope", sc->date ? "occurrence" : "event");
	evs_jsonb_push_uuid(&st, "event_id", sc->event_id);
	if (sc->date)
	{
		evs_jsonb_push_uuid(&st, "occurrence_id", sc->id);
		evs_jsonb_push_text(&st, "starts_at", date_starts_at(tenant, sc->id));
	}
	evs_jsonb_push_int(&st, "sections", es->nsections);
	evs_jsonb_push_int(&st, "total_capacity", es->capacity);
	evs_jsonb_push_int(&st, "held_or_sold", used);
	evs_jsonb_push_int(&st, "threshold_percent", threshold);
	(void) evs_outbox_emit_key(tenant, sc->event_id, key, evs_jsonb_end(&st));
}

/*
 * Locks the event's outbox sequence row (every message of the event takes it
 * until commit). With wait false, does not wait: false when another
 * transaction holds it. A missing row (no message of the event yet) counts as
 * free: the first message inserts it.
 */
static bool
sequence_lock(Datum tenant, Datum event_id, bool wait)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	Datum		v[2] = {tenant, event_id};
	int			rc;

	if (plans[wait] == NULL)
	{
		Oid			t[2] = {UUIDOID, UUIDOID};

		plans[wait] = evs_spi_prepare_kept(wait
										   ? "SELECT 1 FROM eventsvc.outbox_sequences"
										   " WHERE tenant_id = $1 AND aggregate_id = $2 FOR UPDATE"
										   : "SELECT 1 FROM eventsvc.outbox_sequences"
										   " WHERE tenant_id = $1 AND aggregate_id = $2 FOR UPDATE SKIP LOCKED",
										   2, t);
	}
	rc = SPI_execute_snapshot(plans[wait], v, NULL, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "outbox sequence lock failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1 || wait)
		return true;
	/* nothing returned: locked by someone else, or no row yet (the first message inserts it) */
	rc = SPI_execute_with_args("SELECT 1 FROM eventsvc.outbox_sequences WHERE tenant_id = $1 AND aggregate_id = $2",
							   2, (Oid[]) {UUIDOID, UUIDOID}, v, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "outbox sequence lookup failed: %s", SPI_result_code_string(rc));
	return SPI_processed == 0;
}

/*
 * The decision, with the threshold lock held: the committed state and the
 * counters read again. Returns whether the state must be written; emit[i]
 * says whether line i is reported now.
 */
static bool
event_decide(Datum tenant, const Scope *sc, const EventSeats *es, int64 without, bool *emit,
			 int *new_level, int64 *used)
{
	int			level;
	int64		changes;
	bool		any = false;

	state_latest(tenant, sc, &level, &changes);
	*used = event_held(tenant, es, true);
	*new_level = 0;
	for (int i = 0; i < (int) lengthof(lines); i++)
	{
		int			pct = lines[i].percent;
		bool		above = at_or_above(*used, es->capacity, pct);

		if (above)
			*new_level = pct;

		/*
		 * Report when the line is not reported yet; or when it was, but that
		 * report was committed before this statement started (so it did not
		 * count our seats) and without our seats the event was below the line:
		 * we took it across again.
		 */
		emit[i] = above && (level < pct ||
							(changes == es->changes && !at_or_above(without, es->capacity, pct)));
		any |= emit[i];
	}
	return any || *new_level != level;
}

/*
 * Under the event's threshold lock. The lock is taken for the session and
 * dropped at the end, so a reservation with nothing to change holds it for
 * microseconds; one that writes the state (and messages) takes it again for
 * the transaction, so the next one under the lock sees both committed, or
 * both rolled back.
 *
 * Lock order: a writer needs the event's outbox sequence row too (to emit).
 * A transaction that already holds that row (it emitted a message of this
 * event) may be waiting for the threshold lock, so the holder of the
 * threshold lock never waits for the row: it tries it without waiting and, if
 * it is taken, lets go of the threshold lock, waits for the row, and decides
 * again from the start.
 */
static void
event_thresholds_locked(Datum tenant, const Scope *sc, const EventSeats *es, int64 without)
{
	LOCKTAG		tag;
	volatile bool held = false;
	Datum		event_id = sc->event_id;

	threshold_locktag(&tag, tenant, sc);
	(void) LockAcquire(&tag, ExclusiveLock, true, false);
	held = true;
	PG_TRY();
	{
		bool		emit[lengthof(lines)];
		int			new_level;
		int64		used;
		bool		write = event_decide(tenant, sc, es, without, emit, &new_level, &used);

		if (write && !sequence_lock(tenant, event_id, false))
		{
			LockRelease(&tag, ExclusiveLock, true);
			held = false;
			(void) sequence_lock(tenant, event_id, true);
			(void) LockAcquire(&tag, ExclusiveLock, true, false);
			held = true;
			write = event_decide(tenant, sc, es, without, emit, &new_level, &used);
		}
		if (write)
		{
			(void) LockAcquire(&tag, ExclusiveLock, false, false);
			state_write(tenant, sc, new_level);
			for (int i = 0; i < (int) lengthof(lines); i++)
				if (emit[i])
					emit_event(tenant, sc, lines[i].key, es, used, lines[i].percent);
		}
	}
	PG_FINALLY();
	{
		if (held)
			LockRelease(&tag, ExclusiveLock, true);
	}
	PG_END_TRY();
}

/*
 * The event-wide lines. The common path reads the state row as the statement
 * saw it (one primary-key lookup), the session's copy of the section list and
 * the shared counters, and returns: no lock, no hold rows. Only when what it reads
 * disagrees with the state (the event is above a line not reported, or below
 * one that is) or when this reservation's own seats took the event across a
 * line does it go on to the locked decision.
 */
static void
event_thresholds(Datum tenant, const Scope *sc, int32 quantity)
{
	EventSeats	es;
	int64		used,
				without;
	bool		maybe = false;

	event_seats_load(tenant, sc, &es);
	if (es.capacity <= 0)
		return;
	used = event_held(tenant, &es, false);
	without = used - quantity;
	for (int i = 0; i < (int) lengthof(lines); i++)
	{
		bool		above = at_or_above(used, es.capacity, lines[i].percent);
		bool		reported = es.level >= lines[i].percent;

		if (above != reported || (above && !at_or_above(without, es.capacity, lines[i].percent)))
			maybe = true;
	}
	if (maybe)
		event_thresholds_locked(tenant, sc, &es, without);
}

/*
 * After a reservation of `quantity` seats left `remaining` in its section.
 * The event-wide lines count the event's sections that are not date
 * sections; a date section (`occurrence` not 0) counts towards its date's
 * lines instead.
 */
void
evs_capacity_thresholds(Datum tenant, Datum event_id, Datum section_id, int32 total, int64 remaining,
						int32 quantity, Datum occurrence)
{
	Scope		sc = {.date = occurrence != (Datum) 0, .id = occurrence != (Datum) 0 ? occurrence : event_id,
	.event_id = event_id};

	section_thresholds(tenant, event_id, section_id, total, remaining, quantity);
	event_thresholds(tenant, &sc, quantity);
}
