"""`tailor train` on a T5 directory (the tiny gated-GELU fixture with its Unigram tokenizer) from {"document",
"summary"} records: the run completes, the validation loss falls, and the adapter is PEFT's T5 layout (task
SEQ_2_SEQ_LM, encoder and decoder keys); a misspelt field is refused naming the field and the line. With
--training-type full (the tiny ReLU fixture, tied head) every weight trains: the model and each checkpoint are Hugging
Face T5 directories under transformers' names, and a run stopped and resumed writes the same model, byte for byte.
`tailor export` writes either as a Hugging Face T5 directory (an adapter merged into the base)."""
import json
import shutil
import struct
import subprocess

from conftest import BIN, REPO

FIXTURES = REPO / "Tests" / "TailorEngineTests" / "Fixtures" / "t5"
PAIRS = [
    ("The house on the hill is large and wonderful.", "a wonderful house"),
    ("Tailor trains adapters and serves them.", "Tailor trains"),
    ("The weather today is cold, with rain in the morning.", "cold and rainy"),
    ("Hello world, hello again.", "hello"),
    ("The cat sat on the mat all day long.", "a lazy cat"),
    ("Prices rose sharply in the last quarter.", "prices rose"),
    ("The team won the final match by two goals.", "team wins"),
    ("A new bridge opened in the city centre.", "bridge opens"),
    ("Scientists found water on a distant planet.", "water found"),
    ("The library will close early on Friday.", "library closes early"),
    ("Snow fell across the north overnight.", "snow in the north"),
    ("The train was late again this morning.", "late train"),
]


def model_dir(tmp_path, name="tiny-flan"):
    d = tmp_path / name
    d.mkdir()
    for f in (FIXTURES / name).iterdir():
        shutil.copy(f, d)
    for f in (FIXTURES / "unigram").iterdir():
        shutil.copy(f, d)
    return d


def write(path, pairs, field="document"):
    path.write_text("".join(json.dumps({field: "summarize: " + doc, "summary": s}) + "\n" for doc, s in pairs))
    return path


def safetensors_keys(path):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return set(json.loads(data[8:8 + n])) - {"__metadata__"}


