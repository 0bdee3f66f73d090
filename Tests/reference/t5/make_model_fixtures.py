#!/usr/bin/env python3
"""Tiny random T5 checkpoints and their reference outputs for Tailor's T5 tests (Tests/TailorEngineTests/Fixtures/t5/).

Two layouts, both seeded T5ForConditionalGeneration models from a T5Config, saved as safetensors directories
(config.json, model.safetensors; the tokenizer is the `unigram` fixture of make_unigram_fixtures.py, whose size the
vocabulary matches, and the tests put its files beside the weights):
  * tiny-t5    the original T5 layout: ReLU feed-forward (wi, wo), embedding tied to the head (scaled by d_model^-0.5)
  * tiny-flan  the Flan-T5 / mT5 layout: gated-GELU feed-forward (wi_0, wi_1, wo), untied lm_head, one more
               decoder layer than encoder layers
Norm weights and the position-bias tables are drawn away from their initial values so that a misplaced norm or
bucket shows in the outputs; the sources are long enough to reach the logarithmic and the capped buckets.

reference-model.json records, per model: the source ids (T5TokenizerFast, EOS added), encoder outputs (a padded
batch with its attention mask, valid rows kept), decoder logits for given target ids (teacher forcing from
decoder_start_token_id), and greedy outputs of model.generate.

Usage: $(sh Tests/reference/setup_venv.sh) Tests/reference/t5/make_model_fixtures.py
"""
import json
import os
import shutil

import torch
from transformers import T5Config, T5ForConditionalGeneration, T5TokenizerFast
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "t5")
GREEDY_TOKENS = 12

SOURCES = [
    "translate English to German: The house is wonderful.",
    "Hello world",
    "summarize: Tailor is a self-hosted, OpenAI-compatible fine-tuning server. It accepts JSONL training files, "
    "trains LoRA adapters on a base model, and serves completions with streaming. Il supporte aussi le fran\u00e7ais.",
]
TARGETS = [
    "Das Haus ist wunderbar.",
    "Tailor trains adapters and serves them.",
]

LAYOUTS = {
    "tiny-t5": dict(feed_forward_proj="relu", tie_word_embeddings=True, num_layers=2, num_decoder_layers=2, seed=1,
                    initializer_factor=4.0),
    "tiny-flan": dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False, num_layers=2, num_decoder_layers=3, seed=2),
}


def rounded(tensor):
    return [float(f"{v:.7g}") for v in tensor.flatten().tolist()]


def greedy_decode(model, ids, config):
    """Greedy decoding by full forward passes (no cache), with the EOS that ends it."""
    out = [config.decoder_start_token_id]
    with torch.no_grad():
        while len(out) <= GREEDY_TOKENS:
            logits = model(input_ids=ids[None], decoder_input_ids=torch.tensor([out]), use_cache=False).logits[0, -1]
            out.append(int(logits.argmax()))
            if out[-1] == config.eos_token_id:
                break
    return out[1:]


def main():
    tokenizer = T5TokenizerFast.from_pretrained(os.path.join(OUT, "unigram"))
    result = {"transformers": transformers.__version__, "torch": torch.__version__, "models": {}}
    for name, layout in LAYOUTS.items():
        layout = dict(layout)
        seed = layout.pop("seed")
        torch.manual_seed(seed)
        config = T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_heads=4,
                          relative_attention_num_buckets=8, relative_attention_max_distance=20,
                          decoder_start_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, dropout_rate=0.0, **layout)
        model = T5ForConditionalGeneration(config).eval()
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "layer_norm" in pname:
                    p.uniform_(0.5, 1.5)
                if "relative_attention_bias" in pname:
                    p.normal_(0.0, 1.0)
        directory = os.path.join(OUT, name)
        shutil.rmtree(directory, ignore_errors=True)
        model.save_pretrained(directory, safe_serialization=True)
        for extra in ["generation_config.json"]:
            path = os.path.join(directory, extra)
            if os.path.exists(path):
                os.remove(path)

        batch = tokenizer(SOURCES, return_tensors="pt", padding=True)
        with torch.no_grad():
            states = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
        sources = []
        for i in range(len(SOURCES)):
            n = int(batch.attention_mask[i].sum())
            ids = batch.input_ids[i, :n]
            greedy = greedy_decode(model, ids, config)
            if config.num_decoder_layers == config.num_layers:
                # model.generate's cache assumes as many decoder layers as encoder layers (transformers 4.57).
                with torch.no_grad():
                    generated = model.generate(input_ids=ids[None], attention_mask=torch.ones_like(ids)[None],
                                               max_new_tokens=GREEDY_TOKENS, do_sample=False, num_beams=1)
                assert generated[0, 1:].tolist() == greedy, (generated, greedy)
            sources.append({"text": SOURCES[i], "ids": ids.tolist(), "encoder": rounded(states[i, :n]),
                            "greedy": greedy})
        pairs = []
        for i, target in enumerate(TARGETS):
            source = tokenizer(SOURCES[i * 2], return_tensors="pt").input_ids
            labels = tokenizer(target).input_ids
            decoder_ids = [config.decoder_start_token_id] + labels[:-1]
            with torch.no_grad():
                logits = model(input_ids=source, decoder_input_ids=torch.tensor([decoder_ids])).logits[0]
            pairs.append({"source": source[0].tolist(), "decoder_ids": decoder_ids, "logits": rounded(logits)})
        result["models"][name] = {"sources": sources, "pairs": pairs}
        size = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, {size} bytes on disk")
    with open(os.path.join(OUT, "reference-model.json"), "w") as f:
        json.dump(result, f)
        f.write("\n")


if __name__ == "__main__":
    main()
