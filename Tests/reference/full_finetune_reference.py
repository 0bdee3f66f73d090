"""Full fine-tuning references: every weight's gradient and a few AdamW steps, from transformers, on tiny random models.

For Llama (tied head, as SmolLM2), Qwen 2 (q/k/v biases, untied head), Qwen 3 (q/k norms) and Gemma 3 (scaled
embeddings, post-norms, sliding windows, tied head) writes Tests/TailorEngineTests/Fixtures/tiny_full/<family>.json:
  - the training batch (the same two examples as tiny_families.py: loss on the completion tokens),
  - first_loss and the gradient of every parameter (mean cross-entropy over the completion tokens; a tied head's
    gradient is the embedding's, summed by autograd),
  - the losses of 5 steps of torch.optim.AdamW (betas 0.9/0.999, eps 1e-8, constant lr) with weight_decay=0.01 on the
    matrices and none on biases and norm weights (transformers' Trainer grouping), the global gradient norm clipped
    to 1.0 before each step (Trainer's max_grad_norm).
Qwen 3 and Gemma 3 reuse the checkpoints of tiny_families.py (Fixtures/tiny_<family>/hf); Llama and Qwen 2 are made
here and saved to Fixtures/tiny_full/<family>/ (same tokenizer, f32).

Usage: python full_finetune_reference.py   (the venv from setup_venv.sh; run tiny_families.py first)
"""
import json, os, shutil, sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tiny_families import EXAMPLES, FIXTURES, randomize, tokenizer  # noqa: E402

OUT = os.path.join(FIXTURES, "tiny_full")
LR, STEPS, WEIGHT_DECAY, MAX_GRAD_NORM = 1e-3, 5, 0.01, 1.0
FORBIDDEN = ("bias", "layernorm", "rmsnorm", "norm")   # Trainer.get_decay_parameter_names, for these models' names


def build(family, vocab):
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config
    common = dict(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-6, bos_token_id=None,
                  eos_token_id=2, pad_token_id=0)
    if family == "llama":
        config = LlamaConfig(**common, rope_theta=1e4, tie_word_embeddings=True, attention_bias=False, mlp_bias=False)
    else:
        config = Qwen2Config(**common, rope_theta=1e6, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    randomize(model, family, seed=4 if family == "llama" else 5)
    if family == "qwen2":   # biases are 1-D: randomize() set them near 1; make them small and signed
        g = torch.Generator().manual_seed(6)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if name.endswith("bias"):
                    p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return model


def load(family):
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast
    if family in ("qwen3", "gemma3"):
        hf = os.path.join(FIXTURES, f"tiny_{family}", "hf")
        fast = PreTrainedTokenizerFast.from_pretrained(hf)
        model = AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32, attn_implementation="eager")
        return model, fast, f"tiny_{family}/hf"
    hf = os.path.join(OUT, family)
    shutil.rmtree(hf, ignore_errors=True)
    os.makedirs(hf)
    fast, _ = tokenizer(hf)
    model = build(family, len(fast))
    model.save_pretrained(hf, safe_serialization=True)
    fast.save_pretrained(hf)
    return model, fast, f"tiny_full/{family}"


def reference(family):
    model, fast, path = load(family)
    model.train()   # no dropout in these configs; train() as Trainer runs it
    examples = [{"prompt": fast.encode(p), "completion": fast.encode(c)} for p, c in EXAMPLES]

    def loss_fn():
        total, count = 0.0, 0
        for e in examples:
            ids = torch.tensor([e["prompt"] + e["completion"]])
            logits = model(ids).logits[0]
            n = len(e["prompt"])
            total = total + torch.nn.functional.cross_entropy(logits[n - 1:-1], ids[0, n:], reduction="sum")
            count += len(e["completion"])
        return total / count

    named = list(model.named_parameters())   # a tied head appears once, as the embedding
    loss = loss_fn()
    loss.backward()
    grads = {n: [float("%.7g" % x) for x in p.grad.detach().flatten().tolist()] for n, p in named}
    decay = [p for n, p in named if not any(f in n for f in FORBIDDEN)]
    no_decay = [p for n, p in named if any(f in n for f in FORBIDDEN)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.999), eps=1e-8)
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad()
        l = loss_fn()
        losses.append(float(l.detach()))
        l.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)))
        opt.step()
    import transformers
    return {"family": family, "model": path, "examples": examples, "first_loss": float(loss), "grads": grads,
            "decayed": [n for n, p in named if not any(f in n for f in FORBIDDEN)],
            "learning_rate": LR, "weight_decay": WEIGHT_DECAY, "max_grad_norm": MAX_GRAD_NORM,
            "step_losses": losses, "step_grad_norms": norms,
            "generator": f"Tests/reference/full_finetune_reference.py; transformers {transformers.__version__}, "
                         f"torch {torch.__version__}"}


def main():
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    for family in ("llama", "qwen2", "qwen3", "gemma3"):
        ref = reference(family)
        with open(os.path.join(OUT, f"{family}.json"), "w") as f:
            json.dump(ref, f)
        print("wrote", family, "first loss", ref["first_loss"], "steps", ref["step_losses"])


if __name__ == "__main__":
    main()
