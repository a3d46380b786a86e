#!/usr/bin/env bash
# bench/lifecycle.sh [RT...] — husk-runtime side by side with runc and crun in one run.
# Each step (run /bin/true, create, start, state, exec /bin/true, kill, delete) is timed per
# runtime with husk-measure (wait4: wall, user+sys CPU of the command and its children, peak RSS),
# runtimes interleaved iteration by iteration so machine noise hits all alike.
# Prints medians and each runtime's CPU ratio to crun's.
# CVE-2019-5736 protection, husk only (HUSK_CLONED_BINARY): run/exec are the default (sealed
# exec trampoline + non-dumpable clones), run.sealed/exec.sealed force the memfd copy of the
# runtime on as well, run.open/exec.open turn every layer off; the cost is printed at the end.
#   N=30 iterations  WORK=/tmp/husk-bench  RT defaults: runc crun target/release/husk-runtime
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-30}
WORK=${WORK:-/tmp/husk-bench}
[ $# -gt 0 ] || set -- runc crun "$here/target/release/husk-runtime"
measure=$here/target/release/husk-measure
[ -x "$measure" ] || cargo build --release -q -p husk-bench
mountpoint -q "$WORK/root" 2>/dev/null && umount "$WORK/root"
rm -rf "$WORK"; mkdir -p "$WORK/root"
# Every runtime's state root on tmpfs, as /run is on a normal host (runc's default /run/runc,
# crun's /run/crun, containerd's /run/containerd): on this machine /run is the ext4 root fs,
# whose journal and discards would be timed as part of every create and delete.
mount -t tmpfs -o mode=0711 husk-bench-state "$WORK/root"
HUSK_RUNTIME=$here/target/release/husk-runtime "$here/scripts/make-bundle.sh" "$WORK/true" /bin/true >/dev/null
HUSK_RUNTIME=$here/target/release/husk-runtime "$here/scripts/make-bundle.sh" "$WORK/sleep" sleep 1000 >/dev/null
# crun 1.8.1 knows runtime-spec versions up to 1.1: give every runtime the same older version string.
for b in true sleep; do jq '.ociVersion = "1.0.2-dev"' "$WORK/$b/config.json" >"$WORK/$b/c" && mv "$WORK/$b/c" "$WORK/$b/config.json"; done
# crun 1.8.1 refuses this machine's hybrid cgroups unless stray v2 controllers are mounted as v1.
shared_bench=$here/../shared/bench; [ -d "$shared_bench" ] || shared_bench=/work/shared/bench
prep=${SHARED_BENCH:-$shared_bench}/cgroup-prep.sh
# Unmounting the prepped hierarchy while its cgroups are still dying leaves it alive but
# unmounted: /proc/self/cgroup keeps a "N:hugetlb:/" line and cgroup2 loses hugetlb (containerd's
# shim then fails to read metrics). One more mount + umount once they are gone destroys it.
release_v1_hugetlb() {
  "$prep" undo >/dev/null 2>&1 || true
  local m round t
  alive() { awk '$1 == "hugetlb" && $2 != 0 { found = 1 } END { exit !found }' /proc/cgroups; }
  for round in 1 2 3; do
    # Its destruction is asynchronous: wait before mounting again (a mount would revive it).
    for t in $(seq 1 20); do alive || return 0; sleep 0.5; done
    grep -q ' - cgroup .*hugetlb' /proc/self/mountinfo && return 0
    m=$(mktemp -d)
    mount -t cgroup -o hugetlb none "$m" 2>/dev/null && umount "$m"
    rmdir "$m"
  done
  alive && echo "bench: the v1 hugetlb hierarchy is still alive (see /proc/cgroups)" >&2
  return 0
}
cleanup() {
  local rt root
  # Containers a failed step left behind, then the tmpfs they lived on.
  for rt in "$@"; do
    root="$WORK/root/$(basename "${rt%% *}")"
    [ -d "$root" ] || continue
    for id in $($rt --root "$root" list -q 2>/dev/null); do $rt --root "$root" delete -f "$id" >/dev/null 2>&1; done
  done
  umount "$WORK/root" 2>/dev/null || true
  [ -n "${prepped:-}" ] && release_v1_hugetlb
  return 0
}
trap 'cleanup "$@"' EXIT
if [ -x "$prep" ] && [[ " $* " == *" crun "* ]]; then
  # The fix mounts a v1 hierarchy on the host: cleanup takes it back, however the run ends.
  "$prep" fix >/dev/null 2>&1 || true
  prepped=1
fi
out=$WORK/samples.tsv
: >"$out"
# one RT STEP CMD...: appends "rt step wall cpu rss exit" to the samples.
one() {
  local rt=$1 step=$2; shift 2
  local w c m rc
  read -r w c m rc < <("$measure" "$@" 2>>"$WORK/stderr.log")
  echo -e "$(basename "${rt%% *}")\t$step\t$w\t$c\t$m\t$rc" >>"$out"
}
for i in $(seq 1 "$N"); do
  for rt in "$@"; do
    root="$WORK/root/$(basename "${rt%% *}")"; id="b$i-$$"
    # husk's CVE-2019-5736 protection off (run.open) and with the memfd copy forced on
    # (run.sealed), to report what it costs per container; run.open goes before run on even
    # iterations and after it on odd ones, so neither always pays for being first.
    husk=; [[ $rt == *husk-runtime* ]] && husk=1
    # Untimed, for every runtime alike: the first call after another runtime's steps pays extra
    # (measured ~0.7 ms), which would otherwise land on whichever step comes first.
    $rt --root "$root" list >/dev/null 2>&1 || true
    [[ -n $husk ]] && (( i % 2 == 0 )) && HUSK_CLONED_BINARY=off one "$rt" run.open $rt --root "$root" run -b "$WORK/true" "o$id"
    one "$rt" run $rt --root "$root" run -b "$WORK/true" "r$id"
    [[ -n $husk ]] && HUSK_CLONED_BINARY=always one "$rt" run.sealed $rt --root "$root" run -b "$WORK/true" "s$id"
    [[ -n $husk ]] && (( i % 2 == 1 )) && HUSK_CLONED_BINARY=off one "$rt" run.open $rt --root "$root" run -b "$WORK/true" "o$id"
    one "$rt" create $rt --root "$root" create -b "$WORK/sleep" "c$id"
    one "$rt" start $rt --root "$root" start "c$id"
    one "$rt" state $rt --root "$root" state "c$id"
    one "$rt" exec $rt --root "$root" exec "c$id" /bin/true
    [[ $rt == *husk-runtime* ]] && HUSK_CLONED_BINARY=always one "$rt" exec.sealed $rt --root "$root" exec "c$id" /bin/true
    [[ $rt == *husk-runtime* ]] && HUSK_CLONED_BINARY=off one "$rt" exec.open $rt --root "$root" exec "c$id" /bin/true
    one "$rt" kill $rt --root "$root" kill "c$id" KILL
    for _ in $(seq 1 100); do [ "$($rt --root "$root" state "c$id" 2>/dev/null | jq -r .status)" = stopped ] && break; sleep 0.01; done
    one "$rt" delete $rt --root "$root" delete "c$id"
  done
done
python3 - "$out" <<'PY'
import sys, statistics as st, collections
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1])]
d = collections.defaultdict(list)
for rt, step, wall, cpu, rss, rc in rows:
    d[(rt, step)].append((int(wall) / 1000, int(cpu) / 1000, int(rss), int(rc)))
