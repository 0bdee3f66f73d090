#!/usr/bin/env python3
"""Writes the reference fixtures for Tailor's tokenizer tests (Tests/TailorEngineTests/Fixtures/vocab/).

The reference is llama.cpp, through llama-cpp-python (pinned in requirements.txt): every id list in the fixtures
is what `llama_tokenize` returns for the corpus in corpus.py. Hugging Face `tokenizers` / `transformers` and
`sentencepiece` are asked too, and their agreement is recorded (not asserted) in each expected-*.json.

Vocabularies:
  * tiny-*      trained here (HF `tokenizers` byte-level BPE, `sentencepiece` BPE with byte fallback) and written
                both as GGUF and as a Hugging Face directory; small enough to commit.
  * smollm2     the SmolLM2-135M-Instruct GGUF (--model, $TAILOR_TEST_MODEL or models/SmolLM2-135M-Instruct.Q4_1.gguf).
  * llama.cpp's own vocab-only GGUFs of real tokenizers (Llama 3, Qwen2, GPT-2, LLaMA SentencePiece, ...), taken
                from the llama-cpp-python sdist on PyPI into models/vocab/ (git-ignored), never committed.

Usage: python3 Tests/reference/tokenizer/make_fixtures.py [--model PATH] [--vocab-dir DIR] [--out DIR]
Uses the venv named by $TAILOR_REF_VENV, or creates ~/.cache/tailor/venv-tokenizer-ref from requirements.txt.
"""
import argparse
import ctypes
import glob
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
LLAMA_CPP_PYTHON = "0.3.36"


def ensure_venv():
    venv = os.environ.get("TAILOR_REF_VENV") or os.path.expanduser("~/.cache/tailor/venv-tokenizer-ref")
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    if not os.path.exists(python):
        print(f"creating {venv} (pinned requirements; building llama-cpp-python takes a while)", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([python, "-m", "pip", "install", "-r", os.path.join(HERE, "requirements.txt")])
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


ensure_venv()

import gguf  # noqa: E402
import llama_cpp  # noqa: E402

sys.path.insert(0, HERE)
from corpus import CORPUS, TRAINING_TEXT  # noqa: E402

# Real tokenizers shipped with llama.cpp's tests, with why each is here.
REAL_VOCABS = {
    "gpt-2": "GPT-2: pre 'gpt-2' (the GPT-2 pattern alone), clean_spaces",
    "llama-bpe": "Llama 3: pre 'llama-bpe', ignore_merges, add_bos by default, 256 reserved control tokens",
    "qwen2": "Qwen2: pre 'qwen2' (single digits, \\s*[\\r\\n]+), 151k vocabulary",
    "qwen35": "Qwen3.5: pre 'qwen35' (letters absorb combining marks)",
    "command-r": "Command-R: 256k vocabulary (load time), pre 'command-r', add_bos",
    "falcon": "Falcon: pre 'falcon' (punctuation runs incl. backtick, GPT-2 pattern, ASCII digit triples)",
    "aquila": "Aquila: no pre key, so llama.cpp's 'default' list (punctuation runs, GPT-2, number runs, digit triples)",
    "llama-spm": "LLaMA 1/2 SentencePiece: scores, byte fallback, add_space_prefix, add_bos",
    "phi-3": "Phi-3 SentencePiece: user-defined chat tokens with RSTRIP (llama.cpp sets it by model name)",
}
# Pre-tokenizers for which llama.cpp skips its space clean-up on decode (llama-vocab.cpp, clean_spaces = false), so
# its decoding is what Tailor's must be; "llama" stands for every SentencePiece vocabulary.
NO_CLEAN_SPACES = {"smollm", "qwen2", "qwen35", "command-r", "llama"}

TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 4, 5, 6
ATTR_UNKNOWN, ATTR_CONTROL, ATTR_USER_DEFINED = 1 << 0, 1 << 3, 1 << 4

# Pre-tokenizer regexes as the original tokenizer.json files spell them.
LLAMA3_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_SPLIT = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


class LlamaVocab:
    """llama.cpp's tokenizer on a vocab-only load of a GGUF file."""

    def __init__(self, path):
        self.llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
        self.vocab = self.llm._model.vocab
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text, add_special=False, parse_special=True):
        data = text.encode("utf-8")
        cap = len(data) + 16
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, cap, add_special, parse_special)
        assert n >= 0, n
        return list(buf[:n])

    def detokenize(self, ids, remove_special, unparse_special):
        arr = (llama_cpp.llama_token * max(1, len(ids)))(*ids)
        cap = 64 + 64 * len(ids)
        out = ctypes.create_string_buffer(cap)
        n = llama_cpp.llama_detokenize(self.vocab, arr, len(ids), out, cap, remove_special, unparse_special)
        assert n >= 0, n
        return out.raw[:n]

    def piece(self, token, special=True):
        buf = ctypes.create_string_buffer(512)
        n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, 512, 0, special)
        assert n >= 0, n
        return buf.raw[:n]

    def attr(self, token):
        return llama_cpp.llama_vocab_get_attr(self.vocab, token)

    def optional(self, token):
        return None if token < 0 else token

    def facts(self):
        v = self.vocab
        special = [t for t in range(self.n_vocab) if self.attr(t) & (ATTR_UNKNOWN | ATTR_CONTROL | ATTR_USER_DEFINED)]
        return {
            "vocabulary_size": self.n_vocab,
            "bos": self.optional(llama_cpp.llama_vocab_bos(v)),
            "eos": self.optional(llama_cpp.llama_vocab_eos(v)),
            "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(v)),
            "add_eos": bool(llama_cpp.llama_vocab_get_add_eos(v)),
            "end_of_generation": [t for t in range(self.n_vocab) if llama_cpp.llama_vocab_is_eog(v, t)],
            "special": special,
        }


