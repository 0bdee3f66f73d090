"""The job lifecycle's racing pairs, made deterministic: a server started with TAILOR_TEST_HOOKS=1 holds a job's
validator or worker at a chosen point (validating, claimed, after a step, before publishing the result) while the
test fires the competing request, then lets it go. Outcomes are read from the job's events and status, not timed."""
import contextlib
import random
import threading
import time
from pathlib import Path

import openai
import pytest

from conftest import BASE_MODEL, HERE, Server, wait_for_job
from test_jobs import events_of, wait_for_event


class Hooks:
    def __init__(self, server):
        self.dir = Path(server.data_dir) / "test-hooks"
        self.dir.mkdir(exist_ok=True)

    def arm(self, point):
        (self.dir / f"hold-{point}").touch()

    def disarm(self, point):
        (self.dir / f"hold-{point}").unlink(missing_ok=True)

    def wait(self, job_id, point, timeout=300):
        reached = self.dir / f"{job_id}.{point}.reached"
        deadline = time.time() + timeout
        while not reached.exists():
            assert time.time() < deadline, f"job {job_id} never reached {point}"
            time.sleep(0.02)
        reached.unlink()

    def release(self, job_id, point):
        (self.dir / f"{job_id}.{point}.release").touch()


@contextlib.contextmanager
def held_at(hooks, point, start):
    """Starts a job with `start()` and holds it at `point` for the body of the with-block, then lets it go."""
    hooks.arm(point)
    try:
        job = start()
        hooks.wait(job.id, point)
        yield job
    finally:
        hooks.disarm(point)
    hooks.release(job.id, point)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("lifecycle") / "data", env={"TAILOR_TEST_HOOKS": "1"}).start()
    yield s
    s.stop()


def start_job(c, epochs=2):
    f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    return c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                     method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4}}})


def test_cancel_during_validation_stays_cancelled(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "validating", lambda: start_job(c)) as job:
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    wait_for_event(c, job.id, "Training file: 12 examples")        # the validator has finished with it
    assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert "Files validated, moving job to queued state" not in events_of(c, job.id)


def test_the_training_file_cannot_go_while_the_job_validates(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "validating", lambda: start_job(c)) as job:
        with pytest.raises(openai.BadRequestError) as e:
            c.files.delete(job.training_file)
        assert e.value.code == "file_in_use"
    wait_for_event(c, job.id, "Files validated, moving job to queued state")
    c.fine_tuning.jobs.cancel(job.id)


def test_cancel_while_the_worker_prepares_ends_before_any_step(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "claimed", lambda: start_job(c)) as job:
        assert c.fine_tuning.jobs.retrieve(job.id).status == "running"
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert wait_for_event(c, job.id, "Fine-tuning job cancelled at step") == "Fine-tuning job cancelled at step 0"
    assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
    assert c.fine_tuning.jobs.checkpoints.list(job.id).data == []


def test_pause_then_resume_before_the_step_boundary_withdraws_the_pause(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "step", lambda: start_job(c)) as job:                                     # step 1 done; the trainer has not looked yet
        assert c.fine_tuning.jobs.pause(job.id).status == "paused"
        assert c.fine_tuning.jobs.resume(job.id).status == "running"
    done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    messages = events_of(c, job.id)
    assert "Pause withdrawn before the job stopped; training continues" in messages
    assert not any(m.startswith("Fine-tuning job paused at step") for m in messages)


def test_pause_at_the_step_boundary_stops_at_that_step(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "step", lambda: start_job(c)) as job:
        c.fine_tuning.jobs.pause(job.id)
    assert wait_for_event(c, job.id, "Fine-tuning job paused at step").startswith("Fine-tuning job paused at step 1;")
    job = c.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "paused" and hooked.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()["tailor"]["step"] == 1
    assert [cp.step_number for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data] == [1]
    c.fine_tuning.jobs.cancel(job.id)


