#!/usr/bin/env bash
# Runs every benchmark with its peer side by side, interleaved round by round so that a noisy neighbour hurts both
# sides alike, and prints one JSON line per measurement plus the medians and ratios (copied into BENCHMARKS.md).
# Needs: a release build, the default model, ../shared/datasets (for train/serve), the reference venv
# (Tests/reference/setup_venv.sh, built once) for the peers, and wrk (make test-deps) for http.
#   scripts/bench.sh [generate|train|train-full|dpo|serve|http|job|job-eval|all] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
rounds=${2:-3}
bin=${TAILOR_BIN:-.build/release/tailor}
model=${TAILOR_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
data=${BENCH_DATA:-../shared/datasets/gadgetgurus-train.jsonl}
out=${BENCH_OUT:-bench-results}
mkdir -p "$out"
py() { "$(Tests/reference/setup_venv.sh)" "$@"; }
median() { python3 -c 'import json,statistics,sys; k=sys.argv[1]; v=[json.loads(l)[k] for l in open(sys.argv[2]) if l.strip()]; print(round(statistics.median(v), 3))' "$@"; }
ratio() { python3 -c 'import sys; print(round(float(sys.argv[1]) / float(sys.argv[2]), 2))' "$@"; }
echo "# $(date -u +%F) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); tailor $($bin --version)"

if [[ $what == generate || $what == all ]]; then
    : > "$out/generate-tailor.jsonl"; : > "$out/generate-llamacpp.jsonl"
    for r in $(seq "$rounds"); do
        $bin bench generate --model "$model" --threads 2 --json | tee -a "$out/generate-tailor.jsonl"
        py Tests/reference/bench_llamacpp.py "$model" --threads 2 | tee -a "$out/generate-llamacpp.jsonl"
    done
    for k in prefill_tokens_per_s decode_tokens_per_s; do
        t=$(median $k "$out/generate-tailor.jsonl"); l=$(median $k "$out/generate-llamacpp.jsonl")
        echo "generate $k: tailor $t, llama.cpp $l, ratio $(ratio "$t" "$l")"
    done
    echo "generate peak_rss_bytes: tailor $(median peak_rss_bytes "$out/generate-tailor.jsonl"), llama.cpp $(median peak_rss_bytes "$out/generate-llamacpp.jsonl")"
fi

if [[ $what == train || $what == all ]]; then
    : > "$out/train-tailor.jsonl"; : > "$out/train-peft.jsonl"
    for r in $(seq "$rounds"); do
        $bin bench train --model "$model" --data "$data" --threads 2 --json 2>/dev/null | tee -a "$out/train-tailor.jsonl"
        py Tests/reference/bench_peft_train.py "$model" "$data" --threads 2 2>/dev/null | tee -a "$out/train-peft.jsonl"
    done
    t=$(median tokens_per_s "$out/train-tailor.jsonl"); p=$(median tokens_per_s "$out/train-peft.jsonl")
    echo "train tokens_per_s: tailor $t, pytorch+peft $p, ratio $(ratio "$t" "$p")"
    echo "train seconds_per_step: tailor $(median seconds_per_step "$out/train-tailor.jsonl"), pytorch+peft $(median seconds_per_step "$out/train-peft.jsonl")"
    echo "train peak_rss_bytes: tailor $(median peak_rss_bytes "$out/train-tailor.jsonl"), pytorch+peft $(median peak_rss_bytes "$out/train-peft.jsonl")"
    echo "train model_flops_utilization: tailor $(median model_flops_utilization "$out/train-tailor.jsonl") of $(median sgemm_peak_gflops "$out/train-tailor.jsonl") GFLOP/s sgemm"
fi

if [[ $what == train-full || $what == all ]]; then
    # Full fine-tuning against transformers + torch's AdamW on every weight (Tests/reference/bench_full_train.py), each
    # run under /usr/bin/time -v for the whole process's peak RSS, the load average logged beside every measurement.
    : > "$out/train-full-tailor.jsonl"; : > "$out/train-full-torch.jsonl"
    rss() { python3 -c 'import json,re,sys; r=json.loads(sys.argv[1]); r["time_v_max_rss_kb"]=int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read()).group(1)); r["loadavg_1m"]=float(open("/proc/loadavg").read().split()[0]); print(json.dumps(r))' "$@"; }
    for r in $(seq "$rounds"); do
        line=$(/usr/bin/time -v -o "$out/time-v.txt" $bin bench train --training-type full --model "$model" --data "$data" --threads 2 --json 2>/dev/null)
        rss "$line" "$out/time-v.txt" | tee -a "$out/train-full-tailor.jsonl"
        line=$(/usr/bin/time -v -o "$out/time-v.txt" "$(Tests/reference/setup_venv.sh)" Tests/reference/bench_full_train.py "$model" "$data" --threads 2 2>/dev/null)
        rss "$line" "$out/time-v.txt" | tee -a "$out/train-full-torch.jsonl"
    done
    t=$(median tokens_per_s "$out/train-full-tailor.jsonl"); p=$(median tokens_per_s "$out/train-full-torch.jsonl")
    echo "train-full tokens_per_s: tailor $t, pytorch $p, ratio $(ratio "$t" "$p")"
    echo "train-full seconds_per_step: tailor $(median seconds_per_step "$out/train-full-tailor.jsonl"), pytorch $(median seconds_per_step "$out/train-full-torch.jsonl")"
    echo "train-full peak RSS (time -v, KiB): tailor $(median time_v_max_rss_kb "$out/train-full-tailor.jsonl"), pytorch $(median time_v_max_rss_kb "$out/train-full-torch.jsonl")"
    echo "train-full load average (1 min) after each run: tailor $(median loadavg_1m "$out/train-full-tailor.jsonl"), pytorch $(median loadavg_1m "$out/train-full-torch.jsonl")"
fi

if [[ $what == dpo || $what == all ]]; then
    # Preference pairs derived from the chat data (the support voice preferred over a generic answer).
    pairs="$out/dpo-train.jsonl"; held="$out/dpo-held-out.jsonl"
    python3 Tests/reference/make_preference_set.py "$data" "$pairs"
    python3 Tests/reference/make_preference_set.py "${data/train/validation}" "$held"
    trl=$(Tests/reference/setup_dpo_venv.sh)
    : > "$out/dpo-tailor.jsonl"; : > "$out/dpo-trl.jsonl"
    for r in $(seq "$rounds"); do
        $bin bench dpo --model "$model" --data "$pairs" --threads 2 --json 2>/dev/null | tee -a "$out/dpo-tailor.jsonl"
        "$trl" Tests/reference/bench_trl_dpo.py "$model" "$pairs" --threads 2 2>/dev/null | grep '^{"' | tee -a "$out/dpo-trl.jsonl"
    done
    t=$(median tokens_per_s "$out/dpo-tailor.jsonl"); p=$(median tokens_per_s "$out/dpo-trl.jsonl")
    echo "dpo tokens_per_s (reference pass included): tailor $t, trl $p, ratio $(ratio "$t" "$p")"
    echo "dpo seconds_per_step: tailor $(median seconds_per_step "$out/dpo-tailor.jsonl"), trl $(median seconds_per_step "$out/dpo-trl.jsonl")"
    echo "dpo peak_rss_bytes: tailor $(median peak_rss_bytes "$out/dpo-tailor.jsonl"), trl $(median peak_rss_bytes "$out/dpo-trl.jsonl")"
    # The effect: one epoch over the pairs, measured on the held-out ones before and after.
    $bin bench dpo --model "$model" --data "$pairs" --held-out "$held" --steps 0 --warmup-steps 0 --threads 2 --json 2>/dev/null | tee "$out/dpo-effect.jsonl"
fi

if [[ $what == serve || $what == all ]]; then
    $bin bench serve --model "$model" --data "$data" --json 2>/dev/null | tee "$out/serve.jsonl"
fi

if [[ $what == http || $what == all ]]; then
    $bin bench http --json | tee "$out/http.jsonl"
fi

if [[ $what == job || $what == all ]]; then
    .venv/bin/python Tests/reference/bench_job.py --bin "$bin" --model "$model" --train "$data" \
        --validation "${data/train/validation}" | tee "$out/job.jsonl"
fi

if [[ $what == job-eval || $what == all ]]; then
    .venv/bin/python Tests/reference/bench_job_eval.py --bin "$bin" --model "$model" --train "$data" \
        --test "${data/train/validation}" --epochs 1 | tee "$out/job-eval.log"
    tail -n 1 "$out/job-eval.log" > "$out/job-eval.jsonl"
fi
