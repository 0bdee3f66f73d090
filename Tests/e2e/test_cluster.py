"""A cluster on one machine, as separate processes over one PostgreSQL database and one data directory: two API nodes
(`tailor serve --workers 0`, their own --node-id and port) and two workers (`tailor worker`). A job created on one
API node is trained by a worker and served by the other API node; twenty small jobs are each trained exactly once
(the store's attempt counter, the events, and the workers' own logs of their claims agree); a worker killed with
SIGKILL in the middle of a job loses it when its lease lapses and the other worker resumes it from its checkpoint;
and a job survives a restart of PostgreSQL under it. Waits are on conditions (events, statuses, rows, hook files),
never on the lease's clock. Needs TAILOR_E2E_DATABASE_URL (and PGPASSFILE), which `make test-cluster` sets to a
throwaway cluster (TAILOR_E2E_PG_CLUSTER names its directory, for the restart); skipped otherwise, so `make test`
needs no PostgreSQL."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_seam import Follower
from conftest import BASE_MODEL, HERE, REPO, Server, wait_for_job
from test_job_lifecycle import Hooks
from test_jobs import events_of, wait_for_event
from test_roles import DATABASE, DATABASE_ARGS, Worker, start_job

pytestmark = pytest.mark.skipif(not DATABASE, reason="needs TAILOR_E2E_DATABASE_URL (make test-cluster)")

LEASE_SECONDS = 4
FINISHED = {"succeeded", "failed", "cancelled"}
LAPSED = "The worker running the job stopped renewing its lease"


def sql(query):
    """One value per row of `query`, read from the cluster's database with psql (the password from PGPASSFILE)."""
    out = subprocess.run(["psql", DATABASE, "-XAtqc", query], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def job_row(job_id, columns):
    return sql(f"SELECT {columns} FROM jobs WHERE id = '{job_id}'")[0].split("|")


def training_claims(worker):
    """The jobs this worker's process claimed to train, from its debug log (`event=claim job=… state=running+claimed…
    job transition`; a claim to validate has state=validating_files+claimed)."""
    return [m.group(1) for m in re.finditer(r"event=claim job=(\S+) state=running\+claimed\S* \[TailorJobs\] job transition", worker.log())]


class Node(Server):
    """An API node: `tailor serve --workers 0` on the shared directory, with its own node id and log file."""

    def __init__(self, data_dir, node):
        super().__init__(data_dir, extra_args=["--workers", "0", "--node-id", node, *DATABASE_ARGS],
                         env={"TAILOR_TEST_HOOKS": "1"})
        self.log_path = Path(f"{self.data_dir}.{node}.log")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data = tmp_path_factory.mktemp("cluster") / "data"
    a = Node(data, "api-a").start()
    b = Node(data, "api-b").start()
    workers = [Worker(data, name, lease_seconds=LEASE_SECONDS, env={"TAILOR_TEST_HOOKS": "1"}, log_level="debug").start()
               for name in ("worker-1", "worker-2")]
    try:
        yield a, b, workers
    finally:
        codes = [w.stop() for w in workers] + [b.stop(), a.stop()]
        assert codes == [0, 0, 0, 0], f"exit codes of the workers and API nodes on SIGTERM: {codes}"


def tiny_file(c):
    """The smallest training file a job accepts: ten conversations."""
    lines = (HERE / "data" / "support.jsonl").read_bytes().splitlines(keepends=True)[:10]
    return c.files.create(file=("tiny.jsonl", b"".join(lines)), purpose="fine-tune")


def tiny_job(c, training_file, i):
    # One epoch of one batch of all ten examples: one step, the least training a job can do.
    return c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=training_file, suffix=f"tiny{i}", seed=i,
                                     method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 10}}})