def test_a_cancel_that_races_the_last_step_wins_and_publishes_nothing(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    with held_at(hooks, "finishing", lambda: start_job(c, epochs=1)) as job:                                # trained; the model not published yet
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    wait_for_event(c, job.id, "Training had finished when the cancel arrived")
    final = c.fine_tuning.jobs.retrieve(job.id)
    assert final.status == "cancelled" and final.fine_tuned_model is None and final.result_files == []
    assert not [m.id for m in c.models.list() if job.id[len("ftjob-"):][:8] in m.id and ":ckpt-" not in m.id]
    # The last checkpoint, written under the model's name, went back to its step's name.
    names = [cp.fine_tuned_model_checkpoint for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data]
    assert names and all(":ckpt-step-" in n for n in names), names


def test_thirty_jobs_cancelled_at_random_moments_all_end_cancelled_with_nothing_left(hooked):
    c = hooked.client(strict=False)
    f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    rng = random.Random(30)
    jobs = []

    def create_and_cancel(delay):
        job = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}})
        jobs.append(job.id)
        time.sleep(delay)
        c.fine_tuning.jobs.cancel(job.id)

    threads = [threading.Thread(target=create_and_cancel, args=(rng.uniform(0, 0.5),)) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(jobs) == 30
    for job_id in jobs:
        assert c.fine_tuning.jobs.retrieve(job_id).status == "cancelled"
    # A worker that had one of them lets it go: wait until none is held, then look for leftovers.
    deadline = time.time() + 120
    while hooked.raw("GET", "/v1/status").json()["running_jobs"]:
        assert time.time() < deadline
        time.sleep(0.05)
    for job_id in jobs:
        assert c.fine_tuning.jobs.retrieve(job_id).fine_tuned_model is None
    tuned = [m.id for m in c.models.list() if m.id.startswith("ft:")]
    assert not any(job_id[len("ftjob-"):][:8] in m for job_id in jobs for m in tuned if ":ckpt-" not in m)


def checkpoint_dirs(server, job_id):
    return sorted(p.name for p in (Path(server.data_dir) / "jobs" / job_id / "checkpoints").iterdir() if p.name.startswith("step-"))


def test_deleting_a_model_while_it_streams_lets_the_stream_finish(hooked):
    c = hooked.client(strict=False)
    job = wait_for_job(c, start_job(c, epochs=1).id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    # The model is its last checkpoint (same name, same files), not a copy of it.
    last = c.fine_tuning.jobs.checkpoints.list(job.id).data[0]
    assert last.fine_tuned_model_checkpoint == job.fine_tuned_model
    assert not (Path(hooked.data_dir) / "jobs" / job.id / "model").exists()
    assert f"step-{last.step_number:06d}" in checkpoint_dirs(hooked, job.id)
    stream = c.chat.completions.create(model=job.fine_tuned_model, stream=True, max_tokens=60, temperature=1, seed=1,
                                       messages=[{"role": "user", "content": "Tell me about your warranty."}])
    chunks = iter(stream)
    first = next(chunks)
    assert first.choices[0].delta.role == "assistant"
    assert c.models.delete(job.fine_tuned_model).deleted
    rest = list(chunks)                                   # the stream goes on to its end with the adapter it holds
    assert rest and rest[-1].choices[0].finish_reason in ("stop", "length")
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve(job.fine_tuned_model)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model=job.fine_tuned_model, max_tokens=1, messages=[{"role": "user", "content": "hi"}])
    # Its checkpoint went with it; the earlier ones stay, servable under their own names.
    remaining = c.fine_tuning.jobs.checkpoints.list(job.id).data
    assert last.id not in [cp.id for cp in remaining]
    assert f"step-{last.step_number:06d}" not in checkpoint_dirs(hooked, job.id)
    for cp in remaining:
        assert c.models.retrieve(cp.fine_tuned_model_checkpoint).id == cp.fine_tuned_model_checkpoint


def first_step_loss(c, job_id):
    return next(e.data["train_loss"] for e in c.fine_tuning.jobs.list_events(job_id, limit=100)
                if e.type == "metrics" and e.data.get("step") == 1)


def test_a_model_on_its_best_checkpoint_leaves_that_checkpoint_when_deleted(hooked):
    c = hooked.client(strict=False)
    train = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    valid = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=train.id, validation_file=valid.id,
                                    method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
                                    extra_body={"tailor": {"use_best_checkpoint": True}})
    job = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    best_step = int(wait_for_event(c, job.id, "Using the checkpoint of step ").split()[5].rstrip(","))
    best = next(cp for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data if cp.step_number == best_step)
    assert best.fine_tuned_model_checkpoint.endswith(f":ckpt-step-{best_step}")
    # Both names answer with the same adapter: greedy answers are identical.
    ask = dict(max_tokens=12, temperature=0, messages=[{"role": "user", "content": "Tell me about your warranty."}])
    tuned = c.chat.completions.create(model=job.fine_tuned_model, **ask).choices[0].message.content
    assert c.chat.completions.create(model=best.fine_tuned_model_checkpoint, **ask).choices[0].message.content == tuned
    assert c.models.delete(job.fine_tuned_model).deleted
    with pytest.raises(openai.NotFoundError):
        c.models.retrieve(job.fine_tuned_model)
    assert f"step-{best_step:06d}" in checkpoint_dirs(hooked, job.id)
    assert c.chat.completions.create(model=best.fine_tuned_model_checkpoint, **ask).choices[0].message.content == tuned
    # A checkpoint is also a model to fine-tune further, as with OpenAI.
    more = c.fine_tuning.jobs.create(model=best.fine_tuned_model_checkpoint, training_file=train.id,
                                     method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}})
    more = wait_for_job(c, more.id, {"succeeded", "failed", "cancelled"})
    assert more.status == "succeeded", more.error
    # It started from the checkpoint's adapter, not from the bare base: its first step already has the lower loss.
    assert first_step_loss(c, more.id) < first_step_loss(c, job.id) - 0.1


