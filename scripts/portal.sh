#!/usr/bin/env bash
# Build and run the Reflex portals offline.
#
#   scripts/portal.sh build <dmt_app|admin_app> [port]   compile + `reflex export --frontend-only --no-zip`
#   scripts/portal.sh run   <dmt_app|admin_app> <port>   serve UI + /api on one port (prod mode)
#
# Canonical ports: dmt_app 3000, admin_app 3001. Each portal has its own build folders
# (.web-<app>, .states-<app>); both share reflex.lock/ (the bun lockfile, committed).
#
# The built JavaScript has the backend URL (with its port) baked in, so a build
# serves one port. `build` is skipped when nothing it depends on changed (a hash of
# the Python sources, rxconfig, lockfile and Reflex version is kept next to the
# build). `run` reuses the build of the canonical port: for another port it makes a
# copy of the static files with the port rewritten (seconds, no rebuild), then
# starts the prod backend with that frontend mounted - exactly what
# `reflex run --env prod --frontend-port P --backend-port P` does after its
# own (slow, every start) rebuild; see scripts/portal_serve.py.
#
# State: with REDIS_URL set, Reflex keeps state in Redis (REFLEX_REDIS_URL) and
# runs PORTAL_WORKERS granian workers (default 2). This is safe because nothing
# in the portals depends on process memory: the login is re-read from the
# HttpOnly cookie on every page/event, and every worker reads the live-event
# stream itself (fan-out) and pushes to the tabs connected to it. Without
# REDIS_URL the state is on disk and exactly one worker runs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

usage() {
  echo "usage: $0 build <dmt_app|admin_app> [port] | run <dmt_app|admin_app> <port>" >&2
  exit 2
}

[ $# -ge 2 ] || usage
cmd="$1"
app="$2"
case "$app" in
  dmt_app) canonical_port=3000 ;;
  admin_app) canonical_port=3001 ;;
  *) echo "unknown portal '$app' (dmt_app or admin_app)" >&2; exit 2 ;;
esac

PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

export DMT_PORTAL="$app"
export REFLEX_WEB_WORKDIR=".web-$app"
export REFLEX_STATES_WORKDIR=".states-$app"
export PATH="$ROOT/.tools/node_modules/.bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export REFLEX_TELEMETRY_ENABLED=false
export REFLEX_CHECK_LATEST_VERSION=false
export NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org/}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

ensure_bun() {
  if [ ! -x "$ROOT/.tools/node_modules/.bin/bun" ]; then
    echo "installing bun into .tools (npm, offline-safe)" >&2
    npm install --prefix "$ROOT/.tools" --no-audit --no-fund bun@1.4.4 >&2
  fi
}

source_hash() {
  # Everything the compiled frontend depends on.
  {
    "$PY" -c "import reflex; print(reflex.__version__)" 2>/dev/null || true
    cat rxconfig.py
    find portal_common "$app" -name '*.py' -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 cat
    # Constants the pages render at compile time.
    cat etl/rules.py models/enums.py
    [ -d assets ] && find assets -type f -print0 | sort -z | xargs -0 cat
    echo "port=$1"
  } 2>/dev/null | sha256sum | cut -d' ' -f1
}

do_build() {
  local port="${1:-$canonical_port}"
  local stamp="$REFLEX_WEB_WORKDIR/.dmt-build-stamp"
  local want
  want="$(source_hash "$port")"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$REFLEX_WEB_WORKDIR/build/client/index.html" ]; then
    echo "$app: build is up to date (port $port)" >&2
    return 0
  fi
  ensure_bun
  echo "$app: building frontend for port $port ..." >&2
  rm -f "$stamp"
  # The API URL (with the port) is baked into the bundle.
  REFLEX_API_URL="http://localhost:$port" REFLEX_DEPLOY_URL="http://localhost:$port" \
    "$PY" -m reflex export --frontend-only --no-zip --env prod --loglevel warning
  # Reflex writes reflex.lock/package.json compact or bun writes it indented, depending on
  # the path a build took: keep one form so the committed file does not flip.
  "$PY" - <<'PYEOF'
import json, pathlib
p = pathlib.Path("reflex.lock/package.json")
if p.exists():
    text = json.dumps(json.loads(p.read_text()), indent=2)
    if p.read_text() != text:
        p.write_text(text)
PYEOF
  # Port copies of older builds are refreshed on their next run; drop the ones unused for a day.
  find "$REFLEX_WEB_WORKDIR" -maxdepth 1 -name 'dist-*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
  echo "$want" > "$stamp"
  echo "$port" > "$REFLEX_WEB_WORKDIR/.dmt-build-port"
  echo "$app: build done" >&2
}

case "$cmd" in
  build)
    do_build "${3:-$canonical_port}"
    ;;
  run)
    [ $# -ge 3 ] || usage
    port="$3"
    do_build "$canonical_port"
    if [ -n "${REDIS_URL:-}" ]; then
      export REFLEX_REDIS_URL="${REFLEX_REDIS_URL:-$REDIS_URL}"
      export GRANIAN_WORKERS="${PORTAL_WORKERS:-2}"
    else
      export GRANIAN_WORKERS=1
    fi
    exec "$PY" "$ROOT/scripts/portal_serve.py" "$app" "$port" "$canonical_port"
    ;;
  *)
    usage
    ;;
esac