def test_training_a_t5_model_from_document_summary_records(tmp_path):
    model = model_dir(tmp_path)
    train, valid = write(tmp_path / "train.jsonl", PAIRS), write(tmp_path / "valid.jsonl", PAIRS[:3])
    out = tmp_path / "run"
    run = subprocess.run([BIN, "train", "--model", str(model), "--data", str(train), "--validation", str(valid),
                          "--input-field", "document", "--target-field", "summary", "--epochs", "8", "--batch-size", "4",
                          "--learning-rate", "1e-2", "--rank", "4", "--alpha", "8", "--out", str(out), "--threads", "1"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "completed after 24 steps" in run.stderr
    before = float(run.stderr.split("validation loss before:")[1].split()[0])
    after = float(run.stderr.split("validation loss after:")[1].split()[0])
    assert after < 0.5 * before, run.stderr
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["task_type"] == "SEQ_2_SEQ_LM" and config["r"] == 4
    assert set(config["target_modules"]) == {"q", "k", "v", "o", "wi_0", "wi_1", "wo"}
    keys = safetensors_keys(out / "adapter" / "adapter_model.safetensors")
    assert "base_model.model.decoder.block.2.layer.1.EncDecAttention.k.lora_A.weight" in keys
    assert "base_model.model.encoder.block.0.layer.1.DenseReluDense.wi_1.lora_B.weight" in keys
    assert len(keys) == 2 * (2 * 7 + 3 * 11)  # encoder blocks: q k v o + 3 ffn; decoder: two attentions + 3 ffn
    assert (out / "checkpoints" / "step-000024" / "optimizer.safetensors").exists()

    # `tailor export`: the adapter merged into a Hugging Face T5 directory (the base's names, config and tokenizer),
    # or re-written as PEFT files; llama.cpp's formats are refused with what to use instead.
    def export(fmt, dest):
        return subprocess.run([BIN, "export", "--model", str(model), "--adapter", str(out / "adapter"), "--format", fmt,
                               "--output", str(dest)], capture_output=True, text=True, timeout=300)
    r = export("merged-safetensors", tmp_path / "merged")
    assert r.returncode == 0, r.stderr
    assert safetensors_keys(tmp_path / "merged" / "model.safetensors") == safetensors_keys(model / "model.safetensors")
    assert (tmp_path / "merged" / "model.safetensors").read_bytes() != (model / "model.safetensors").read_bytes()
    for f in ("config.json", "spiece.model", "tokenizer_config.json"):
        assert (tmp_path / "merged" / f).read_bytes() == (model / f).read_bytes(), f
    r = export("peft", tmp_path / "peft")
    assert r.returncode == 0, r.stderr
    assert safetensors_keys(tmp_path / "peft" / "adapter_model.safetensors") == keys
    r = export("gguf-lora", tmp_path / "x.gguf")
    assert r.returncode != 0 and "T5 encoder–decoder" in r.stderr and "merged-safetensors" in r.stderr, r.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_a_misspelt_field_names_the_field_and_the_line(tmp_path):
    model = model_dir(tmp_path)
    train = write(tmp_path / "train.jsonl", PAIRS)
    run = subprocess.run([BIN, "train", "--model", str(model), "--data", str(train), "--input-field", "documnet",
                          "--target-field", "summary", "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "Example 1" in run.stderr and '"documnet"' in run.stderr, run.stderr


def test_full_fine_tuning_of_a_t5_model_writes_hugging_face_directories_and_resumes(tmp_path):
    model = model_dir(tmp_path, "tiny-t5")
    train, valid = write(tmp_path / "train.jsonl", PAIRS), write(tmp_path / "valid.jsonl", PAIRS[:3])

    def train_run(out, *extra):
        run = subprocess.run([BIN, "train", "--model", str(model), "--data", str(train), "--validation", str(valid),
                              "--input-field", "document", "--target-field", "summary", "--training-type", "full",
                              "--epochs", "2", "--batch-size", "4", "--learning-rate", "1e-3", "--out", str(out),
                              "--threads", "1", *extra], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        return run.stderr

    out = tmp_path / "run"
    log = train_run(out)
    assert "full fine-tuning: 56672 weights" in log and "completed after 6 steps" in log, log
    before = float(log.split("validation loss before:")[1].split()[0])
    after = float(log.split("validation loss after:")[1].split()[0])
    assert after < before, log
    keys = safetensors_keys(out / "model" / "model.safetensors")
    assert len(keys) == 47 and "shared.weight" in keys and "lm_head.weight" not in keys  # a tied head is shared
    assert "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in keys
    assert "decoder.block.1.layer.2.layer_norm.weight" in keys
    assert json.loads((out / "model" / "config.json").read_text())["model_type"] == "t5"
    checkpoint = out / "checkpoints" / "step-000006"
    assert (checkpoint / "optimizer" / "adamw.safetensors").exists() and (checkpoint / "tokenizer.json").exists()
    assert safetensors_keys(checkpoint / "model.safetensors") == keys

    # A checkpoint exports as the model alone: the same weights, file for file, without its optimizer state.
    r = subprocess.run([BIN, "export", "--model", str(model), "--checkpoint", str(checkpoint), "--format", "safetensors",
                        "--output", str(tmp_path / "exported")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "exported" / "model.safetensors").read_bytes() == (checkpoint / "model.safetensors").read_bytes()
    assert (tmp_path / "exported" / "tokenizer.json").exists() and not (tmp_path / "exported" / "optimizer").exists()

    paused = tmp_path / "paused"
    train_run(paused, "--stop-after", "2")
    log = train_run(paused, "--resume", str(paused / "checkpoints" / "step-000002"))
    assert "completed after 6 steps" in log, log
    assert (paused / "model" / "model.safetensors").read_bytes() == (out / "model" / "model.safetensors").read_bytes()