def test_a_job_created_on_one_api_node_is_trained_by_a_worker_and_served_by_the_other(cluster):
    a, b, workers = cluster
    ca, cb = a.client(strict=False), b.client(strict=False)
    assert a.raw("GET", "/v1/status").json()["workers"] == 0 and b.raw("GET", "/v1/status").json()["workers"] == 0
    job = start_job(ca, suffix="across")
    # Node B sees the job node A queued, follows it to the end, and serves the model a worker wrote.
    done = wait_for_job(cb, job.id, FINISHED)
    assert done.status == "succeeded", done.error
    trainers = [w.node for w in workers if job.id in training_claims(w)]
    assert len(trainers) == 1, f"trained by {trainers}"
    messages = events_of(cb, job.id)
    assert messages == events_of(ca, job.id), "both API nodes read the same events"
    assert messages.count("Fine-tuning job started") == 1 and "The job has successfully completed" in messages
    assert done.fine_tuned_model in [m.id for m in cb.models.list().data]
    reply = cb.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert reply.choices[0].message.content is not None and reply.usage.completion_tokens >= 1
    # And node A serves it too: the adapter is in the shared directory, named by the row both nodes read.
    assert ca.chat.completions.create(model=done.fine_tuned_model, messages=[{"role": "user", "content": "Hi"}], max_tokens=2).choices
    print(f"\nacross nodes: {job.id} created on api-a, trained by {trainers[0]}, served by api-b")
    if "sslmode=verify-full" in DATABASE:
        # make test-cluster gives every process sslmode=verify-full: the server sees each connection encrypted.
        rows = sql("SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                   "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()")
        assert rows and set(rows) == {"t"}, f"the nodes' connections, encrypted or not: {rows}"


def test_twenty_jobs_over_two_workers_are_each_trained_exactly_once(cluster):
    a, b, workers = cluster
    ca = a.client(strict=False)
    f = tiny_file(ca)
    started = time.monotonic()
    # Created through both API nodes, alternately, as fast as they answer: the workers race for every claim.
    jobs = [tiny_job((a if i % 2 == 0 else b).client(strict=False), f.id, i) for i in range(20)]
    done = [wait_for_job(ca, j.id, FINISHED, timeout=900) for j in jobs]
    elapsed = time.monotonic() - started
    assert [d.status for d in done] == ["succeeded"] * 20, [(d.id, d.status, d.error) for d in done]
    assert len({d.fine_tuned_model for d in done}) == 20
    for d in done:
        # The store: one validation claim and one training claim (each bumps the lease generation), one training attempt,
        # and no holder left.
        attempts, generation, holder = job_row(d.id, "attempts, lease_generation, coalesce(claimed_by, '')")
        assert (attempts, generation, holder) == ("1", "2", ""), f"{d.id}: attempts {attempts}, lease generation {generation}, held by {holder!r}"
        messages = events_of(ca, d.id)
        assert messages.count("Fine-tuning job started") == 1, messages
        assert not any(m.startswith(("Fine-tuning job restarted", "Fine-tuning job resumed", LAPSED)) for m in messages), messages
        assert messages.count("The job has successfully completed") == 1, messages
    # The workers' own accounts: every job claimed for training once, by one of them.
    claims = {w.node: [j for j in training_claims(w) if j in {d.id for d in done}] for w in workers}
    every = [j for js in claims.values() for j in js]
    assert sorted(every) == sorted(d.id for d in done), f"training claims: {claims}"
    for w in workers:
        assert "stopped a job whose lease was taken over" not in w.log()
        # Nobody took a job over (lease generation 2 above), so no heartbeat may say so — not even one that renewed
        # between the commit ending a job (or a validation) and its thread letting the lease go.
        assert "lost the lease of a job" not in w.log(), f"{w.node}: a false 'lost the lease' warning; log: {w.log_path}"
    print(f"\n20 jobs in {elapsed:.1f} s: " + ", ".join(f"{n} trained {len(js)}" for n, js in claims.items()))


def test_a_killed_worker_s_job_is_resumed_from_its_checkpoint_by_the_other(cluster):
    a, b, workers = cluster
    c, hooks = a.client(strict=False), Hooks(a)
    hooks.arm("step")
    try:
        job = start_job(c, epochs=2)                # 12 examples, batches of 4: 6 steps, a checkpoint at step 3
        # Let it step until a checkpoint is on record, then keep it held at that step boundary.
        deadline = time.time() + 600
        while True:
            hooks.wait(job.id, "step")
            if c.fine_tuning.jobs.checkpoints.list(job.id).data:
                break
            assert time.time() < deadline, "no checkpoint"
            hooks.release(job.id, "step")
        step, holder = job_row(job.id, "step, claimed_by")
        held_by = [w for w in workers if holder.startswith(w.node + "/")]
        assert len(held_by) == 1, f"the job is held by {holder!r}"
        victim = held_by[0]
        survivor = next(w for w in workers if w is not victim)
        victim.proc.send_signal(signal.SIGKILL)
        assert victim.proc.wait(timeout=60) == -signal.SIGKILL
        hooks.disarm("step")
        # The survivor's heartbeat finds the lapsed lease, re-queues the job, and claims and resumes it.
        assert LAPSED in wait_for_event(c, job.id, LAPSED, timeout=300)
        done = wait_for_job(c, job.id, FINISHED)
        assert done.status == "succeeded", done.error
        messages = events_of(c, job.id)
        resumed = [m for m in messages if m.startswith("Fine-tuning job resumed from step")]
        assert len(resumed) == 1, messages
        resumed_at = int(re.match(r"Fine-tuning job resumed from step (\d+)", resumed[0]).group(1))
        assert 0 < resumed_at <= int(step), f"resumed from step {resumed_at}; held at step {step}"
        assert messages.count("Fine-tuning job started") == 1 and messages.count("The job has successfully completed") == 1
        assert job.id in training_claims(survivor), "the other worker resumed it"
        attempts, holder_after = job_row(job.id, "attempts, coalesce(claimed_by, '')")
        assert (attempts, holder_after) == ("2", "")
        steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100)
                 if e.type == "metrics" and e.data and e.data.get("step")]
        assert sorted(steps) == list(range(1, 7)), f"each step's metrics once: {sorted(steps)}"
        # The resumed model answers on the other API node.
        assert b.client(strict=False).chat.completions.create(model=done.fine_tuned_model, max_tokens=2,
                                                              messages=[{"role": "user", "content": "Hi"}]).choices
        print(f"\nkill -9: {victim.node} held {job.id} at step {step}; {survivor.node} resumed it from step {resumed_at}")
    finally:
        hooks.disarm("step")
        # Bring the killed worker back (its node id releases anything its dead process still held), for the next test.
        for w in workers:
            if w.proc is not None and w.proc.poll() is not None:
                w.proc = None
                w.start()


