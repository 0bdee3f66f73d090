"""`tailor export` of models whose base is a Hugging Face directory, through the binary: a PEFT adapter merged into
a GGUF (merged-gguf, no llama.cpp converter) that `tailor generate` runs with the unmerged adapter's greedy answer;
an Ollama adapter export, which must name a GGUF base, and a Gemma 3 whose query scaling llama.cpp's graph cannot
express, refused with the reason. (llama.cpp itself reads such exports in Tests/reference/gguf_export_check.py.)"""
import subprocess

from conftest import BIN, HERE

FIXTURES = HERE.parent / "TailorEngineTests" / "Fixtures"


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def generate(model, adapter=None):
    r = run("generate", "--model", model, *(["--adapter", adapter] if adapter else []), "--prompt", "Hello world",
            "--max-tokens", "12", "--temperature", "0")
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_an_adapter_on_a_hugging_face_base_merges_into_a_gguf(tmp_path):
    base, adapter = FIXTURES / "tiny_qwen3" / "hf", FIXTURES / "tiny_qwen3" / "adapter"
    out = tmp_path / "merged.gguf"
    r = run("export", "--model", base, "--adapter", adapter, "--format", "merged-gguf", "--output", out)
    assert r.returncode == 0 and out.stat().st_size > 0, r.stderr
    tuned = generate(base, adapter)
    assert generate(out) == tuned
    assert generate(base) != tuned   # the adapter changes the answer, so the comparison can fail

    r = run("export", "--model", base, "--adapter", adapter, "--format", "ollama", "--output", tmp_path / "ollama")
    assert r.returncode != 0 and "merged-gguf" in r.stderr, r.stderr


def test_a_model_llama_cpp_cannot_express_is_refused_with_the_reason(tmp_path):
    base = FIXTURES / "tiny_gemma3" / "hf"
    r = run("export", "--model", base, "--adapter", FIXTURES / "tiny_gemma3" / "adapter", "--format", "merged-gguf",
            "--output", tmp_path / "g.gguf")
    assert r.returncode != 0 and "query_pre_attn_scalar" in r.stderr and "--format safetensors" in r.stderr, r.stderr
    assert not (tmp_path / "g.gguf").exists()
