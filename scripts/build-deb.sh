#!/usr/bin/env bash
# build-deb.sh - build target/debian/pidscope_*.deb: the binary, its man page
# and shell completions (generated from the CLI definition), the example
# config, the Prometheus alert rules and the systemd audit timer.
# Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release
dist=target/dist
mkdir -p "$dist/completions"
target/release/pidscope man | gzip -9n >"$dist/pidscope.1.gz"
target/release/pidscope completions bash >"$dist/completions/pidscope.bash"
target/release/pidscope completions zsh >"$dist/completions/_pidscope"
target/release/pidscope completions fish >"$dist/completions/pidscope.fish"
cargo deb --no-build "$@"
