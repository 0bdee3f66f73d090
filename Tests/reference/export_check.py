"""Do Tailor's exports load in the tools people use, and give the model Tailor trained?

Part 1 (`lora`): adapters.

Trains a small LoRA adapter with `tailor train` (Tests/e2e/data/support.jsonl, the "Beacon" support voice), exports it
in every format, then greedy-decodes the same chat prompts with:
  - Tailor: base, and base + adapter (served unmerged);
  - PEFT: transformers (base dequantised from the same GGUF) + PeftModel.from_pretrained(peft export);
  - transformers on the merged safetensors export (config.json + model.safetensors + tokenizer);
  - llama.cpp (llama-cpp-python): base GGUF + the GGUF LoRA export (lora_path), and the merged GGUF export;
and checks the Ollama Modelfile names the base, the adapter, the template and the stop tokens.
Prints a table and writes Tests/reference/out/export_check.json (not checked in; BENCHMARKS.md quotes it).

Part 2 (`full`): a fully fine-tuned model. `tailor train --training-type full` (3 AdamW steps on the same data), then
`tailor export --format safetensors | gguf | gguf --half | ollama` of its model directory, and gguf-lora refused.
For each support prompt (chat template applied) Tailor writes its token ids and next-token logits of the trained
weights (`tailor generate --adapter MODEL_DIR --logits-out`, f32 activations); transformers (AutoTokenizer +
AutoModelForCausalLM on the safetensors directory, fp32) and llama.cpp (llama-cpp-python on the F32 and F16 GGUFs,
f32 KV cache) must tokenize the prompt to the same ids and give the same logits within the tolerances below; the base
model's logits, which lie far further away, show the comparison can fail. Writes Tests/reference/out/export_check_full.json.

Usage: python export_check.py [lora|full]   (both by default; the venv from setup_venv.sh; TAILOR_BIN defaults to the release build)
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
    parts = sys.argv[1:] or ["lora", "full"]
    if "lora" in parts:
        lora_check()
    if "full" in parts:
        full_check()


def lora_check():
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


# Tolerances on next-token logits (|Δ| over the whole vocabulary; SmolLM2's logits reach about 30). transformers runs
# the same f32 weights in f32 (Tailor matched it within 4e-5 on the base model); llama.cpp multiplies F32 weights in
# f32 (the f32 KV cache asked for) but sums in its own order; F16 weights round every matrix to 11 bits. Both f32
# peers measured ≤ 6e-5 (BENCHMARKS.md), F16 ≤ 0.25.
TOLERANCE = {"transformers": 1e-3, "llamacpp_f32": 1e-3, "llamacpp_f16": 0.5}


def full_check():
    work = tempfile.mkdtemp(prefix="tailor-full-export-")
    run("train", "--model", MODEL, "--train", DATA, "--training-type", "full", "--epochs", "1", "--batch-size", "4",
        "--learning-rate", "1e-4", "--seed", "7", "--out", os.path.join(work, "run"))
    trained = os.path.join(work, "run", "model")
    paths = {"safetensors": os.path.join(work, "full-hf"), "gguf": os.path.join(work, "full.gguf"),
             "gguf-f16": os.path.join(work, "full-f16.gguf"), "ollama": os.path.join(work, "ollama")}
    for fmt, path in paths.items():
        half = ["--half"] if fmt == "gguf-f16" else []
        run("export", "--model", MODEL, "--adapter", trained, "--format", fmt.split("-")[0], "--output", path, *half)
    refused = subprocess.run([BIN, "export", "--model", MODEL, "--adapter", trained, "--format", "gguf-lora", "--output",
                              os.path.join(work, "x.gguf")], capture_output=True, text=True)
    assert refused.returncode != 0 and "fully fine-tuned model" in refused.stderr, refused.stderr
    assert sorted(os.listdir(paths["safetensors"])) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]

    def tailor_logits(model, adapter=None):
        out = []
        for i, p in enumerate(PROMPTS):
            f = os.path.join(work, f"logits-{i}-{os.path.basename(model)}-{adapter is not None}.json")
            args = ["generate", "--model", model, "--prompt", p, "--chat", "--max-tokens", "1", "--logits-out", f]
            run(*(args + (["--adapter", adapter] if adapter else [])))
            out.append(json.load(open(f)))
        return out
    fixture = tailor_logits(MODEL, trained)           # Tailor's forward of the trained weights: the reference here
    base = tailor_logits(MODEL)
    tailor_gguf = tailor_logits(paths["gguf"])

    import numpy as np
    import torch
    from llama_cpp import Llama
    from transformers import AutoModelForCausalLM, AutoTokenizer
    torch.set_num_threads(2)
    tok = AutoTokenizer.from_pretrained(paths["safetensors"])
    hf = AutoModelForCausalLM.from_pretrained(paths["safetensors"], torch_dtype=torch.float32).eval()
    peers = {"transformers": [], "llamacpp_f32": [], "llamacpp_f16": []}
    same_tokens = []
    for p, ref in zip(PROMPTS, fixture):
        ids = tok.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True)
        same_tokens.append(list(ids) == ref["tokens"])
        with torch.no_grad():
            peers["transformers"].append(hf(torch.tensor([ref["tokens"]])).logits[0, -1].double().numpy())
    for key, path in (("llamacpp_f32", paths["gguf"]), ("llamacpp_f16", paths["gguf-f16"])):
        llm = Llama(model_path=path, n_ctx=512, n_threads=2, logits_all=True, type_k=0, type_v=0, verbose=False)
        for ref in fixture:
            llm.reset()
            llm.eval(ref["tokens"])
            peers[key].append(np.array(llm.scores[len(ref["tokens"]) - 1], dtype=np.float64))
        del llm

    def compare(rows):
        out = []
        for got, ref in zip(rows, fixture):
            want = np.array(ref["logits"])
            got = np.asarray(got)[: len(want)]
            top5 = len(set(np.argsort(-got)[:5]) & set(np.argsort(-want)[:5]))
            out.append({"max_abs": float(np.abs(got - want).max()), "argmax_equal": bool(got.argmax() == want.argmax()),
                        "top5_shared": top5})
        return out
    results = {"prompts": PROMPTS, "same_tokens_as_tailor": same_tokens, "largest_logit": max(float(np.abs(r["logits"]).max()) for r in fixture),
               "tolerance": TOLERANCE, "comparisons": {}}
    results["comparisons"]["tailor_base (control)"] = compare([r["logits"] for r in base])
    results["comparisons"]["tailor_on_gguf_export"] = compare([r["logits"] for r in tailor_gguf])
    for key, rows in peers.items():
        results["comparisons"][key] = compare(rows)
    modelfile = open(os.path.join(paths["ollama"], "Modelfile")).read()
    results["ollama_modelfile_ok"] = ("FROM ./model.gguf" in modelfile and "ADAPTER" not in modelfile and "TEMPLATE " in modelfile
                                      and 'PARAMETER stop "<|im_end|>"' in modelfile and os.path.exists(os.path.join(paths["ollama"], "model.gguf")))

    print(f"next-token logits against Tailor's forward of the trained weights (largest |logit| {results['largest_logit']:.1f})")
    print(f"{'variant':26} {'max |Δ| per prompt':40} argmax equal  top-5 shared")
    for key, rows in results["comparisons"].items():
        deltas = ", ".join(f"{r['max_abs']:.2e}" for r in rows)
        print(f"{key:26} {deltas:40} {[r['argmax_equal'] for r in rows]}  {[r['top5_shared'] for r in rows]}")
    print("transformers' tokenizer from the export gives Tailor's ids:", same_tokens)
    print("ollama Modelfile: FROM ./model.gguf, no ADAPTER, TEMPLATE and the <|im_end|> stop:", results["ollama_modelfile_ok"])
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "export_check_full.json"), "w") as f:
        json.dump(results, f, indent=1)

    failures = [f"{key} prompt {i + 1}: {r['max_abs']:.3g} > {TOLERANCE[key]}" for key in TOLERANCE
                for i, r in enumerate(results["comparisons"][key]) if r["max_abs"] > TOLERANCE[key]]
    failures += [f"{key} prompt {i + 1}: another next token" for key in ("transformers", "llamacpp_f32", "tailor_on_gguf_export")
                 for i, r in enumerate(results["comparisons"][key]) if not r["argmax_equal"]]
    control = min(r["max_abs"] for r in results["comparisons"]["tailor_base (control)"])
    if control <= 5 * max(TOLERANCE.values()):
        failures.append(f"training moved the logits by only {control:.3g}: the comparison would not tell the base from the trained model")
    if not all(same_tokens):
        failures.append("transformers' tokenizer from the export tokenizes a prompt differently")
    if not results["ollama_modelfile_ok"]:
        failures.append("Modelfile")
    if failures:
        print("FAILED:", "; ".join(failures))
        sys.exit(1)
    print("the full model's exports load in transformers and llama.cpp and give Tailor's logits")


if __name__ == "__main__":
    main()
