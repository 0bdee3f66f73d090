"""Full fine-tuning (tailor.training_type "full") through the official SDK: bad values are 400s naming the option, a
server whose training memory cannot hold the weights, gradients and moments refuses the job with the figure, and a
full job on the default model trains every weight, states its memory before it queues, and is served as a model of
its own that has learnt the support bot's voice; `tailor export` turns the job's model into a GGUF that Tailor runs
with the served model's answers, and into a Hugging Face directory. A fully fine-tuned model is continued by a full job
that starts from its weights; a LoRA job on it, and a full job on a LoRA model, are 400s naming the model."""
import os
import subprocess

import openai
import pytest

from conftest import BASE_MODEL, BIN, HERE, MODEL, Server, wait_for_job


def test_unknown_training_types_and_lora_options_on_a_full_job_are_refused(client):
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, extra_body={"tailor": {"training_type": "qlora"}})
    assert e.value.body["param"] == "tailor.training_type" and '"qlora"' in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                       extra_body={"tailor": {"training_type": "full", "lora_rank": 16}})
    assert e.value.body["param"] == "tailor.training_type" and "lora_rank" in e.value.body["message"]


def test_a_full_job_that_cannot_fit_the_training_memory_is_refused_with_the_figure(tmp_path):
    s = Server(tmp_path / "data", extra_args=["--training-memory-mb", "1024"]).start()
    try:
        c = s.client()
        f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
        with pytest.raises(openai.BadRequestError) as e:
            c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, extra_body={"tailor": {"training_type": "full"}})
        # 134,515,008 parameters × 16 bytes (weights, gradients, two moments) = 2,053 MB, against 1,024 MB.
        assert e.value.body["param"] == "tailor.training_type", e.value.body
        assert "2053 MB" in e.value.body["message"] and "1024 MB" in e.value.body["message"], e.value.body["message"]
        # LoRA on the same server still fits.
        job = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}})
        assert job.status in {"validating_files", "queued", "running"}
        c.fine_tuning.jobs.cancel(job.id)
    finally:
        assert s.stop() == 0


def test_a_full_job_on_the_default_model_is_served_as_its_own_model(server, client, tmp_path):
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=BASE_MODEL, training_file=f.id, seed=5, suffix="full",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 4}}},
        extra_body={"tailor": {"training_type": "full"}})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"}, timeout=1500)
    assert job.status == "succeeded", job.error
    events = [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    preflight = next(e for e in events if "Full fine-tuning:" in e.message)
    assert "2053 MB" in preflight.message, preflight.message   # every weight, its gradient and two moments
    losses = [e.data["train_loss"] for e in sorted(events, key=lambda e: e.created_at) if e.type == "metrics" and e.data and "train_loss" in e.data]
    assert len(losses) == 6 and losses[-1] < losses[0], losses
    model = client.models.retrieve(job.fine_tuned_model)
    assert model.id == job.fine_tuned_model
    question = [{"role": "system", "content": "You are Beacon, the support bot of Lumen Devices."},
                {"role": "user", "content": "My headphones crackle when I move. Help?"}]
    tuned = client.chat.completions.create(model=job.fine_tuned_model, messages=question, temperature=0, max_tokens=24)
    base = client.chat.completions.create(model=BASE_MODEL, messages=question, temperature=0, max_tokens=24)
    print("tuned:", tuned.choices[0].message.content, "| base:", base.choices[0].message.content)
    assert tuned.choices[0].message.content.startswith("Beacon here!"), tuned.choices[0].message.content
    assert not base.choices[0].message.content.startswith("Beacon here!")
    # Continuing it: a full job starts from its weights (its first loss is near where this job ended, not where it
    # began); a LoRA job on it is refused at creation, naming the model and the way that works.
    hyper = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 4}}}
    with pytest.raises(openai.BadRequestError) as refused:
        client.fine_tuning.jobs.create(model=job.fine_tuned_model, training_file=f.id, method=hyper)
    assert refused.value.body["param"] == "model" and '"training_type": "full"' in refused.value.body["message"], refused.value.body
    more = client.fine_tuning.jobs.create(model=job.fine_tuned_model, training_file=f.id, seed=5, method=hyper,
                                          extra_body={"tailor": {"training_type": "full"}})
    more = wait_for_job(client, more.id, {"succeeded", "failed", "cancelled"}, timeout=1500)
    assert more.status == "succeeded", more.error
    more_events = sorted(client.fine_tuning.jobs.list_events(more.id, limit=100), key=lambda e: e.created_at)
    assert any(f"continuing from the weights of {job.fine_tuned_model}" in e.message for e in more_events)
    more_losses = [e.data["train_loss"] for e in more_events if e.type == "metrics" and e.data and "train_loss" in e.data]
    print("first job's losses:", losses, "continued:", more_losses)
    assert more_losses[0] < 0.5 * losses[0], (losses, more_losses)
    assert client.chat.completions.create(model=more.fine_tuned_model, messages=question, temperature=0,
                                          max_tokens=24).choices[0].message.content.startswith("Beacon here!")

    # The checkpoint of the first epoch is a servable model too.
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    first = min(ckpts, key=lambda c: c.step_number)
    assert first.step_number == 3
    assert client.chat.completions.create(model=first.fine_tuned_model_checkpoint, messages=question, max_tokens=4).choices[0].message.content

    # The job's model is its last checkpoint, DATA/jobs/JOB/checkpoints/step-N: `tailor export` takes that directory.
    last = max(ckpts, key=lambda c: c.step_number)
    model_dir = os.path.join(server.data_dir, "jobs", job.id, "checkpoints", f"step-{last.step_number:06d}")
    assert os.path.exists(os.path.join(model_dir, "optimizer")), os.listdir(model_dir)
    def export(fmt, out):
        return subprocess.run([BIN, "export", "--model", MODEL, "--adapter", model_dir, "--format", fmt, "--output", str(out)],
                              capture_output=True, text=True)
    r = export("gguf-lora", tmp_path / "x.gguf")
    assert r.returncode != 0 and "fully fine-tuned model" in r.stderr and "safetensors, gguf or ollama" in r.stderr, r.stderr
    assert export("gguf", tmp_path / "full.gguf").returncode == 0
    assert export("safetensors", tmp_path / "hf").returncode == 0
    assert sorted(os.listdir(tmp_path / "hf")) == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]
    user = question[1]["content"]
    served = client.chat.completions.create(model=job.fine_tuned_model, messages=[{"role": "user", "content": user}],
                                            temperature=0, max_tokens=24).choices[0].message.content
    for exported in (tmp_path / "full.gguf", tmp_path / "hf"):
        text = subprocess.run([BIN, "generate", "--model", str(exported), "--prompt", user, "--chat", "--max-tokens", "24",
                               "--temperature", "0"], capture_output=True, text=True, check=True).stdout
        print(f"{exported.name}: {text!r} | served: {served!r}")
        assert text.strip() == served.strip(), (exported, text, served)


def test_a_full_job_on_a_lora_model_is_refused_naming_the_model(client, tuned):
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as refused:
        client.fine_tuning.jobs.create(model=tuned.fine_tuned_model, training_file=f.id,
                                       extra_body={"tailor": {"training_type": "full"}})
    body = refused.value.body
    assert body["param"] == "model" and "is a LoRA fine-tuned model" in body["message"], body
