#!/usr/bin/env bash
# check-package.sh - build the Debian package and check it as Debian and an
# operator would:
#   - lintian --pedantic: no error (E:) or warning (W:); info tags are allowed
#   - promtool check rules and promtool test rules on the alert rules it ships
#   - installed into a throwaway root (dpkg --root, --unpack: the maintainer
#     scripts need the root's own shell and deb-systemd-helper, so they are
#     only syntax-checked): the binary runs, every man page renders without a
#     warning (man -l), `man pidscope` and `man pidscope-audit` are found
#     through MANPATH, and the bash, zsh and fish completions load and
#     complete --format's values.
# Prints PASS or FAIL per check and a summary; exits 1 if any check failed.
#
# Needs cargo-deb, dpkg, lintian, man-db and promtool (Debian's `prometheus`
# package); zsh and fish are checked where installed (a SKIP line says when
# they are not). PIDSCOPE_DEB_PROFILE=dev packages a dev build, faster
# (default: release, as scripts/build-deb.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

missing=()
for tool in cargo dpkg dpkg-deb lintian man promtool gzip; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
cargo deb --version >/dev/null 2>&1 || missing+=(cargo-deb)
if ((${#missing[@]})); then
  echo "check-package: missing ${missing[*]} (apt-get install lintian man-db prometheus; cargo install cargo-deb --version 3.8.0)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pidscope-check-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
failed=()
# check NAME COMMAND...: run COMMAND, its output kept in $work/NAME.log and
# shown when it fails. COMMAND runs as an `if` condition, where `set -e` does
# not apply: the functions below end each step with `|| return 1`.
check() {
  local name=$1
  shift
  local log="$work/${name//[^A-Za-z0-9]/_}.log"
  if "$@" >"$log" 2>&1; then
    echo "PASS  $name"
    passed=$((passed + 1))
  else
    echo "FAIL  $name"
    sed 's/^/      /' "$log"
    failed+=("$name")
  fi
}

echo "building the package (profile ${PIDSCOPE_DEB_PROFILE:-release})..."
scripts/build-deb.sh >"$work/build.log" 2>&1 || {
  cat "$work/build.log" >&2
  echo "check-package: FAIL: scripts/build-deb.sh failed" >&2
  exit 1
}
deb=$(tail -n 1 "$work/build.log")
[[ -f $deb ]] || {
  echo "check-package: FAIL: scripts/build-deb.sh printed no package path" >&2
  exit 1
}
echo "package: $deb"

# lintian: its report is shown in full; any E: or W: line fails.
lintian_clean() {
  local status=0
  lintian --pedantic --info --display-level '>=pedantic' --fail-on error,warning "$deb" \
    >"$work/lintian.txt" 2>&1 || status=$?
  grep -v '^running with root privileges' "$work/lintian.txt" || true
  if grep -q '^[EW]: ' "$work/lintian.txt"; then
    return 1
  fi
  return "$status"
}
check "lintian --pedantic: no error or warning" lintian_clean
grep '^[EWIPXO]: ' "$work/lintian.txt" | sed 's/^/      lintian: /' || echo "      lintian: no tag"

# The throwaway root: a dpkg database of its own.
dest="$work/root"
mkdir -p "$dest/var/lib/dpkg/info" "$dest/var/lib/dpkg/updates" "$dest/var/lib/dpkg/triggers"
touch "$dest/var/lib/dpkg/status"
check "dpkg --root --unpack" dpkg --root="$dest" --force-depends --unpack "$deb"
registered() {
  dpkg --root="$dest" -s pidscope | grep -x 'Status: install ok unpacked' || return 1
  for script in "$dest"/var/lib/dpkg/info/pidscope.{postinst,prerm,postrm}; do
    sh -n "$script" || return 1
  done
  grep 'deb-systemd-helper update-state pidscope-audit.timer' "$dest/var/lib/dpkg/info/pidscope.postinst"
}
check "registered; maintainer scripts parse; units known to deb-systemd-helper" registered
bin="$dest/usr/bin/pidscope"
check "the installed binary runs" "$bin" --version

examples="$dest/usr/share/doc/pidscope/examples"
check "promtool check rules" promtool check rules "$examples/pidscope-alerts.yml"
check "promtool test rules" promtool test rules "$examples/pidscope-alerts.test.yml"

# Every page the binary lists is installed and renders without a warning.
man_pages() {
  local pages page rendered
  pages=$("$bin" man --list) || return 1
  for page in $pages; do
    rendered="$work/$page.txt"
    MANWIDTH=80 man --warnings -l "$dest/usr/share/man/man1/$page.1.gz" >"$rendered" 2>"$work/$page.err" || return 1
    if [[ -s $work/$page.err ]]; then
      echo "$page: groff says:"
      cat "$work/$page.err"
      return 1
    fi
    grep -q 'EXIT STATUS' "$rendered" || {
      echo "$page has no EXIT STATUS"
      return 1
    }
    echo "$page: $(wc -l <"$rendered") lines"
  done
  [[ $(ls "$dest/usr/share/man/man1" | wc -l) -eq $(wc -w <<<"$pages") ]]
}
check "every man page renders with man -l" man_pages
by_name() {
  local page
  for page in pidscope pidscope-audit; do
    MANPATH="$dest/usr/share/man" man -w "$page" | grep -x "$dest/usr/share/man/man1/$page.1.gz" || return 1
    MANPATH="$dest/usr/share/man" MANWIDTH=80 man "$page" | grep -q 'STATUSES AND WARNINGS' || return 1
  done
}
check "man pidscope and man pidscope-audit (MANPATH)" by_name

# Completions: each loads and offers --format's values.
bash_completion() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  bash -c 'source "$1"
    complete -p pidscope
    COMP_WORDS=(pidscope audit --format ""); COMP_CWORD=3
    COMP_LINE="pidscope audit --format "; COMP_POINT=${#COMP_LINE}
    _pidscope pidscope "" --format
    printf "%s\n" "${COMPREPLY[@]}"' bash "$dest/usr/share/bash-completion/completions/pidscope" |
    tee "$work/bash.out" || return 1
  grep -qx prometheus "$work/bash.out"
}
check "bash completion loads and completes --format" bash_completion
home="$work/home"
mkdir -p "$home"
if command -v zsh >/dev/null; then
  zsh_completion() {
    local dir="$dest/usr/share/zsh/vendor-completions"
    # shellcheck disable=SC2016 # expanded by zsh
    HOME=$home zsh -f -c 'fpath=("$1" $fpath); autoload -U compinit; compinit -u -d "$2"
      source "$1/_pidscope"; [[ ${_comps[pidscope]} == _pidscope ]]' zsh "$dir" "$home/zcompdump" 2>&1 |
      tee "$work/zsh.out" || return 1
    [[ ! -s $work/zsh.out ]]
  }
  check "zsh completion loads (compinit; source _pidscope)" zsh_completion
else
  echo "SKIP  zsh completion: zsh is not installed (apt-get install zsh)"
fi
if command -v fish >/dev/null; then
  fish_completion() {
    local script="$dest/usr/share/fish/vendor_completions.d/pidscope.fish"
    fish -n "$script" || return 1
    HOME=$home XDG_CONFIG_HOME=$home/.config XDG_DATA_HOME=$home/.local/share \
      fish --no-config -c "source '$script'; complete -C 'pidscope audit --format '" | tee "$work/fish.out" || return 1
    grep -q '^prometheus' "$work/fish.out"
  }
  check "fish completion parses (fish -n) and completes --format" fish_completion
else
  echo "SKIP  fish completion: fish is not installed (apt-get install fish)"
fi

echo
if ((${#failed[@]})); then
  echo "check-package: FAIL (${#failed[@]} failed, $passed passed): ${failed[*]}"
  exit 1
fi
echo "check-package: PASS ($passed checks) for $(basename "$deb")"
