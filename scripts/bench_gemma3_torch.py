#!/usr/bin/env python3
"""The PyTorch + transformers + PEFT peer of `tailor bench train` on Gemma 3 270M (issue #15): the loop of
Tests/reference/bench_peft_train.py (the GGUF dequantised to fp32 by transformers, LoRA r=8 / alpha 16 / dropout 0 on
all seven projections, AdamW, batches of BATCH right-padded examples, loss on the assistant turns, 2 threads), with
the chat rendered by Gemma's turn format exactly as Tailor renders it for Gemma files that ship no template
(LanguageModel.gemmaTemplate: the system message opens the first user turn). Needs transformers >= 5 to read a
gemma3 GGUF (~/.cache/tailor/venv-dpo/bin/python). Tokens counted: the real (unpadded) tokens of each batch.
Steps after WARMUP are timed. Prints one JSON line: tokens/s, seconds per step, peak RSS.
    python scripts/bench_gemma3_torch.py MODEL.gguf DATA.jsonl [--steps 3] [--warmup-steps 1] [--batch-size 4]"""
import argparse, json, os, resource, statistics, time

import torch

GEMMA_TURNS = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set first_user_prefix = messages[0]['content'] + '\n\n' %}"
    "{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}{% else %}"
    "{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '')"
    "+ message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}"
    "{% endif %}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("data")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup-steps", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer
    import transformers
    load = [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    d, f = os.path.dirname(os.path.abspath(a.model)), os.path.basename(a.model)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    tok.chat_template = GEMMA_TURNS
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    torch.manual_seed(0)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def encode(messages):
        ids, labels = [], []
        for i in range(len(messages)):
            before = tok.apply_chat_template(messages[:i], tokenize=False) if i else ""
            upto = tok.apply_chat_template(messages[: i + 1], tokenize=False)
            part = tok(upto[len(before):], add_special_tokens=False)["input_ids"]
            ids += part
            labels += part if messages[i]["role"] == "assistant" else [-100] * len(part)
        return ids, labels

    examples = [encode(json.loads(line)["messages"]) for line in open(a.data) if line.strip()]
    times, tokens = [], []
    for step in range(a.warmup_steps + a.steps):
        batch = [examples[(step * a.batch_size + i) % len(examples)] for i in range(a.batch_size)]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.tensor([x + [tok.pad_token_id] * (width - len(x)) for x, _ in batch])
        labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in batch])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in batch])
        t = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        dt = time.perf_counter() - t
        print(f"step {step + 1}: {int(mask.sum())} tokens in {dt:.2f} s, loss {loss.item():.4f}", flush=True,
              file=__import__("sys").stderr)
        if step >= a.warmup_steps:
            times.append(dt)
            tokens.append(int(mask.sum()))
    print(json.dumps({"side": "pytorch", "model": f, "tokens_per_s": round(sum(tokens) / sum(times), 1),
                      "seconds_per_step": round(statistics.median(times), 3), "timed_tokens": sum(tokens),
                      "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                      "steps": a.steps, "warmup_steps": a.warmup_steps, "batch_size": a.batch_size,
                      "threads": torch.get_num_threads(), "loadavg_start": load,
                      "torch": torch.__version__, "transformers": transformers.__version__}), flush=True)


if __name__ == "__main__":
    main()
