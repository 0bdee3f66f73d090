"""Fine-tuning jobs with the official SDK: the whole workflow, failures with useful errors, listing, isolation,
cancel, pause/resume, and a job surviving `kill -9` of the server."""
import csv
import io
import json
import signal
import time

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, HERE, Server, wait_for_job


def upload(c, name="support.jsonl", data=None):
    return c.files.create(file=(name, data if data is not None else (HERE / "data" / name).read_bytes()), purpose="fine-tune")


def test_workflow_upload_train_events_checkpoints_model(server, client, tuned):
    job = tuned
    assert job.fine_tuned_model.startswith(f"ft:{BASE_MODEL}:default:beacon:") and job.trained_tokens > 0
    assert job.hyperparameters.n_epochs == 2 and job.hyperparameters.batch_size == 4
    assert job.finished_at >= job.created_at and job.error is None and job.seed == 7
    raw = server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
    openapi_check.check("FineTuningJob", raw)
    assert raw["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=3))       # pages of three, newest first
    messages = [e.message for e in events][::-1]
    assert messages[0] == f"Created fine-tuning job: {job.id}"
    assert any(m.startswith("Training file: 12 examples") for m in messages)
    assert "Files validated, moving job to queued state" in messages and "Fine-tuning job started" in messages
    assert messages[-1] == "The job has successfully completed"
    metrics = [e.data for e in events if e.type == "metrics" and "train_loss" in (e.data or {})]
    assert sorted(m["step"] for m in metrics) == [1, 2, 3, 4, 5, 6] and all(m["total_steps"] == 6 for m in metrics)
    page = server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}/events?limit=2").json()
    assert page["has_more"] is True and len(page["data"]) == 2
    openapi_check.check("ListFineTuningJobEventsResponse", page)

    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in ckpts] == [6, 3]
    assert ckpts[0].fine_tuned_model_checkpoint == job.fine_tuned_model
    assert ckpts[1].fine_tuned_model_checkpoint == job.fine_tuned_model + ":ckpt-step-3"
    assert all(c.id.startswith("ftckpt_") for c in ckpts)
    # Every checkpoint event names an id that /v1/models answers to (the last one is the model itself).
    snapshots = [m.split("Snapshot ID: ")[1] for m in (e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100))
                 if "Snapshot ID: " in m]
    assert job.fine_tuned_model in snapshots and len(snapshots) == 2
    for snapshot in snapshots:
        assert client.models.retrieve(snapshot).id == snapshot
    openapi_check.check("ListFineTuningJobCheckpointsResponse", server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}/checkpoints").json())

    assert job.fine_tuned_model in [m.id for m in client.models.list()]
    assert client.models.retrieve(job.fine_tuned_model).owned_by == "default"
    rows = list(csv.reader(io.StringIO(client.files.content(job.result_files[0]).text)))
    assert rows[0][:5] == ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6"]
    assert client.files.retrieve(job.result_files[0]).purpose == "fine-tune-results"
    first, last = float(rows[1][1]), float(rows[-1][1])
    assert last < first, f"training loss did not fall: {first} -> {last}"


def test_fine_tuned_model_answers_and_can_be_deleted(client, tuned):
    ft = tuned.fine_tuned_model
    answer = client.chat.completions.create(model=ft, temperature=0, max_tokens=30, messages=[
        {"role": "system", "content": "You are Beacon, the support bot of Lumen Devices."},
        {"role": "user", "content": "My laptop screen is frozen. Help?"}]).choices[0].message.content
    assert answer.startswith("Beacon here!"), answer
    base = client.chat.completions.create(model=BASE_MODEL, temperature=0, max_tokens=30, messages=[
        {"role": "system", "content": "You are Beacon, the support bot of Lumen Devices."},
        {"role": "user", "content": "My laptop screen is frozen. Help?"}]).choices[0].message.content
    assert not base.startswith("Beacon here!")


