# Shared settings for the scripts: sourced, not run.
# Heavy build output lives outside the clone so repeat runs on one machine stay fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/rockon-sync/target}"
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
CHROMEDRIVER=/usr/bin/chromedriver
GECKODRIVER="$HOME/.cargo/bin/geckodriver"
export CHROMEDRIVER GECKODRIVER
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
