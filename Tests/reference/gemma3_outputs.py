"""Reference outputs of Gemma 3 270M (Q4_K_M GGUF, fetched by scripts/fetch-gemma3.sh) from llama.cpp, for Tailor's
Gemma 3 tests: per prompt the token ids (llama.cpp's tokenizer), first-step logits (top 20 and a fixed probe set) and
the greedy continuation. Chat prompts are rendered with Tailor's fallback Gemma template (the file ships none),
read from Sources/TailorEngine/Model/LanguageModel.swift so both sides use the same text.
Writes Tests/TailorEngineTests/Fixtures/gemma3_270m_reference.json.

Usage: python gemma3_outputs.py [path/to/gemma-3-270m-q4_k_m.gguf]   (the venv from setup_venv.sh)
"""
import hashlib, json, os, re, sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "gemma3_270m_reference.json")
GREEDY_TOKENS = 32
PROBE_IDS = [0, 1, 2, 3, 106, 107, 108, 236743, 1000, 5000, 20000, 50000, 100000, 200000, 262143]
RAW_PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village by the sea,",
    "Les fleurs du jardin sont très belles ; 日本の首都は",
]
CHAT_PROMPTS = ["What is the boiling point of water at sea level?", "Write a haiku about autumn leaves."]


def gemma_template():
    src = open(os.path.join(ROOT, "Sources", "TailorEngine", "Model", "LanguageModel.swift")).read()
    body = re.search(r'static let gemmaTemplate = #"""\n(.*?)\n\s*"""#', src, re.S).group(1)
    return "".join(line.strip() for line in body.splitlines())


def main():
    from jinja2 import Environment
    from llama_cpp import Llama
    import llama_cpp
    llm = Llama(model_path=MODEL, n_ctx=1024, n_threads=2, n_batch=512, logits_all=True, verbose=False)
    template = Environment().from_string(gemma_template())
    prompts = [(p, False) for p in RAW_PROMPTS] + [
        (template.render(messages=[{"role": "user", "content": u}], add_generation_prompt=True, bos_token="<bos>"), True)
        for u in CHAT_PROMPTS]
    cases = []
    for text, is_chat in prompts:
        # Raw prompts get the BOS the model wants; chat prompts carry it in the template.
        tokens = llm.tokenize(text.encode(), add_bos=not is_chat, special=is_chat)
        llm.reset()
        llm.eval(tokens)
        first = np.array(llm.scores[len(tokens) - 1], dtype=np.float64)
        out = []
        for _ in range(GREEDY_TOKENS):
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            out.append(tok)
            if tok in (1, 106):   # <eos>, <end_of_turn>
                break
            llm.eval([tok])
        top = np.argsort(-first)[:20]
        cases.append({"prompt": text, "chat": is_chat, "prompt_tokens": tokens, "greedy_tokens": out,
                      "greedy_text": llm.detokenize(out).decode("utf-8", errors="replace"),
                      "top_ids": [int(i) for i in top], "top_logits": [float(first[i]) for i in top],
                      "probe_logits": [float(first[i]) for i in PROBE_IDS]})
    with open(MODEL, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    with open(OUT, "w") as f:
        json.dump({"model": os.path.basename(MODEL), "sha256": digest,
                   "generator": f"Tests/reference/gemma3_outputs.py; llama-cpp-python {llama_cpp.__version__}",
                   "probe_ids": PROBE_IDS, "cases": cases}, f, indent=1, ensure_ascii=False)
    print("wrote", OUT)
    for c in cases:
        print(repr(c["prompt"][:50]), "->", repr(c["greedy_text"][:80]))


if __name__ == "__main__":
    main()
