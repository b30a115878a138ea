#!/usr/bin/env bash
# The error catalogue is one header and one page: every code the C sources raise is
# named in src/core/errors.h or docs/errors.md, and every code in errors.h is documented.
# The SQL raises only through eventsvc.raise_error, whose kinds are those entries.
set -uo pipefail
cd "$EVS_SRC"
fails=0
# codes passed to errcode() anywhere in the C sources
used=$(grep -ho 'errcode([A-Z_0-9]*' src/*.c src/*/*.c | sed 's/errcode(//' | sort -u)
for c in $used; do
    case $c in
        EVS_ERR_*)
            grep -q "#define $c " src/core/errors.h || { echo "not ok - $c is used but not defined in src/core/errors.h"; fails=$((fails + 1)); continue; }
            grep -q "\`$c\`\|$c\b" docs/errors.md || { echo "not ok - $c is not documented in docs/errors.md"; fails=$((fails + 1)); continue; }
            ;;
        *)
            grep -q "$c" docs/errors.md || { echo "not ok - $c is raised in src/ but not listed in docs/errors.md"; fails=$((fails + 1)); continue; }
            ;;
    esac
    echo "ok - $c"
done
# every code defined in errors.h appears in the doc
for c in $(grep -o '^#define EVS_ERR_[A-Z_]*' src/core/errors.h | awk '{print $2}'); do
    grep -q "$c" docs/errors.md || { echo "not ok - $c defined in errors.h but missing from docs/errors.md"; fails=$((fails + 1)); }
done

# Errors raised from SQL go through eventsvc.raise_error(kind, ...): its kinds are the
# entries of src/core/errors.h (the name without EVS_ERR_, in lower case), each raising the
# SQLSTATE errors.h defines and docs/errors.md lists for it, and no other kind.
errcodes="$(pg_config --includedir-server)/utils/errcodes.h"
sqlstate_of() { # an errors.h definition (ERRCODE_... or MAKE_SQLSTATE(...)) -> its SQLSTATE
    local def=$1
    [[ $def == ERRCODE_* ]] && def=$(awk -v n="$def" '$1 == "#define" && $2 == n {print $3; exit}' "$errcodes")
    sed -n 's/^MAKE_SQLSTATE(\(.*\))$/\1/p' <<<"$def" | tr -d "', "
}
declare -A code_of
while read -r name def; do
    code_of[$name]=$(sqlstate_of "$def")
    [ -n "${code_of[$name]}" ] || { echo "not ok - cannot tell the SQLSTATE of $name ($def)"; fails=$((fails + 1)); }
    doc=$(grep -m1 "^| \`[0-9A-Z]\{5\}\` | .*\`$name\`" docs/errors.md | sed 's/^| `\([0-9A-Z]*\)`.*/\1/')
    [ "$doc" = "${code_of[$name]}" ] || { echo "not ok - docs/errors.md lists $name as '${doc}', src/core/errors.h defines ${code_of[$name]}"; fails=$((fails + 1)); }
