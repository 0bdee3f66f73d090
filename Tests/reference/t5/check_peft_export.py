#!/usr/bin/env python3
"""Loads an adapter that `tailor train` wrote for a T5 model into PEFT and prints the mean loss per target token on a
JSONL file (the fields given), to compare with Tailor's "validation loss after". A by-hand check, not a fixture maker.

Usage: ~/.cache/tailor/venv-ref/bin/python Tests/reference/t5/check_peft_export.py MODEL_DIR ADAPTER_DIR DATA.jsonl \\
       [INPUT_FIELD TARGET_FIELD]
"""
import json
import sys

import torch
from peft import PeftModel
from transformers import AutoTokenizer, T5ForConditionalGeneration


def main():
    model_dir, adapter_dir, data = sys.argv[1:4]
    input_field, target_field = (sys.argv[4:6] + ["prompt", "completion"][len(sys.argv[4:6]):])[:2]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = PeftModel.from_pretrained(T5ForConditionalGeneration.from_pretrained(model_dir), adapter_dir).eval()
    total, tokens = 0.0, 0
    with open(data) as f:
        for line in f:
            record = json.loads(line)
            source = tokenizer(record[input_field], return_tensors="pt").input_ids
            labels = tokenizer(record[target_field], return_tensors="pt").input_ids
            with torch.no_grad():
                loss = model(input_ids=source, labels=labels).loss.item()
            total += loss * labels.shape[1]
            tokens += labels.shape[1]
    print(f"PEFT loss per target token: {total / tokens:.4f} over {tokens} tokens")


if __name__ == "__main__":
    main()
