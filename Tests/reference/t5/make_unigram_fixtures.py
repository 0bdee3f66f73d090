#!/usr/bin/env python3
"""Unigram (T5-style SentencePiece) tokenizer fixtures for Tailor's tests (Tests/TailorEngineTests/Fixtures/t5/).

Trains two small real Unigram models with the `sentencepiece` trainer on the multilingual training text of
../tokenizer/corpus.py: `unigram` as T5's (pad 0, eos 1, unk 2, no BOS, nmt_nfkc normaliser, no byte fallback)
and `unigram-bytes` (the same with byte_fallback=True). Each is written as a Hugging Face directory the way
transformers writes one (spiece.model, and tokenizer.json from T5TokenizerFast's conversion), and the corpus of
../tokenizer/corpus.py (whitespace runs, tabs, newlines, accents, CJK, emoji, characters the models never saw) is
tokenized with both transformers tokenizers: T5Tokenizer (the slow one, SentencePiece itself) and T5TokenizerFast
(the `tokenizers` pipeline from tokenizer.json). expected-unigram.json records ids and decoded texts of both.

Usage: $(sh Tests/reference/setup_venv.sh) Tests/reference/t5/make_unigram_fixtures.py
"""
import io
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "t5")
sys.path.insert(0, os.path.join(HERE, "..", "tokenizer"))
from corpus import CORPUS, TRAINING_TEXT  # noqa: E402

import sentencepiece as spm  # noqa: E402
import transformers  # noqa: E402
from transformers import T5Tokenizer, T5TokenizerFast  # noqa: E402

EXTRA_IDS = 4  # sentinel tokens <extra_id_0..3>, as T5's 100 but small
# T5 spells its sentinels inside text; a few cases with them, the rest is the shared corpus.
EXTRA_CASES = [
    ("sentinels", "The <extra_id_0> walks in <extra_id_1> park."),
    ("sentinels-adjacent", "<extra_id_0><extra_id_1> x</s>"),
    ("sentinels-unspaced", "a<extra_id_0>b <extra_id_1>cd<extra_id_2>"),
    ("eos-inside", "one</s>two <pad> three"),
    ("unknown-run", "\u2603\u2604\u2605 snow \u2603\u2603"),
    ("nfkc", "\ufb01ne \uff21\uff22\uff23 \u2460 \u00bd x\u00b2 \u2126 \u212b caf\u00e9 cafe\u0301"),
]


def train(byte_fallback):
    lines = [line for line in TRAINING_TEXT.splitlines() if line.strip()]
    # A little more text so the Unigram trainer has pieces to choose between: every line, and its words shuffled.
    sentences = lines * 3 + [" ".join(reversed(line.split())) for line in lines]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_writer=model, model_type="unigram", vocab_size=1000,
        character_coverage=1.0, byte_fallback=byte_fallback, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        hard_vocab_limit=False, num_threads=1, seed_sentencepiece_size=100000, minloglevel=2)
    return model.getvalue()


def legacy_layout(tokenizer_json):
    """tokenizer.json as older converters wrote T5's (the files of many hub checkpoints): the Precompiled normalizer
    alone, and WhitespaceSplit then Metaspace with add_prefix_space. The Swift test applies the same rewrite."""
    data = json.loads(tokenizer_json)
    data["normalizer"] = next(n for n in data["normalizer"]["normalizers"] if n["type"] == "Precompiled")
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]}
    return json.dumps(data)


def legacy_cases(directory, corpus):
    from tokenizers import Tokenizer
    with open(os.path.join(directory, "tokenizer.json")) as f:
        tokenizer = Tokenizer.from_str(legacy_layout(f.read()))
    return [{"name": name, "ids": tokenizer.encode(text).ids} for name, text in corpus]


def main():
    os.makedirs(OUT, exist_ok=True)
    corpus = CORPUS + EXTRA_CASES
    expected = {"transformers": transformers.__version__, "sentencepiece": spm.__version__,
                "corpus": {name: text for name, text in corpus}, "models": {}}
    for name, byte_fallback in [("unigram", False), ("unigram-bytes", True)]:
        directory = os.path.join(OUT, name)
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory)
        scratch = os.path.join(directory, "spiece.model")
        with open(scratch, "wb") as f:
            f.write(train(byte_fallback))
        # As a user gets them: the slow tokenizer saved, then AutoTokenizer's fast conversion of that directory.
        T5Tokenizer(vocab_file=scratch, extra_ids=EXTRA_IDS, legacy=True).save_pretrained(directory)
        slow = T5Tokenizer.from_pretrained(directory)
        fast = T5TokenizerFast.from_pretrained(directory)
        fast.save_pretrained(directory)
        for extra in ["special_tokens_map.json", "added_tokens.json"]:
            path = os.path.join(directory, extra)
            if os.path.exists(path):
                os.remove(path)
        cases = []
        for case, text in corpus:
            slow_ids = slow(text)["input_ids"]
            fast_ids = fast(text)["input_ids"]
            cases.append({
                "name": case,
                "slow": slow_ids,
                "fast": fast_ids,
                "slow_decoded": slow.decode(slow_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False),
                "fast_decoded": fast.decode(fast_ids, skip_special_tokens=True, clean_up_tokenization_spaces=False),
            })
        same = sum(c["slow"] == c["fast"] for c in cases)
        print(f"{name}: {len(fast)} tokens, slow and fast agree on {same}/{len(cases)} texts, "
              f"spiece.model {os.path.getsize(scratch)} bytes", file=sys.stderr)
        if name == "unigram":
            expected["legacy_json"] = legacy_cases(directory, corpus)
            # legacy=False: the space prefix only at the start of the text, not after each special token.
            first = T5TokenizerFast.from_pretrained(directory, legacy=False)
            scheme = json.loads(first.backend_tokenizer.to_str())["pre_tokenizer"]["prepend_scheme"]
            assert scheme == "first", scheme
            expected["prepend_first"] = [{"name": case, "ids": first(text)["input_ids"]} for case, text in corpus]
        expected["models"][name] = {"vocabulary_size": len(fast), "byte_fallback": byte_fallback,
                                    "eos": fast.eos_token_id, "unk": fast.unk_token_id, "pad": fast.pad_token_id,
                                    "cases": cases}
    with open(os.path.join(OUT, "expected-unigram.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
