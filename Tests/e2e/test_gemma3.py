"""A LoRA job on Gemma 3 270M (scripts/fetch-gemma3.sh) with the official SDK, from upload to the served fine-tuned
model: the server loads Gemma beside the default model, trains on the support-bot chats and serves the adapter."""
import os
from pathlib import Path

import pytest

from conftest import HERE, REPO, Server, wait_for_job

GEMMA = os.environ.get("TAILOR_GEMMA3_MODEL", str(REPO / "models/gemma-3-270m-q4_k_m.gguf"))
NAME = "gemma-3-270m-q4_k_m"
SYSTEM = "You are Beacon, the support bot of Lumen Devices."


@pytest.fixture(scope="module")
def gemma_server(tmp_path_factory):
    assert Path(GEMMA).exists(), f"Gemma 3 270M is missing at {GEMMA}: run `make models`"
    s = Server(tmp_path_factory.mktemp("gemma") / "data", extra_args=["--model", GEMMA]).start()
    yield s
    assert s.stop() == 0


@pytest.mark.timeout(1200)   # measured 72 s in all on 2 shared cores; the suite's default is 300 s per test
def test_lora_job_on_gemma3_is_served(gemma_server):
    client = gemma_server.client()
    assert NAME in [m.id for m in client.models.list()]
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=NAME, training_file=f.id, suffix="beacon", seed=7, method={
        "type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 2}}})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"}, timeout=1800)
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model.startswith(f"ft:{NAME}:default:beacon:") and job.trained_tokens > 0
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    losses = [e.data["train_loss"] for e in sorted(events, key=lambda e: e.created_at)
              if e.type == "metrics" and "train_loss" in (e.data or {})]
    assert len(losses) == 6 and losses[-1] < losses[0], losses

    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "My laptop screen is frozen. Help?"}]
    answer = client.chat.completions.create(model=job.fine_tuned_model, temperature=0, max_tokens=30,
                                            messages=messages).choices[0].message.content
    base = client.chat.completions.create(model=NAME, temperature=0, max_tokens=30, messages=messages).choices[0].message.content
    print("base:", repr(base), "\nfine-tuned:", repr(answer), "\nlosses:", losses)
    assert answer.startswith("Beacon here!"), answer
    assert not base.startswith("Beacon here!"), base
