#!/usr/bin/env bash
# make-bundle.sh DIR [CMD ARG...] — an OCI bundle from busybox-static: DIR/rootfs with busybox and
# its applet links, DIR/config.json from `husk-runtime spec` with terminal off and args=CMD.
#   READONLY=false  writable root filesystem
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 DIR [CMD ARG...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
rt=${HUSK_RUNTIME:-$here/target/release/husk-runtime}
dir=$1; shift
[ $# -ge 1 ] || set -- /bin/true
bb=/bin/busybox
file -L "$bb" 2>/dev/null | grep -q 'statically linked' || [ -x "$bb" ] || { echo "$0: need busybox-static" >&2; exit 1; }

rm -rf "$dir/rootfs" "$dir/config.json"
r=$dir/rootfs
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,var/tmp}
chmod 1777 "$r/tmp" "$r/var/tmp"
cp "$bb" "$r/bin/busybox"
for a in $("$bb" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$r/etc/hosts"
: >"$r/etc/resolv.conf"

"$rt" spec --bundle "$dir"
args=$(jq -cn '$ARGS.positional' --args -- "$@")
jq --argjson args "$args" --argjson ro "${READONLY:-true}" '
  .process.terminal = false | .process.args = $args | .hostname = "husk" | .root.readonly = $ro
' "$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
