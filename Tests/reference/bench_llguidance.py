#!/usr/bin/env python3
"""MaskBench over llguidance: the peer of `tailor bench grammar`, printing the same JSON line.

Runs each file as MaskBench's runner does (instance = json.dumps(data, ensure_ascii=False), tokenized without special
tokens, mask computed before each token), with one difference shared with Tailor's command: an invalid instance
counts as rejected also when the matcher is not accepting at the end. The tokenizer is rebuilt from the GGUF's
vocabulary and merges with SmolLM2's pre-tokenizer (single digits, then GPT-2 byte-level), so no download is needed;
`tokens` in the output lets you check both sides tokenized the same text the same way.

    python Tests/reference/bench_llguidance.py --model models/SmolLM2-135M-Instruct.Q4_1.gguf --data /work/data/maskbench --json
"""
import argparse
import json
import os
import sys
import time

import gguf
import llguidance as llg
import llguidance.hf
import numpy as np
from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast


def field_strings(reader, key):
    f = reader.fields[key]
    return [bytes(f.parts[i]).decode("utf-8") for i in f.data]


def load_tokenizer(path):
    r = gguf.GGUFReader(path)
    tokens = field_strings(r, "tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in field_strings(r, "tokenizer.ggml.merges")]
    types_field = r.fields["tokenizer.ggml.token_type"]
    types = [int(types_field.parts[i][0]) for i in types_field.data]
    eos = int(r.fields["tokenizer.ggml.eos_token_id"].parts[-1][0])
    tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, byte_fallback=False))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tk.decoder = decoders.ByteLevel()
    # gguf token types: 3 control, 4 user-defined.
    tk.add_special_tokens([AddedToken(t, special=True) for t, ty in zip(tokens, types) if ty in (3, 4)])
    hf = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=tokens[eos])
    return hf


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--per-file", help="also write one JSON line per file here (name, compiled, valid_rejected, invalid_accepted)")
    a = ap.parse_args()

    hf = load_tokenizer(a.model)
    lltok = llguidance.hf.from_tokenizer(hf)
    mask = allocate_token_bitmask(1, lltok.vocab_size)

    files = sorted(f for f in os.listdir(a.data) if f.endswith(".json"))
    if a.limit:
        files = files[: a.limit]
    compiled = passing = invalid_accepted = valid_rejected = ntokens = 0
    compile_ms, mask_us = [], []
    per_file = open(a.per_file, "w") if a.per_file else None
    for name in files:
        with open(os.path.join(a.data, name)) as fh:
            doc = json.load(fh)
        t0 = time.perf_counter()
        m0 = llg.LLMatcher(lltok, json.dumps({"grammars": [{"json_schema": doc["schema"]}]}))
        if m0.is_error():
            if per_file:
                print(json.dumps({"file": name, "compiled": False, "error": m0.get_error()[:300]}), file=per_file)
            continue
        compile_ms.append((time.perf_counter() - t0) * 1e3)
        compiled += 1
        all_pass = True
        file_vr = file_ia = 0
        for test in doc.get("tests", []):
            m = m0.deep_copy()
            text = json.dumps(test["data"], indent=None, ensure_ascii=False)
            accepted = True
            for t in hf.encode(text, add_special_tokens=False):
                s = time.perf_counter()
                fill_next_token_bitmask(m, mask, 0)
                ok = (int(mask[0, t // 32]) >> (t % 32)) & 1 == 1
                if ok:
                    m.consume_token(t)
                mask_us.append((time.perf_counter() - s) * 1e6)
                ntokens += 1
                if not ok:
                    accepted = False
                    break
            if accepted and not m.is_accepting():
                accepted = False
            if accepted != test["valid"]:
                all_pass = False
                if test["valid"]:
                    valid_rejected += 1
                    file_vr += 1
                else:
                    invalid_accepted += 1
                    file_ia += 1
                    print(f"invalid instance accepted: {name}", file=sys.stderr)
        if all_pass:
            passing += 1
        if per_file:
            print(json.dumps({"file": name, "compiled": True, "valid_rejected": file_vr, "invalid_accepted": file_ia}), file=per_file)
    mask_us.sort()
    out = {
        "schemas": len(files), "compiled": compiled, "passing": passing,
        "invalid_accepted": invalid_accepted, "valid_rejected": valid_rejected, "tokens": ntokens,
        "compile_ms_p50": round(float(np.median(compile_ms)), 3) if compile_ms else 0,
        "mask_us_p50": round(float(np.median(mask_us)), 1) if mask_us else 0,
        "mask_us_p99": round(mask_us[min(len(mask_us) - 1, int(len(mask_us) * 0.99))], 1) if mask_us else 0,
    }
    if a.json:
        print(json.dumps(out, sort_keys=True))
    else:
        for k in sorted(out):
            print(f"{k}: {out[k]}")


if __name__ == "__main__":
    main()
