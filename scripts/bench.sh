#!/usr/bin/env bash
# Runs the benchmarks in headless Chromium against release builds and a dev server this script
# starts (and stops) on its own throwaway PostgreSQL: one table of rockon-sync against the JS
# baseline (supabase-js + Dexie) and the floor, plus bench-results.json.
# BENCH_RUNS (5), BENCH_PROPAGATION_SECONDS (30) and BENCH_OFFLINE_SECONDS (60) shorten it;
# BENCH_PROFILE=<phase> records CPU profiles of one phase (bench/compare.mjs), with function
# names kept in the module.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
if [ -n "${BENCH_PROFILE:-}" ]; then export KEEP_NAMES=1; fi
bash scripts/build-pkg.sh
webpack --config-name bench --config-name bench-size >/dev/null
cargo build --quiet --release -p rockon-devserver
LOG="$(mktemp)"
"$CARGO_TARGET_DIR/release/rockon-devserver" serve --port 0 >"$LOG" 2>/dev/null &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 300); do grep -q ready "$LOG" && break; sleep 0.1; done
READY="$(sed -n 's/^rockon-devserver ready //p' "$LOG")"
URL="$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$READY")"
ANON="$(node -e 'console.log(JSON.parse(process.argv[1]).anonKey)' "$READY")"
node bench/compare.mjs "$URL" "$ANON"
