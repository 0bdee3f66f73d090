#!/usr/bin/env python3
# Twelve multi-turn GadgetGurus conversations per target length: one system message, then user/assistant turns
# taken in order from the training set until the chat reaches about `target` tokens (≈ 108 tokens per turn pair
# with SmolLM2's template).
import json, os, sys
out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/tailor-long-chats"
os.makedirs(out, exist_ok=True)
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "datasets", "gadgetgurus-train.jsonl")
rows = [json.loads(l) for l in open(os.environ.get("GADGETGURUS", src)) if l.strip()]
pairs = [r["messages"][1:3] for r in rows]
system = rows[0]["messages"][0]
for target, turns in [(260, 2), (1030, 10), (1930, 18), (8000, 75)]:
    with open(os.path.join(out, f"long-{target}.jsonl"), "w") as f:
        k = 0
        for i in range(12):
            msgs = [system]
            for _ in range(turns):
                msgs += pairs[k % len(pairs)]; k += 1
            f.write(json.dumps({"messages": msgs}) + "\n")