rts = list(dict.fromkeys(r[0] for r in rows)); steps = list(dict.fromkeys(r[1] for r in rows))
print(f"{'runtime':14}{'step':12}{'n':>4}{'wall ms':>9}{'cpu ms':>8}{'rss KB':>8}{'fail':>5}{'cpu/crun':>9}")
for step in steps:
    base = st.median(x[1] for x in d[('crun', step)]) if d.get(('crun', step)) else None
    for rt in rts:
        v = d.get((rt, step))
        if not v:
            continue
        cpu = st.median(x[1] for x in v)
        ratio = f"{cpu / base:.2f}" if base else "-"
        print(f"{rt:14}{step:12}{len(v):4}{st.median(x[0] for x in v):9.2f}{cpu:8.2f}{max(x[2] for x in v):8}{sum(1 for x in v if x[3]):5}{ratio:>9}")
med = lambda rt, step: st.median(x[1] for x in d[(rt, step)]) if d.get((rt, step)) else None
for rt in rts:
    for step in ("run", "exec"):
        on, sealed, off = med(rt, step), med(rt, step + ".sealed"), med(rt, step + ".open")
        if on is not None and off is not None:
            extra = f", {sealed - off:+.2f} ms with the memfd copy forced on ({step}.sealed)" if sealed is not None else ""
            print(f"CVE-2019-5736 protection, {rt} {step}: {on - off:+.2f} ms CPU as shipped ({step} vs {step}.open){extra}")
PY