def piece_sample(vocab, facts, seed):
    """Token bytes for the first ids (byte tokens live there), the last ones, a few special and random ones."""
    n = vocab.n_vocab
    rng = random.Random(seed)
    special = facts["special"]
    ids = set(range(min(64, n))) | set(range(max(0, n - 8), n)) | set(rng.sample(special, min(12, len(special))))
    ids |= {rng.randrange(n) for _ in range(100)}
    return {str(t): vocab.piece(t, True).hex() for t in sorted(ids)}


def ranges(ids):
    """[[first, last], ...] for a sorted id list: special tokens mostly sit in runs."""
    out = []
    for t in ids:
        if out and out[-1][1] == t - 1:
            out[-1][1] = t
        else:
            out.append([t, t])
    return out


def expected_for(name, vocab, corpus, pre, describe, space_prefix=False):
    """llama.cpp's ids per case; fields are left out where they equal what the Swift test derives by default."""
    facts = vocab.facts()
    decode_checked = pre in NO_CLEAN_SPACES
    special = set(facts["special"])
    cases = []
    for case_name, text in corpus:
        ids = vocab.tokenize(text, add_special=False, parse_special=True)
        plain = vocab.tokenize(text, add_special=False, parse_special=False)
        added = vocab.tokenize(text, add_special=True, parse_special=True)
        case = {"name": case_name, "ids": ids}
        # Where llama.cpp's own tokens do not spell the text (a byte missing from the vocabulary), say so.
        spelling = ((" " if space_prefix and text else "") + text).encode("utf-8")
        if (pre != "llama" or not special.intersection(ids)) and b"".join(vocab.piece(t) for t in ids) != spelling:
            case["lossy"] = True
        if plain != ids:
            case["plain"] = plain
        if added != [facts["bos"]] * facts["add_bos"] + ids + [facts["eos"]] * facts["add_eos"]:
            case["added"] = added
        if decode_checked:
            decoded = vocab.detokenize(ids, False, True).decode("utf-8")
            skipped = vocab.detokenize(ids, True, False).decode("utf-8")
            if decoded != text:
                case["decoded"] = decoded
            if skipped != decoded:
                case["decoded_skip_special"] = skipped
        cases.append(case)
    return {
        "vocabulary": name,
        "about": describe,
        "reference": f"llama.cpp via llama-cpp-python {LLAMA_CPP_PYTHON}",
        "pre": pre,
        "decode_checked": decode_checked,
        **{k: v for k, v in facts.items() if k != "special"},
        "special_ranges": ranges(facts["special"]),
        "pieces": piece_sample(vocab, facts, seed=len(name)),
        "cases": cases,
    }


