#!/usr/bin/env bash
# Runs the libFuzzer harnesses built by `make fuzz-build` one after another (see FUZZING.md).
#   Fuzz/run.sh run SECONDS TARGET...   fuzz each target for SECONDS; new inputs go to .build-fuzz/corpus/<target>
#                                       (the checked-in seeds in Fuzz/corpus/<target> are read, never written)
#   Fuzz/run.sh smoke TARGET...         replay the checked-in corpus once (-runs=0), quickly
# Fails (exit 1) if any target reports a crash, timeout, leak, out-of-memory or sanitizer error; the input that did
# it is left in .build-fuzz/artifacts/. Logs: .build-fuzz/logs/<target>.log.
set -uo pipefail
export SWIFT_BACKTRACE=enable=no  # let libFuzzer report the crash and save the input
export LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp  # globals' lazy initialisers only
cd "$(dirname "$0")/.."
mode=$1; shift
seconds=0
if [ "$mode" = run ]; then seconds=$1; shift; fi
bin=.build-fuzz/release
mkdir -p .build-fuzz/logs .build-fuzz/artifacts
failed=()
for target in "$@"; do
    options=(-rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
    asan=${ASAN_OPTIONS:-}
    case $target in
        FuzzRequestParser) options+=(-max_len=4096 -dict=Fuzz/dict/http.dict) ;;
        FuzzHTTPServer)    options+=(-max_len=4096 -dict=Fuzz/dict/http.dict -timeout=25) ;;
        FuzzMultipart)     options+=(-max_len=4096 -dict=Fuzz/dict/multipart.dict) ;;
        FuzzAPIRequests)   options+=(-max_len=4096 -dict=Fuzz/dict/json.dict) ;;
        # LeakSanitizer cannot follow pointers that Swift packs with enum tags (the parsed templates held by a global
        # show up as "direct leaks"), so leak checking is off for this one; see FUZZING.md.
        FuzzTemplates)     options+=(-max_len=4096 -dict=Fuzz/dict/jinja.dict -detect_leaks=0); asan=detect_leaks=0 ;;
        FuzzTokenizer)     options+=(-max_len=2048) ;;
        FuzzModelFiles)    options+=(-max_len=16384 -dict=Fuzz/dict/model.dict) ;;
        *) echo "unknown target $target" >&2; exit 2 ;;
    esac
    log=.build-fuzz/logs/$target.log
    if [ "$mode" = smoke ]; then
        echo "== $target: replaying Fuzz/corpus/$target"
        ASAN_OPTIONS=$asan nice -n 10 "$bin/$target" "${options[@]}" -runs=0 -artifact_prefix=.build-fuzz/artifacts/$target- "Fuzz/corpus/$target" >"$log" 2>&1
    else
        mkdir -p ".build-fuzz/corpus/$target"
        echo "== $target: ${seconds}s (log $log)"
        ASAN_OPTIONS=$asan nice -n 10 "$bin/$target" "${options[@]}" -max_total_time="$seconds" -artifact_prefix=.build-fuzz/artifacts/$target- \
            ".build-fuzz/corpus/$target" "Fuzz/corpus/$target" >"$log" 2>&1
    fi
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed 's/^/   /'
    if [ $rc -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|==ERROR|SUMMARY: ' "$log"; then
        echo "   FAILED (exit $rc): see $log and .build-fuzz/artifacts/$target-*"
        grep -E 'ERROR|Fatal error|SUMMARY' "$log" | head -5 | sed 's/^/   /'
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "fuzzing failed: ${failed[*]}"; exit 1; fi
echo "fuzzing passed: $*"