def test_a_model_a_live_job_continues_from_cannot_be_deleted(hooked):
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    first = wait_for_job(c, start_job(c, epochs=1).id, {"succeeded", "failed", "cancelled"})
    assert first.status == "succeeded", first.error
    f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    start = lambda: c.fine_tuning.jobs.create(model=first.fine_tuned_model, training_file=f.id,
                                               method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}})
    with held_at(hooks, "validating", start) as second:
        with pytest.raises(openai.BadRequestError) as refused:
            c.models.delete(first.fine_tuned_model)
        assert refused.value.code == "model_in_use" and second.id in refused.value.message
    second = wait_for_job(c, second.id, {"succeeded", "failed", "cancelled"})
    assert second.status == "succeeded", second.error
    # The continued job's checkpoints are served on the base under the model it continued.
    for cp in c.fine_tuning.jobs.checkpoints.list(second.id).data:
        r = c.chat.completions.create(model=cp.fine_tuned_model_checkpoint, max_tokens=2, messages=[{"role": "user", "content": "hi"}])
        assert r.model == cp.fine_tuned_model_checkpoint
    assert c.models.delete(first.fine_tuned_model).deleted


def test_a_dpo_job_pauses_at_a_step_and_resumes_from_its_checkpoint(hooked):
    from test_dpo import dpo, preference_lines, upload
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    f = upload(c, preference_lines())
    with held_at(hooks, "step", lambda: c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, method=dpo())) as job:
        c.fine_tuning.jobs.pause(job.id)
    assert wait_for_event(c, job.id, "Fine-tuning job paused at step").startswith("Fine-tuning job paused at step 1;")
    assert [cp.step_number for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data] == [1]
    c.fine_tuning.jobs.resume(job.id)
    done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    assert "Fine-tuning job resumed from step 1" in " ".join(events_of(c, job.id))
    steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics" and "reward_margin" in (e.data or {})]
    assert sorted(steps) == list(range(1, 7)), steps          # each step once: none lost, none repeated


def test_a_continued_full_job_pauses_and_resumes_from_its_checkpoint(hooked):
    """A full job continuing a fully fine-tuned model, paused after its first step, resumes from that checkpoint's
    weights (every weight is in it): its later steps' losses stay near the continued model's, not the base's."""
    c, hooks = hooked.client(strict=False), Hooks(hooked)
    f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    full = {"tailor": {"training_type": "full"}}

    def method(epochs):
        return {"type": "supervised",
                "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4, "learning_rate_multiplier": 4}}}

    def losses(job_id):
        events = c.fine_tuning.jobs.list_events(job_id, limit=100)
        return {e.data["step"]: e.data["train_loss"] for e in events if e.type == "metrics" and "train_loss" in (e.data or {})}

    first = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, seed=5, method=method(2), extra_body=full)
    first = wait_for_job(c, first.id, {"succeeded", "failed", "cancelled"}, timeout=1500)
    assert first.status == "succeeded", first.error
    start = losses(first.id)[1]
    with held_at(hooks, "step", lambda: c.fine_tuning.jobs.create(model=first.fine_tuned_model, training_file=f.id, seed=5,
                                                                  method=method(1), extra_body=full)) as job:
        c.fine_tuning.jobs.pause(job.id)
    assert wait_for_event(c, job.id, "Fine-tuning job paused at step").startswith("Fine-tuning job paused at step 1;")
    assert [cp.step_number for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data] == [1]
    c.fine_tuning.jobs.resume(job.id)
    done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"}, timeout=1500)
    assert done.status == "succeeded", done.error
    assert "Fine-tuning job resumed from step 1" in " ".join(events_of(c, job.id))
    continued = losses(job.id)
    print("first job's first loss:", start, "continued job's:", continued)
    assert sorted(continued) == [1, 2, 3], continued          # each step once: none lost, none repeated
    assert all(loss < 0.5 * start for loss in continued.values()), (start, continued)
