#!/usr/bin/env bash
# Foundation install rules: CREATE EXTENSION in a second database reuses the
# cluster-wide roles; a pre-created schema or an over-powered pre-existing role
# makes it fail; DROP/CREATE round-trips; without shared_preload_libraries the
# extension still works for plain SQL.
set -uo pipefail
. "$EVS_SRC/test/lib/cluster.sh"
fails=0
check() { # description, command...
    local d=$1; shift
    local out
    if out=$("$@" 2>&1); then echo "ok - $d"; else echo "not ok - $d: $out"; fails=$((fails + 1)); fi
}
refuses() { # description, sql, expected text in the error
    local d=$1 sql=$2 want=$3 out
    out=$(psql -X -q -v ON_ERROR_STOP=1 -d "$4" -c "$sql" 2>&1)
    if [ $? -ne 0 ] && grep -q "$want" <<<"$out"; then echo "ok - $d"; else echo "not ok - $d: $out"; fails=$((fails + 1)); fi
}
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

psql -X -q -d postgres -c "CREATE DATABASE inst_one" -c "CREATE DATABASE inst_two" -c "CREATE DATABASE inst_three" -c "CREATE DATABASE inst_four"
check "first database installs" q -d inst_one -c "CREATE EXTENSION eventsvc CASCADE"
check "second database installs and reuses the roles" q -d inst_two -c "CREATE EXTENSION eventsvc CASCADE"
# the six API roles and the five login roles of the scale-out proxy (docs/scale-out.md)
[ "$(q -d postgres -c "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'eventsvc\_%'")" = 11 ] \
    && echo "ok - exactly eleven eventsvc roles exist" || { echo "not ok - role count"; fails=$((fails + 1)); }
check "drop and create again" q -d inst_two -c "DROP EXTENSION eventsvc" -c "CREATE EXTENSION eventsvc"

q -d inst_three -c "CREATE SCHEMA api"
refuses "a pre-created api schema makes CREATE EXTENSION fail" "CREATE EXTENSION eventsvc CASCADE" 'schema "api" already exists' inst_three
q -d postgres -c "ALTER ROLE eventsvc_anon BYPASSRLS"
refuses "an existing eventsvc role with BYPASSRLS is refused" "CREATE EXTENSION eventsvc CASCADE" 'already exists with powers' inst_four
q -d postgres -c "ALTER ROLE eventsvc_anon NOBYPASSRLS"
check "after fixing the role the install works" q -d inst_four -c "CREATE EXTENSION eventsvc CASCADE"

# A second cluster without shared_preload_libraries: plain SQL use still works.
evs_start "$EVS_WORK/nopreload/data" "$EVS_BIN" "shared_preload_libraries = ''"
trap 'evs_stop "$EVS_WORK/nopreload/data" "$EVS_BIN"' EXIT
check "installs without preloading" q -d postgres -c "CREATE EXTENSION eventsvc CASCADE"
out=$(q -d postgres <<'SQL' 2>&1
SELECT eventsvc.create_tenant('NP', 'np', '44444444-4444-4444-8444-444444444444');
SET ROLE eventsvc_user;
SET app.current_tenant_id = '44444444-4444-4444-8444-444444444444';
SELECT count(*) FROM eventsvc.events;
SQL
)
grep -qx 0 <<<"$(tail -1 <<<"$out")" && echo "ok - tenancy works without preloading" \
    || { echo "not ok - tenancy without preloading: $out"; fails=$((fails + 1)); }
# Before the library is loaded the setting is only a placeholder; loading the library
# must drop a value an ordinary role put there.
out=$(q -d postgres -c "SET ROLE eventsvc_user" -c "SET eventsvc.clock_offset_seconds = 60" -c "SELECT eventsvc.now() = now()" 2>&1)
if grep -q 'permission denied' <<<"$out" && [ "$(tail -1 <<<"$out")" = t ]; then
    echo "ok - the clock stays superuser-only without preloading"
else
    echo "not ok - the clock stays superuser-only without preloading: $out"; fails=$((fails + 1))
fi

[ "$fails" = 0 ]
