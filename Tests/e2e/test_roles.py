"""Roles over one shared store, as separate processes: an API node (`tailor serve --workers 0`) that trains nothing and
`tailor worker` processes over the same data directory and SQLite file. A job created through the API is validated and
trained by a worker and served by the API node; a worker frozen past its lease (SIGSTOP) loses the job to another
worker, which finishes it, and when the frozen one wakes it is fenced: it stops without writing. Eval runs created on
the API node are executed by the workers, each once; a worker frozen mid-run loses it to another, which grades only
the items not yet stored, and stores nothing when woken. Waits are on
conditions (events, statuses, hook files), never on the lease's clock. With TAILOR_E2E_DATABASE_URL (`make
test-cluster` sets it to a throwaway PostgreSQL cluster), every process keeps its rows there instead."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BASE_MODEL, BIN, HERE, MODEL, Server, wait_for_job
from test_job_lifecycle import Hooks
from test_jobs import events_of, wait_for_event
from test_seam import Follower

# postgres://… for every process (the password from PGPASSFILE); unset: the SQLite file in the shared data directory.
DATABASE = os.environ.get("TAILOR_E2E_DATABASE_URL") or None
DATABASE_ARGS = ["--database", DATABASE] if DATABASE else []


class Worker:
    """One `tailor worker` process on the API node's data directory."""

    def __init__(self, data_dir, node, lease_seconds=None, env=None, log_level="info"):
        self.data_dir, self.node = str(data_dir), node
        self.args = [BIN, "worker", "--data", self.data_dir, "--model", MODEL, "--port", "0", "--node-id", node,
                     "--log-level", log_level, *DATABASE_ARGS]
        if lease_seconds is not None:
            self.args += ["--lease-seconds", str(lease_seconds)]
        self.env = {**os.environ, "TAILOR_THREADS": "1", **(env or {})}
        self.log_path = Path(f"{self.data_dir}.{node}.log")
        self.proc, self.port = None, None

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=open(self.log_path, "ab"), text=True, env=self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                assert self.proc.poll() is None, f"tailor worker exited with {self.proc.returncode}; log: {self.log_path}"
                continue
            m = re.search(r"health and metrics on http://127\.0\.0\.1:(\d+)/healthz", line)
            if m:
                self.port = int(m.group(1))
                return self
        raise AssertionError("tailor worker did not start within 60 s")

    def get(self, path):
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("roles") / "data", extra_args=["--workers", "0", *DATABASE_ARGS], env={"TAILOR_TEST_HOOKS": "1"}).start()
    yield s
    assert s.stop() == 0


def start_job(c, epochs=1, suffix=None):
    f = c.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    return c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, suffix=suffix, seed=3,
                                     method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4}}})


def test_the_api_node_queues_a_worker_trains_and_the_api_node_serves(api):
    c = api.client(strict=False)
    status = api.raw("GET", "/v1/status").json()
    assert status["workers"] == 0
    job = start_job(c, suffix="roles")
    # No worker yet: the API node validates and trains nothing, so the job waits for its files to be read.
    assert c.fine_tuning.jobs.retrieve(job.id).status == "validating_files"
    # A live event stream on the API node follows what the worker (another process) writes, and ends with the job.
    stream = Follower(api, job.id)
    worker = Worker(api.data_dir, "worker-a", env={"TAILOR_TEST_HOOKS": "1"}).start()
    try:
        assert worker.get("/healthz").json()["status"] == "ok"
        assert worker.get("/v1/models").status_code == 404, "a worker has no API"
        done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
        assert done.status == "succeeded", done.error
        messages = events_of(c, job.id)
        stream.thread.join(timeout=30)
        assert stream.ended is not None, "the API node's stream of a job trained elsewhere did not end with the job"
        streamed = [e["message"] for _, e in stream.events]
        assert streamed == messages, "the stream carried every event, in order, once"
        assert any(m.startswith("Training file: 12 examples") for m in messages), "the worker validated the files"
        assert "Fine-tuning job started" in messages and "The job has successfully completed" in messages
        metrics = worker.get("/metrics").text
        assert 'tailor_jobs{status="succeeded"} 1' in metrics and "tailor_worker_training_threads 1" in metrics
        assert "worker-a/" in worker.log() and "joining the job queue" in worker.log()
        # The API node serves the model the worker trained, from the shared directory.
        assert done.fine_tuned_model in [m.id for m in c.models.list().data]
        reply = c.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
        assert reply.choices[0].message.content is not None
    finally:
        assert worker.stop() == 0


