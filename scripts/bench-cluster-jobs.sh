#!/usr/bin/env bash
# Jobs per hour on small jobs for 1 vs 2 workers (issue #17): starts a throwaway PostgreSQL cluster
# (scripts/pg-test-cluster.sh), then for each round runs every configuration once, interleaved, each on a new database
# and a new data directory (Tests/reference/bench_cluster_jobs.py: one API node `tailor serve --workers 0` and N
# `tailor worker` processes, or the single box `tailor serve` on SQLite), and prints one JSON line per run (with the
# load average before and after) and the medians per configuration. The cluster, the databases and every process go
# away at the end, on Ctrl-C and on SIGTERM too.
#   scripts/bench-cluster-jobs.sh [ROUNDS] [JOBS]      (default 2 rounds of 12 jobs; results in bench-results/cluster-jobs.jsonl)
# A job is BENCH_EXAMPLES (10) lines of BENCH_TRAIN (Tests/e2e/data/support.jsonl), 1 epoch, batch BENCH_BATCH (10):
# one step, the least training a job can do, so the figure is the queue's and the per-job overhead's, not a model's.
# Configurations, as WORKERSxTHREADS (0x0 is the single box with its defaults); override with BENCH_CONFIGS:
#   BENCH_CONFIGS="1x2 2x1 2x2 0x0"
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
jobs=${2:-12}
bin=$(realpath "${TAILOR_BIN:-.build/release/tailor}")
model=$(realpath "${TAILOR_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}")
train=${BENCH_TRAIN:-Tests/e2e/data/support.jsonl}
examples=${BENCH_EXAMPLES:-10}
batch=${BENCH_BATCH:-10}
configs=${BENCH_CONFIGS:-"1x2 2x1 2x2 0x0"}
out=${BENCH_OUT:-bench-results}
python=${BENCH_PYTHON:-.venv/bin/python}
mkdir -p "$out"
results=$out/cluster-jobs.jsonl
: > "$results"

cluster=$(mktemp -d /tmp/tailor-bench-pg.XXXXXX)
driver=
cleanup() {
    trap - EXIT INT TERM
    # The driver stops its own tailor processes when it is told to end.
    if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then kill -TERM "$driver" 2>/dev/null || true; wait "$driver" 2>/dev/null || true; fi
    scripts/pg-test-cluster.sh stop "$cluster" || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
settings=$(scripts/pg-test-cluster.sh start "$cluster")
eval "$settings"
server=${TAILOR_TEST_DATABASE_URL%/*}

echo "# $(date -u '+%F %T') UTC, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); tailor $($bin --version); $(git rev-parse --short HEAD 2>/dev/null || echo '?'); $rounds rounds of $jobs jobs; $(uptime | sed 's/.*load/load/')"
n=0
for r in $(seq "$rounds"); do
    for config in $configs; do
        workers=${config%x*}; threads=${config#*x}
        n=$((n + 1))
        args=(--bin "$bin" --model "$model" --train "$train" --examples "$examples" --batch-size "$batch" --jobs "$jobs" --label "round $r $config")
        if [ "$workers" -gt 0 ]; then
            db=tailor_bench_$$_$n
            psql "$server/postgres" -Xqc "CREATE DATABASE $db"
            args+=(--database "$server/$db" --workers "$workers" --threads "$threads")
        fi
        # In the background and waited for, so that a signal reaches the trap at once, not after the run.
        "$python" Tests/reference/bench_cluster_jobs.py "${args[@]}" >> "$results" &
        driver=$!
        wait "$driver" || echo "run $n ($config, round $r) failed; its line in $results says why" >&2
        driver=
        tail -n 1 "$results"
    done
done

# Medians per configuration (successful runs only).
python3 - "$results" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in runs:
    by.setdefault((r["mode"], r["workers"], r["threads"]), []).append(r)
for (mode, w, t), rs in by.items():
    ok = [r for r in rs if r["ok"]]
    med = lambda k: round(statistics.median(r[k] for r in ok), 2) if ok else None
    load = [x for r in rs for x in (r["load_before"][0], r["load_after"][0])]
    print(f"{mode}, {w} worker(s) x {t} thread(s): {len(ok)}/{len(rs)} runs ok; jobs/hour {med('jobs_per_hour')} "
          f"(runs {[r['jobs_per_hour'] for r in rs]}), median job {med('median_job_seconds')} s, median queue wait "
          f"{med('median_queue_wait_seconds')} s; load {min(load)}-{max(load)}")
EOF
