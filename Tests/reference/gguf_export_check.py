"""Does llama.cpp read Tailor's GGUF exports of models whose base is a Hugging Face directory as the same model?

For each tiny Hugging Face decoder in the Swift fixtures (Qwen 3, Llama — whose q/k rows the GGUF layout permutes —
and Qwen 2, with q/k/v biases), a seeded random PEFT LoRA adapter (every projection, r 4) is saved, Tailor exports
base + adapter with `tailor export --format merged-gguf` (metadata, tokenizer and chat template written by Tailor,
no convert_hf_to_gguf.py), and llama.cpp (llama-cpp-python, f32 KV cache) must
  - tokenize each prompt as the directory's tokenizer does (transformers' AutoTokenizer), and
  - give transformers + PEFT's logits at every prompt position within TOLERANCE;
the base model's logits (no adapter), which lie further away, show the comparison can fail. Prints one line per
model and exits non-zero on a mismatch.

Usage: python gguf_export_check.py   (the venv from setup_venv.sh; TAILOR_BIN defaults to the release build)
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from llama_cpp import Llama
from transformers import AutoModelForCausalLM, AutoTokenizer

from tiny_families import random_peft

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("TAILOR_BIN", os.path.join(ROOT, ".build", "release", "tailor"))
FIXTURES = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures")
MODELS = {"qwen3": "tiny_qwen3/hf", "llama": "tiny_full/llama", "qwen2": "tiny_full/qwen2"}
PROMPTS = ["Hello world! 1234", "The quick brown fox jumps over the lazy dog.", "naïve café, 3.14 — ok?"]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TOLERANCE = 2e-3


def main():
    failed = False
    for name, rel in MODELS.items():
        base_dir = os.path.join(FIXTURES, rel)
        with tempfile.TemporaryDirectory(prefix="tailor-gguf-check-") as tmp:
            tok = AutoTokenizer.from_pretrained(base_dir)
            base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32).eval()
            base_logits = [base(torch.tensor([tok.encode(p)])).logits[0].detach().numpy() for p in PROMPTS]
            peft_model = random_peft(base, rank=4, alpha=8, targets=TARGETS, seed=5)
            adapter = os.path.join(tmp, "adapter")
            peft_model.save_pretrained(adapter)
            peft_model.eval()
            want = [peft_model(torch.tensor([tok.encode(p)])).logits[0].detach().numpy() for p in PROMPTS]
            gguf = os.path.join(tmp, "merged.gguf")
            subprocess.run([BIN, "export", "--model", base_dir, "--adapter", adapter, "--format", "merged-gguf",
                            "--output", gguf], check=True, stderr=subprocess.DEVNULL)
            llm = Llama(model_path=gguf, n_ctx=64, n_threads=2, n_batch=64, logits_all=True, verbose=False,
                        type_k=0, type_v=0, flash_attn=False)
            worst, moved, same_tokens = 0.0, 0.0, True
            for p, w, b in zip(PROMPTS, want, base_logits):
                ids = tok.encode(p)
                same_tokens &= llm.tokenize(p.encode(), add_bos=tok.bos_token_id is not None and getattr(tok, "add_bos_token", False), special=True) == ids
                llm.reset()
                llm.eval(ids)
                got = np.array([llm.scores[i] for i in range(len(ids))], dtype=np.float64)
                worst = max(worst, float(np.abs(got - w).max()))
                moved = max(moved, float(np.abs(b - w).max()))
            del llm
            ok = same_tokens and worst <= TOLERANCE and moved > 10 * worst
            failed |= not ok
            print(f"{name:6s} tokens {'same' if same_tokens else 'DIFFER'}; llama.cpp vs transformers+PEFT max |Δ logit| "
                  f"{worst:.2e} (the adapter moves them by {moved:.2e}) {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
