#!/usr/bin/env bash
# test.sh — `npm test`: set up (idempotent), build, then every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
echo "== lint: clippy and tsc"
cargo clippy --release --all-targets -q -- -D warnings
npx tsc --noEmit -p tsconfig.json
echo "== cargo test"
cargo test --release -q -- --test-threads=1
echo "== vitest"
npx vitest run