done < <(awk '$1 == "#define" && $2 ~ /^EVS_ERR_/ {print $2, $3}' src/core/errors.h)
kinds=$(for n in "${!code_of[@]}"; do n=${n#EVS_ERR_}; echo "${n,,}"; done | sort)
psql -X -q -d postgres -c "CREATE DATABASE catalogue_kinds" >/dev/null
raised=$(psql -X -q -At -v ON_ERROR_STOP=1 -d catalogue_kinds -v kinds="$kinds"$'\n'unknown_kind <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION eventsvc CASCADE;
CREATE FUNCTION pg_temp.raised(k text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM eventsvc.raise_error(k, 'probe', 'detail', 'hint');
    RETURN 'nothing';
EXCEPTION WHEN others THEN
    RETURN SQLSTATE;
END $$;
SELECT k || ' ' || pg_temp.raised(k) FROM unnest(string_to_array(:'kinds', E'\n')) k;
SELECT 'helper ' || m[1] FROM regexp_matches(
    (SELECT prosrc FROM pg_proc WHERE oid = 'eventsvc.raise_error(text,text,text,text)'::regprocedure),
    $$WHEN '([a-z_]+)' THEN$$, 'g') m;
SQL
) || { echo "not ok - eventsvc.raise_error could not be probed"; fails=$((fails + 1)); }
psql -X -q -d postgres -c "DROP DATABASE catalogue_kinds" >/dev/null
for k in $kinds; do
    want=${code_of[EVS_ERR_${k^^}]}
    got=$(awk -v k="$k" '$1 == k {print $2}' <<<"$raised")
    [ "$got" = "$want" ] && echo "ok - raise_error('$k') raises $want" \
        || { echo "not ok - raise_error('$k') raises '$got', the catalogue says $want"; fails=$((fails + 1)); }
done
got=$(awk '$1 == "unknown_kind" {print $2}' <<<"$raised")
[ "$got" = "${code_of[EVS_ERR_VALIDATION]}" ] && echo "ok - raise_error refuses a kind outside the catalogue" \
    || { echo "not ok - raise_error with an unknown kind raises '$got'"; fails=$((fails + 1)); }
for k in $(awk '$1 == "helper" {print $2}' <<<"$raised"); do
    grep -qx "$k" <<<"$kinds" || { echo "not ok - raise_error knows kind '$k', which is not in src/core/errors.h"; fails=$((fails + 1)); }
done
# every kind the SQL names exists (a typo would raise 22023 only when that path runs)
for k in $(grep -rhoE "raise_error\('[a-z_]*'" sql/install sql/upgrade | sed "s/.*('//; s/'//" | sort -u); do
    grep -qx "$k" <<<"$kinds" && echo "ok - kind $k used in sql/ is in the catalogue" \
        || { echo "not ok - sql/ raises kind '$k', which is not in src/core/errors.h"; fails=$((fails + 1)); }
done

# No SQL of the extension raises an error itself: outside eventsvc.raise_error there is
# no RAISE at level EXCEPTION (the default level: RAISE 'x', RAISE SQLSTATE 'x', RAISE
# some_condition, RAISE USING ...) and no ERRCODE given by hand. A bare RAISE; re-raises.
own_raises() { # FILE...: file:line: text of every such statement
    awk '
        FNR == 1 { helper = 0 }
        /^CREATE (OR REPLACE )?FUNCTION eventsvc[.]raise_error[(]/ { helper = 1 }
        helper { if ($0 ~ /^[$][$];/) helper = 0; next }
        {
            code = toupper($0); sub(/--.*/, "", code)
            if ((code ~ /(^|[^A-Z_.])RAISE([^A-Z_]|$)/ && code !~ /RAISE[ \t]+(NOTICE|WARNING|INFO|LOG|DEBUG)([^A-Z_]|$)/ \
                 && code !~ /RAISE[ \t]*;/) || code ~ /ERRCODE[ \t]*=/)
                print FILENAME ":" FNR ": " $0
        }' "$@"
}
found=$(own_raises sql/install/*.sql sql/upgrade/*/*.sql)
[ -z "$found" ] && echo "ok - no SQL in sql/install or sql/upgrade raises an error but eventsvc.raise_error" \
    || { echo "not ok - SQL raises errors itself; use eventsvc.raise_error(kind, ...):"; echo "$found"; fails=$((fails + 1)); }
# the check sees what it looks for: each way of raising by hand, planted in a copy
plant="$EVS_WORK/catalogue_plant.sql"
{ cat sql/install/40_capacity_pricing.sql; cat <<'PLANT'
CREATE FUNCTION eventsvc.planted() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'section % not found', 1 USING ERRCODE = 'PT404';
    RAISE 'no level';
    RAISE SQLSTATE '22023';
    raise division_by_zero;
    RAISE USING MESSAGE = 'only options';
    RAISE NOTICE 'a notice is fine' USING ERRCODE = '01000';
    RAISE NOTICE 'fine';
    RAISE;
END $$;
PLANT
} > "$plant"
n=$(own_raises "$plant" | wc -l)
[ "$n" = 6 ] && echo "ok - the check finds each of 6 planted raises by hand" \
    || { echo "not ok - the check found $n of 6 planted raises by hand:"; own_raises "$plant"; fails=$((fails + 1)); }

# no raw elog(ERROR) for conditions a user can cause is enforced by review; count them for the record
echo "# elog(ERROR) calls (internal errors only): $(grep -c 'elog(ERROR' src/*.c src/*/*.c | awk -F: '{s+=$2} END {print s}')"
[ "$fails" = 0 ]
