#!/usr/bin/env bash
# bench/pull.sh — pull + unpack of the 200 MiB fixture image layers:big, side by side in one run:
#   husk          `husk pull` (download, verify, unpack into per-layer dirs)
#   ctr           `ctr image pull --plain-http` through a private containerd (overlayfs snapshotter)
#   skopeo+umoci  `skopeo copy docker://… oci:…` then `umoci raw unpack`
# Each from a clean store (husk: a new --root; ctr: a new containerd, started before and stopped
# after the timed pull; skopeo/umoci: new dirs), tools interleaved per iteration. husk-measure
# gives wall and CPU (wait4: the command and its children); ctr's CPU adds the daemon's (it
# unpacks), read from /proc/PID/stat. Prints medians and ratios to ctr, then where husk's time
# goes: the CLI's start, the big layer's download alone, its native unpack alone, and `gzip -dc`
# as the floor. The tools' stderr is shown only if one of them failed.
#   N=3  WORK=/tmp/husk-bench-pull
#   REGISTRY_PORT=P (REGISTRY_WORK=dir): use fixtures already up; else start them (with the big
#   layer) on a free port and stop them at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-3}
WORK=${WORK:-/tmp/husk-bench-pull}
SHARED=${SHARED:-$here/../shared}
LOG=$WORK/stderr.log
measure=$here/target/release/husk-measure
husk_main=$here/dist/cli/main.js
for tool in ctr containerd skopeo umoci gzip python3; do
  command -v "$tool" >/dev/null || { echo "bench/pull.sh: $tool is not installed" >&2; exit 1; }