CLUSTER_DIR = os.environ.get("TAILOR_E2E_PG_CLUSTER")


@pytest.mark.skipif(not CLUSTER_DIR, reason="needs TAILOR_E2E_PG_CLUSTER, the throwaway cluster's directory (make test-cluster)")
def test_a_job_survives_a_restart_of_postgresql(cluster):
    a, b, workers = cluster
    c, hooks = a.client(strict=False), Hooks(a)
    hooks.arm("step")
    try:
        job = start_job(c, epochs=1)
        hooks.wait(job.id, "step")                  # a worker finished step 1 and waits at the step boundary
        # A live event stream on node B, open across the restart: B's LISTEN connection is cut with the others, and
        # must listen again (and catch up) for the stream to see the worker's later events and the job's end.
        follower = Follower(b, job.id)
        follower.wait_for(lambda e: e["type"] == "metrics", timeout=60)
        booted = sql("SELECT pg_postmaster_start_time()")
        restart = subprocess.run([str(REPO / "scripts/pg-test-cluster.sh"), "restart", CLUSTER_DIR],
                                 capture_output=True, text=True, timeout=120)
        assert restart.returncode == 0, restart.stderr
        assert sql("SELECT pg_postmaster_start_time()") != booted, "the server restarted: every open connection was cut"
        hooks.disarm("step")
        hooks.release(job.id, "step")
        done = wait_for_job(c, job.id, FINISHED)
        assert done.status == "succeeded", done.error
        messages = events_of(c, job.id)
        assert messages.count("The job has successfully completed") == 1
        # A worker that could not read the job during the restart stops it and says why; nothing says it stopped.
        assert not any(m.startswith("The server is stopping") for m in messages), messages
        follower.thread.join(timeout=120)
        assert follower.ended is not None, "B's stream outlived the job"
        streamed = [e["message"] for _, e in follower.events]
        assert streamed[-1] == "The job has successfully completed", streamed
        assert len(streamed) == len(set(e["id"] for _, e in follower.events)), "each event once"
        steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100)
                 if e.type == "metrics" and e.data and e.data.get("step")]
        assert sorted(steps) == [1, 2, 3], f"each step's metrics once: {sorted(steps)}"
        attempts, = job_row(job.id, "attempts")
        lapsed = sum(m.startswith(LAPSED) for m in messages)
        print(f"\nPostgreSQL restarted under {job.id} at step 1: succeeded; training attempts {attempts}, lease lapses {lapsed}")
        assert b.client(strict=False).chat.completions.create(model=done.fine_tuned_model, max_tokens=2,
                                                              messages=[{"role": "user", "content": "Hi"}]).choices
    finally:
        hooks.disarm("step")