def test_invalid_requests_name_the_parameter(client):
    f = upload(client)
    notes = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    cases = [
        (dict(model="gpt-9", training_file=f.id), "model"),
        (dict(model=BASE_MODEL, training_file="file-missing"), "training_file"),
        (dict(model=BASE_MODEL, training_file=notes.id), "training_file"),
        (dict(model=BASE_MODEL, training_file=f.id, validation_file="file-nope"), "validation_file"),
        (dict(model=BASE_MODEL, training_file=f.id, method={"type": "reinforcement"}), "method.type"),
        (dict(model=BASE_MODEL, training_file=f.id, suffix="has:colon"), "suffix"),
        (dict(model=BASE_MODEL, training_file=f.id, method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 0}}}),
         "method.supervised.hyperparameters.n_epochs"),
    ]
    for kwargs, param in cases:
        with pytest.raises(openai.BadRequestError) as e:
            client.fine_tuning.jobs.create(**kwargs)
        assert e.value.body["param"] == param, (kwargs, e.value.body)


def test_bad_training_files_fail_the_job_with_the_line(client):
    lines = (HERE / "data" / "support.jsonl").read_text().splitlines()
    bad = json.loads(lines[4])
    bad["messages"][2]["role"] = "wizard"
    data = "\n".join(lines[:4] + [json.dumps(bad)] + lines[5:]) + "\n"
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload(client, "bad.jsonl", data.encode()).id)
    job = wait_for_job(client, job.id, {"failed", "succeeded"})
    assert job.status == "failed" and job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "Example 5, message 3" in job.error.message and "wizard" in job.error.message
    assert job.finished_at is not None
    few = upload(client, "few.jsonl", ("\n".join(lines[:7]) + "\n").encode())
    job = wait_for_job(client, client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=few.id).id, {"failed"})
    assert job.error.code == "invalid_n_examples"
    assert job.error.message == "Training file has 7 example(s), but must have at least 10 examples"


def test_listing_newest_first_with_pagination_and_metadata(server):
    c = server.client(key=server.key("listing"))
    f = upload(c)
    ids = []
    for i in range(3):
        j = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, metadata={"team": "a b" if i != 1 else "c"})
        ids.append(j.id)
        c.fine_tuning.jobs.cancel(j.id)
    assert [j.id for j in c.fine_tuning.jobs.list(limit=2)] == ids[::-1]
    first = c.fine_tuning.jobs.list(limit=2)
    assert first.has_more and [j.id for j in first.data] == ids[::-1][:2]
    assert [j.id for j in c.fine_tuning.jobs.list(metadata={"team": "a b"})] == [ids[2], ids[0]]
    openapi_check.check("ListPaginatedFineTuningJobsResponse", server.raw("GET", "/v1/fine_tuning/jobs?limit=2", key=c.api_key).json())
    other = server.client(key=server.key("outsider"))
    with pytest.raises(openai.NotFoundError):
        other.fine_tuning.jobs.retrieve(ids[0])
    with pytest.raises(openai.NotFoundError):
        other.fine_tuning.jobs.cancel(ids[0])
    assert other.fine_tuning.jobs.list().data == []
    assert c.fine_tuning.jobs.cancel(ids[0]).status == "cancelled"      # idempotent
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.resume(ids[0])
    assert e.value.code == "invalid_state" and e.value.status_code == 400


def long_job(c, epochs=6):
    f = upload(c)
    return c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                     method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4}}})


def wait_for_step(server, key, job_id, step, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = server.raw("GET", f"/v1/fine_tuning/jobs/{job_id}", key=key).json()
        if j["tailor"]["step"] >= step or j["status"] in ("succeeded", "failed", "cancelled"):
            return j
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} never reached step {step}")


def events_of(c, job_id):
    return [e.message for e in c.fine_tuning.jobs.list_events(job_id, limit=100)][::-1]


