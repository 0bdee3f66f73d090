#!/usr/bin/env python3
"""T5 training speed, Tailor beside PyTorch (issue #15): tokens/s and peak RSS of LoRA and full fine-tuning on the
same (source, target) pairs, in the same order, the same batches (--batch-size pairs per optimizer step) on both sides.

Subcommands (run with the reference venv, ~/.cache/tailor/venv-ref/bin/python):
  model OUT        a random t5-small-shaped T5ForConditionalGeneration (transformers' default T5Config: 6+6 layers,
                   d_model 512, d_ff 2048, ReLU, tied head, vocab 32128; 60.5M weights; decoder_start_token_id 0),
                   seed 0, saved as safetensors with the fixtures' Unigram tokenizer (Fixtures/t5/unigram, 477
                   pieces: its ids fit the model's vocabulary). Weights go to OUT (e.g. /tmp), never into the repo.
  data SRC OUT N   the first N GadgetGurus prompt/completion records as {"document": prompt, "summary": completion}.
  torch MODEL DATA --mode lora|full [--pairs N] [--threads 2] [--batch-size B]
                   the PyTorch peer: transformers T5ForConditionalGeneration, fp32, a plain loop, B pairs per
                   forward/backward/AdamW step (as Tailor's `--batch-size B`): sources padded with attention_mask,
                   labels padded with -100, so the loss is the mean over the batch's target tokens on both sides; the
                   pairs in Tailor's order and batches (its seeded Fisher-Yates shuffle, seed 42, ported below; the
                   last batch may be short). Sources and targets tokenized as Tailor and transformers' summarisation
                   example do: EOS appended, truncation to 512 / 128 tokens keeping EOS last.
                   lora: PEFT r 8, alpha 16, dropout 0 on q, k, v, o (self- and cross-attention) and wi, wo (what
                   Tailor's default targets q,k,v,o,gate,up,down name in a ReLU T5: T5LoRAParameters.moduleNames),
                   AdamW lr 1e-3, no weight decay. full: every weight, AdamW lr 5e-5 with weight decay 0.01 on
                   the parameters Trainer.get_decay_parameter_names picks (the matrices). Both clip the gradient
                   norm at 1 as Trainer and Tailor do; dropout 0 (the model's dropout_rate too), as Tailor trains.
                   Tailor's learning rate warms up and decays where the peer's is constant: the same work per step.
                   Step 1 trains the same pair from the same weights on both sides, so its loss is the same (checked
                   by hand: 10.8475 in every run of bench-results/t5-train.jsonl).
                   Tokens counted per step: source tokens + target tokens of the batch's pairs, padding not counted
                   (EOS included in each; the decoder reads as many as the target has). Prints `RESULT {json}`: tokens/s over every step after
                   the first (sum of their tokens / sum of their wall times, forward to optimizer step), peak RSS.
  tailor TAILOR MODEL DATA --mode lora|full [--pairs N] [--threads 2] [--batch-size B]
                   runs `tailor train --batch-size B --epochs 1 --input-field document --target-field summary
                   --max-source-tokens 512 --max-target-tokens 128` under /usr/bin/time -v, timestamps each step's
                   progress line as it arrives on stderr, and reports tokens/s over the steps after the first the
                   same way (the tokens of step i from the same order; the total is checked against the one Tailor
                   prints), and the peak RSS /usr/bin/time reports.

Both sides also report `timed_gflop` and `gflop_per_s`: the arithmetic of the timed steps counted the same way for
both from the pairs' token counts (no padding; step_gflop below), so that each side's rate can be set against the
sgemm peak measured in the same round (scripts/bench-t5.sh records it) — PyTorch's padding is work it does beyond
that count, not counted for it.
"""
import argparse, json, os, re, resource, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZER = os.path.join(ROOT, "Tests", "TailorEngineTests", "Fixtures", "t5", "unigram")
MAX_SOURCE, MAX_TARGET, SEED = 512, 128, 42
M64 = (1 << 64) - 1


