#!/usr/bin/env bash
# Benchmarks TailorHTTP with wrk: an inline GET /healthz on one loop thread, -t2 -c64 -d10s, three runs,
# release build. Prints each run's requests/s and p99 latency, then the medians.
# Runs the opt-in BenchmarkTests test; -enable-testing is needed because tests use @testable imports.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
export TAILOR_HTTP_BENCH=1
export TAILOR_HTTP_BENCH_SECONDS=${SECONDS_PER_RUN:-10}
export TAILOR_HTTP_BENCH_CONNECTIONS=${CONNECTIONS:-64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

swift build -c release -Xswiftc -enable-testing --build-tests >"$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }

for i in $(seq 1 "$runs"); do
  TAILOR_HTTP_BENCH_OUTPUT="$out/run$i.txt" swift test -c release -Xswiftc -enable-testing --skip-build \
    --filter 'TailorHTTPTests.BenchmarkTests' >"$out/test$i.log" 2>&1 || { cat "$out/test$i.log"; exit 1; }
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out/run$i.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$out/run$i.txt")
  echo "run $i: ${rps} requests/s, p99 ${p99}"
  echo "$rps $p99" >>"$out/summary"
done

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} else print v}'; }
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "command: wrk -t2 -c${TAILOR_HTTP_BENCH_CONNECTIONS} -d${TAILOR_HTTP_BENCH_SECONDS}s --latency http://127.0.0.1:PORT/healthz"
echo "median requests/s: $(cut -d' ' -f1 "$out/summary" | median)"
echo "median p99 ms: $(cut -d' ' -f2 "$out/summary" | to_ms | median)"
