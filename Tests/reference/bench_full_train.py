#!/usr/bin/env python3
"""The PyTorch side of the full fine-tuning benchmark (`tailor bench train --training-type full`): the loop of
../shared/peers/train_torch.py with every weight trained instead of a LoRA adapter.

Protocol, as Tailor's full fine-tuning: the default GGUF dequantised to fp32 by transformers, every parameter
trainable (the tied embedding/head once), AdamW lr 5e-5 with weight decay 0.01 on the matrices only (none on norms,
as transformers' Trainer), gradient norm clipped to 1; batches of 4 examples (seeded shuffle, seed 0) right-padded to
the longest in the batch; labels on the assistant content and its <|im_end|>; 2 threads. Steps 1-2 warm up, the next
STEPS (12) are timed. Tokens are the unpadded tokens through the forward pass (what Tailor counts). Prints one JSON
line: tokens_per_s, seconds_per_step (median), peak_rss_bytes, losses.

Usage: python bench_full_train.py MODEL.gguf DATA.jsonl [--threads 2] [--steps 12]   (the reference venv)
"""
import argparse
import json
import os
import random
import resource
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("data")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--steps", type=int, default=12)
parser.add_argument("--warmup-steps", type=int, default=2)
parser.add_argument("--batch-size", type=int, default=4)
args = parser.parse_args()

import torch

torch.set_num_threads(args.threads)
from transformers import AutoModelForCausalLM, AutoTokenizer


def encode(tok, msgs):
    """input_ids and labels; labels only on the assistant content + <|im_end|> (as ../shared/peers/train_torch.py)."""
    full = tok.apply_chat_template(msgs, tokenize=False)
    prompt = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    answer = msgs[-1]["content"] + "<|im_end|>"
    assert full.startswith(prompt) and full[len(prompt):].startswith(answer)
    p_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    a_ids = tok(answer, add_special_tokens=False)["input_ids"]
    f_ids = tok(full, add_special_tokens=False)["input_ids"]
    rest = f_ids[len(p_ids) + len(a_ids):]
    assert f_ids[: len(p_ids) + len(a_ids)] == p_ids + a_ids, "tokenization not prefix-stable"
    return p_ids + a_ids + rest, [-100] * len(p_ids) + a_ids + [-100] * len(rest)


def collate(items, pad_id):
    L = max(len(i) for i, _ in items)
    ids = torch.full((len(items), L), pad_id, dtype=torch.long)
    lab = torch.full((len(items), L), -100, dtype=torch.long)
    att = torch.zeros((len(items), L), dtype=torch.long)
    for r, (i, l) in enumerate(items):
        ids[r, : len(i)] = torch.tensor(i)
        lab[r, : len(l)] = torch.tensor(l)
        att[r, : len(i)] = 1
    return ids, lab, att


def main():
    directory, name = os.path.split(os.path.abspath(args.model))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    model.train()
    with open(args.data) as f:
        train = [encode(tok, json.loads(l)["messages"]) for l in f if l.strip()]
    order = list(range(len(train)))
    random.Random(0).shuffle(order)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=5e-5)
    bs = args.batch_size
    steps = []
    for s in range(args.warmup_steps + args.steps):
        items = [train[i] for i in order[(s * bs) % len(order):][:bs]]
        ids, lab, att = collate(items, tok.eos_token_id)   # the GGUF tokenizer has no pad token; masked anyway
        t = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=att, labels=lab, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t
        steps.append({"s": dt, "tokens": int(att.sum()), "loss": loss.item()})
        print(f"step {s + 1}: {int(att.sum())} tokens ({ids.numel()} padded) in {dt:.2f} s, loss {loss.item():.4f}", file=sys.stderr, flush=True)
    timed = steps[args.warmup_steps:]
    total = sum(x["s"] for x in timed)
    print(json.dumps({
        "tokens_per_s": round(sum(x["tokens"] for x in timed) / total, 1),
        "seconds_per_step": round(statistics.median(x["s"] for x in timed), 3),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "steps": len(timed), "batch_size": bs, "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in params),
        "loss_first": round(steps[0]["loss"], 4), "loss_last": round(steps[-1]["loss"], 4),
        "torch": torch.__version__, "loadavg": open("/proc/loadavg").read().split()[:3],
    }), flush=True)


if __name__ == "__main__":
    main()
