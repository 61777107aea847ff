#!/usr/bin/env bash
# Builds and starts the dev server (a local Supabase stand-in) on its own throwaway PostgreSQL
# with the seeded demo data, on 127.0.0.1:54321 unless told otherwise. Extra arguments go to
# `rockon-devserver serve` (see --help: --port, --host, --database-url, --faults, --token-ttl …).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
cargo build --quiet --release -p rockon-devserver
exec "$CARGO_TARGET_DIR/release/rockon-devserver" serve "$@"
