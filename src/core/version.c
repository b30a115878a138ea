/*
 * core/version.c: the schema version this library serves. A server runs one
 * eventsvc library for every database; after new binaries are installed, a
 * database still has the old version of the extension until a DBA runs
 * ALTER EXTENSION eventsvc UPDATE there. Until then the C code must not run
 * against the old schema (tables, triggers and functions it expects may be
 * missing or different): every C entry point that reads or writes eventsvc's
 * tables passes evs_require_current_schema() (through the SPI connect and the
 * relation lookup), which raises PT503 with the command to run, and the worker
 * waits. The installed version is read once and kept until an invalidation
 * that an update or a re-install always causes (function or relation
 * definitions change), so the check costs a flag test per call.
 */
#include "core/core.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/xact.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#ifndef EVS_LIBRARY_VERSION
#error "EVS_LIBRARY_VERSION comes from default_version in eventsvc.control (see the Makefile)"
#endif

PG_FUNCTION_INFO_V1(evs_sql_library_version);

const char *const evs_library_version = EVS_LIBRARY_VERSION;

/* What this backend last read; valid until an invalidation clears known. */
static bool known = false;
static EvsSchemaState known_state = EVS_SCHEMA_MISSING;
static char known_version[NAMEDATALEN];

static void
forget_syscache(Datum arg, int cacheid, uint32 hashvalue)
{
	known = false;
}

static void
forget_relcache(Datum arg, Oid relid)
{
	known = false;
}

/* extversion of eventsvc in this database, or false when it is not installed. */
static bool
read_installed_version(char *buf, size_t len)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("eventsvc"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);

		if (!isnull)
		{
			char	   *v = TextDatumGetCString(d);

			strlcpy(buf, v, len);
			pfree(v);
			found = true;
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Is the installed extension the version of this library? *installed (when
 * not NULL) gets the installed version, "" when the extension is missing.
 * Inside CREATE or ALTER EXTENSION the script's own statements may call the
 * library whatever the version: current then, and nothing is kept.
 */
EvsSchemaState
evs_schema_state(const char **installed)
{
	static bool callbacks = false;

	if (creating_extension)
	{
		if (installed)
			*installed = evs_library_version;
		return EVS_SCHEMA_CURRENT;
	}
	if (!known)
	{
		if (!callbacks)
		{
			/* every update script and every (re)install changes functions or relations */
			CacheRegisterSyscacheCallback(PROCOID, forget_syscache, (Datum) 0);
			CacheRegisterRelcacheCallback(forget_relcache, (Datum) 0);
			callbacks = true;
		}
		if (!read_installed_version(known_version, sizeof(known_version)))
		{
			known_version[0] = '\0';
			known_state = EVS_SCHEMA_MISSING;
		}
		else if (strcmp(known_version, evs_library_version) == 0)
			known_state = EVS_SCHEMA_CURRENT;
		else
			known_state = EVS_SCHEMA_OTHER_VERSION;
		known = true;
	}
	if (installed)
		*installed = known_version;
	return known_state;
}

/*
 * Raise PT503 when this database has another version of the extension than
 * the library. A missing extension is left to the caller (its lookups say so).
 */
void
evs_require_current_schema(void)
{
	const char *installed;

	if (likely(known && known_state != EVS_SCHEMA_OTHER_VERSION))
		return;
	/* (outside a transaction nothing reads the schema; the catalog cannot be read either) */
	if (!IsTransactionState())
		return;
	if (evs_schema_state(&installed) != EVS_SCHEMA_OTHER_VERSION)
		return;
	ereport(ERROR,
			(errcode(EVS_ERR_UNAVAILABLE),
			 errmsg("eventsvc %s is installed in this database, but the server runs the eventsvc %s library",
					installed, evs_library_version),
			 errdetail("Until the extension is updated, eventsvc's functions and triggers refuse to run "
					   "and its worker waits."),
			 errhint("Run ALTER EXTENSION eventsvc UPDATE in database \"%s\" as a superuser "
					 "(README \"Upgrading\").", get_database_name(MyDatabaseId))));
}

/* eventsvc.library_version(): the version of the library this server runs. */
Datum
evs_sql_library_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(evs_library_version));
}
