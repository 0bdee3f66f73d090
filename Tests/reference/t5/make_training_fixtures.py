#!/usr/bin/env python3
"""PEFT LoRA training references for Tailor's T5 backward (Tests/TailorEngineTests/Fixtures/t5/lora-*/).

For each tiny checkpoint of make_model_fixtures.py (tiny-t5: ReLU, tied head; tiny-flan: gated-GELU, untied head),
wraps T5ForConditionalGeneration with PEFT LoRA as Tailor adapts it (r 4, alpha 8, no dropout, every attention
projection q/k/v/o of self- and cross-attention and every feed-forward projection wi or wi_0/wi_1, wo), draws A and
B away from PEFT's B = 0 start (so that every gradient is non-zero), and stores in lora-<name>/:
  * adapter_config.json, adapter_model.safetensors  the starting adapter, as PEFT saves it
  * gradients.safetensors  d(loss)/d(lora_A, lora_B) for one padded batch, under PEFT's saved key names
  * reference.json  the batch (source ids, label ids: the tokenizer's, EOS included), the loss (transformers' mean
    over labels != -100), and the losses of STEPS AdamW steps on that batch from the starting adapter (torch AdamW with
    Tailor's defaults: betas 0.9/0.999, eps 1e-8, no weight decay; global-norm clipping at 1; constant lr LR per model), each
    loss measured before its step, then the loss after the last.
The model's dropout is 0 (the checkpoints' dropout_rate), as Tailor trains without it.

Usage: ~/.cache/tailor/venv-ref/bin/python Tests/reference/t5/make_training_fixtures.py
"""
import json
import os
import shutil

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from transformers import T5ForConditionalGeneration, T5TokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "t5")
RANK, ALPHA, STEPS = 4, 8, 4
# tiny-t5's logits are large (initializer_factor 4) and its gradient norm is in the hundreds: Adam moves every
# weight by about lr whatever its gradient's size, so a gradient at rounding level (its sign decided by f32 order of
# summation) still moves by lr; a smaller rate keeps that chaos below the tolerance over four steps.
LR = {"tiny-t5": 2e-3, "tiny-flan": 1e-2}

PAIRS = [
    ("summarize: Tailor trains LoRA adapters on a base model and serves completions with streaming.",
     "Tailor trains and serves adapters."),
    ("translate English to German: The house is wonderful.", "Das Haus ist wunderbar."),
    ("Hello world", "Bonjour le monde, hello again!"),
]

TARGETS = {"tiny-t5": ["q", "k", "v", "o", "wi", "wo"], "tiny-flan": ["q", "k", "v", "o", "wi_0", "wi_1", "wo"]}


def batch_loss(model, batch):
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


def main():
    tokenizer = T5TokenizerFast.from_pretrained(os.path.join(OUT, "unigram"))
    sources = [tokenizer(s).input_ids for s, _ in PAIRS]
    targets = [tokenizer(t).input_ids for _, t in PAIRS]
    enc = tokenizer([s for s, _ in PAIRS], return_tensors="pt", padding=True)
    width = max(len(t) for t in targets)
    labels = torch.tensor([t + [-100] * (width - len(t)) for t in targets])
    batch = {"input_ids": enc.input_ids, "attention_mask": enc.attention_mask, "labels": labels}
    for name, modules in TARGETS.items():
        torch.manual_seed(7)
        base = T5ForConditionalGeneration.from_pretrained(os.path.join(OUT, name))
        config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=modules, task_type="SEQ_2_SEQ_LM")
        model = get_peft_model(base, config)
        model.train()
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        with torch.no_grad():
            for n, p in params.items():
                p.normal_(0.0, 0.2 if "lora_A" in n else 0.05)
        directory = os.path.join(OUT, f"lora-{name}")
        shutil.rmtree(directory, ignore_errors=True)
        model.save_pretrained(directory)
        os.remove(os.path.join(directory, "README.md"))  # PEFT's model card template, nothing the tests read
        with open(os.path.join(directory, "adapter_config.json")) as f:
            adapter_config = json.load(f)
        adapter_config["base_model_name_or_path"] = name  # not this machine's path
        with open(os.path.join(directory, "adapter_config.json"), "w") as f:
            json.dump(adapter_config, f, indent=2, sort_keys=True)
            f.write("\n")
        loss = batch_loss(model, batch)
        loss.backward()
        # The saved names drop the adapter name: "...q.lora_A.default.weight" → "...q.lora_A.weight".
        save_file({n.replace(".default", ""): p.grad.detach().contiguous() for n, p in params.items()},
                  os.path.join(directory, "gradients.safetensors"))
        model.zero_grad()

        optimizer = torch.optim.AdamW(list(params.values()), lr=LR[name], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        losses = []
        for _ in range(STEPS):
            optimizer.zero_grad()
            step_loss = batch_loss(model, batch)
            step_loss.backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
            optimizer.step()
            losses.append(step_loss.item())
        with torch.no_grad():
            losses.append(batch_loss(model, batch).item())

        # The saved adapter reloads through PEFT onto a fresh base to the same loss (the files are what PEFT reads).
        reloaded = PeftModel.from_pretrained(T5ForConditionalGeneration.from_pretrained(os.path.join(OUT, name)), directory)
        with torch.no_grad():
            again = batch_loss(reloaded, batch).item()
        assert abs(again - loss.item()) < 1e-5, (again, loss.item())

        with open(os.path.join(directory, "reference.json"), "w") as f:
            json.dump({"transformers": transformers.__version__, "peft": peft.__version__, "torch": torch.__version__,
                       "rank": RANK, "alpha": ALPHA, "lr": LR[name], "target_modules": modules,
                       "sources": sources, "targets": targets, "loss": loss.item(), "step_losses": losses}, f, indent=1)
            f.write("\n")
        print(f"{name}: loss {loss.item():.6f}, steps {[round(x, 5) for x in losses]}")


if __name__ == "__main__":
    main()
