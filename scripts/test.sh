#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (scripts/setup.sh) and runs every test: formatting, clippy
# for the host and wasm32, the core's native tests, the browser tests in headless Chrome and
# Firefox against a loopback server this script starts and stops, and the release build loaded
# in headless Chromium. Every step runs; the script exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; exit 1; }
source scripts/env.sh

LOG_DIR="$(mktemp -d)"
declare -a RESULTS=()
FAILED=0
SERVER_PID=""
DEVSERVER_PID=""
cleanup() {
  [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null
  # SIGTERM lets the dev server stop and delete its throwaway PostgreSQL.
  if [[ -n "$DEVSERVER_PID" ]]; then kill -TERM "$DEVSERVER_PID" 2>/dev/null; wait "$DEVSERVER_PID" 2>/dev/null; fi
  rm -rf "$LOG_DIR"
}
trap cleanup EXIT

# run NAME COMMAND...: runs a step, shows its output, keeps its summary lines.
run() {
  local name="$1"; shift
  step "$name"
  local log="$LOG_DIR/$(echo "$name" | tr -c 'a-z0-9' '_').log"
  local started=$SECONDS
  "$@" 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  # One line per step: test counts summed over the runner's "test result:" lines, plus the
  # release check's own report.
  local summary
  summary="$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) }; n++ }
      /^release check:|^pkg:|^restart:|^consumer:|^react:|^demo e2e:|^browsers e2e:|^policies:|^chaos:|^tab storm:/ { extra = extra (extra ? "; " : "") $0 }
      END { if (n) printf "%d passed, %d failed (%d suites)", p, f, n; if (extra) printf "%s%s", (n ? "; " : ""), extra }' "$log")"
  local verdict="ok"
  ((status == 0)) || { verdict="FAILED"; FAILED=1; }
  RESULTS+=("$(printf '%-8s %-34s %4ss  %s' "$verdict" "$name" $((SECONDS - started)) "$summary")")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run "cargo fmt --check" cargo fmt --all --check
run "clippy (host)" cargo clippy --workspace --all-targets --quiet -- -D warnings
run "clippy (wasm32)" cargo clippy -p rockon-sync -p rockon-sync-core --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
# Every public item is documented, and no doc link is broken.
run "docs" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
run "native tests (core, devserver)" cargo test --workspace --quiet -- --skip policy_matrix
# Every table x operation x role against the shipped policies, with its tally.
run "policy matrix" cargo test --quiet -p rockon-devserver --test policies -- --nocapture

# The dev server on its own throwaway PostgreSQL, for the official supabase-js client.
start_devserver() {
  cargo build --quiet -p rockon-devserver || return 1
  "$CARGO_TARGET_DIR/debug/rockon-devserver" serve --port 0 --faults >"$LOG_DIR/devserver.out" 2>"$LOG_DIR/devserver.err" &
  DEVSERVER_PID=$!
  for _ in $(seq 300); do grep -q "ready" "$LOG_DIR/devserver.out" && break; sleep 0.1; done
  DEVSERVER_READY="$(sed -n 's/^rockon-devserver ready //p' "$LOG_DIR/devserver.out")"
  [[ -n "$DEVSERVER_READY" ]] || { cat "$LOG_DIR/devserver.err"; return 1; }
  DEVSERVER_URL="$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$DEVSERVER_READY")"
  DEVSERVER_ANON="$(node -e 'console.log(JSON.parse(process.argv[1]).anonKey)' "$DEVSERVER_READY")"
  DEVSERVER_FAULTS_TOKEN="$(node -e 'console.log(JSON.parse(process.argv[1]).faultsToken)' "$DEVSERVER_READY")"
}
if start_devserver; then
  # The browser tests of the write path talk to it too (read at build time).
  export ROCKON_DEVSERVER_URL="$DEVSERVER_URL" ROCKON_DEVSERVER_ANON="$DEVSERVER_ANON" \
    ROCKON_DEVSERVER_FAULTS_TOKEN="$DEVSERVER_FAULTS_TOKEN"
  run "devserver vs supabase-js" node devserver/tests/conformance.mjs "$DEVSERVER_URL" "$DEVSERVER_ANON"
else
  RESULTS+=("FAILED   devserver did not start"); FAILED=1
fi

PORT="$(free_port)"
PORT="$PORT" node tests/support/phoenix-server.mjs >"$LOG_DIR/phoenix.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q "phoenix test server" "$LOG_DIR/phoenix.log" && break; sleep 0.1; done
export ROCKON_TEST_SERVER="ws://127.0.0.1:$PORT"

# wasm-bindgen's runner picks the browser from whichever driver variable is set, GECKODRIVER
# first: each run sees only its own, or the Chrome run would quietly run Firefox.
# Changes arrive by Broadcast from Database unless ROCKON_CHANGES says otherwise: each browser
# runs the suite in both modes.
# The runner gives a whole suite 20 s by default and reports a slower one as "failed to detect
# test as having been run": `read_path` takes 14-18 s on its own, and more on a busy machine.
# Each test bounds its own waits.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-180}"
run "browser tests (Chrome)" env -u GECKODRIVER wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" --mode no-install
run "browser tests (Chrome, postgres_changes)" env -u GECKODRIVER ROCKON_CHANGES=postgres_changes wasm-pack test --headless --chrome --chromedriver "$CHROMEDRIVER" --mode no-install
run "browser tests (Firefox)" env -u CHROMEDRIVER wasm-pack test --headless --firefox --geckodriver "$GECKODRIVER" --mode no-install
run "browser tests (Firefox, postgres_changes)" env -u CHROMEDRIVER ROCKON_CHANGES=postgres_changes wasm-pack test --headless --firefox --geckodriver "$GECKODRIVER" --mode no-install
run "release build in Chromium" bash -c "bash scripts/build-pkg.sh && webpack --config-name release-check >/dev/null && node tests/release/run.mjs '$ROCKON_TEST_SERVER'"

# A consumer project installs the packed package: tsc against its declared surface, webpack, vite.
run "consumer (tsc, webpack, vite)" bash tests/consumer/run.sh

# The React bindings in StrictMode against the dev server (needs the package built above).
run "React hooks in Chromium" bash -c "webpack --config-name react-test >/dev/null && node tests/react/run.mjs '$DEVSERVER_URL' '$DEVSERVER_ANON'"

# The dev server killed and restarted under a live client (needs the package built above).
run "server restart in Chromium" bash -c "webpack --config-name e2e >/dev/null && node tests/e2e/restart.mjs '$CARGO_TARGET_DIR/debug/rockon-devserver'"

# The demo page end to end: two users, tabs, offline, a server restart, bands, markup as text.
run "demo end to end in Chromium" bash -c "webpack --config-name demo >/dev/null && node tests/e2e/demo.mjs '$CARGO_TARGET_DIR/debug/rockon-devserver'"
# alice in Firefox (geckodriver, selenium-webdriver) and bob in Chromium, live both ways; alice in
# both browsers at once, each leading its own tabs.
run "Firefox and Chromium end to end" node tests/e2e/browsers.mjs "$CARGO_TARGET_DIR/debug/rockon-devserver"

# The guarantees under combined faults: 12 seeds of 40 operations, half in each way changes
# arrive (`npm run chaos` runs 100),
# and 50 tabs of one user, 49 closed at once.
run "chaos in Chromium" bash -c "webpack --config-name e2e >/dev/null && node tests/e2e/chaos.mjs '$CARGO_TARGET_DIR/debug/rockon-devserver' 12 40"
run "tab storm in Chromium" node tests/e2e/tab-storm.mjs "$CARGO_TARGET_DIR/debug/rockon-devserver" 50

# A failed run shows what the dev server reported (its stream restarts and database errors; it
# logs no tokens), so a failure seen once says whether the server lost a change.
if ((FAILED)) && [[ -s "$LOG_DIR/devserver.err" ]]; then
  step "dev server log (last 40 lines)"
  tail -n 40 "$LOG_DIR/devserver.err"
fi

step "summary"
printf '%s\n' "${RESULTS[@]}"
exit $FAILED
