#!/usr/bin/env bash
# Builds the optimised npm package into pkg/: wasm-pack (release, bundler target), then the npm
# binaryen's wasm-opt (never Debian's: it miscompiles wasm-bindgen output).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Panic locations name source files: keep this machine's paths out of the published module.
CARGO_HOME_DIR="${CARGO_HOME:-$HOME/.cargo}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$CARGO_HOME_DIR/registry/src=/crates --remap-path-prefix=$PWD=/rockon-sync ${EXTRA_RUSTFLAGS:-}"
wasm-pack --quiet build --release --target bundler --mode no-install --out-dir pkg
# KEEP_NAMES=1 keeps function names in the module, for profiles (bench.sh's BENCH_PROFILE).
names=()
if [ -n "${KEEP_NAMES:-}" ]; then names=(-g); fi
# `--low-memory-unused` lets wasm-opt fold a constant added to a pointer into the access's
# offset (4 KB smaller). It assumes no access below address 1024: Rust puts its stack first,
# from 1 MB down, and its data above, so only an invalid pointer (one that wraps around) or a
# stack already overflowing could reach there. The producers and target-features sections name
# the toolchain for other tools; a browser reads neither.
# `--one-caller-inline-max-function-size=15` leaves a function called from one place alone unless it
# is tiny (wasm-opt's default inlines every such function). Most likely because generic code
# makes many functions alike, which kept apart stay alike byte for byte, while inlined each is
# renumbered into its caller's locals, the code compresses better that way. The module grows 3 % (546 → 562 KB) and compresses 8.5 % smaller (235 → 215 KB
# gzip, 192 → 179 KB brotli, on 577a4cc). `--reorder-functions-by-name` then puts the functions in
# the order of their Rust names, so that the copies of one generic function sit side by side,
# within gzip's 32 KB window of each other (4.5 KB gzip smaller, 2.7 KB brotli).
wasm-opt pkg/rockon_sync_bg.wasm --low-memory-unused -Oz --one-caller-inline-max-function-size=15 \
  --reorder-functions-by-name "${names[@]}" \
  --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-reference-types --enable-multivalue --enable-mutable-globals \
  -o pkg/rockon_sync_bg.wasm
# The functions only the glue calls go by short names on both sides (3 KB gzip smaller); a
# build for profiles keeps wasm-bindgen's, which say what each function does.
if [ -z "${KEEP_NAMES:-}" ]; then node scripts/short-names.mjs pkg >/dev/null; fi
# The React bindings ship in the same package, as `rockon-sync/react`, and the React Query
# adapter as `rockon-sync/react-query`.
cp js/react.js js/react.d.ts js/react-query.js js/react-query.d.ts pkg/
node -e '
  const fs = require("fs");
  const file = "pkg/package.json";
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  manifest.files = [...new Set([...manifest.files, "react.js", "react.d.ts", "react-query.js", "react-query.d.ts"])];
  manifest.exports = {
    ".": { types: "./rockon_sync.d.ts", default: "./rockon_sync.js" },
    "./react": { types: "./react.d.ts", default: "./react.js" },
    "./react-query": { types: "./react-query.d.ts", default: "./react-query.js" },
    "./package.json": "./package.json",
  };
  manifest.peerDependencies = { react: ">=18" };
  manifest.peerDependenciesMeta = { react: { optional: true } };
  manifest.sideEffects = [...manifest.sideEffects];
  fs.writeFileSync(file, JSON.stringify(manifest, null, 2) + "\n");
'
raw=$(stat -c %s pkg/rockon_sync_bg.wasm)
gz=$(gzip -9 -c pkg/rockon_sync_bg.wasm | wc -c)
glue=$(cat pkg/rockon_sync.js pkg/rockon_sync_bg.js | gzip -9 | wc -c)
hooks=$(gzip -9 -c pkg/react.js | wc -c)
printf 'pkg: wasm %d KB (%d KB gzip), glue %d KB gzip, hooks %.1f KB gzip\n' $((raw / 1024)) $((gz / 1024)) $((glue / 1024)) "$(awk -v b="$hooks" 'BEGIN { print b / 1024 }')"
