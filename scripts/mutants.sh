#!/usr/bin/env bash
# Mutation testing of the rules, the verdict vocabulary, the action gate and
# the pidfile lock with cargo-mutants, area by area, then the score.
#
#   scripts/mutants.sh                    every area: policy, act, lock
#   scripts/mutants.sh policy             one area (or several: act lock)
#   scripts/mutants.sh lock -- --iterate  extra cargo-mutants options after --
#                                         (--iterate re-tests only the mutants
#                                         not caught last time)
#   scripts/mutants.sh --summary          only print the score of the last runs
#
# Each area runs only the test binaries that exercise it, passed to every
# cargo invocation (`-C`), so a mutant builds and links only those:
#   policy  src/policy/*, src/verdict.rs  the library's unit tests (the rules'
#                                         table tests)
#   act     src/act/*                     unit tests + tests/actions.rs,
#                                         tests/delete_races.rs and tests/reuse.rs
#                                         (the executor on real files, processes
#                                         and reused PIDs)
#   lock    src/lock/*                    unit tests + tests/lock.rs (real
#                                         lockers, real races, flock(1) and
#                                         libbsd interplay); tests/run.rs drives
#                                         the same library through `run` and
#                                         would add its suite to every mutant
#
# Settings for a small shared machine (the reasons are in .cargo/mutants.toml):
#   MUTANTS_JOBS  parallel mutants (default 1: one build already keeps two
#                 cores busy, and a second one doubles the memory and the
#                 timing noise of the tests that race real processes)
#   MUTANTS_NICE  niceness (default 10), so interactive work keeps its cores
#   MUTANTS_TARGET_DIR  the target directory (default target/mutants-build);
#                 one serves every run, so the dependencies are built once,
#                 not once per area and per run. Two runs at the same time
#                 need two: cargo names a mutant's artifacts the same whichever
#                 scratch copy built them (the script refuses to share one). Results go to
# target/mutants-out/AREA/mutants.out.
#
# Score = caught / (caught + missed), with timeouts counted as caught and
# unviable mutants (ones that do not build) left out.

set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${MUTANTS_JOBS:-1}"
niceness="${MUTANTS_NICE:-10}"
out_root=target/mutants-out
export CARGO_TARGET_DIR="${MUTANTS_TARGET_DIR:-$PWD/target/mutants-build}"

area_re() {
    case "$1" in
        policy) echo '^src/(policy/|verdict\.rs)' ;;
        act) echo '^src/act/' ;;
        lock) echo '^src/lock/' ;;
        *) return 1 ;;
    esac
}

area_tests() {
    case "$1" in
        policy) echo "-C --lib" ;;
        act) echo "-C --lib -C --test=actions -C --test=delete_races -C --test=reuse" ;;
        lock) echo "-C --lib -C --test=lock" ;;
    esac
}

areas=()
extra=()
summary_only=false
while (($#)); do
    case "$1" in
        --) shift; extra=("$@"); break ;;
        --summary) summary_only=true ;;
        *)
            area_re "$1" >/dev/null || { echo "unknown area: $1 (policy, act, lock)" >&2; exit 2; }
            areas+=("$1")
            ;;
    esac
    shift
done
((${#areas[@]})) || areas=(policy act lock)

command -v cargo-mutants >/dev/null || { echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2; exit 2; }
command -v cargo-nextest >/dev/null || { echo "cargo-nextest is not installed: cargo install cargo-nextest --locked" >&2; exit 2; }

if ! $summary_only; then
    # Cargo names a mutant's artifacts the same whichever scratch copy built
    # them: two runs sharing a target directory would test each other's builds.
    mkdir -p "$CARGO_TARGET_DIR"
    exec 9>"$CARGO_TARGET_DIR/.mutants-run.lock"
    flock -n 9 || {
        echo "another mutants run uses $CARGO_TARGET_DIR: give this one its own MUTANTS_TARGET_DIR" >&2
        exit 2
    }
    for area in "${areas[@]}"; do
        echo "== $area"
        # shellcheck disable=SC2046 # the test selection is a list of words
        nice -n "$niceness" cargo mutants --jobs "$jobs" --re "$(area_re "$area")" \
            --output "$out_root/$area" $(area_tests "$area") "${extra[@]}" 9>&- || true
        # --iterate lists caught and unviable mutants of earlier runs together
        # (previously_caught.txt): keep every unviable one seen, to tell them apart.
        seen="$out_root/$area/unviable-seen.txt"
        cat "$out_root/$area"/mutants.out{,.old}/unviable.txt 2>/dev/null | sort -u - "$seen" 2>/dev/null > "$seen.new" || true
        mv "$seen.new" "$seen"
        # (cargo-mutants exits non-zero when a mutant is missed: the score says
        # how many. `9>&-`: the lock stays ours, not inherited by the processes tests start.)
    done
fi

echo
echo "pidscope mutation testing, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) CPUs, Linux $(uname -r)"
echo "tool: $(cargo mutants --version), $(cargo nextest --version | head -1), jobs $jobs"
python3 - "$out_root" "${areas[@]}" <<'EOF'
import os, re, subprocess, sys

root, areas = sys.argv[1], sys.argv[2:]
area_re = {"policy": r"^src/(policy/|verdict\.rs)", "act": "^src/act/", "lock": "^src/lock/"}
kinds = ("caught", "missed", "timeout", "unviable")
total = dict.fromkeys(kinds, 0)
print(f"{'area':<8}{'mutants':>8}" + "".join(f"{k:>10}" for k in kinds) + f"{'score':>9}")

def score(c):
    viable = c["caught"] + c["timeout"] + c["missed"]
    return f"{100 * (c['caught'] + c['timeout']) / viable:.1f}%" if viable else "-"

def names(*parts):
    p = os.path.join(root, *parts)
    return [l.strip() for l in open(p) if l.strip()] if os.path.exists(p) else []

for area in areas:
    out = os.path.join(area, "mutants.out")
    if not os.path.isdir(os.path.join(root, out)):
        print(f"{area:<8}  not run yet")
        continue
    # The mutants of the code as it is now (excluded ones are not listed).
    listed = subprocess.run(["cargo", "mutants", "--list", "--re", area_re[area]],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    current = {l.strip() for l in listed if l.strip()}
    # What each was found to be: by the last run, or, for those --iterate did
    # not test again, by an earlier one (previously_caught.txt lists caught and
    # unviable mutants together; unviable-seen.txt tells them apart).
    found = {}
    unviable_seen = set(names(area, "unviable-seen.txt"))
    for name in names(out, "previously_caught.txt"):
        found[name] = "unviable" if name in unviable_seen else "caught"
    for kind in kinds:
        for name in names(out, f"{kind}.txt"):
            found[name] = kind
    counts = dict.fromkeys(kinds, 0)
    for name in current:
        if name in found:
            counts[found[name]] += 1
    left = len(current) - sum(counts.values())
    for k in kinds:
        total[k] += counts[k]
    n = sum(counts.values())
    print(f"{area:<8}{n:>8}" + "".join(f"{counts[k]:>10}" for k in kinds) + f"{score(counts):>9}"
          + (f"  ({left} of {len(current)} not tested yet)" if left else ""))
n = sum(total.values())
print(f"{'total':<8}{n:>8}" + "".join(f"{total[k]:>10}" for k in kinds) + f"{score(total):>9}")
print("score = (caught + timeout) / (caught + timeout + missed); unviable mutants excluded")
EOF
