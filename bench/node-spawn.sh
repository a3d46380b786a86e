#!/usr/bin/env bash
# bench/node-spawn.sh — builds and runs bench/node-spawn.ts (see its header): Node 20 cannot run
# TypeScript, so the project's tsc compiles it and the runtime modules it imports into
# target/node-bench/, inside the checkout so the addon and husk-runtime are found as usual.
#   N=200  WARMUP=10  WORK=/tmp/husk-node-bench  RUNTIMES="runc"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$here/target/node-bench
[ -f "$here/npm/linux-x64-gnu/husk.linux-x64-gnu.node" ] || (cd "$here" && npm run -s build:addon)
[ -x "$here/target/release/husk-runtime" ] || (cd "$here" && cargo build --release -q -p husk-runtime)
"$here/node_modules/.bin/tsc" --outDir "$out" --rootDir "$here" --target ES2022 --module NodeNext \
  --moduleResolution NodeNext --strict --skipLibCheck --types node "$here/bench/node-spawn.ts"
exec node "$out/bench/node-spawn.js" "$@"
