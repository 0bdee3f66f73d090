"""The TRL side of `tailor bench dpo`: TRL's DPOTrainer on CPU, f32, on the same model (dequantised from the same GGUF),
the same preference pairs, LoRA r=8 on all seven projections, 4 pairs per step, beta 0.1, the reference by
disabling the adapter (TRL's default for a new adapter, computed every step). Prints one JSON object: tokens/s (the
tokens of both answers' sequences, padding excluded, as Tailor counts them), seconds per step, peak RSS.

Usage: python bench_trl_dpo.py MODEL.gguf PAIRS.jsonl [--steps 12] [--warmup-steps 2] [--batch-size 4] [--threads 2]
(venv: pip install -r requirements-dpo.txt)
"""
import argparse, json, os, resource, statistics, tempfile, time

import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import TrainerCallback
from trl import DPOConfig, DPOTrainer

from gguf_torch import load


class Clock(TrainerCallback):
    def __init__(self):
        self.seconds, self.started = [], None

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds.append(time.perf_counter() - self.started)


class Counting(DPOTrainer):
    """Counts the real (unpadded) tokens of each step's sequences."""

    tokens = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self.tokens.append(int(inputs["attention_mask"].sum()))
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)


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
    tok, model = load(a.model)
    rows = []
    with open(a.data) as f:
        for line in f:
            o = json.loads(line)
            rows.append({"prompt": o["input"]["messages"], "chosen": o["preferred_output"], "rejected": o["non_preferred_output"]})
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        config = DPOConfig(output_dir=tmp, per_device_train_batch_size=a.batch_size, learning_rate=2e-4, beta=0.1,
                           max_steps=a.warmup_steps + a.steps, lr_scheduler_type="constant", logging_strategy="no", disable_tqdm=True, report_to=[],
                           use_cpu=True, bf16=False, fp16=False, save_strategy="no", max_length=None,
                           dataloader_num_workers=0, seed=0)
        trainer = Counting(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
                           peft_config=lora, callbacks=[clock])
        trainer.train()
    seconds = clock.seconds[a.warmup_steps:]
    tokens = Counting.tokens[a.warmup_steps:a.warmup_steps + len(seconds)]
    print(json.dumps({
        "tokens_per_s": round(sum(tokens) / sum(seconds), 1),
        "seconds_per_step": round(statistics.median(seconds), 3),
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "steps": len(seconds), "batch_pairs": a.batch_size, "threads": a.threads,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
