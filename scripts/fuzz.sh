#!/usr/bin/env bash
# Fuzz every cargo-fuzz target in turn for RUNS executions (default 10 million),
# minimise each corpus afterwards, and print a Markdown table of the figures
# with the machine and the date. Exits non-zero if any target crashes, hangs
# (libFuzzer -timeout) or runs out of memory.
#
#   scripts/fuzz.sh [RUNS]
#
# Environment:
#   FUZZ_TARGETS    targets to run, space-separated (default: all seven)
#   FUZZ_SANITIZER  cargo-fuzz --sanitizer (default: none; the fuzzed code
#                   has no `unsafe`, and AddressSanitizer slows every input;
#                   "address" for a memory-checked run)
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (10)
#   FUZZ_MAX_LEN    largest input in bytes (default: 8192 for parse_pid and
#                   read_pidfile, past the 4 KiB read limit they guard; 4096,
#                   libFuzzer's own default, for the parsers with no such limit)
#   FUZZ_NICE       niceness of the build and the fuzzers (15: the machine may be shared)
#   FUZZ_CMIN       1 to minimise each corpus after its run (default), 0 not to;
#                   `scripts/fuzz.sh 0` only replays and minimises the corpora
#   FUZZ_LOGS       directory for the fuzzers' logs (default: a new temporary one)
#
# Needs a nightly toolchain and cargo-fuzz (installed with `cargo install` if missing).
set -euo pipefail

runs=${1:-10000000}
targets=${FUZZ_TARGETS:-proc_stat parse_pid read_pidfile proc_locks config unit_file proc_cgroup}
sanitizer=${FUZZ_SANITIZER:-none}
timeout=${FUZZ_TIMEOUT:-10}
niceness=${FUZZ_NICE:-15}
cmin=${FUZZ_CMIN:-1}
logs=${FUZZ_LOGS:-$(mktemp -d -t pidscope-fuzz-logs.XXXXXX)}

die() { echo "fuzz.sh: $*" >&2; exit 2; }
[[ $runs =~ ^(0|[1-9][0-9]*)$ ]] || die "RUNS must be a number of executions, not '$runs'"
cd "$(dirname "$0")/.."
mkdir -p "$logs"

rustup run nightly rustc --version >/dev/null 2>&1 ||
    die "needs a nightly toolchain: rustup toolchain install nightly"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz
fi

fuzz() { nice -n "$niceness" cargo +nightly fuzz "$@"; }

max_len_of() {
    if [[ -n ${FUZZ_MAX_LEN:-} ]]; then
        echo "$FUZZ_MAX_LEN"
    else
        case $1 in
        parse_pid | read_pidfile) echo 8192 ;;
        *) echo 4096 ;;
        esac
    fi
}

# Thousands separators, without depending on the locale.
group() { echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/; ta'; }

# 754 seconds -> "12m 34s".
duration() {
    local s=$1
    if ((s >= 60)); then echo "$((s / 60))m $((s % 60))s"; else echo "${s}s"; fi
}

echo "fuzz.sh: building the targets (--sanitizer $sanitizer); logs in $logs" >&2
fuzz build --sanitizer "$sanitizer" >"$logs/build.log" 2>&1 || {
    tail -n 30 "$logs/build.log" >&2
    die "the fuzz targets do not build"
}

rows=()
failed=()
for target in $targets; do
    [[ -f fuzz/fuzz_targets/$target.rs ]] || die "no fuzz target $target"
    artifacts=fuzz/artifacts/$target
    max_len=$(max_len_of "$target")
    mkdir -p "$artifacts" "fuzz/corpus/$target"
    before=$(find "$artifacts" -type f | wc -l)
    log=$logs/$target.log
    echo "fuzz.sh: $target: $(group "$runs") executions..." >&2
    start=$(date +%s)
    status=0
    fuzz run --sanitizer "$sanitizer" "$target" "fuzz/corpus/$target" -- \
        -runs="$runs" -timeout="$timeout" -max_len="$max_len" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    wall=$(($(date +%s) - start))
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    # libFuzzer rounds a run shorter than a second down to 0 exec/s.
    if [[ ${rate:-0} == 0 ]] && ((wall > 0)); then rate=$((${executions:-0} / wall)); fi
    crashes=$(($(find "$artifacts" -type f | wc -l) - before))
    if ((status != 0)); then
        failed+=("$target")
        ((crashes > 0)) || crashes=1
        echo "fuzz.sh: $target failed (exit $status), see $log:" >&2
        grep -E 'ERROR|panicked|SUMMARY|Test unit written' "$log" | head -n 10 >&2 || true
    elif [[ -n $executions ]] && ((executions < runs)); then
        failed+=("$target")
        echo "fuzz.sh: $target stopped after $executions of $runs executions, see $log" >&2
    fi
    # Keep the inputs that reach every edge reached (-use_counters=0: not every
    # hit count of it), a few dozen per target rather than hundreds.
    if ((cmin)) && ((status == 0)); then
        fuzz cmin --sanitizer "$sanitizer" "$target" "fuzz/corpus/$target" -- \
            -use_counters=0 -max_len="$max_len" -timeout="$timeout" \
            >"$logs/$target.cmin.log" 2>&1 ||
            die "minimising fuzz/corpus/$target failed, see $logs/$target.cmin.log"
    fi
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    rows+=("| \`$target\` | $max_len | $(group "${executions:-0}") | $(group "${rate:-0}") | $(duration "$wall") | $crashes | $corpus |")
done

cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n 1)
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), ${cpu:-unknown CPU}, nproc $(nproc)," \
    "Linux $(uname -r), $(rustc +nightly --version), $(cargo +nightly fuzz --version)," \
    "--sanitizer $sanitizer, -runs=$runs -timeout=$timeout, nice $niceness:"
echo
echo "| target | -max_len | executions | exec/s | wall time | crashes | corpus files |"
echo "|--------|---------:|-----------:|-------:|----------:|--------:|-------------:|"
printf '%s\n' "${rows[@]}"

if ((${#failed[@]})); then
    echo >&2
    echo "fuzz.sh: FAILED: ${failed[*]} (reproducers in fuzz/artifacts/TARGET/, logs in $logs)" >&2
    exit 1
fi
