"""The PyTorch side of `tailor bench train`: a plain LoRA training loop with transformers + peft on CPU, fp32, on the
same model (dequantised from the same GGUF), the same data (chat template, loss on assistant tokens), r=8 on all
seven projections, batch size 4, AdamW. Prints one JSON object: tokens/s through the forward pass, seconds per step,
peak RSS.

Usage: python bench_peft_train.py MODEL.gguf DATA.jsonl [--steps 12] [--warmup-steps 2] [--batch-size 4] [--threads 2]
"""
import argparse, json, os, resource, statistics, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer


def encode(tok, messages):
    """Token ids and labels with loss on the assistant turns and their end-of-turn token, as Tailor trains."""
    ids, labels = [], []
    for i in range(len(messages)):
        prefix = tok.apply_chat_template(messages[:i], tokenize=True) if i else []
        upto = tok.apply_chat_template(messages[: i + 1], tokenize=True)
        part = upto[len(prefix):]
        ids += part
        labels += part if messages[i]["role"] == "assistant" else [-100] * len(part)
    return ids, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup-steps", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, f = os.path.dirname(os.path.abspath(a.model)), os.path.basename(a.model)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    examples = [encode(tok, json.loads(line)["messages"]) for line in open(a.data) if line.strip()]
    times, tokens = [], []
    for step in range(a.warmup_steps + a.steps):
        batch = [examples[(step * a.batch_size + i) % len(examples)] for i in range(a.batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([x + [tok.eos_token_id] * (width - len(x)) for x, _ in batch])
        labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
        t = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        if step >= a.warmup_steps:
            times.append(time.perf_counter() - t)
            tokens.append(sum(len(x) for x, _ in batch))   # real tokens, not padding
    print(json.dumps({"tokens_per_s": round(sum(tokens) / sum(times), 1),
                      "seconds_per_step": round(statistics.median(times), 3),
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "steps": a.steps, "batch_size": a.batch_size, "threads": a.threads,
                      "torch": torch.__version__}, sort_keys=True))


if __name__ == "__main__":
    main()
