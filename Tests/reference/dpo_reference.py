"""Reference DPO steps for Tailor's preference training: TRL's own DPOTrainer on the default model.

Loads the default GGUF (SmolLM2-135M-Instruct Q4_1) through transformers (dequantised to f32, the weights Tailor
trains on), tokenizes a few conversational preference pairs with TRL's own preprocessing, and runs DPOTrainer with
a rank-2 LoRA on q and v for a few steps in two settings:
  - "fresh":     a new adapter (B = 0); the reference is the base model (adapters disabled).
  - "continued": an existing adapter (B ≠ 0); TRL trains it against a frozen copy of itself.
For each it writes the initial adapter (PEFT files) and, per step, the pairs in the batch, TRL's logged loss and
rewards, and the gradients before the optimizer step (norm per tensor and a few entries). Output:
Tests/TailorEngineTests/Fixtures/dpo_reference/{fixture.json, fresh/, continued/}.

Usage: python dpo_reference.py [model.gguf]   (venv: pip install -r requirements-dpo.txt)
"""
import json, os, shutil, sys, tempfile

import torch
from datasets import Dataset
from peft import LoraConfig, get_peft_model
from torch.utils.data import SequentialSampler
from transformers import AutoModelForCausalLM, TrainerCallback
from trl import DPOConfig, DPOTrainer

from gguf_torch import load as load_gguf

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "dpo_reference")
STEPS, BATCH, BETA, LR = 4, 2, 0.1, 5e-3
ENTRIES = 6   # gradient entries kept per tensor

SYSTEM = "You are the support assistant of GadgetGurus, a shop for phones, laptops and accessories."
# (question, preferred: the shop's support voice, non-preferred: a generic answer)
PAIRS = [
    ("How long is the warranty on a laptop?",
     "Every laptop from GadgetGurus comes with a two-year warranty; keep your receipt and we handle the repair.",
     "Warranty periods vary by manufacturer."),
    ("Can I return headphones I have opened?",
     "Yes! Opened headphones can be returned within 30 days at any GadgetGurus store, in their original box.",
     "Return policies depend on the store."),
    ("Do you repair cracked phone screens?",
     "We do: bring the phone to a GadgetGurus service desk and most screens are replaced the same day.",
     "Screen repair is offered by many shops."),
    ("Is there a student discount?",
     "Students get 10% off at GadgetGurus with a valid student card, online and in store.",
     "Some shops offer student discounts."),
    ("How do I track my order?",
     "Open 'My orders' on gadgetgurus.example and click your order number to see where your parcel is.",
     "You can usually track orders online."),
    ("What chargers work with my tablet?",
     "Tell me your tablet's model and I'll list the GadgetGurus chargers that fit it, with their wattage.",
     "Use a compatible charger."),
    ("Do you price match?",
     "GadgetGurus matches the price of any major retailer for the same item in stock; show us the offer at checkout.",
     "Price matching depends on the retailer."),
    ("Can I pay in instalments?",
     "Yes, GadgetGurus offers 3, 6 or 12 monthly instalments at 0% on purchases over 200 euros.",
     "Payment options vary."),
]


class Sequential(DPOTrainer):
    """The pairs in file order (the Swift test replays the same batches)."""

    def _get_train_sampler(self, *args, **kwargs):
        return SequentialSampler(self.train_dataset)


class Recorder(TrainerCallback):
    def __init__(self, names):
        self.names, self.steps = names, []

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        grads = {}
        for name, p in model.named_parameters():
            if ".default." in name and p.grad is not None:
                g = p.grad.detach().double().flatten()
                grads[self.names(name)] = {"norm": float(g.norm()), "first": [float(x) for x in g[:ENTRIES]]}
        self.steps.append({"grads": grads})


def tailor_name(name):
    # base_model.model.model.layers.3.self_attn.q_proj.lora_A.default.weight -> model.layers.3.self_attn.q_proj.lora_A
    core = name.split("base_model.model.", 1)[1]
    return core.replace(".default.weight", "")


def run(setting, tok, base_config, base_state):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(base_config, dtype=torch.float32)
    model.load_state_dict(base_state)
    lora = LoraConfig(r=2, lora_alpha=4, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    if setting == "continued":
        g = torch.Generator().manual_seed(1)
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.data = torch.randn(p.shape, generator=g) * 0.02
    initial = os.path.join(OUT, setting)
    shutil.rmtree(initial, ignore_errors=True)
    model.save_pretrained(initial)
    os.remove(os.path.join(initial, "README.md"))   # PEFT's model-card template, nothing the test reads

    rows = [{"prompt": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
             "chosen": [{"role": "assistant", "content": good}],
             "rejected": [{"role": "assistant", "content": bad}]} for q, good, bad in PAIRS]
    with tempfile.TemporaryDirectory() as tmp:
        config = DPOConfig(output_dir=tmp, per_device_train_batch_size=BATCH, gradient_accumulation_steps=1,
                           learning_rate=LR, lr_scheduler_type="constant", warmup_steps=0, max_steps=STEPS,
                           beta=BETA, max_grad_norm=1e9, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.999,
                           adam_epsilon=1e-8, optim="adamw_torch", logging_steps=1, report_to=[], seed=0,
                           max_length=None, disable_dropout=True, use_cpu=True, save_strategy="no",
                           bf16=False, fp16=False,   # TRL turns bf16 autocast on by default; Tailor trains in f32
                           dataloader_drop_last=False)
        recorder = Recorder(tailor_name)
        trainer = Sequential(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
                             callbacks=[recorder])
        data = trainer.train_dataset
        pairs = [{"prompt": list(r["prompt_ids"]), "chosen": list(r["chosen_ids"]), "rejected": list(r["rejected_ids"])}
                 for r in data]
        assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
        trainer.train()
    logs = [h for h in trainer.state.log_history if "loss" in h and "step" in h]
    assert len(logs) == STEPS and len(recorder.steps) == STEPS, (logs, len(recorder.steps))
    steps = []
    for i, (log, rec) in enumerate(zip(logs, recorder.steps)):
        steps.append({"pairs": list(range(i * BATCH, (i + 1) * BATCH)), "loss": log["loss"],
                      "chosen_reward": log["rewards/chosen"], "rejected_reward": log["rewards/rejected"],
                      "accuracy": log["rewards/accuracies"], "margin": log["rewards/margins"],
                      "grad_norm": log.get("grad_norm"), "grads": rec["grads"]})
    return {"pairs": pairs, "steps": steps}


def main():
    torch.set_num_threads(2)
    tok, model = load_gguf(MODEL)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    os.makedirs(OUT, exist_ok=True)
    import peft, transformers, trl
    fixture = {"model": os.path.basename(MODEL),
               "generator": f"trl {trl.__version__}, peft {peft.__version__}, transformers {transformers.__version__}, "
                            f"torch {torch.__version__}",
               "beta": BETA, "learning_rate": LR, "batch_pairs": BATCH, "rank": 2, "alpha": 4, "targets": ["q", "v"],
               "settings": {s: run(s, tok, model.config, base_state) for s in ("fresh", "continued")}}
    with open(os.path.join(OUT, "fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
