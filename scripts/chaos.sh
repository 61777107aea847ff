#!/usr/bin/env bash
# The seeded chaos suite on its own (tests/e2e/chaos.mjs): `bash scripts/chaos.sh [seeds] [ops]`
# (100 seeds of 40 operations by default; the test command runs 8). CHAOS_SEED=n replays one;
# CHAOS_FROM=n starts at seed n.
# Needs the setup of scripts/test.sh (Chromium, PostgreSQL, the toolchain).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
bash scripts/build-pkg.sh
webpack --config-name e2e >/dev/null
cargo build --quiet -p rockon-devserver
node tests/e2e/chaos.mjs "$CARGO_TARGET_DIR/debug/rockon-devserver" "${1:-100}" "${2:-40}"