def wait_for_event(c, job_id, prefix, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = [m for m in events_of(c, job_id) if m.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: no event starting {prefix!r}; events: {events_of(c, job_id)}")


def test_cancel_and_pause_resume_a_running_job(server):
    key = server.key("control")
    c = server.client(key=key, strict=False)   # strict SDK models have no "paused" status
    job = long_job(c)
    wait_for_step(server, key, job.id, 1)
    paused = c.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    # The trainer finishes its step, checkpoints, and lets the job go: then the job stands still at that step.
    held = int(wait_for_event(c, job.id, "Fine-tuning job paused at step").split("step ")[1].split(";")[0])
    assert server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}", key=key).json()["tailor"]["step"] == held
    wait_until_idle = time.time() + 30
    while any(j["id"] == job.id for j in server.raw("GET", "/v1/status", key=key).json()["running_jobs"]):
        assert time.time() < wait_until_idle, "the paused job's worker did not let it go"
        time.sleep(0.05)
    assert c.fine_tuning.jobs.retrieve(job.id).status == "paused"
    assert any(cp.step_number == held for cp in c.fine_tuning.jobs.checkpoints.list(job.id, limit=100))
    assert c.fine_tuning.jobs.pause(job.id).status == "paused"          # pausing a paused job changes nothing
    with pytest.raises(openai.NotFoundError):
        c.fine_tuning.jobs.cancel("ftjob-unknown")
    resumed = c.fine_tuning.jobs.resume(job.id)
    assert resumed.status == "queued"
    wait_for_step(server, key, job.id, held + 1)
    assert any(m.startswith(f"Fine-tuning job resumed from step {held}") for m in events_of(c, job.id))
    cancelled = c.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    wait_for_event(c, job.id, "Fine-tuning job cancelled at step")
    final = c.fine_tuning.jobs.retrieve(job.id)
    assert final.status == "cancelled" and final.fine_tuned_model is None
    with pytest.raises(openai.BadRequestError) as e:
        c.fine_tuning.jobs.resume(job.id)
    assert e.value.code == "invalid_state"


def test_a_killed_server_resumes_the_job_after_restart(fresh_server):
    s = fresh_server.start()
    c = s.client(strict=False)
    job = long_job(c, epochs=3)
    j = wait_for_step(s, s.client().api_key, job.id, 4)           # past the first epoch's checkpoint (step 3)
    s.stop(sig=signal.SIGKILL)
    s.start()
    c = s.client()
    done = wait_for_job(c, job.id, {"succeeded", "failed"})
    assert done.status == "succeeded", done.error
    messages = [e.message for e in c.fine_tuning.jobs.list_events(job.id, limit=100)][::-1]
    assert any(m.startswith("Fine-tuning job resumed from step 3") for m in messages), messages
    steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics" and "train_loss" in e.data]
    assert sorted(steps) == list(range(1, 10)), steps                 # every step once: no double point on the curve
    rows = c.files.content(done.result_files[0]).text.strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(i) for i in range(1, 10)]   # no step twice in the CSV
    assert c.files.retrieve(job.training_file).bytes > 0
    assert done.fine_tuned_model in [m.id for m in c.models.list()]
    s.stop()
    s.start()
    assert s.client().chat.completions.create(model=done.fine_tuned_model, max_tokens=5,
                                              messages=[{"role": "user", "content": "hi"}]).choices[0].message.content is not None


def test_a_job_states_its_memory_and_one_that_cannot_fit_is_refused(tmp_path):
    # 400 MiB is less than the default model's f32 weights alone: every job is refused, with the figures.
    s = Server(tmp_path / "data", extra_args=["--training-memory-mb", "400"]).start()
    try:
        c = s.client(strict=False)
        f = upload(c, "support.jsonl", (HERE / "data" / "support.jsonl").read_bytes())
        job = wait_for_job(c, c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id).id, {"failed", "succeeded"})
        assert job.status == "failed" and job.error.code == "invalid_training_file" and job.error.param == "training_file"
        assert "MB of memory" in job.error.message and "400 MB" in job.error.message, job.error.message
        events = [e for e in c.fine_tuning.jobs.list_events(job.id, limit=100)]
        report = next(e for e in events if e.message.startswith("Training file:"))
        assert "of memory" in report.message and report.data["memory_bytes"] > 400 << 20, report
    finally:
        s.stop()
