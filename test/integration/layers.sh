#!/usr/bin/env bash
# The layers of src/ (docs/development.md, "Layers"), checked on the includes and
# on the calls of the built objects:
#   - src/ holds eventsvc.c (only _PG_init) and one folder per area; core/ is the base;
#   - a file in core/ includes no header of an area, and its objects call nothing
#     an area defines;
#   - an area includes only core headers, its own, and another area's public header
#     (src/<area>/<area>.h), and calls only what such a header declares;
#   - every eventsvc symbol an object uses is defined (else the library would not load);
#   - no C file is longer than 700 lines.
# Usage: test/integration/layers.sh [SRC_TREE] (default $EVS_SRC, else this checkout);
# the call check reads the objects of a built tree and is skipped without them.
set -uo pipefail
ROOT=${1:-${EVS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}}
exec python3 - "$ROOT" <<'PY'
import os, re, subprocess, sys

root = sys.argv[1]
src = os.path.join(root, "src")
MAX_LINES = 700
fails = 0

def ok(msg):
    print("ok - " + msg)

def bad(msg):
    global fails
    fails += 1
    print("not ok - " + msg)

def area_of(path):
    rel = os.path.relpath(path, src)
    parts = rel.split(os.sep)
    return parts[0] if len(parts) > 1 else None   # None: a file directly in src/

def public_header(area):
    return os.path.join(src, area, area + ".h")

areas = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
if "core" not in areas:
    bad("src/core is missing")
top = sorted(f for f in os.listdir(src) if os.path.isfile(os.path.join(src, f)) and f.endswith((".c", ".h")))
if top == ["eventsvc.c"]:
    ok("src/ holds eventsvc.c and the folders " + ", ".join(areas))
else:
    bad("src/ holds files besides eventsvc.c: " + ", ".join(f for f in top if f != "eventsvc.c"))
for a in areas:
    if a != "core" and not os.path.isfile(public_header(a)):
        bad("area %s has no public header src/%s/%s.h" % (a, a, a))

sources = []
for dirpath, _, files in os.walk(src):
    for f in files:
        if f.endswith((".c", ".h")):
            sources.append(os.path.join(dirpath, f))
sources.sort()

# --- includes
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
n_includes = 0
for path in sources:
    rel = os.path.relpath(path, src)
    a = area_of(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    for name in inc_re.findall(text):
        cands = [os.path.normpath(os.path.join(os.path.dirname(path), name)), os.path.normpath(os.path.join(src, name))]
        target = next((c for c in cands if os.path.isfile(c) and c.startswith(src + os.sep)), None)
        if target is None:
            continue                    # a PostgreSQL or system header
        n_includes += 1
        b = area_of(target)
        trel = os.path.relpath(target, src)
        if b is None:
            bad("%s includes %s, a header outside the area folders" % (rel, trel))
        elif a == "core" and b != "core":
            bad("%s (core) includes %s, a header of the %s area" % (rel, trel, b))
        elif a not in (None, "core") and b not in ("core", a) and target != public_header(b):
            bad("%s (%s) includes %s, an internal header of the %s area" % (rel, a, trel, b))
        elif a is None and b != "core" and target != public_header(b):
            bad("%s includes %s, an internal header of the %s area" % (rel, trel, b))
ok("%d includes of project headers checked" % n_includes)

# --- file length
for path in sources:
    if path.endswith(".c"):
        with open(path, encoding="utf-8", errors="replace") as fh:
            n = sum(1 for _ in fh)
        if n > MAX_LINES:
            bad("%s has %d lines (at most %d)" % (os.path.relpath(path, src), n, MAX_LINES))
ok("C files checked for length (at most %d lines)" % MAX_LINES)

# --- calls, from the objects of a built tree
objects = [p[:-2] + ".o" for p in sources if p.endswith(".c") and os.path.isfile(p[:-2] + ".o")]
if not objects:
    print("# no built objects under %s: the call check is skipped" % src)
    sys.exit(1 if fails else 0)

def nm(obj, flags):
    out = subprocess.run(["nm", "-P"] + flags + [obj], capture_output=True, text=True, check=True).stdout
    return [line.split()[:2] for line in out.splitlines() if line.strip()]

defined = {}                            # symbol -> area (None: src/eventsvc.c)
for obj in objects:
    for sym, kind in nm(obj, ["-g", "--defined-only"]):
        defined[sym] = area_of(obj)
headers = {}
def declares(area, sym):
    if area not in headers:
        with open(public_header(area), encoding="utf-8") as fh:
            headers[area] = fh.read()
    return re.search(r"\b%s\b" % re.escape(sym), headers[area]) is not None

n_calls = 0
for obj in objects:
    a = area_of(obj)
    rel = os.path.relpath(obj, src)[:-2] + ".c"
    for sym, kind in nm(obj, ["-u"]):
        if sym not in defined:
            if sym.startswith(("evs_", "lc_")):
                bad("%s uses %s, which no file defines (the library would not load)" % (rel, sym))
            continue                    # PostgreSQL or a library
        b = defined[sym]
        if b == a:
            continue
        n_calls += 1
        if b is None:
            bad("%s uses %s of eventsvc.c" % (rel, sym))
        elif a == "core" and b != "core":
            bad("%s (core) uses %s of the %s area" % (rel, sym, b))
        elif b != "core" and not declares(b, sym):
            bad("%s (%s) uses %s, which src/%s/%s.h does not declare" % (rel, a or "eventsvc.c", sym, b, b))
ok("%d uses of another folder's symbols checked in %d objects" % (n_calls, len(objects)))

top_obj = os.path.join(src, "eventsvc.o")
if os.path.isfile(top_obj):
    own = sorted(s for s, k in nm(top_obj, ["-g", "--defined-only"]) if k in ("T", "t"))
    if own == ["Pg_magic_func", "_PG_init"]:
        ok("eventsvc.c defines _PG_init only")
    else:
        bad("eventsvc.c defines " + ", ".join(own))

sys.exit(1 if fails else 0)
PY
