#!/usr/bin/env bash
# A consumer project installs the packed npm package (pkg/, from scripts/build-pkg.sh) and
# type-checks against it (tsc --noEmit) and bundles it with webpack and with vite.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
tarball="$(npm pack --silent "$root/pkg" | tail -1)"
cp "$root"/tests/consumer/{check.ts,hooks.tsx,entry.js,tsconfig.json,webpack.config.cjs,vite.config.mjs} .
echo '{ "name": "consumer", "private": true, "type": "module" }' >package.json
# React from the npm cache the workspace's own install filled.
npm install --silent --no-audit --no-fund --prefer-offline "./$tarball" \
  "react@$(node -p "require('$root/package.json').devDependencies.react")" \
  "@types/react@$(node -p "require('$root/package.json').devDependencies['@types/react']")" \
  "vite-plugin-wasm@$(node -p "require('$root/package.json').devDependencies['vite-plugin-wasm']")"
"$root/node_modules/.bin/tsc" -p .
"$root/node_modules/.bin/webpack" --config webpack.config.cjs >/dev/null
"$root/node_modules/.bin/vite" build --config vite.config.mjs >/dev/null
webpack_kb=$(du -k dist-webpack | tail -1 | cut -f1)
vite_kb=$(du -k dist-vite | tail -1 | cut -f1)
echo "consumer: ok ($tarball installed; tsc, webpack ${webpack_kb} KB, vite ${vite_kb} KB)"