def agreement(name, corpus, expected, other, parse_special=True):
    """Where another tokenizer gives other ids than llama.cpp (with or without special-token parsing)."""
    disagree = []
    for (case_name, text), case in zip(corpus, expected["cases"]):
        want = case["ids"] if parse_special else case.get("plain", case["ids"])
        if other(text) != want:
            disagree.append(case_name)
    print(f"  {name}: agrees on {len(corpus) - len(disagree)}/{len(corpus)}" + (f", differs on {disagree}" if disagree else ""))
    return {"agrees": len(corpus) - len(disagree), "differs_on": disagree}


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


# ---- vocabularies from llama.cpp's sources -------------------------------------------------------------------

def fetch_llama_vocabs(vocab_dir):
    wanted = [f"ggml-vocab-{n}.gguf" for n in REAL_VOCABS]
    if all(os.path.exists(os.path.join(vocab_dir, w)) for w in wanted):
        return
    os.makedirs(vocab_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading the llama-cpp-python {LLAMA_CPP_PYTHON} sdist for llama.cpp's test vocabularies", file=sys.stderr)
        subprocess.check_call([sys.executable, "-m", "pip", "download", f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
                               "--no-deps", "--no-binary", ":all:", "-d", tmp])
        sdist = glob.glob(os.path.join(tmp, "llama_cpp_python-*.tar.gz"))[0]
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                base = os.path.basename(member.name)
                if "/vendor/llama.cpp/models/" in member.name and any(base.startswith(w) for w in wanted):
                    with tar.extractfile(member) as src, open(os.path.join(vocab_dir, base), "wb") as dst:
                        dst.write(src.read())


def llama_cpp_test_texts(vocab_dir):
    """llama.cpp's tests/test-tokenizer-0 inputs (the same file for every vocabulary)."""
    with open(os.path.join(vocab_dir, "ggml-vocab-llama-bpe.gguf.inp"), encoding="utf-8") as f:
        texts = f.read().split("\n__ggml_vocab_test__\n")
    texts[-1] = texts[-1].removesuffix("\n__ggml_vocab_test__\n").removesuffix("\n__ggml_vocab_test__")
    return [(f"llama.cpp-test-{i:02d}", t) for i, t in enumerate(texts)]


def gguf_pre(path):
    reader = gguf.GGUFReader(path)
    field = reader.fields.get("tokenizer.ggml.pre")
    model = reader.fields["tokenizer.ggml.model"].contents()
    return model if model == "llama" else (field.contents() if field else "default")


def hf_from_gguf(path, smollm_pre_tokenizer=False):
    """transformers' own GGUF-to-tokenizer conversion; it drops SmolLM2's Digits step, which the real
    tokenizer.json has, so that can be put back to see the difference it makes."""
    from transformers import AutoTokenizer
    from tokenizers import pre_tokenizers
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    if smollm_pre_tokenizer:
        tok.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    return lambda text: tok.encode(text, add_special_tokens=False)


# ---- tiny vocabularies trained here --------------------------------------------------------------------------

TINY_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TINY_USER_DEFINED = ["<tag>"]


def train_tiny_bpe():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=900, min_frequency=2, show_progress=False, special_tokens=TINY_SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TRAINING_TEXT.splitlines(), trainer)
    tok.add_tokens(TINY_USER_DEFINED)
    return json.loads(tok.to_str())


TINY_BPE_VARIANTS = {
    # name: (GGUF pre, HF pre_tokenizer, ignore_merges, BOS added by the HF post_processor rather than the config)
    "gpt2": ("gpt-2", {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}, False, False),
    "smollm": ("smollm", {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}, False, False),
    "llama3": ("llama-bpe", {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}, True, True),
    "qwen2": ("qwen2", {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN2_SPLIT}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}, False, False),
}


