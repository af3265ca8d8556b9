#!/usr/bin/env bash
# build-deb.sh - build target/debian/pidscope_*.deb: the binary, its man pages
# (pidscope(1) and one per subcommand) and shell completions (generated from
# the CLI definition), the example config, the Prometheus alert rules and
# their tests, and the systemd audit timer (registered, not enabled).
# Needs cargo-deb (`cargo install cargo-deb`). scripts/check-package.sh
# builds the package with this script and checks it.
#
# PIDSCOPE_DEB_PROFILE picks the cargo profile (default: release). The test
# suite packages its own dev build with it, to check the packaging without a
# release build of its own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
profile=${PIDSCOPE_DEB_PROFILE:-release}
cargo build --profile "$profile"
case $profile in
dev | test) out=debug ;;
*) out=$profile ;;
esac
bin=${CARGO_TARGET_DIR:-target}/$out/pidscope
# The package metadata names these paths under the project's own target/.
dist=target/dist
# Every page `pidscope man --list` names, and no page left from an older build.
rm -rf "$dist/man"
mkdir -p "$dist/completions" "$dist/man"
"$bin" man --list | while read -r page; do
  "$bin" man "$page" | gzip -9n >"$dist/man/$page.1.gz"
done
"$bin" completions bash >"$dist/completions/pidscope.bash"
"$bin" completions zsh >"$dist/completions/_pidscope"
"$bin" completions fish >"$dist/completions/pidscope.fish"
cargo deb --no-build --profile "$profile" "$@"