class SeededRandom:
    """Tailor's SeededRandom (Sources/TailorEngine/Generate/SeededRandom.swift): xoshiro256** seeded by splitmix64."""
    def __init__(self, seed):
        x = seed & M64
        s = []
        for _ in range(4):
            x = (x + 0x9E3779B97F4A7C15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
            s.append(z ^ (z >> 31))
        self.s = s

    @staticmethod
    def rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & M64

    def next(self):
        s = self.s
        result = (self.rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t
        s[3] = self.rotl(s[3], 45)
        return result


def tailor_order(n, epoch=0, seed=SEED):
    """T5Trainer.order(epoch:)."""
    rng = SeededRandom(seed ^ (((epoch + 1) * 0xA24BAED4963EE407) & M64))
    idx = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return idx


def tokenize_pairs(model_dir, data, pairs):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = [json.loads(l) for l in open(data) if l.strip()][:pairs]
    out = []
    for r in rows:
        s = tok(r["document"], truncation=True, max_length=MAX_SOURCE).input_ids
        t = tok(r["summary"], truncation=True, max_length=MAX_TARGET).input_ids
        out.append((s, t))
    return out


def model_config(model_dir):
    return json.load(open(os.path.join(model_dir, "config.json")))


def step_gflop(c, batch, mode):
    """The arithmetic of one training step on `batch` [(source ids, target ids)], in GFLOP, from the model's config `c`
    (its config.json, as model_config reads it):
    a forward is 2 FLOPs per multiply-add of every product over the unpadded rows — the encoder's attention (q, k, v,
    o: d_model × heads·d_kv each) and feed-forward (2 matrices, 3 if gated) per source token; the decoder's
    self-attention, cross-attention queries and outputs and feed-forward per target token, the cross-attention keys
    and values per source token and decoder layer; the head (d_model × vocabulary) per target token; the attention
    scores and their weighted sums over every key a row sees (source × source in the encoder, target × target in the
    decoder's self-attention counted whole, target × source across). LoRA's step is counted as 2 forwards (each
    product's input gradient; its r = 8 factors are < 2 % more), full fine-tuning's as 3 (the weight gradients too);
    AdamW and the element-wise work are left out. An approximation for comparing rates, the same for both sides."""
    d, ff, inner, V = c["d_model"], c["d_ff"], c["num_heads"] * c["d_kv"], c["vocab_size"]
    le, ld = c["num_layers"], c.get("num_decoder_layers") or c["num_layers"]
    ffm = (3 if c.get("feed_forward_proj", "relu").startswith("gated") else 2) * d * ff
    macs = 0
    for src, tgt in batch:
        s, t = len(src), len(tgt)
        macs += le * (s * (4 * d * inner + ffm) + 2 * s * s * inner)
        macs += ld * (t * (6 * d * inner + ffm) + s * 2 * d * inner + 2 * t * t * inner + 2 * t * s * inner)
        macs += t * d * V
    return 2 * macs * (2 if mode == "lora" else 3) / 1e9


def make_model(out):
    import torch
    from transformers import T5Config, T5ForConditionalGeneration
    torch.manual_seed(0)
    config = T5Config(decoder_start_token_id=0, dropout_rate=0.0)
    model = T5ForConditionalGeneration(config)
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    for f in os.listdir(TOKENIZER):
        shutil.copy(os.path.join(TOKENIZER, f), out)
    print(f"{out}: {sum(p.numel() for p in model.parameters())} weights")


def make_data(src, out, n):
    rows = [json.loads(l) for l in open(src) if l.strip()][:n]
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps({"document": r["prompt"], "summary": r["completion"]}) + "\n")
    print(f"{out}: {len(rows)} pairs")


def loadavg():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


def run_torch(a):
    import torch
    torch.set_num_threads(a.threads)
    from transformers import T5ForConditionalGeneration, Trainer
    load_start = loadavg()
    t0 = time.perf_counter()
    model = T5ForConditionalGeneration.from_pretrained(a.model, dtype=torch.float32, dropout_rate=0.0)
    pairs = tokenize_pairs(a.model, a.data, a.pairs)
    load_s = time.perf_counter() - t0
    if a.mode == "lora":
        from peft import LoraConfig, get_peft_model
        torch.manual_seed(0)
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="SEQ_2_SEQ_LM",
                                                 target_modules=["q", "k", "v", "o", "wi", "wo"]))
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.0)
    else:
        named = dict(model.named_parameters())
        decayed = set(Trainer.get_decay_parameter_names(None, model))
        params = list(named.values())
        opt = torch.optim.AdamW([{"params": [p for n, p in named.items() if n in decayed], "weight_decay": 0.01},
                                 {"params": [p for n, p in named.items() if n not in decayed], "weight_decay": 0.0}],
                                lr=5e-5)
    trainable = sum(p.numel() for p in params)
    model.train()
    steps = []
    config = model_config(a.model)
    order = tailor_order(len(pairs))
    for b in range(0, len(order), a.batch_size):
        batch = [pairs[i] for i in order[b:b + a.batch_size]]
        ws, wt = max(len(s) for s, _ in batch), max(len(t) for _, t in batch)
        ids = torch.tensor([s + [0] * (ws - len(s)) for s, _ in batch])
        mask = torch.tensor([[1] * len(s) + [0] * (ws - len(s)) for s, _ in batch])
        labels = torch.tensor([t + [-100] * (wt - len(t)) for _, t in batch])
        start = time.perf_counter()
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        steps.append((time.perf_counter() - start, sum(len(s) + len(t) for s, t in batch), loss.item(),
                      step_gflop(config, batch, a.mode)))
        print(f"step {len(steps)} {steps[-1][1]} tokens {steps[-1][0]:.3f}s loss {steps[-1][2]:.4f}", file=sys.stderr, flush=True)
    timed = steps[1:]
    secs = sum(x[0] for x in timed)
    import peft, transformers
    res = {"side": "pytorch", "mode": a.mode, "threads": torch.get_num_threads(), "pairs": len(pairs), "batch_size": a.batch_size,
           "steps": len(steps), "timed_steps": len(timed), "timed_tokens": sum(x[1] for x in timed),
           "timed_seconds": round(secs, 3), "tokens_per_s": round(sum(x[1] for x in timed) / secs, 1),
           "seconds_per_step": round(secs / len(timed), 4), "total_tokens": sum(x[1] for x in steps),
           "timed_gflop": round(sum(x[3] for x in timed), 1), "gflop_per_s": round(sum(x[3] for x in timed) / secs, 1),
           "trainable_params": trainable, "load_s": round(load_s, 2),
           "loss_first": round(steps[0][2], 4), "loss_last": round(steps[-1][2], 4),
           "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
           "loadavg_start": load_start, "loadavg_end": loadavg(),
           "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    print("RESULT " + json.dumps(res), flush=True)


def run_tailor(a):
    pairs = tokenize_pairs(a.model, a.data, a.pairs)
    order = tailor_order(len(pairs))
    tokens = [sum(len(pairs[i][0]) + len(pairs[i][1]) for i in order[b:b + a.batch_size])
              for b in range(0, len(order), a.batch_size)]
    config = model_config(a.model)
    gflop = [step_gflop(config, [pairs[i] for i in order[b:b + a.batch_size]], a.mode)
             for b in range(0, len(order), a.batch_size)]
    data = a.data
    if a.pairs < sum(1 for l in open(a.data) if l.strip()):
        data = tempfile.mktemp(suffix=".jsonl")
        with open(a.data) as f, open(data, "w") as g:
            g.writelines([l for l in f if l.strip()][:a.pairs])
    out = tempfile.mkdtemp(prefix="t5bench-")
    cmd = ["/usr/bin/time", "-v", a.tailor, "train", "--model", a.model, "--data", data, "--out", out,
           "--epochs", "1", "--batch-size", str(a.batch_size), "--threads", str(a.threads), "--training-type", a.mode,
           "--input-field", "document", "--target-field", "summary",
           "--max-source-tokens", str(MAX_SOURCE), "--max-target-tokens", str(MAX_TARGET)]
    load_start = loadavg()
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    buf, text, stamps = b"", "", {}
    while True:
        chunk = os.read(p.stderr.fileno(), 65536)
        if not chunk:
            break
        now = time.perf_counter()
        buf += chunk
        *parts, buf = re.split(rb"[\r\n]", buf)
        for line in parts:
            line = line.decode(errors="replace")
            text += line + "\n"
            m = re.match(r"step (\d+)/(\d+)", line)
            if m and int(m.group(1)) not in stamps:
                stamps[int(m.group(1))] = now
        # A progress line is "\rstep k/n …" with no line end: it is complete when it arrives (one write), but only the
        # next "\r" would close it. Stamp it now, not when the next line (or, after the last step, the final
        # checkpoint and export) closes it.
        m = re.match(rb"step (\d+)/(\d+) .* tok/s", buf)
        if m and int(m.group(1)) not in stamps:
            stamps[int(m.group(1))] = now
    text += buf.decode(errors="replace")
    p.wait()
    wall = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    if p.returncode != 0:
        sys.exit(f"tailor failed ({p.returncode}):\n{text[-3000:]}")
    said = int(re.search(r"\d+ pairs \((\d+) tokens\)", text).group(1))
    assert said == sum(tokens), f"Tailor counts {said} tokens, the peer {sum(tokens)}: the pairs differ"
    n = len(tokens)
    assert sorted(stamps) == list(range(1, n + 1)), f"saw steps {sorted(stamps)[:5]}… of {n}"
    secs = stamps[n] - stamps[1]
    timed_tokens = sum(tokens[1:])
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
    res = {"side": "tailor", "mode": a.mode, "threads": a.threads, "pairs": len(pairs), "batch_size": a.batch_size, "steps": n, "timed_steps": n - 1,
           "timed_tokens": timed_tokens, "timed_seconds": round(secs, 3), "tokens_per_s": round(timed_tokens / secs, 1),
           "seconds_per_step": round(secs / (n - 1), 4), "total_tokens": sum(tokens),
           "timed_gflop": round(sum(gflop[1:]), 1), "gflop_per_s": round(sum(gflop[1:]) / secs, 1),
           "process_wall_s": round(wall, 2), "peak_rss_mib": round(rss_kib / 1024, 1),
           "loadavg_start": load_start, "loadavg_end": loadavg(),
           "loss_first": float(re.search(r"step 1/\d+ .*?loss ([\d.]+)", text).group(1)),
           "last_line": [l for l in text.splitlines() if l.startswith("step ")][-1].strip()}
    print("RESULT " + json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("model"); m.add_argument("out")
    d = sub.add_parser("data"); d.add_argument("src"); d.add_argument("out"); d.add_argument("n", type=int)
    for name in ["torch", "tailor"]:
        r = sub.add_parser(name)
        if name == "tailor":
            r.add_argument("tailor")
        r.add_argument("model"); r.add_argument("data")
        r.add_argument("--mode", choices=["lora", "full"], required=True)
        r.add_argument("--pairs", type=int, default=40)
        r.add_argument("--threads", type=int, default=2)
        r.add_argument("--batch-size", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "model":
        make_model(a.out)
    elif a.cmd == "data":
        make_data(a.src, a.out, a.n)
    elif a.cmd == "torch":
        run_torch(a)
    else:
        run_tailor(a)


if __name__ == "__main__":
    main()
