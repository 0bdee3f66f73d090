#!/usr/bin/env python3
"""The PyTorch + transformers + PEFT peer of scripts/bench-long.sh: the loop of ../shared/peers/train_torch.py
(GGUF dequantised to fp32, LoRA r=8 / alpha 16 on all seven projections, AdamW, SDPA attention, 2 threads), with
batch 1 over one file of long chats, steps 2..STEPS timed. Labels on every assistant turn and its <|im_end|>.
Prints one JSON line: tokens per example, tokens/s, peak RSS.
    python scripts/bench_long_torch.py MODEL_DIR GGUF DATA.jsonl [STEPS]"""
import json, os, resource, sys, time

import torch

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
from transformers import AutoModelForCausalLM, AutoTokenizer
from peft import LoraConfig, get_peft_model

model_dir, gguf, data = sys.argv[1], sys.argv[2], sys.argv[3]
steps = int(sys.argv[4]) if len(sys.argv) > 4 else 6
tok = AutoTokenizer.from_pretrained(model_dir, gguf_file=gguf)
model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=gguf, dtype=torch.float32, attn_implementation="sdpa")


def encode(msgs):
    ids, labels = [], []
    for i in range(len(msgs)):
        # Each message's tokens are the difference between the template of the chat up to it and before it.
        before = tok.apply_chat_template(msgs[:i], tokenize=False) if i else ""
        upto = tok.apply_chat_template(msgs[: i + 1], tokenize=False)
        piece = tok(upto[len(before):], add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if msgs[i]["role"] == "assistant" else [-100] * len(piece)
    return ids, labels


examples = [encode(json.loads(l)["messages"]) for l in open(data) if l.strip()]
cfg = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
torch.manual_seed(0)
model = get_peft_model(model, cfg)
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
timed_tokens, timed_s = 0, 0.0
for s in range(steps):
    ids, labels = examples[s % len(examples)]
    x, y = torch.tensor([ids]), torch.tensor([labels])
    t = time.perf_counter()
    out = model(input_ids=x, labels=y, use_cache=False)
    out.loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    dt = time.perf_counter() - t
    print(f"step {s + 1}: {len(ids)} tokens in {dt:.2f} s, loss {out.loss.item():.4f}", file=sys.stderr, flush=True)
    if s >= 1:
        timed_tokens += len(ids); timed_s += dt
print(json.dumps({"peer": "pytorch+peft", "data": os.path.basename(data),
                  "tokens_per_example": sum(len(i) for i, _ in examples) // len(examples),
                  "tokens_per_s": round(timed_tokens / timed_s, 1), "steps_timed": steps - 1,
                  "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9, 2)}), flush=True)
