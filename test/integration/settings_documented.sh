#!/usr/bin/env bash
# settings_documented: every eventsvc.* setting the server knows (pg_settings, plus the
# secrets that pg_settings hides) is documented in docs/operations.md, and every
# setting the C code defines is one the server knows.
set -uo pipefail
fails=0
doc=$EVS_SRC/docs/operations.md
# as the cluster sees them (eventsvc is preloaded: every setting is defined)
mapfile -t known < <(psql -X -q -At -d postgres -c "SELECT name FROM pg_settings WHERE name LIKE 'eventsvc.%' ORDER BY 1")
# the ones hidden from pg_settings (GUC_NO_SHOW_ALL), which a superuser can still SHOW
for hidden in eventsvc.amqp_password eventsvc.service_secret; do
    psql -X -q -At -d postgres -c "SHOW $hidden" >/dev/null 2>&1 && known+=("$hidden") \
        || { echo "not ok - $hidden is not a setting the server knows"; fails=$((fails + 1)); }
done
[ "${#known[@]}" -ge 30 ] && echo "ok - the server knows ${#known[@]} eventsvc settings" \
    || { echo "not ok - only ${#known[@]} eventsvc settings: is eventsvc preloaded?"; fails=$((fails + 1)); }
for name in "${known[@]}"; do
    short=${name#eventsvc.}
    if grep -q "\`$short\`\|\`$name\`" "$doc"; then
        echo "ok - $name is documented"
    else
        echo "not ok - $name is not in docs/operations.md"; fails=$((fails + 1))
    fi
done
# what the C code defines is what the server knows (a setting defined only when preloading
# or only in the worker would otherwise escape the list above)
for name in $(grep -rhoE 'Define[A-Za-z]+Variable\(\s*"eventsvc\.[a-z_]+"' "$EVS_SRC/src" | grep -oE 'eventsvc\.[a-z_]+' | sort -u); do
    # (a here-string, not a pipe: grep -q leaving early must not fail the printf under pipefail)
    grep -qx "$name" <<<"$(printf '%s\n' "${known[@]}")" \
        || { echo "not ok - $name is defined in src/ but the server does not know it"; fails=$((fails + 1)); }
done
[ "$fails" = 0 ]
