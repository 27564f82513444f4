#!/usr/bin/env bash
# Fuzz every public decoder with many cases: the long pass of the fuzz properties that
# `cargo test --workspace` runs with a few cases each (docs/fuzzing.md).
#
#   benches/fuzz.sh                   # 100,000 cases per property, one pass
#   benches/fuzz.sh 1000000           # 1,000,000 cases per property
#   benches/fuzz.sh 20000 --minutes 30    # passes of 20,000 cases, new seeds each, for 30 minutes
#   benches/fuzz.sh 5000 --only shards,rpc
#
# Targets (crate: test filter):
#   shards     kaimeng-shards  fuzz::        transactions of every type, wire blocks, stored
#                                            headers/bodies/receipts, SM precompile inputs
#   rpc        kaimeng-rpc     fuzz_params:: JSON-RPC parameter types; a real RpcModule over a
#                                            chain (that property runs CASES / 10)
#   governance kaimeng-l1      fuzz:: codec:: signed governance transactions (both suites), state
#   consensus  kaimeng-consensus fuzz:: codec::  consensus messages and records
#   network    kaimeng-network fuzz:: wire_fuzz::  request-response frames
# The older decoder properties (`codec::`, `wire_fuzz::`) read PROPTEST_CASES, the fuzz modules
# FUZZ_CASES; both are set to CASES.
#
# Flags: --minutes M (repeat passes until M minutes have passed; each pass draws new random
#   seeds), --only LIST (comma-separated targets), --log DIR (keep each run's output; default a
#   temporary directory, printed on failure).
# The tests are built once in the dev profile (optimised, shared with `cargo test`; set
# CARGO_TARGET_DIR as for any build), then the test binaries run directly, so the wall times
# are fuzzing time only. Failures are shrunk by proptest and their seeds persisted
# under <crate>/tests/proptest-regressions/, so the next `cargo test` replays them first.
# Exit status: 0 if every property held, 1 otherwise.
set -euo pipefail

cases=100000 minutes="" only="" log_dir=""
while (($#)); do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        --log) log_dir="$2"; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) cases="$1"; shift ;;
        *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
keep_logs=1
if [[ -z "$log_dir" ]]; then
    log_dir="$(mktemp -d "${TMPDIR:-/tmp}/fuzz.XXXXXX")"
    keep_logs=0
fi
mkdir -p "$log_dir"

say() { printf '[fuzz] %s\n' "$*" >&2; }

# name|package|libtest arguments (filters and skips)
all_targets=(
    "shards|kaimeng-shards|fuzz::"
    "rpc|kaimeng-rpc|fuzz_params::"
    "governance|kaimeng-l1|fuzz:: codec::"
    "consensus|kaimeng-consensus|fuzz:: codec:: --skip engine_fuzz::"
    "network|kaimeng-network|fuzz:: wire_fuzz::"
)
targets=()
for target in "${all_targets[@]}"; do
    name="${target%%|*}"
    if [[ -z "$only" || ",$only," == *",$name,"* ]]; then
        targets+=("$target")
    fi
done
((${#targets[@]})) || { say "no target matches --only $only"; exit 2; }

# Build once, then run the test binaries themselves (as `cargo test` would, from the crate's
# directory): no cargo lock or rebuild inside the timed runs, and sources edited meanwhile do
# not change what is being fuzzed.
declare -A binaries=() dirs=()
for target in "${targets[@]}"; do
    IFS='|' read -r name package _ <<<"$target"
    say "building $package's tests"
    artifact=$(cargo test -q -p "$package" --test it --no-run --message-format=json |
        grep '"executable":"/' | grep '"name":"it"' | tail -1)
    binaries[$name]=$(sed 's/.*"executable":"\([^"]*\)".*/\1/' <<<"$artifact")
    manifest=$(sed 's/.*"manifest_path":"\([^"]*\)".*/\1/' <<<"$artifact")
    dirs[$name]=$(dirname "$manifest")
    [[ -x "${binaries[$name]}" ]] || { say "no test binary for $package"; exit 1; }
    IFS='|' read -r _ _ filters <<<"$target"
    # shellcheck disable=SC2086
    listed=$("${binaries[$name]}" --list $filters 2>/dev/null | grep -c ': test$' || true)
    if ((listed == 0)); then
        say "$package's test binary has none of these tests ($filters): a stale build? touch its tests/it/main.rs and retry"
        exit 1
    fi
    say "$name: $listed tests in ${binaries[$name]}"
done

started=$(date +%s)
deadline=""
[[ -n "$minutes" ]] && deadline=$((started + minutes * 60))
pass=0 failed=0
declare -A seconds=() passes=()
while :; do
    pass=$((pass + 1))
    for target in "${targets[@]}"; do
        IFS='|' read -r name _ filters <<<"$target"
        log="$log_dir/$name.pass$pass.log"
        say "pass $pass: $name ($cases cases per property)"
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086 # the filters are several words on purpose
        if ! (cd "${dirs[$name]}" && FUZZ_CASES="$cases" PROPTEST_CASES="$cases" \
            "${binaries[$name]}" $filters >"$log" 2>&1); then
            failed=1
            say "$name FAILED in pass $pass; output: $log"
            grep -E "^test .* FAILED|panicked|minimal failing input|Test failed" "$log" | head -20 >&2 || true
        fi
        t1=$(date +%s.%N)
        seconds[$name]=$(awk -v a="${seconds[$name]:-0}" -v b="$t0" -v c="$t1" 'BEGIN { print a + c - b }')
        passes[$name]=$(( ${passes[$name]:-0} + 1 ))
        grep -E "^test result:" "$log" | tail -1 | sed "s/^/[fuzz]   $name: /" >&2 || true
    done
    [[ -n "$deadline" && $(date +%s) -lt $deadline && $failed -eq 0 ]] || break
done

total=$(( $(date +%s) - started ))
printf '\n%-11s %7s %16s %10s\n' target passes "cases/property" "wall (s)"
for target in "${targets[@]}"; do
    name="${target%%|*}"
    printf '%-11s %7d %16d %10.0f\n' "$name" "${passes[$name]}" $((cases * passes[$name])) "${seconds[$name]}"
done
printf '%-11s %7s %16s %10d\n' "all" "" "" "$total"
if ((failed)); then
    say "a property failed; logs in $log_dir"
    exit 1
fi
say "every property held"
((keep_logs)) || rm -rf "$log_dir"
