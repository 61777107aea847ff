#!/usr/bin/env bash
# Sets up the machine, builds the optimised package, and starts the demo: the dev server (a
# local Supabase on PostgreSQL) and the webpack demo page, printing the URLs to open in two tabs.
# Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

step "building the optimised package"
bash scripts/build-pkg.sh
step "building the dev server"
cargo build --quiet --release -p rockon-devserver

PORT="${ROCKON_DEVSERVER_PORT:-54321}"
step "starting the dev server on http://127.0.0.1:$PORT"
"$CARGO_TARGET_DIR/release/rockon-devserver" serve --port "$PORT" &
DEVSERVER=$!
trap 'kill -TERM $DEVSERVER 2>/dev/null; wait $DEVSERVER 2>/dev/null' EXIT INT TERM

cat <<TEXT

Dev server: http://127.0.0.1:$PORT  (REST /rest/v1, Realtime /realtime/v1/websocket, auth /auth/v1)
Users: alice@rockon.test, bob@rockon.test, carol@rockon.test — password "rockon"
A token for curl: $CARGO_TARGET_DIR/release/rockon-devserver token alice

demo page: not built yet (www/ arrives with the demo milestone); the dev server runs until Ctrl-C.
TEXT
wait $DEVSERVER
