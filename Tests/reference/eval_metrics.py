#!/usr/bin/env python3
"""Writes Tests/TailorEvalTests/Fixtures/metrics_reference.json: what the real PyPI packages say for every text metric
of the Evals API's text_similarity grader, on a fixed corpus of (input, reference) pairs. TailorEval is checked
against it to 1e-6; the Swift tests read only the JSON, never Python or the datasets.

Metrics and the calls that define them (versions pinned in eval_metrics-requirements.txt):
  fuzzy_match  rapidfuzz.fuzz.WRatio(input, reference) / 100 (and fuzz.ratio, fuzz.partial_ratio, for diagnosis)
  bleu         sacrebleu.sentence_bleu(input, [reference]).score / 100 (13a tokenizer, exp smoothing, effective order)
  gleu         nltk sentence_gleu([reference.split()], input.split())
  meteor       nltk meteor_score([reference.split()], input.split()) with a WordNet that knows no synonyms
               (exact and Porter-stem matches only; see the note on WordNet in Sources/TailorEval/Metrics/METEOR.swift)
  rouge_N/L    rouge_score RougeScorer(["rougeN", "rougeL"], use_stemmer=True).score(reference, input) F-measure,
               and the same with use_stemmer=False
  string_check eq / ne / like (reference in input) / ilike (reference.lower() in input.lower())
  porter       nltk PorterStemmer() (NLTK_EXTENSIONS mode) on every word of the corpus and a list of hard cases

Usage: /work/venvs/evalref/bin/python Tests/reference/eval_metrics.py [--datasets /work/shared/datasets] [--out PATH]
"""
import argparse, json, os, random, re

import nltk
import rapidfuzz
import rouge_score
import sacrebleu
from nltk.stem.porter import PorterStemmer
from nltk.translate.gleu_score import sentence_gleu
from nltk.translate.meteor_score import meteor_score
from rapidfuzz import fuzz
from rouge_score import rouge_scorer

ROUGE_TYPES = ["rouge1", "rouge2", "rouge3", "rouge4", "rouge5", "rougeL"]


class NoSynonyms:
    """Stands in for nltk's WordNet reader: no synsets, so METEOR matches exact words and Porter stems only."""

    def synsets(self, word):
        return []


SYNONYMS = {"fast": "quickly", "help": "assist", "order": "purchase", "battery": "power cell", "free": "complimentary",
            "update": "upgrade", "check": "inspect", "reply": "respond", "device": "gadget", "screen": "display"}
INFLECTIONS = {"charge": "charging", "update": "updated", "days": "day", "features": "feature", "run": "running",
               "drains": "draining", "continues": "continued", "reply": "replies", "use": "using", "order": "ordered"}


