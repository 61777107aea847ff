#!/usr/bin/env bash
# Builds the optimised npm package into pkg/: wasm-pack (release, bundler target), then the npm
# binaryen's wasm-opt (never Debian's: it miscompiles wasm-bindgen output).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

wasm-pack --quiet build --release --target bundler --mode no-install --out-dir pkg
wasm-opt pkg/rockon_sync_bg.wasm -Oz \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals \
  -o pkg/rockon_sync_bg.wasm
raw=$(stat -c %s pkg/rockon_sync_bg.wasm)
gz=$(gzip -9 -c pkg/rockon_sync_bg.wasm | wc -c)
glue=$(cat pkg/rockon_sync.js pkg/rockon_sync_bg.js | gzip -9 | wc -c)
printf 'pkg: wasm %d KB (%d KB gzip), glue %d KB gzip\n' $((raw / 1024)) $((gz / 1024)) $((glue / 1024))
