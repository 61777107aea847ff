#!/usr/bin/env bash
# Sets up the machine, builds the optimised package and the demo page, and starts the demo: the
# dev server (a local Supabase on its own PostgreSQL) and the page, printing the URLs to open
# in two tabs. Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

step "building the optimised package"
bash scripts/build-pkg.sh
step "building the demo page"
webpack --config-name demo >/dev/null
step "building the dev server"
cargo build --quiet --release -p rockon-devserver

API_PORT="${ROCKON_DEVSERVER_PORT:-54321}"
PAGE_PORT="${ROCKON_DEMO_PORT:-8080}"
LOG_DIR="$(mktemp -d)"
step "starting the dev server on http://127.0.0.1:$API_PORT"
"$CARGO_TARGET_DIR/release/rockon-devserver" serve --port "$API_PORT" >"$LOG_DIR/devserver.out" &
DEVSERVER=$!
trap 'kill -TERM $DEVSERVER ${PAGE:-} 2>/dev/null; wait 2>/dev/null' EXIT INT TERM
for _ in $(seq 300); do grep -q "ready" "$LOG_DIR/devserver.out" && break; sleep 0.1; done
READY="$(sed -n 's/^rockon-devserver ready //p' "$LOG_DIR/devserver.out")"
[[ -n "$READY" ]] || { echo "the dev server did not start" >&2; exit 1; }
ANON="$(node -e 'console.log(JSON.parse(process.argv[1]).anonKey)' "$READY")"
node www/serve.mjs "$PAGE_PORT" "http://127.0.0.1:$API_PORT" "$ANON" >"$LOG_DIR/page.out" &
PAGE=$!
for _ in $(seq 50); do grep -q "ready" "$LOG_DIR/page.out" && break; sleep 0.1; done

cat <<TEXT

The demo is running. Open these in two browser windows (or two profiles) side by side:

  alice:  http://127.0.0.1:$PAGE_PORT/?user=alice
  bob:    http://127.0.0.1:$PAGE_PORT/?user=bob
  carol:  http://127.0.0.1:$PAGE_PORT/?user=carol   (not in The Rockers: sees none of it)

Alice and bob share "The Rockers": add, edit or delete a song in one and watch the other.
Two tabs of the same user share one connection (one tab leads).

Dev server (a local Supabase): http://127.0.0.1:$API_PORT  (REST /rest/v1, Realtime /realtime/v1, auth /auth/v1)
Users: alice@rockon.test, bob@rockon.test, carol@rockon.test — password "rockon"
Stop with Ctrl-C.
TEXT
wait $DEVSERVER
