#!/usr/bin/env bash
# demo.sh — the main job for now: run a busybox container from a bundle through husk-runtime run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/husk-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$here/scripts/make-bundle.sh" "$work/bundle" sh -c 'echo "hello from a husk container"; echo "hostname: $(hostname)"; echo "pid in container: $$"; id'
"$here/target/release/husk-runtime" run --bundle "$work/bundle" "husk-demo-$$"
