#!/usr/bin/env bash
# Long examples (issue #18): `tailor train`, LoRA r=8, batch 1, one epoch over twelve chats of about 260, 1,030,
# 1,930 and 8,000 tokens (multi-turn GadgetGurus conversations, scripts/make-long-chats.py), as a user runs it.
# Prints one JSON line per run: tokens per example, tokens/s over steps 2..N (the first step warms up), peak RSS.
#   scripts/bench-long.sh BIN [LENGTHS] [STEPS]      e.g. scripts/bench-long.sh .build/release/tailor "260 1030" 6
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release/tailor}
lengths=${2:-260 1030 1930 8000}
steps=${3:-6}
model=${TAILOR_MODEL:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
data=${LONG_DATA:-/tmp/tailor-long-chats}
extra=${TRAIN_ARGS:-}
[[ -f $data/long-260.jsonl ]] || python3 scripts/make-long-chats.py "$data"
for n in $lengths; do
    out=$(mktemp -d)
    # MAX_TOKENS=8192 for the previous release, which refused examples longer than --max-tokens (1,024 by default).
    /usr/bin/time -v "$bin" train --model "$model" --data "$data/long-$n.jsonl" --out "$out/run" --epochs 1 \
        --batch-size 1 --max-tokens "${MAX_TOKENS:-1024}" --threads 2 --stop-after "$steps" $extra > "$out/stdout" 2> "$out/stderr" || true
    python3 - "$n" "$bin" "$out/stderr" <<'PY'
import json, re, sys
n, binary, path = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(path, errors="replace").read()
rates = [(int(s), float(r)) for s, r in re.findall(r"step (\d+)/\d+ .*? (\d+) tok/s", text.replace("\r", "\n"))]
timed = [r for s, r in rates if s >= 2]
tokens = re.search(r"examples \((\d+) tokens\)", text)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
plan = re.search(r"passes of up to .*", text)
print(json.dumps({"length": int(n), "binary": binary,
                  "tokens_per_example": int(tokens.group(1)) // 12 if tokens else None,
                  "tokens_per_s": round(sum(timed) / len(timed), 1) if timed else None, "steps_timed": len(timed),
                  "peak_rss_gb": round(int(rss.group(1)) / 1e6, 2) if rss else None,
                  "plan": plan.group(0) if plan else None,
                  "error": None if timed else text.strip().splitlines()[-25:]}), flush=True)
PY
    rm -rf "$out"
done