def load_texts(datasets):
    texts = []
    for name in ("gadgetgurus-train.prompt-completion.jsonl", "gadgetgurus-validation.prompt-completion.jsonl"):
        with open(os.path.join(datasets, name), encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.append(row["completion"].strip())
                texts.append(row["prompt"].removeprefix("User: ").strip())
    return texts


def sentences(text):
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def edit(text, rng):
    """One or two random edits of the kind a fine-tuned model makes against its reference."""
    words = text.split()
    kinds = ["drop", "swap", "synonym", "inflect", "case", "punct", "truncate", "append", "shuffle", "typo", "repeat"]
    for kind in rng.sample(kinds, rng.choice([1, 1, 2])):
        if not words:
            break
        i = rng.randrange(len(words))
        if kind == "drop" and len(words) > 1:
            del words[i]
        elif kind == "swap" and len(words) > 1:
            j = min(i + 1, len(words) - 1)
            words[i], words[j] = words[j], words[i]
        elif kind == "synonym":
            words = [SYNONYMS.get(w, w) for w in words]
        elif kind == "inflect":
            words = [INFLECTIONS.get(w, w) for w in words]
        elif kind == "case":
            words[i] = words[i].upper() if rng.random() < 0.5 else words[i].capitalize()
        elif kind == "punct":
            words = [re.sub(r"[.,!?']", "", w) or w for w in words]
        elif kind == "truncate":
            words = words[: max(1, len(words) // 2)]
        elif kind == "append":
            words += "Thanks for contacting GadgetGurus Support!".split()
        elif kind == "shuffle":
            rng.shuffle(words)
        elif kind == "typo":
            w = words[i]
            if len(w) > 2:
                k = rng.randrange(len(w) - 1)
                words[i] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        elif kind == "repeat":
            words.insert(i, words[i])
    return " ".join(words)


EDGE_CASES = [
    ("", ""), ("", "abc"), ("abc", ""), (" ", " "), ("   ", "a b c"), ("...", "!!!"), ("?", "?"), ("!?!", "?!?"),
    ("a", "a"), ("a", "b"), ("ab", "ba"), ("the the the the", "the"), ("the", "the the the the"),
    ("cat cat dog dog cat", "dog cat cat dog"), ("a b c d e f g", "g f e d c b a"),
    ("Café crème brûlée", "cafe creme brulee"), ("Café", "Cafe\u0301"), ("naïve façade", "naive facade"),
    ("你好世界", "你好"), ("東京は晴れです。", "東京は雨です。"), ("Straße", "STRASSE"), ("İstanbul", "istanbul"),
    ("ΟΔΟΣ", "οδος"), ("Σ Σ", "σ ς"), ("5 \u212a", "5 k"), ("👍 works great 👍", "works great"), ("🎉🎉", "🎉"),
    ("non\u00a0breaking space", "non breaking space"), ("next\u0085line here", "next line here"),
    ("\u3000ideographic\u3000space", "ideographic space"), ("x\u001fy", "x y"), ("zero\u200bwidth", "zerowidth"), ("tab\tand\nnewline", "tab and newline"),
    ("3.14, 1,000 and 2-3", "3.14 1000 and 2 - 3"), ("Version 2.0.1 costs $19.99.", "version 2.0.1 costs $19.99"),
    ("Call 1-800-555-0199 now!", "call 18005550199 now"), ("U.S.A. e.g. i.e.", "USA eg ie"), ("a.b,c", "a . b , c"),
    ("&amp; &lt;tag&gt; &quot;q&quot;", "& <tag> \"q\""), ("word <skipped> word", "word word"), ("hy-\nphen", "hyphen"),
    ("well-known state-of-the-art", "well known state of the art"), ("don't can't won't", "do not cannot will not"),
    ("(parenthesised) [bracketed] {braced}", "parenthesised bracketed braced"), ("trailing spaces   ", "trailing spaces"),
    ("skies dying lying tying news innings", "sky die lie tie news inning"),
    ("generalization relational conditional", "generalize relate condition"),
    ("hopping hoped filing failing", "hop hope file fail"), ("agreed feed plastered bled", "agree feed plaster bleed"),
    ("motoring sing conflated troubled", "motor sing conflate trouble"), ("sized hopping tanned falling", "size hop tan fall"),
    ("happy sky ponies caresses", "happi sky poni caress"), ("running runner runs ran", "run run run run"),
    ("GadgetGurus Support: update the firmware.", "GadgetGurus Support: Update the firmware."),
    ("ALL CAPS SENTENCE HERE", "all caps sentence here"), ("MiXeD CaSe", "mixed case"),
]


def case_record(inp, ref, scorer_stem, scorer_plain, stemmer):
    wordnet = NoSynonyms()
    r = {
        "input": inp,
        "reference": ref,
        "fuzz_wratio": fuzz.WRatio(inp, ref) / 100,
        "fuzz_ratio": fuzz.ratio(inp, ref) / 100,
        "fuzz_partial_ratio": fuzz.partial_ratio(inp, ref) / 100,
        "bleu": sacrebleu.sentence_bleu(inp, [ref]).score / 100,
        "gleu": sentence_gleu([ref.split()], inp.split()),
        "meteor": meteor_score([ref.split()], inp.split(), stemmer=stemmer, wordnet=wordnet),
        "eq": float(inp == ref),
        "ne": float(inp != ref),
        "like": float(ref in inp),
        "ilike": float(ref.lower() in inp.lower()),
    }
    stemmed = scorer_stem.score(ref, inp)
    plain = scorer_plain.score(ref, inp)
    for t in ROUGE_TYPES:
        r[t] = stemmed[t].fmeasure
        r[t + "_nostem"] = plain[t].fmeasure
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", default="/work/shared/datasets")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "TailorEvalTests", "Fixtures", "metrics_reference.json"))
    a = ap.parse_args()

    rng = random.Random(13)
    texts = load_texts(a.datasets)
    pairs = list(EDGE_CASES)
    completions = texts[0::2]
    for text in rng.sample(completions, 120):          # whole answers against an edited copy
        pairs.append((edit(text, rng), text))
    all_sentences = [s for t in texts for s in sentences(t)]
    for s in rng.sample(all_sentences, 120):           # single sentences against an edited copy
        pairs.append((edit(s, rng), s))
    for _ in range(30):                                # unrelated answers: low scores, few matches
        x, y = rng.sample(completions, 2)
        pairs.append((x, y))
    for _ in range(10):                                # identical pairs
        s = rng.choice(all_sentences)
        pairs.append((s, s))
    long_ref = " ".join(rng.sample(completions, 20))   # very long text
    pairs.append((edit(long_ref, rng), long_ref))
    pairs.append((long_ref, long_ref[: len(long_ref) // 3]))

    scorer_stem = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    scorer_plain = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=False)
    stemmer = PorterStemmer()
    cases = [case_record(i, r, scorer_stem, scorer_plain, stemmer) for i, r in pairs]

    words = set()
    for i, r in pairs:
        for w in (i + " " + r).lower().split():
            words.add(w)
            words.update(t for t in re.split(r"[^a-z0-9]+", w) if t)
    words.update(["caresses", "ponies", "ties", "caress", "cats", "feed", "agreed", "disabled", "matting", "mating",
                  "meeting", "milling", "messing", "meetings", "happy", "sky", "relational", "conditional", "rational",
                  "valenci", "hesitanci", "digitizer", "conformabli", "radicalli", "differentli", "vileli", "analogousli",
                  "vietnamization", "predication", "operator", "feudalism", "decisiveness", "hopefulness",
                  "callousness", "formaliti", "sensitiviti", "sensibiliti", "triplicate", "formative", "formalize",
                  "electriciti", "electrical", "hopeful", "goodness", "revival", "allowance", "inference", "airliner",
                  "gyroscopic", "adjustable", "defensible", "irritant", "replacement", "adjustment", "dependent",
                  "adoption", "homologou", "communism", "activate", "angulariti", "homologous", "effective",
                  "bowdlerize", "probate", "rate", "cease", "controll", "roll", "generously", "fully", "logically",
                  "archaeology", "apology", "y", "yy", "syzygy", "yelling", "flying", "by", "ie", "lies", "dies", "tied",
                  "cried", "spied", "died", "proceed", "exceed", "succeed", "succeeded", "howe", "outings", "cannings",
                  "ab", "ox", "is", "be", "at", "ing", "ed", "eed", "bled", "abed", "falling", "fizzed", "hissing",
                  "filing", "failing", "hoping", "hopping", "sized", "tanned", "troubling", "conflated"])
    porter = {w: stemmer.stem(w) for w in sorted(words)}

    out = {
        "generator": "Tests/reference/eval_metrics.py",
        "versions": {"sacrebleu": sacrebleu.__version__, "nltk": nltk.__version__, "rapidfuzz": rapidfuzz.__version__,
                     "rouge-score": "0.1.2"},
        "cases": cases,
        "porter": porter,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {len(porter)} porter words -> {os.path.normpath(a.out)}")


if __name__ == "__main__":
    main()
