#!/usr/bin/env bash
# build-runtime.sh — the husk-runtime binary containerd and the benchmarks exec, built for start-up
# cost (see DESIGN.md "The binary"): profile `rt` (fat LTO, one codegen unit, panic=abort), static
# and not position-independent (no start-up relocations, fewer dirty pages to fault and to copy
# on clone), libseccomp linked from its .a. Installed as target/release/husk-runtime, where the
# tests, scripts and the Node API look for it.
set -euo pipefail
cd "$(dirname "$0")/.."
# libseccomp-sys asks for -lseccomp a second time after rustc's trailing -Bdynamic: a directory
# holding only the .a, searched first, keeps that one static too.
libs=target/static-libs
mkdir -p "$libs"
ln -sf "$(pkg-config --variable=libdir libseccomp 2>/dev/null || echo /usr/lib/x86_64-linux-gnu)/libseccomp.a" "$libs/libseccomp.a"
# GNU ld, not rust-lld: see DESIGN.md.
cargo rustc --profile rt -p husk-runtime --bin husk-runtime -- \
  -C target-feature=+crt-static -C relocation-model=static \
  -C linker-features=-lld -C link-self-contained=-linker -L "native=$PWD/$libs"
mkdir -p target/release
install -m 0755 target/rt/husk-runtime target/release/husk-runtime.new
mv -f target/release/husk-runtime.new target/release/husk-runtime
