#!/usr/bin/env python3
"""Full fine-tuning references for Tailor's T5 backward (Tests/TailorEngineTests/Fixtures/t5/full-*/).

For each tiny checkpoint of make_model_fixtures.py (tiny-t5: ReLU, tied head; tiny-flan: gated-GELU, untied head),
trains every parameter of T5ForConditionalGeneration as transformers' Trainer does (AdamW over two groups: the names
Trainer.get_decay_parameter_names picks get weight decay WD, every other parameter none; clip_grad_norm_ at 1;
a constant learning rate LR per model) on the batch of make_training_fixtures.py, and stores in full-<name>/:
  * gradients.safetensors  d(loss)/d(parameter) for that padded batch, under model.named_parameters()'s names
    (a tied head is shared.weight: its gradient holds the encoder's, the decoder's and the head's uses)
  * reference.json  the batch (source ids, label ids), the loss (mean over labels != -100), the decayed names,
    and the loss and pre-clipping gradient norm of each of STEPS AdamW steps (each measured before its step), then
    the loss after the last.
The model's dropout is 0 (the checkpoints' dropout_rate), as Tailor trains without it.

With --check DIR [DIR …], instead loads each DIR (a full checkpoint or model Tailor wrote) with
T5ForConditionalGeneration.from_pretrained and prints its loss on that batch, for comparison with Tailor's.

Usage: ~/.cache/tailor/venv-ref/bin/python Tests/reference/t5/make_full_fixtures.py [--check DIR …]
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import T5ForConditionalGeneration, T5TokenizerFast, Trainer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "t5")
STEPS, WD, MAX_NORM = 5, 0.01, 1.0
# Adam moves every weight by about lr whatever its gradient; tiny-t5's sharp loss (initializer_factor 4, ReLU units
# that f32 rounding flips at their kink) takes a smaller rate so that gradients at rounding level, which Adam scales
# up to a full step, do not decide the comparison.
LR = {"tiny-t5": 1e-4, "tiny-flan": 3e-3}

PAIRS = [
    ("summarize: Tailor trains LoRA adapters on a base model and serves completions with streaming.",
     "Tailor trains and serves adapters."),
    ("translate English to German: The house is wonderful.", "Das Haus ist wunderbar."),
    ("Hello world", "Bonjour le monde, hello again!"),
]


def make_batch():
    tokenizer = T5TokenizerFast.from_pretrained(os.path.join(OUT, "unigram"))
    sources = [tokenizer(s).input_ids for s, _ in PAIRS]
    targets = [tokenizer(t).input_ids for _, t in PAIRS]
    enc = tokenizer([s for s, _ in PAIRS], return_tensors="pt", padding=True)
    width = max(len(t) for t in targets)
    labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
    return sources, targets, {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask, "labels": labels}


def batch_loss(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


def check(directories):
    _, _, batch = make_batch()
    for d in directories:
        model = T5ForConditionalGeneration.from_pretrained(d)
        model.eval()
        with torch.no_grad():
            print(f"{d}: transformers loss {batch_loss(model, batch).item():.6f}")


def main():
    sources, targets, batch = make_batch()
    for name in ["tiny-t5", "tiny-flan"]:
        model = T5ForConditionalGeneration.from_pretrained(os.path.join(OUT, name))
        model.train()
        params = dict(model.named_parameters())
        # Trainer's own grouping; it names tied aliases (encoder/decoder embed_tokens, a tied lm_head) too, which
        # named_parameters() lists once, as shared.weight.
        decayed = [n for n in Trainer.get_decay_parameter_names(None, model) if n in params]
        loss = batch_loss(model, batch)
        loss.backward()
        directory = os.path.join(OUT, f"full-{name}")
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        save_file({n: p.grad.detach().contiguous() for n, p in params.items()},
                  os.path.join(directory, "gradients.safetensors"))
        model.zero_grad()

        groups = [{"params": [p for n, p in params.items() if n in decayed], "weight_decay": WD},
                  {"params": [p for n, p in params.items() if n not in decayed], "weight_decay": 0.0}]
        optimizer = torch.optim.AdamW(groups, lr=LR[name], betas=(0.9, 0.999), eps=1e-8)
        losses, norms = [], []
        for _ in range(STEPS):
            optimizer.zero_grad()
            step_loss = batch_loss(model, batch)
            step_loss.backward()
            norms.append(torch.nn.utils.clip_grad_norm_(list(params.values()), MAX_NORM).item())
            optimizer.step()
            losses.append(step_loss.item())
        with torch.no_grad():
            losses.append(batch_loss(model, batch).item())

        with open(os.path.join(directory, "reference.json"), "w") as f:
            json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                       "learning_rate": LR[name], "weight_decay": WD, "max_grad_norm": MAX_NORM,
                       "parameters": list(params), "decayed": sorted(decayed),
                       "sources": sources, "targets": targets, "loss": loss.item(),
                       "step_losses": losses, "step_grad_norms": norms}, f, indent=1)
            f.write("\n")
        print(f"{name}: {len(params)} tensors, loss {loss.item():.6f}, steps {[round(x, 5) for x in losses]}, "
              f"norms {[round(x, 3) for x in norms]}")
        print(f"  not decayed: {sorted(set(params) - set(decayed))}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        check(sys.argv[2:])
    else:
        main()
