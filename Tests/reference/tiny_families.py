"""Tiny random Qwen 3 and Gemma 3 checkpoints and their reference outputs, for Tailor's engine tests.

For each family, builds a seeded random model with transformers (f32, small dims, a 320-token byte-level BPE
tokenizer trained here on a fixed corpus) and writes Tests/TailorEngineTests/Fixtures/tiny_<family>/:
  - hf/: the Hugging Face directory (config.json, model.safetensors, tokenizer.json, tokenizer_config.json)
  - model.gguf: the same weights as llama.cpp's converter writes them (qwen3 / gemma3 architecture; Gemma's norm
    weights with the 1 added, as convert_hf_to_gguf.py does)
  - adapter/: a PEFT LoRA adapter (rank 4 on all seven projections, random A and B)
  - reference.json: per prompt the logits of every position and transformers' greedy continuation (ids, text);
    llama.cpp's logits on model.gguf; the LoRA gradients of one batch (mean cross-entropy over the completion
    tokens) and the losses of 5 AdamW steps (torch.optim.AdamW, constant lr, no decay, no clipping) on that batch.
Gemma 3 uses 6 layers (five sliding, one global: llama.cpp's fixed pattern) with a window of 4 tokens, shorter than
the prompts and training examples, and query_pre_attn_scalar 8 ≠ head_dim 16 (llama.cpp's gemma3 graph always uses
head_dim, so its reference of model.gguf differs there: the GGUF test checks Tailor against llama.cpp on the file).

Usage: python tiny_families.py   (the venv from setup_venv.sh)
"""
import json, os, shutil

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures")

CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "Tailor fine-tunes small language models on a CPU.",
    "Gemma and Qwen are families of decoder-only transformers.",
    "def add(a, b):\n    return a + b\n",
    "Once upon a time, a tailor sewed seven suits in one day.",
    "1, 2, 3, 4, 5, 6, 7, 8, 9, 10",
    "What is the capital of France? Paris is the capital of France.",
] * 4
PROMPTS = [
    "The quick brown fox",
    "Tailor fine-tunes small language models on a CPU. Gemma and Qwen are",
    "def add(a, b):\n",
]
GREEDY = 16
# Training examples: (prompt, completion); the loss covers the completion.
EXAMPLES = [
    ("What is the capital of France?", " Paris is the capital of France."),
    ("Count: 1, 2, 3,", " 4, 5, 6, 7, 8"),
]
RANK, ALPHA, LR, STEPS = 4, 8, 1e-2, 5
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def tokenizer(directory):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content']"
                          " + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                          "{{ '<|im_start|>assistant\\n' }}{% endif %}")
    fast.save_pretrained(directory)
    return fast, tok


def randomize(model, family, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (0.5 if "embed" in name else 0.2))
            elif family == "gemma3":   # stored w, multiplier 1 + w
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
            else:
                p.copy_(1 + torch.randn(p.shape, generator=g) * 0.1)


def build(family, vocab):
    from transformers import AutoModelForCausalLM
    if family == "qwen3":
        from transformers import Qwen3Config
        config = Qwen3Config(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=128,
                             rms_norm_eps=1e-6, rope_theta=1e6, tie_word_embeddings=False, attention_bias=False,
                             bos_token_id=None, eos_token_id=2, pad_token_id=0)
    else:
        from transformers import Gemma3TextConfig
        config = Gemma3TextConfig(vocab_size=vocab, hidden_size=32, intermediate_size=48, num_hidden_layers=6,
                                  num_attention_heads=4, num_key_value_heads=1, head_dim=16,
                                  max_position_embeddings=128, rms_norm_eps=1e-6, rope_theta=1e6,
                                  rope_local_base_freq=1e4, query_pre_attn_scalar=8, sliding_window=4,
                                  layer_types=["sliding_attention"] * 5 + ["full_attention"],
                                  hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
                                  bos_token_id=None, eos_token_id=2, pad_token_id=0)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager")
    randomize(model, family, seed=1 if family == "qwen3" else 2)
    model.eval()
    return model