@pytest.mark.skipif(not CLUSTER_DIR, reason="needs TAILOR_E2E_PG_CLUSTER, the throwaway cluster's directory (make test-cluster)")
def test_a_job_whose_worker_loses_postgresql_mid_run_is_resumed_from_its_checkpoint_when_it_is_back(cluster):
    a, b, workers = cluster
    c, hooks = a.client(strict=False), Hooks(a)
    script = str(REPO / "scripts/pg-test-cluster.sh")
    hooks.arm("step")
    halted = False
    try:
        job = start_job(c, epochs=2)                # 6 steps, a checkpoint at step 3
        deadline = time.time() + 600
        while True:
            hooks.wait(job.id, "step")
            if c.fine_tuning.jobs.checkpoints.list(job.id).data:
                break
            assert time.time() < deadline, "no checkpoint"
            hooks.release(job.id, "step")
        step, holder = job_row(job.id, "step, claimed_by")
        worker = next(w for w in workers if holder.startswith(w.node + "/"))
        halt = subprocess.run([script, "halt", CLUSTER_DIR], capture_output=True, text=True, timeout=120)
        assert halt.returncode == 0, halt.stderr
        halted = True
        # The worker's next question to the store (between steps) fails: it stops the job and cannot give it back.
        hooks.disarm("step")
        hooks.release(job.id, "step")
        deadline = time.time() + 300
        while not any(f"job={job.id} " in line and line.endswith("could not fail a job") for line in worker.log().splitlines()):
            assert time.time() < deadline, f"the worker did not give up the job; log: {worker.log_path}"
            time.sleep(0.1)
        assert worker.get("/healthz").status_code == 503, "a worker's health check reads the store"
        assert a.raw("GET", "/healthz").status_code == 200, "an API node's does not"
        assert a.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").status_code == 500
        resume = subprocess.run([script, "resume", CLUSTER_DIR], capture_output=True, text=True, timeout=120)
        assert resume.returncode == 0, resume.stderr
        halted = False
        # Back: the job's lease has lapsed by the database's clock; a worker re-queues it and resumes it.
        assert LAPSED in wait_for_event(c, job.id, LAPSED, timeout=300)
        done = wait_for_job(c, job.id, FINISHED)
        assert done.status == "succeeded", done.error
        messages = events_of(c, job.id)
        resumed = [m for m in messages if m.startswith("Fine-tuning job resumed from step")]
        assert len(resumed) == 1 and messages.count("The job has successfully completed") == 1, messages
        resumed_at = int(re.match(r"Fine-tuning job resumed from step (\d+)", resumed[0]).group(1))
        assert 0 < resumed_at <= int(step)
        attempts, = job_row(job.id, "attempts")
        print(f"\nPostgreSQL halted under {job.id} at step {step} on {worker.node}: resumed from step {resumed_at}, attempts {attempts}")
    finally:
        hooks.disarm("step")
        if halted:
            subprocess.run([script, "resume", CLUSTER_DIR], capture_output=True, text=True, timeout=120)
