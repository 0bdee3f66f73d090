"""End-to-end fixtures: a real `tailor serve` process on a free port with a temporary data directory, driven with
the official OpenAI SDK in strict response-validation mode, plus raw-HTTP helpers and OpenAPI schema checks."""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests
from openai import OpenAI

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = os.environ.get("TAILOR_BIN", str(REPO / ".build/release/tailor"))
MODEL = os.environ.get("TAILOR_MODEL", str(REPO / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
BASE_MODEL = "SmolLM2-135M-Instruct"
ADMIN_KEY = "sk-e2e-admin-0123456789abcdef"


class Server:
    """One `tailor serve` process; start() may be called again on the same data directory (restart tests)."""

    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = str(data_dir)
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.proc = None
        self.port = None
        self.log_path = Path(self.data_dir + ".log")

    def start(self, port=0):
        log = open(self.log_path, "ab")
        args = [BIN, "serve", "--data", self.data_dir, "--model", MODEL, "--port", str(port), "--api-key", ADMIN_KEY,
                "--log-level", "info", "--public", str(REPO / "Public"), *self.extra_args]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env)
        deadline = time.time() + 60
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tailor serve exited with {self.proc.returncode}; log: {self.log_path}")
                continue
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        else:
            raise RuntimeError("tailor serve did not start within 60 s")
        for _ in range(100):
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("tailor serve is not healthy")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, key=ADMIN_KEY, strict=True, **kw):
        return OpenAI(base_url=self.url + "/v1", api_key=key, _strict_response_validation=strict, max_retries=0, **kw)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def key(self, project):
        """A new API key of `project`, made with `tailor keys create` beside the running server."""
        out = subprocess.run([BIN, "keys", "create", "--data", self.data_dir, "--project", project],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def raw(self, method, path, key=ADMIN_KEY, **kw):
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return requests.request(method, self.url + path, headers=headers, timeout=120, **kw)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("tailor") / "data").start()
    yield s
    code = s.stop()
    assert code == 0, f"tailor serve exited with {code} on SIGTERM; log: {s.log_path}"


@pytest.fixture(scope="session")
def client(server):
    return server.client()


@pytest.fixture
def fresh_server(tmp_path):
    s = Server(tmp_path / "data")
    yield s
    if s.proc is not None:
        s.stop()


def wait_for_job(client, job_id, statuses, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not reach {statuses}; last status {job.status}")


@pytest.fixture(scope="session")
def tuned(server, client):
    """One fine-tuning job on the default model, run once for the session: 12 chat examples, 2 epochs of 3 steps,
    so there is a checkpoint model (step 3) and a final model (step 6)."""
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, suffix="beacon", seed=7,
                                         method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 2}}},
                                         metadata={"purpose": "e2e"})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    return job


def wait_for_eval_run(client, eval_id, run_id, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.status in ("completed", "failed", "canceled"):
            return run
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish; last status {run.status}")


EVAL_LINES = 4


@pytest.fixture(scope="session")
def evaluated(server, client):
    """One job with a built-in evaluation, run once for the session: trained on support.jsonl for one epoch, tested on
    its first four lines; returns the job once it has succeeded and both eval runs have finished."""
    train = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    lines = (HERE / "data" / "support.jsonl").read_bytes().splitlines(keepends=True)[:EVAL_LINES]
    test = client.files.create(file=("support-test.jsonl", b"".join(lines)), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=train.id, suffix="judged", seed=11,
                                         method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 4}}},
                                         extra_body={"tailor": {"evaluation": {"file": test.id}}})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    e = job.model_extra["tailor"]["evaluation"]
    for run_id in (e["base_run_id"], e["fine_tuned_run_id"]):
        assert wait_for_eval_run(client, e["eval_id"], run_id).status == "completed"
    return job
