#!/usr/bin/env bash
# Installs everything the tests, the demo and the release build need, on Debian 12 as root.
# Idempotent: each step checks first and takes seconds when things are already in place.
# Only package registries are used (apt, crates.io, npm); nothing downloads binaries elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

APT_PACKAGES=(chromium chromium-driver firefox-esr postgresql postgresql-15-wal2json)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  step "apt: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
rustup component list --installed | grep -q '^clippy' || rustup component add clippy
rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# wasm-bindgen-cli must match the wasm-bindgen in Cargo.lock exactly (Cargo.toml pins =0.2.130).
BINDGEN_VERSION=0.2.130
LOCKED="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
if [[ "$LOCKED" != "$BINDGEN_VERSION" ]]; then
  echo "Cargo.lock has wasm-bindgen $LOCKED but setup installs $BINDGEN_VERSION: update both" >&2
  exit 1
fi
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $BINDGEN_VERSION" ]]; then
  step "cargo install wasm-bindgen-cli $BINDGEN_VERSION"
  # Not --locked: its lockfile pins a webpki-roots the registry no longer serves.
  cargo install wasm-bindgen-cli --version 0.2.130 --force
fi
if ! command -v wasm-pack >/dev/null; then
  step "cargo install wasm-pack"
  cargo install wasm-pack --locked
fi
if [[ ! -x "$GECKODRIVER" ]]; then
  step "cargo install geckodriver"
  cargo install geckodriver
fi

# npm ci only when package-lock.json changed since the last install.
if [[ ! -f node_modules/.package-lock.json ]] || ! cmp -s package-lock.json node_modules/.rockon-lock; then
  step "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.rockon-lock
fi