def test_a_serve_with_workers_streams_live_a_job_a_worker_beside_it_trains(api):
    """A `tailor serve` that trains too cannot know which jobs a `tailor worker` beside it will take: its event streams
    follow the store, so a job trained by the other process streams live on it and the stream ends with the job."""
    hooks = Hooks(api)
    serve = Server(api.data_dir, extra_args=["--workers", "1", "--node-id", "serve-with-worker", *DATABASE_ARGS],
                   env={"TAILOR_TEST_HOOKS": "1", "TAILOR_THREADS": "1"})
    serve.log_path = Path(f"{api.data_dir}.serve-with-worker.log")
    worker = Worker(api.data_dir, "worker-beside", log_level="debug")
    held = None
    try:
        serve.start()
        c = serve.client(strict=False)
        # The serve's own training thread claims the first job and is held there, so the next job is the worker's.
        hooks.arm("claimed")
        held = start_job(c, suffix="held")
        hooks.wait(held.id, "claimed")
        hooks.disarm("claimed")
        worker.start()
        job = start_job(c, suffix="beside")
        stream = Follower(serve, job.id)
        done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
        assert done.status == "succeeded", done.error
        claims = re.findall(r"event=claim job=(\S+) state=running\+claimed", worker.log())
        assert job.id in claims and held.id not in claims, f"the worker beside the serve trained the second job: {claims}"
        stream.thread.join(timeout=60)
        assert stream.ended is not None, "the serve's stream of a job trained by another process did not end with the job"
        streamed = [e["message"] for _, e in stream.events]
        assert streamed == events_of(c, job.id), "the stream carried every event, in order, once"
        assert "Fine-tuning job started" in streamed and "The job has successfully completed" in streamed
    finally:
        hooks.disarm("claimed")
        if held is not None:
            api.client(strict=False).fine_tuning.jobs.cancel(held.id)
            hooks.release(held.id, "claimed")
        assert worker.stop() == 0
        assert serve.stop() == 0


def test_a_frozen_worker_loses_its_job_to_another_and_is_fenced_when_it_wakes(api):
    c, hooks = api.client(strict=False), Hooks(api)
    # A short lease, so the takeover comes soon after the freeze; nothing below waits on it by the clock.
    first = Worker(api.data_dir, "worker-frozen", lease_seconds=4, env={"TAILOR_TEST_HOOKS": "1"}).start()
    second = Worker(api.data_dir, "worker-spare", lease_seconds=4, env={"TAILOR_TEST_HOOKS": "1"})
    try:
        hooks.arm("step")
        job = start_job(c, epochs=2)
        hooks.wait(job.id, "step")                  # the first worker finished step 1 and waits at the step boundary
        hooks.disarm("step")
        held = api.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
        assert held["status"] == "running"
        first.proc.send_signal(signal.SIGSTOP)      # frozen: no heartbeat, no writes
        second.start()
        # The spare worker finds the lapsed lease, re-queues the job through the lifecycle and claims it.
        lapse = wait_for_event(c, job.id, "The worker running the job stopped renewing its lease", timeout=300)
        assert "resume from its last checkpoint" in lapse
        done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
        assert done.status == "succeeded", done.error
        # Now wake the frozen worker at its step boundary: it must notice it lost the job and write nothing.
        before = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=100)]
        fenced = "stopped a job whose lease was taken over"
        assert fenced not in first.log(), "the first worker lost the job only by being frozen"
        first.proc.send_signal(signal.SIGCONT)
        hooks.release(job.id, "step")
        deadline = time.time() + 120
        while fenced not in first.log():
            assert time.time() < deadline, f"the woken worker did not stop the job; log: {first.log_path}"
            time.sleep(0.1)
        after = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=100)]
        assert after == before, "the fenced worker wrote no event"
        final = api.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
        assert final["status"] == "succeeded" and final["fine_tuned_model"] == done.fine_tuned_model
        messages = events_of(c, job.id)
        assert messages.count("The job has successfully completed") == 1
        assert sum(m.startswith("The worker running the job stopped renewing its lease") for m in messages) == 1
        steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics" and e.data and e.data.get("step")]
        assert len(steps) == len(set(steps)), f"each step's metrics once: {sorted(steps)}"
    finally:
        hooks.disarm("step")
        assert first.stop() == 0
        assert second.stop() == 0


