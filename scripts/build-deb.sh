#!/usr/bin/env bash
# build-deb.sh - build target/debian/pidscope_*.deb: the binary, its man page
# and shell completions (generated from the CLI definition), the example
# config, the Prometheus alert rules and the systemd audit timer.
# Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo build --release
bin=${CARGO_TARGET_DIR:-target}/release/pidscope
# The package metadata names these paths under the project's own target/.
dist=target/dist
mkdir -p "$dist/completions"
"$bin" man | gzip -9n >"$dist/pidscope.1.gz"
"$bin" completions bash >"$dist/completions/pidscope.bash"
"$bin" completions zsh >"$dist/completions/_pidscope"
"$bin" completions fish >"$dist/completions/pidscope.fish"
cargo deb --no-build "$@"
