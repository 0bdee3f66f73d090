"""Do Tailor's adapter exports load in the tools people use, and change the model's answers the way Tailor does?

Trains a small LoRA adapter with `tailor train` (Tests/e2e/data/support.jsonl, the "Beacon" support voice), exports it
in every format, then greedy-decodes the same chat prompts with:
  - Tailor: base, and base + adapter (served unmerged);
  - PEFT: transformers (base dequantised from the same GGUF) + PeftModel.from_pretrained(peft export);
  - transformers on the merged safetensors export (config.json + model.safetensors + tokenizer);
  - llama.cpp (llama-cpp-python): base GGUF + the GGUF LoRA export (lora_path), and the merged GGUF export;
and checks the Ollama Modelfile names the base, the adapter, the template and the stop tokens.
Prints a table and writes Tests/reference/out/export_check.json (not checked in; BENCHMARKS.md quotes it).

Usage: python export_check.py        (run it with the venv from setup_venv.sh; TAILOR_BIN defaults to the release build)
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("TAILOR_BIN", os.path.join(ROOT, ".build", "release", "tailor"))
MODEL = os.environ.get("TAILOR_MODEL", os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
DATA = os.path.join(ROOT, "Tests", "e2e", "data", "support.jsonl")
PROMPTS = [
    "My e-reader screen is frozen. Help?",
    "My headphones won't pair with my phone. Help?",
    "What is the capital of France?",
]
NEW_TOKENS = 40


def run(*args):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True).stdout


def tailor_answers(adapter=None, model=MODEL):
    out = []
    for p in PROMPTS:
        args = ["generate", "--model", model, "--prompt", p, "--chat", "--max-tokens", str(NEW_TOKENS), "--temperature", "0"]
        if adapter:
            args += ["--adapter", adapter]
        out.append(run(*args))
    return out


def common_prefix_words(a, b):
    n = 0
    for x, y in zip(a.split(), b.split()):
        if x != y:
            break
        n += 1
    return n


def main():
    work = tempfile.mkdtemp(prefix="tailor-export-")
    run("train", "--model", MODEL, "--train", DATA, "--epochs", "3", "--batch-size", "4", "--learning-rate", "2e-3",
        "--seed", "7", "--out", os.path.join(work, "run"))
    adapter = os.path.join(work, "run", "adapter")
    paths = {
        "peft": os.path.join(work, "peft"),
        "gguf-lora": os.path.join(work, "adapter.gguf"),
        "merged-gguf": os.path.join(work, "merged.gguf"),
        "merged-safetensors": os.path.join(work, "merged-hf"),
        "ollama": os.path.join(work, "ollama"),
    }
    for fmt, path in paths.items():
        run("export", "--model", MODEL, "--adapter", adapter, "--format", fmt, "--output", path)

    results = {"prompts": PROMPTS}
    results["tailor_base"] = tailor_answers()
    results["tailor_adapter"] = tailor_answers(adapter)
    results["tailor_merged_gguf"] = tailor_answers(model=paths["merged-gguf"])

    # llama.cpp: base + GGUF LoRA, and the merged GGUF.
    from llama_cpp import Llama
    def llama_answers(**kw):
        llm = Llama(n_ctx=1024, n_threads=2, verbose=False, **kw)
        out = []
        for p in PROMPTS:
            r = llm.create_chat_completion(messages=[{"role": "user", "content": p}], max_tokens=NEW_TOKENS,
                                           temperature=0, top_k=1)
            out.append(r["choices"][0]["message"]["content"])
        return out
    results["llamacpp_base"] = llama_answers(model_path=MODEL)
    results["llamacpp_lora"] = llama_answers(model_path=MODEL, lora_path=paths["gguf-lora"])
    results["llamacpp_merged"] = llama_answers(model_path=paths["merged-gguf"])

    # transformers + PEFT on the base dequantised from the same GGUF, and transformers on the merged export.
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL))

    def hf_answers(model):
        out = []
        for p in PROMPTS:
            ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, return_tensors="pt")
            with torch.no_grad():
                gen = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=2, pad_token_id=2)
            out.append(tok.decode(gen[0, ids.shape[1]:], skip_special_tokens=True))
        return out
    base = AutoModelForCausalLM.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL), torch_dtype=torch.float32)
    results["transformers_base"] = hf_answers(base.eval())
    peft_model = PeftModel.from_pretrained(base, paths["peft"]).eval()
    results["peft"] = hf_answers(peft_model)
    merged = AutoModelForCausalLM.from_pretrained(paths["merged-safetensors"], torch_dtype=torch.float32).eval()
    results["transformers_merged"] = hf_answers(merged)

    modelfile = open(os.path.join(paths["ollama"], "Modelfile")).read()
    results["ollama_modelfile_ok"] = all(s in modelfile for s in ("FROM ", "ADAPTER ", "TEMPLATE ", 'PARAMETER stop "<|im_end|>"'))

    reference = results["tailor_adapter"]
    print(f"{'variant':22} " + " | ".join(f"prompt {i + 1} (words equal to Tailor+adapter / answer)" for i in range(len(PROMPTS))))
    summary = {}
    for key in ["tailor_base", "tailor_adapter", "tailor_merged_gguf", "llamacpp_base", "llamacpp_lora", "llamacpp_merged",
                "transformers_base", "peft", "transformers_merged"]:
        agree = [common_prefix_words(a, b) for a, b in zip(results[key], reference)]
        summary[key] = agree
        print(f"{key:22} " + " | ".join(f"{n:3d}/{len(a.split()):3d} {a[:50]!r}" for n, a in zip(agree, results[key])))
    print("ollama Modelfile has FROM, ADAPTER, TEMPLATE and the <|im_end|> stop:", results["ollama_modelfile_ok"])
    results["agreement_words"] = summary
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "export_check.json"), "w") as f:
        json.dump(results, f, indent=1)
    # Each export must change its peer's answers to the support prompts the way Tailor's adapter does (the trained
    # "… here! <steps>" voice): at least 5 leading words equal to Tailor's adapted answer, where every base has 0.
    voice = [key for key in ("tailor_merged_gguf", "llamacpp_lora", "llamacpp_merged", "peft", "transformers_merged")
             if min(summary[key][:2]) < 5]
    assert max(summary["llamacpp_base"][:2] + summary["transformers_base"][:2]) == 0, "a base model already answers like the adapter"
    if voice or not results["ollama_modelfile_ok"]:
        print("FAILED:", voice or "Modelfile")
        sys.exit(1)
    print("all exports load in their peers and speak in the adapter's voice")


if __name__ == "__main__":
    main()