def test_a_pause_and_a_cancel_made_on_the_api_node_reach_the_worker_s_job_within_a_step(api):
    """The worker reads the job's row at every step boundary: a pause or cancel written by the API node (another
    process) while the worker finishes a step stops the job at that step's boundary. A live stream on the API node carries it all."""
    c, hooks = api.client(strict=False), Hooks(api)
    worker = Worker(api.data_dir, "worker-obeys", env={"TAILOR_TEST_HOOKS": "1"}).start()
    try:
        hooks.arm("step")
        job = start_job(c, epochs=2)
        stream = Follower(api, job.id)
        hooks.wait(job.id, "step")                  # the worker finished step 1 and waits at the step boundary
        c.fine_tuning.jobs.pause(job.id)
        hooks.disarm("step")
        hooks.release(job.id, "step")
        paused = wait_for_job(c, job.id, {"paused", "succeeded", "failed", "cancelled"})
        assert paused.status == "paused", paused.error
        message = wait_for_event(c, job.id, "Fine-tuning job paused at step", timeout=120)
        assert message.startswith("Fine-tuning job paused at step 1;"), "it stopped at the boundary it was held at"

        stream.wait_for(lambda e: e["message"] == message, timeout=60)
        # Resumed, then cancelled while it runs again: the cancel stops it at a step boundary too.
        hooks.arm("step")
        c.fine_tuning.jobs.resume(job.id)
        hooks.wait(job.id, "step")
        c.fine_tuning.jobs.cancel(job.id)
        hooks.disarm("step")
        hooks.release(job.id, "step")
        done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
        assert done.status == "cancelled", done.error
        stream.thread.join(timeout=60)
        assert stream.ended is not None, "the API node's stream did not end with the cancelled job"
        streamed = [e["message"] for _, e in stream.events]
        assert streamed == events_of(c, job.id), "the stream carried every event, in order, once"
        assert any(m.startswith("Fine-tuning job cancelled at step") for m in streamed), streamed
    finally:
        hooks.disarm("step")
        assert worker.stop() == 0


def test_eval_runs_created_on_the_api_node_are_executed_by_workers_each_item_once(api):
    """Eval runs are claimed like jobs: the API node (--workers 0) creates runs and executes none; two workers share
    them, each run is executed by one worker, once, and every item is sampled, graded and counted once."""
    from test_evals import make_eval, wait_for_run
    c = api.client(strict=False)
    never = {"type": "string_check", "name": "not the marker", "input": "{{sample.output_text}}",
             "reference": "<<never>>", "operation": "ne"}
    ev = make_eval(c, [never], schema={"type": "object", "properties": {"question": {"type": "string"}}})
    items = 4

    def create(tag):
        return c.evals.runs.create(ev.id, data_source={
            "type": "completions", "model": BASE_MODEL,
            "input_messages": {"type": "template", "template": [
                {"role": "user", "content": {"type": "input_text", "text": "{{item.question}}"}}]},
            "sampling_params": {"temperature": 0, "max_completion_tokens": 4, "seed": 7},
            "source": {"type": "file_content", "content": [{"item": {"question": f"{tag}: name colour {i}."}} for i in range(items)]}})

    runs = [create(f"run {k}") for k in range(4)]
    assert all(c.evals.runs.retrieve(r.id, eval_id=ev.id).status == "queued" for r in runs), "no worker yet: nothing runs"
    workers = [Worker(api.data_dir, f"worker-eval-{k}").start() for k in range(2)]
    try:
        for r in runs:
            done = wait_for_run(c, ev.id, r.id, timeout=300)
            assert done.status == "completed", done.error
            assert (done.result_counts.total, done.result_counts.passed) == (items, items)
            assert done.per_model_usage[0].invocation_count == items
            graded = c.evals.runs.output_items.list(r.id, eval_id=ev.id, limit=100).data
            assert sorted(i.datasource_item_id for i in graded) == list(range(items))
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0]
    logs = [w.log() for w in workers]
    for r in runs:
        claims = sum(line.count(r.id) for log in logs for line in log.splitlines() if "executing an eval run" in line)
        assert claims == 1, f"run {r.id} was executed {claims} times"
    assert "executing an eval run" not in api.log_path.read_text(errors="replace"), "the API node executed a run"