done
[ -x "$measure" ] || (cd "$here" && cargo build --release -q -p husk-bench)
(cd "$here" && node_modules/.bin/tsc -p tsconfig.build.json && chmod +x dist/cli/main.js)
rm -rf "$WORK"; mkdir -p "$WORK"
: >"$LOG"
started_registry=""
cleanup() {
  "$SHARED/bench/containerd-up.sh" stop "$WORK/containerd" >/dev/null 2>&1 || true
  if [ -n "$started_registry" ]; then
    FIXTURE_WORK=$WORK/registry "$SHARED/fixtures/registry-down.sh" "$started_registry" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${REGISTRY_PORT:-}" ]; then
  port=$REGISTRY_PORT
  refs=${REGISTRY_WORK:-/tmp/registry/fx-$port}/refs.tsv
else
  port=$(python3 -c 'import random,socket
for _ in range(50):
    p = random.randrange(20000, 50000); ok = True
    for q in range(p, p + 8):
        s = socket.socket()
        try: s.bind(("127.0.0.1", q))
        except OSError: ok = False
        finally: s.close()
    if ok: print(p); break')
  echo "# starting the registry fixtures on $port (builds the 200 MiB layer the first time)" >&2
  started_registry=$port
  FIXTURE_WORK=$WORK/registry "$SHARED/fixtures/registry-up.sh" "$port" >/dev/null 2>>"$LOG" || { tail -20 "$LOG" >&2; exit 1; }
  refs=$WORK/registry/refs.tsv
fi
ref=$(awk -F'\t' '$1 == "layers-big" {print $2}' "$refs")
[ -n "$ref" ] || { echo "bench/pull.sh: no layers:big in $refs (started with FIXTURE_NO_BIG?)" >&2; exit 1; }

out=$WORK/samples.tsv
: >"$out"
# record TOOL WALL_US CPU_US RSS_KB RC
record() { echo -e "$1\t$2\t$3\t$4\t$5" >>"$out"; }
ticks=$(getconf CLK_TCK)
# proc_cpu_us PID: user+system CPU of a running process so far.
proc_cpu_us() { awk -v t="$ticks" '{ print int(($14 + $15) * 1000000 / t) }' "/proc/$1/stat"; }

echo "# $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), N=$N, image $ref" >&2
for i in $(seq 1 "$N"); do
  # husk: a fresh store.
  read -r w c m rc < <("$measure" node "$husk_main" --root "$WORK/husk-$i" pull -q "$ref" 2>>"$LOG")
  record husk "$w" "$c" "$m" "$rc"
  rm -rf "$WORK/husk-$i"

  # ctr: a fresh containerd (root, content, snapshots); its start and stop are not timed.
  sock=$("$SHARED/bench/containerd-up.sh" start "$WORK/containerd")
  pid=$(cat "$WORK/containerd/containerd.pid")
  before=$(proc_cpu_us "$pid")
  read -r w c m rc < <("$measure" ctr --address "$sock" -n bench images pull --plain-http "$ref" 2>>"$LOG")
  after=$(proc_cpu_us "$pid")
  record ctr "$w" "$((c + after - before))" "$m" "$rc"
  "$SHARED/bench/containerd-up.sh" stop "$WORK/containerd" >/dev/null
  rm -rf "$WORK/containerd"

  # skopeo copy to an OCI layout, then umoci's rootfs-only unpack.
  read -r w c m rc < <("$measure" bash -c "skopeo copy -q --src-tls-verify=false docker://$ref oci:$WORK/oci-$i:big && umoci raw unpack --image $WORK/oci-$i:big $WORK/rootfs-$i >/dev/null" 2>>"$LOG")
  record skopeo+umoci "$w" "$c" "$m" "$rc"
  rm -rf "$WORK/oci-$i" "$WORK/rootfs-$i"
done

# Where husk's time goes: the CLI's start (node + module loading), the big layer downloaded
# alone (undici + sha256 + write + fsync), unpacked alone (native: sha256 + gunzip + sha256 +
# files), and gunzip alone as the floor.
for i in $(seq 1 "$N"); do
  read -r w c m rc < <("$measure" node "$husk_main" version 2>>"$LOG")
  record "husk: cli start" "$w" "$c" "$m" "$rc"
done
node --input-type=module - "$here/dist" "$ref" "$WORK/parts" "$N" >>"$out" <<'JS'
import { mkdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const [dist, ref, dir, n] = process.argv.slice(2);
const { RegistryClient } = await import(`${dist}/image/registry/client.js`);
const { parseReference } = await import(`${dist}/image/reference.js`);
const { unpackLayer } = await import(`${dist}/image/native.js`);
const image = parseReference(ref);
const client = new RegistryClient();
const manifest = JSON.parse((await client.getManifest(image)).bytes.toString());
const layer = manifest.layers.at(-1);
const config = JSON.parse((await client.getBlob(image, manifest.config.digest)).toString());
const diffId = config.rootfs.diff_ids.at(-1);
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
for (let i = 0; i < Number(n); i++) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(`${dir}/layer`, { recursive: true });
  let t = process.hrtime.bigint(), c = cpu();
  await client.downloadBlob(image, layer, `${dir}/blob`);
  console.log(`husk: download\t${(process.hrtime.bigint() - t) / 1000n}\t${cpu() - c}\t0\t0`);
  t = process.hrtime.bigint(); c = cpu();
  await unpackLayer(`${dir}/blob`, `${dir}/layer`, { whiteouts: 'overlay', expectedDigest: layer.digest, expectedDiffId: diffId });
  console.log(`husk: unpack\t${(process.hrtime.bigint() - t) / 1000n}\t${cpu() - c}\t0\t0`);
  t = process.hrtime.bigint();
  execFileSync('bash', ['-c', `gzip -dc ${dir}/blob >/dev/null`]);
  console.log(`floor: gzip -dc\t${(process.hrtime.bigint() - t) / 1000n}\t-1\t0\t0`);
}
await client.close();
rmSync(dir, { recursive: true, force: true });
JS

python3 - "$out" <<'PY'
import sys, statistics as st, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tool, wall, cpu, rss, rc = line.rstrip('\n').split('\t')
    d[tool].append((int(wall) / 1e6, int(cpu) / 1e6 if int(cpu) >= 0 else float('nan'), int(rss) / 1024, int(rc)))
base = d.get('ctr')
bw = st.median(x[0] for x in base) if base else None
bc = st.median(x[1] for x in base) if base else None
print(f"{'tool':18}{'n':>3}{'wall s':>8}{'cpu s':>8}{'rss MB':>8}{'fail':>5}{'wall/ctr':>9}{'cpu/ctr':>8}")
# ctr's cpu is the client's plus the daemon's; its rss is the client's only.
for tool, v in d.items():
    wall, cpu = st.median(x[0] for x in v), st.median(x[1] for x in v)
    rss = max(x[2] for x in v)
    part = ':' in tool
    rw = f"{wall / bw:.2f}" if bw and not part else '-'
    rc = f"{cpu / bc:.2f}" if bc and not part else '-'
    cpus = '-' if cpu != cpu else f"{cpu:.2f}"
    rsss = f"{rss:.0f}" if rss else '-'
    print(f"{tool:18}{len(v):3}{wall:8.2f}{cpus:>8}{rsss:>8}{sum(1 for x in v if x[3]):5}{rw:>9}{rc:>8}")
PY
if awk -F'\t' '$5 != 0 { bad = 1 } END { exit !bad }' "$out"; then
  echo "# some runs failed; their stderr:" >&2
  tail -30 "$LOG" >&2
fi
