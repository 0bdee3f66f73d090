"""Reference outputs of the default model (SmolLM2-135M-Instruct Q4_1) for Tailor's engine tests.

Runs the same GGUF through llama.cpp (llama-cpp-python, 2 threads) and through Hugging Face transformers (which
dequantises the GGUF to f32 and runs PyTorch), and writes Tests/TailorEngineTests/Fixtures/smollm2_reference.json:
prompt token ids, greedy continuations (token ids and text) and first-step logits (top 20 and a fixed probe set).

Usage: python model_outputs.py [path/to/model.gguf]   (run it with the venv from setup_venv.sh)
"""
import hashlib, json, os, sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "smollm2_reference.json")
GREEDY_TOKENS = 48
PROBE_IDS = [0, 1, 2, 13, 198, 216, 260, 314, 355, 1000, 2000, 5000, 10000, 20000, 30000, 49151]

RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village by the sea,",
    "1, 2, 3, 4, 5,",
]
CHAT_PROMPTS = [
    "What is the boiling point of water at sea level?",
    "Write a haiku about autumn leaves.",
]


def chat_prompt(llm_template_source, user):
    from jinja2 import Environment
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(llm_template_source).render(
        messages=[{"role": "user", "content": user}], add_generation_prompt=True)


def main():
    from llama_cpp import Llama
    import llama_cpp
    llm = Llama(model_path=MODEL, n_ctx=2048, n_threads=2, n_batch=512, logits_all=True, verbose=False)
    template = llm.metadata["tokenizer.chat_template"]

    prompts = [(p, False) for p in RAW_PROMPTS] + [(chat_prompt(template, u), True) for u in CHAT_PROMPTS]
    cases = []
    for text, is_chat in prompts:
        tokens = llm.tokenize(text.encode(), add_bos=False, special=True)
        llm.reset()
        llm.eval(tokens)
        first = np.array(llm.scores[len(tokens) - 1], dtype=np.float64)
        out = []
        for _ in range(GREEDY_TOKENS):
            logits = np.array(llm.scores[llm.n_tokens - 1])
            tok = int(np.argmax(logits))
            out.append(tok)
            if tok == llm.token_eos():
                break
            llm.eval([tok])
        top = np.argsort(-first)[:20]
        cases.append({
            "prompt": text, "chat": is_chat, "prompt_tokens": tokens,
            "llamacpp": {
                "greedy_tokens": out,
                "greedy_text": llm.detokenize(out).decode("utf-8", errors="replace"),
                "top_ids": [int(i) for i in top], "top_logits": [float(first[i]) for i in top],
                "probe_logits": [float(first[i]) for i in PROBE_IDS],
            },
        })
    del llm

    # transformers on the same weights, dequantised to f32: the same arithmetic as Tailor's prefill path.
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(MODEL), gguf_file=os.path.basename(MODEL),
                                                 torch_dtype=torch.float32)
    model.eval()
    for case in cases:
        ids = torch.tensor([case["prompt_tokens"]])
        with torch.no_grad():
            first = model(ids).logits[0, -1].double().numpy()
            gen = model.generate(ids, max_new_tokens=GREEDY_TOKENS, do_sample=False, eos_token_id=2,
                                 pad_token_id=2)[0, ids.shape[1]:].tolist()
        top = np.argsort(-first)[:20]
        case["transformers"] = {
            "greedy_tokens": gen,
            "top_ids": [int(i) for i in top], "top_logits": [float(first[i]) for i in top],
            "probe_logits": [float(first[i]) for i in PROBE_IDS],
        }

    with open(MODEL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    result = {
        "model": os.path.basename(MODEL), "sha256": digest,
        "generator": f"Tests/reference/model_outputs.py; llama-cpp-python {llama_cpp.__version__}, "
                     f"transformers {__import__('transformers').__version__}, torch {torch.__version__}",
        "probe_ids": PROBE_IDS, "cases": cases,
    }
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1, ensure_ascii=False)
    print("wrote", OUT)
    for c in cases:
        same = c["llamacpp"]["greedy_tokens"] == c["transformers"]["greedy_tokens"]
        print(repr(c["prompt"][:40]), "llama.cpp == transformers greedy:", same)


if __name__ == "__main__":
    main()