def test_a_frozen_worker_s_eval_run_is_taken_over_after_its_last_item_and_the_woken_worker_writes_nothing(api):
    """A worker frozen (SIGSTOP) between two items of an eval run loses the run when its lease lapses; another worker
    takes it over and grades only the items not yet stored; woken, the first worker stores nothing more (its lease was
    taken over). It is frozen at a hook between items, so it holds no lock of the store while frozen."""
    from test_evals import make_eval, wait_for_run
    c, hooks = api.client(strict=False), Hooks(api)
    never = {"type": "string_check", "name": "not the marker", "input": "{{sample.output_text}}",
             "reference": "<<never>>", "operation": "ne"}
    ev = make_eval(c, [never], schema={"type": "object", "properties": {"question": {"type": "string"}}})
    items = 6
    first = Worker(api.data_dir, "worker-eval-frozen", lease_seconds=4, env={"TAILOR_TEST_HOOKS": "1"}).start()
    second = Worker(api.data_dir, "worker-eval-spare", lease_seconds=4, env={"TAILOR_TEST_HOOKS": "1"})
    try:
        hooks.arm("eval_item")
        run = c.evals.runs.create(ev.id, data_source={
            "type": "completions", "model": BASE_MODEL,
            "input_messages": {"type": "template", "template": [
                {"role": "user", "content": {"type": "input_text", "text": "{{item.question}}"}}]},
            "sampling_params": {"temperature": 0, "max_completion_tokens": 4, "seed": 7},
            "source": {"type": "file_content", "content": [{"item": {"question": f"Name colour {i}."}} for i in range(items)]}})
        hooks.wait(run.id, "eval_item")             # before item 0
        hooks.release(run.id, "eval_item")
        hooks.wait(run.id, "eval_item")             # item 0 stored, before item 1
        first.proc.send_signal(signal.SIGSTOP)      # frozen: no heartbeat, no writes
        hooks.disarm("eval_item")
        kept = c.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100).data
        assert [i.datasource_item_id for i in kept] == [0]
        second.start()
        done = wait_for_run(c, ev.id, run.id, timeout=300)
        assert done.status == "completed", done.error
        assert done.result_counts.total == items and done.per_model_usage[0].invocation_count == items
        graded = c.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100).data
        assert sorted(i.datasource_item_id for i in graded) == list(range(items)), "every item graded once"
        assert kept[0].id in [i.id for i in graded], "the frozen worker's item was kept, not graded again"
        assert "took over an eval run whose node's lease lapsed" in second.log()

        # Woken where it was held: it finds the lease taken over (its heartbeat, or its next write) and stores nothing.
        first.proc.send_signal(signal.SIGCONT)
        hooks.release(run.id, "eval_item")
        deadline = time.time() + 120
        while not re.search(r"lost the lease of an eval run|stopped an eval run whose lease was taken over", first.log()):
            assert time.time() < deadline, f"the woken worker did not notice it lost the run; log: {first.log_path}"
            time.sleep(0.1)
        after = c.evals.runs.retrieve(run.id, eval_id=ev.id)
        assert after.status == "completed" and after.result_counts.total == items
        assert [i.id for i in c.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100).data] == [i.id for i in graded]
    finally:
        hooks.disarm("eval_item")
        assert first.stop() == 0
        assert second.stop() == 0
