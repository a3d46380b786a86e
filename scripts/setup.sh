#!/usr/bin/env bash
# setup.sh — make a fresh Debian 12 machine (as root) ready to build and test husk.
# Idempotent: apt and npm only install what is missing; the build is incremental.
#   SKIP_BUILD=1  install only, do not build
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # Rust crates from Debian's packaged registry (/usr/share/cargo/registry)
  librust-libc-dev librust-serde-dev librust-serde-derive-dev librust-serde-json-dev
  librust-thiserror-dev librust-sha2-dev librust-flate2-dev librust-tar-dev librust-zstd-dev
  librust-xattr-dev librust-seccomp-sys-dev
  # native libraries and tools the build links or uses
  libseccomp-dev pkg-config jq busybox-static iproute2 util-linux procps apache2-utils strace uidmap
  # the real peers the tests and benchmarks drive
  runc crun containerd docker-registry skopeo umoci containernetworking-plugins hyperfine time
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# containerd from Debian starts a system service on install on some machines; we run our own.
if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
  echo "setup: installing Debian's cargo and rustc" >&2
  apt-get install -y -qq --no-install-recommends cargo rustc >/dev/null
}

# npm ci only when the lock changed since the last install.
stamp=node_modules/.husk-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

[ "${SKIP_BUILD:-0}" = 1 ] || npm run --silent build