def write_tiny_bpe(base, out):
    """One trained vocabulary, written with each pre-tokenizer as a HF directory and as a GGUF file."""
    from tokenizers import Tokenizer
    vocab = base["model"]["vocab"]
    added = {t["content"]: t for t in base["added_tokens"]}
    for t in added.values():
        vocab[t["content"]] = t["id"]
    tokens = [None] * len(vocab)
    for text, i in vocab.items():
        tokens[i] = text
    types = [(TOKEN_CONTROL if added[t]["special"] else TOKEN_USER_DEFINED) if t in added else TOKEN_NORMAL for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in base["model"]["merges"]]
    eot = tokens.index("<|im_end|>")
    eos = tokens.index("<|endoftext|>")
    made = {}
    for name, (pre, pre_tokenizer, ignore_merges, template_bos) in TINY_BPE_VARIANTS.items():
        spec = json.loads(json.dumps(base))
        spec["pre_tokenizer"] = pre_tokenizer
        spec["model"]["ignore_merges"] = ignore_merges
        config = {"bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None,
                  "clean_up_tokenization_spaces": False, "model_max_length": 2048}
        if template_bos:
            spec["post_processor"] = {"type": "TemplateProcessing",
                                      "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                                      "pair": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                               {"SpecialToken": {"id": "<|endoftext|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                                      "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [eos], "tokens": ["<|endoftext|>"]}}}
        else:
            config["add_bos_token"] = False
        directory = os.path.join(out, f"tiny-bpe-{name}")
        os.makedirs(directory, exist_ok=True)
        write_json(os.path.join(directory, "tokenizer.json"), spec)
        write_json(os.path.join(directory, "tokenizer_config.json"), config)
        path = os.path.join(out, f"tiny-bpe-{name}.gguf")
        write_bpe_gguf(path, pre, tokens, types, merges, bos=eos, eos=eot, pad=eos, add_bos=None if template_bos else False)
        made[name] = (path, pre, Tokenizer.from_str(json.dumps(spec)))
    # The same vocabulary under llama.cpp's 'default' list, which has no tokenizer.json spelling.
    path = os.path.join(out, "tiny-bpe-default.gguf")
    write_bpe_gguf(path, "default", tokens, types, merges, bos=eos, eos=eot, pad=eos, add_bos=False)
    made["default"] = (path, "default", None)
    # A pre-tokenizer llama.cpp knows and Tailor does not: loading it must fail with a clear message.
    write_bpe_gguf(os.path.join(out, "tiny-bpe-unsupported-pre.gguf"), "deepseek-llm", tokens, types, merges,
                   bos=eos, eos=eot, pad=eos, add_bos=False)
    return made


def gguf_writer(path, vocab_size):
    w = gguf.GGUFWriter(path, "llama")
    w.add_name("tailor-tiny-vocab")
    w.add_block_count(1)
    w.add_context_length(256)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(vocab_size)
    return w


def finish(w):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_bpe_gguf(path, pre, tokens, types, merges, bos, eos, pad, add_bos):
    w = gguf_writer(path, len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_pad_token_id(pad)
    if add_bos is not None:
        w.add_add_bos_token(add_bos)
    finish(w)


SPM_USER_DEFINED = ["<|im_start|>", "<|im_end|>"]
NO_PREFIX_CASES = {"empty", "space", "hello", "hello-leading-space", "spaces-leading", "newlines", "special-chat",
                   "special-spaces", "special-spm", "accents", "chinese", "emoji"}


def train_tiny_spm(workdir):
    import sentencepiece as spm
    prefix = os.path.join(workdir, "tiny-spm")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXT.splitlines()), model_prefix=prefix, vocab_size=700, model_type="bpe",
        byte_fallback=True, character_coverage=0.995, normalization_rule_name="identity",
        remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
        user_defined_symbols=SPM_USER_DEFINED, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def write_spm_gguf(path, sp, add_space_prefix):
    n = sp.get_piece_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        piece = sp.id_to_piece(i)
        tokens.append(piece)
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(TOKEN_UNKNOWN)
        elif sp.is_control(i):
            types.append(TOKEN_CONTROL)
        elif sp.is_byte(i):
            types.append(TOKEN_BYTE)
        elif sp.is_unused(i):
            types.append(TOKEN_UNUSED)
        elif piece in SPM_USER_DEFINED:
            types.append(TOKEN_USER_DEFINED)
        else:
            types.append(TOKEN_NORMAL)
    w = gguf_writer(path, n)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if add_space_prefix is not None:
        w.add_add_space_prefix(add_space_prefix)
    finish(w)


# ---- main ----------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("TAILOR_TEST_MODEL") or os.path.join(REPO, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    parser.add_argument("--vocab-dir", default=os.environ.get("TAILOR_TEST_VOCAB_DIR") or os.path.join(REPO, "models", "vocab"))
    parser.add_argument("--out", default=os.path.join(REPO, "Tests", "TailorEngineTests", "Fixtures", "vocab"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    fetch_llama_vocabs(args.vocab_dir)
    corpus = CORPUS + llama_cpp_test_texts(args.vocab_dir)
    write_json(os.path.join(args.out, "corpus.json"), [{"name": n, "text": t} for n, t in corpus])

    print("tiny byte-level BPE (trained with HF tokenizers):")
    for name, (path, pre, hf) in write_tiny_bpe(train_tiny_bpe(), args.out).items():
        vocab = LlamaVocab(path)
        about = f"tiny byte-level BPE trained on corpus.TRAINING_TEXT, pre '{pre}'"
        expected = expected_for(f"tiny-bpe-{name}", vocab, corpus, pre, about)
        if hf is not None:
            expected["hugging_face"] = agreement("HF tokenizers", corpus, expected,
                                                 lambda t: hf.encode(t, add_special_tokens=False).ids)
        write_json(os.path.join(args.out, f"expected-tiny-bpe-{name}.json"), expected)

    print("tiny SentencePiece (trained with sentencepiece):")
    with tempfile.TemporaryDirectory() as tmp:
        sp = train_tiny_spm(tmp)
        # Without the space prefix only the start of each fragment changes, so a few cases show it.
        no_prefix_cases = [c for c in corpus if c[0] in NO_PREFIX_CASES]
        for name, prefix, cases in (("tiny-spm", None, corpus), ("tiny-spm-no-prefix", False, no_prefix_cases)):
            path = os.path.join(args.out, f"{name}.gguf")
            write_spm_gguf(path, sp, prefix)
            vocab = LlamaVocab(path)
            about = "tiny SentencePiece BPE with byte fallback and user-defined <|im_start|>/<|im_end|>" + \
                    (", add_space_prefix false" if prefix is False else "")
            expected = expected_for(name, vocab, cases, "llama", about, space_prefix=prefix is None)
            if prefix is None:
                expected["sentencepiece"] = agreement("sentencepiece", corpus, expected, sp.encode, parse_special=False)
            write_json(os.path.join(args.out, f"expected-{name}.json"), expected)

    print("SmolLM2 (the default model):")
    if not os.path.exists(args.model):
        sys.exit(f"{args.model} is missing; pass --model or set TAILOR_TEST_MODEL to the SmolLM2-135M-Instruct GGUF")
    vocab = LlamaVocab(args.model)
    expected = expected_for("smollm2", vocab, corpus, gguf_pre(args.model), "SmolLM2-135M-Instruct Q4_1 GGUF (pre smollm)")
    expected["hugging_face"] = agreement("transformers from the GGUF", corpus, expected, hf_from_gguf(args.model))
    expected["hugging_face_with_digits"] = agreement("the same with SmolLM2's Digits step", corpus, expected,
                                                     hf_from_gguf(args.model, smollm_pre_tokenizer=True))
    write_json(os.path.join(args.out, "expected-smollm2.json"), expected)

    print("llama.cpp's test vocabularies:")
    for name, about in REAL_VOCABS.items():
        path = os.path.join(args.vocab_dir, f"ggml-vocab-{name}.gguf")
        vocab = LlamaVocab(path)
        pre = gguf_pre(path)
        expected = expected_for(name, vocab, corpus, pre, about, space_prefix=pre == "llama")
        write_json(os.path.join(args.out, f"expected-{name}.json"), expected)
        print(f"  {name}: {sum(len(c['ids']) for c in expected['cases'])} tokens")

    total = sum(os.path.getsize(p) for p in glob.glob(os.path.join(args.out, "**", "*"), recursive=True) if os.path.isfile(p))
    print(f"fixtures: {total / 1024:.0f} KiB in {args.out}")


if __name__ == "__main__":
    main()