def write_gguf(family, model, tok, path):
    import gguf
    c = model.config
    w = gguf.GGUFWriter(path, family)
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_rope_freq_base(c.rope_theta)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    if family == "gemma3":
        w.add_sliding_window(c.sliding_window)
    vocab = tok.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    special = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([3 if t in special else 1 for t in tokens])
    merges = json.loads(tok.to_str())["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_add_bos_token(False)
    names = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
             "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "self_attn.q_norm": "attn_q_norm",
             "self_attn.k_norm": "attn_k_norm", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down"}
    if family == "gemma3":
        names.update({"post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
                      "post_feedforward_layernorm": "post_ffw_norm"})
    else:
        names["post_attention_layernorm"] = "ffn_norm"
    for name, t in model.state_dict().items():
        a = t.detach().float().numpy()
        if family == "gemma3" and name.endswith("norm.weight"):
            a = a + 1   # convert_hf_to_gguf.py's Gemma3Model adds 1 to every norm weight
        if name == "model.embed_tokens.weight":
            out = "token_embd.weight"
        elif name == "model.norm.weight":
            out = "output_norm.weight"
        elif name == "lm_head.weight":
            if c.tie_word_embeddings:
                continue
            out = "output.weight"
        else:
            parts = name.split(".")   # model.layers.N.<module...>.weight
            out = f"blk.{parts[2]}.{names['.'.join(parts[3:-1])]}.weight"
        w.add_tensor(out, np.ascontiguousarray(a, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llamacpp_logits(path, prompts):
    from llama_cpp import Llama
    llm = Llama(model_path=path, n_ctx=64, n_threads=2, n_batch=64, logits_all=True, verbose=False,
                type_k=0, type_v=0, flash_attn=False)
    out = []
    for ids in prompts:
        llm.reset()
        llm.eval(ids)
        out.append([[round(float(x), 5) for x in llm.scores[i]] for i in range(len(ids))])
    del llm
    return out


def random_peft(model, rank, alpha, targets, seed):
    """`model` wrapped in a PEFT LoRA whose A and B are seeded Gaussians (× 0.1), so the adapter moves the logits (a
    fresh one, B = 0, would not). Shared with gguf_export_check.py."""
    from peft import LoraConfig, get_peft_model
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets,
                                                  task_type="CAUSAL_LM"))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return peft_model


def lora_reference(model, fast, directory):
    peft_model = random_peft(model, RANK, ALPHA, TARGETS, seed=3)
    shutil.rmtree(directory, ignore_errors=True)
    peft_model.save_pretrained(directory)
    os.remove(os.path.join(directory, "README.md"))
    examples = []
    for prompt, completion in EXAMPLES:
        p, c = fast.encode(prompt), fast.encode(completion)
        examples.append({"prompt": p, "completion": c})

    def loss_fn():
        total, count = 0.0, 0
        for e in examples:
            ids = torch.tensor([e["prompt"] + e["completion"]])
            logits = peft_model(ids).logits[0]
            n = len(e["prompt"])
            targets = ids[0, n:]
            total = total + torch.nn.functional.cross_entropy(logits[n - 1:-1], targets, reduction="sum")
            count += len(e["completion"])
        return total / count

    params = [p for n, p in peft_model.named_parameters() if p.requires_grad]
    loss = loss_fn()
    loss.backward()
    grads = {}
    for name, p in peft_model.named_parameters():
        if p.requires_grad:
            core = name.split("base_model.model.", 1)[1].replace(".default.weight", "")
            grads[core] = [float(x) for x in p.grad.detach().flatten()]
    opt = torch.optim.AdamW(params, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    opt.zero_grad()
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l = loss_fn()
        losses.append(float(l.detach()))
        l.backward()
        opt.step()
    return {"examples": examples, "rank": RANK, "alpha": ALPHA, "learning_rate": LR, "first_loss": float(loss),
            "grads": grads, "step_losses": losses}


def family_fixture(family):
    out = os.path.join(FIXTURES, f"tiny_{family}")
    shutil.rmtree(out, ignore_errors=True)
    hf = os.path.join(out, "hf")
    os.makedirs(hf)
    fast, tok = tokenizer(hf)
    model = build(family, len(fast))
    model.save_pretrained(hf, safe_serialization=True)
    fast.save_pretrained(hf)
    write_gguf(family, model, tok, os.path.join(out, "model.gguf"))

    prompts = [fast.encode(p) for p in PROMPTS]
    cases = []
    for text, ids in zip(PROMPTS, prompts):
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0]
            gen = model.generate(torch.tensor([ids]), max_new_tokens=GREEDY, do_sample=False, eos_token_id=None,
                                 pad_token_id=0)[0, len(ids):].tolist()
        cases.append({"prompt": text, "prompt_tokens": ids,
                      "logits": [[round(float(x), 5) for x in row] for row in logits],
                      "greedy_tokens": gen, "greedy_text": fast.decode(gen)})
    for case, rows in zip(cases, llamacpp_logits(os.path.join(out, "model.gguf"), prompts)):
        case["llamacpp_logits"] = rows
    training = lora_reference(model, fast, os.path.join(out, "adapter"))
    import llama_cpp, peft, transformers
    ref = {"family": family, "vocab_size": len(fast),
           "generator": f"Tests/reference/tiny_families.py; transformers {transformers.__version__}, peft "
                        f"{peft.__version__}, torch {torch.__version__}, llama-cpp-python {llama_cpp.__version__}",
           "cases": cases, "training": training}
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(ref, f)
    print("wrote", out)


def main():
    torch.set_num_threads(2)
    for family in ("qwen3", "gemma3"):
        family_fixture(family)


if __name__ == "__main__":
    main()
