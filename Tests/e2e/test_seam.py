"""The HTTP/API seam end to end: unknown URLs answer OpenAI's 404 under every method (and are in the request log),
a real route's path under the wrong method is 405, /v1/completions answers several prompts in order, and a job's
event stream delivers events as they are written and ends when the job does."""
import json
import os
import re
import threading
import time

import openai

from conftest import ADMIN_KEY, BASE_MODEL, HERE

UNKNOWN = [("POST", "/v1/responses"), ("POST", "/v1/embeddings"), ("GET", "/v1/responses"), ("DELETE", "/v1/nothing"),
           ("PUT", "/not/a/page"), ("PATCH", "/v1/files/file-x/y/z")]


def log_line(server, request_id, timeout=5):
    """The request log line of `request_id` in the server's log (written to stderr as the answer goes out)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in server.log_path.read_text(errors="replace").splitlines():
            if f"request_id={request_id}" in line and line.rstrip().endswith("request"):
                return line
        time.sleep(0.1)
    raise AssertionError(f"no request log line for {request_id} in {server.log_path}")


def test_unknown_urls_are_404_unknown_url_under_every_method_and_logged(server):
    for method, path in UNKNOWN:
        r = server.raw(method, path, json={} if method in ("POST", "PUT", "PATCH") else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.json() == {"error": {
            "message": f"Unknown request URL: {method} {path}. Please check the URL for typos, or see the docs at https://platform.openai.com/docs/api-reference/.",
            "type": "invalid_request_error", "param": None, "code": "unknown_url"}}
        line = log_line(server, r.headers["x-request-id"])
        assert f"method={method}" in line and f"path={path}" in line and "status=404" in line, line
    # Without a key too: an unknown URL names nothing that a key could open.
    assert server.raw("POST", "/v1/responses", key=None, json={}).status_code == 404


def test_wrong_method_on_a_real_route_is_405_and_logged(server):
    r = server.raw("PUT", "/v1/files", data=b"x")
    assert r.status_code == 405, r.text
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST", "HEAD"}
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert "status=405" in log_line(server, r.headers["x-request-id"])
    unauthorized = server.raw("GET", "/v1/files", key="sk-wrong-key-0000000000")
    assert unauthorized.status_code == 401
    assert "status=401" in log_line(server, unauthorized.headers["x-request-id"])


def test_the_sdk_sees_not_found_for_an_unknown_url(client):
    try:
        client.responses.create(model=BASE_MODEL, input="hi")
    except openai.NotFoundError as e:
        assert e.code == "unknown_url"
    else:
        raise AssertionError("POST /v1/responses should be 404")


PROMPTS = ["The capital of France is", "1, 2, 3, 4,", "Monday, Tuesday,"]


def completion(server, **body):
    r = server.raw("POST", "/v1/completions", json={"model": BASE_MODEL, "max_tokens": 1, "temperature": 0, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_completions_with_several_prompts_answer_n_choices_each_in_order(server):
    singles = [completion(server, prompt=p, n=2) for p in PROMPTS]
    whole = completion(server, prompt=PROMPTS, n=2)
    assert [c["index"] for c in whole["choices"]] == list(range(6))
    for p, single in enumerate(singles):
        for i in range(2):
            assert whole["choices"][p * 2 + i]["text"] == single["choices"][0]["text"], (p, i, whole["choices"])
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert whole["usage"][key] == sum(s["usage"][key] for s in singles), key
    ids = completion(server, prompt=[[504, 3458], [28, 29, 30]], n=1)
    assert [c["index"] for c in ids["choices"]] == [0, 1]


def test_completions_with_several_prompts_stream_every_choice(server):
    whole = completion(server, prompt=PROMPTS, n=2, max_tokens=3)
    r = server.raw("POST", "/v1/completions", stream=True,
                   json={"model": BASE_MODEL, "prompt": PROMPTS, "n": 2, "max_tokens": 3, "temperature": 0, "stream": True,
                         "stream_options": {"include_usage": True}})
    assert r.status_code == 200
    texts, finished, usage, done = {}, {}, None, False
    for line in r.iter_lines():
        if not line.startswith(b"data: "):
            continue
        data = line[6:].decode()
        if data == "[DONE]":
            done = True
            continue
        chunk = json.loads(data)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for c in chunk["choices"]:
            texts[c["index"]] = texts.get(c["index"], "") + c["text"]
            if c["finish_reason"]:
                finished[c["index"]] = c["finish_reason"]
    assert done and sorted(finished) == list(range(6))
    assert [texts[i] for i in range(6)] == [c["text"] for c in whole["choices"]]
    assert usage["completion_tokens"] == whole["usage"]["completion_tokens"]


def test_completions_with_several_prompts_through_the_sdk(server, client):
    r = client.completions.create(model=BASE_MODEL, prompt=PROMPTS, n=2, max_tokens=2, temperature=0)
    assert [c.index for c in r.choices] == list(range(6))
    assert 0 < r.usage.completion_tokens <= 12
    # The SDK types a streamed chunk as a whole Completion, whose finish_reason may not be null, as OpenAI's
    # chunks' is until the end: streams are read without strict validation.
    streamed = server.client(strict=False).completions.create(model=BASE_MODEL, prompt=PROMPTS, n=2, max_tokens=2, temperature=0, stream=True)
    by_index = {}
    for chunk in streamed:
        for c in chunk.choices:
            by_index[c.index] = by_index.get(c.index, "") + c.text
    assert [by_index[i] for i in range(6)] == [c.text for c in r.choices]


class Follower:
    """Reads a job's SSE stream on a thread, noting when each event arrived and when the stream ended."""

    def __init__(self, server, job_id, key=ADMIN_KEY):
        self.events, self.ended = [], None
        self.response = server.raw("GET", f"/v1/fine_tuning/jobs/{job_id}/events?stream=true", key=key, stream=True)
        assert self.response.status_code == 200
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        for line in self.response.iter_lines():
            if line.startswith(b"data: "):
                self.events.append((time.monotonic(), json.loads(line[6:])))
        self.ended = time.monotonic()

    def wait_for(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for arrived, e in self.events:
                if predicate(e):
                    return arrived
            time.sleep(0.01)
        raise AssertionError(f"no such event within {timeout} s: {[e['message'] for _, e in self.events]}")


def test_the_event_stream_of_a_finished_job_ends_after_its_events(server, tuned):
    started = time.monotonic()
    f = Follower(server, tuned.id)
    f.thread.join(timeout=5)
    assert f.ended is not None, "the stream of a finished job stayed open"
    assert f.ended - started < 2
    assert f.events[-1][1]["message"] == "The job has successfully completed"
    assert len({e["id"] for _, e in f.events}) == len(f.events)


def new_job(server, project, epochs):
    """A client of a project of its own, and a job of `epochs` on the support data."""
    key = server.key(project)
    c = server.client(key=key, strict=False)
    upload = c.files.create(file=("s.jsonl", (HERE / "data" / "support.jsonl").read_bytes()), purpose="fine-tune")
    job = c.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload.id,
                                    method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4}}})
    return key, c, job


def test_the_event_stream_delivers_events_as_written_and_ends_with_the_job(server):
    key, c, job = new_job(server, "streams", epochs=6)
    f = Follower(server, job.id, key=key)
    f.wait_for(lambda e: e["message"].startswith("Created fine-tuning job"), timeout=5)
    # Pause: the job's own answer returns after the event is written; the stream must have it a moment later.
    before = len(f.events)
    c.fine_tuning.jobs.pause(job.id)
    answered = time.monotonic()
    arrived = f.wait_for(lambda e: "paused" in e["message"].lower() or "pausing" in e["message"].lower(), timeout=5)
    assert arrived - answered < 0.5, f"the event reached the stream {arrived - answered:.2f} s after it was written"
    assert f.ended is None, "a paused job's stream ended"
    assert len(f.events) > before
    c.fine_tuning.jobs.cancel(job.id)
    cancelled_at = time.monotonic()
    f.thread.join(timeout=60)
    assert f.ended is not None, "the stream outlived the cancelled job"
    last_arrival, last = f.events[-1]
    assert "cancel" in last["message"].lower(), last
    assert f.ended - last_arrival < 0.75, f"the stream ended {f.ended - last_arrival:.2f} s after the job's last event"
    assert f.ended - cancelled_at < 30


def threads_of(server):
    return len(os.listdir(f"/proc/{server.proc.pid}/task"))


def test_open_event_streams_hold_no_thread_each(server):
    key, c, job = new_job(server, "many-streams", epochs=1)
    c.fine_tuning.jobs.pause(job.id)                     # it stays paused, so its streams stay open
    before = threads_of(server)
    followers = [Follower(server, job.id, key=key) for _ in range(40)]
    for f in followers:
        f.wait_for(lambda e: e["message"].startswith("Created fine-tuning job"), timeout=10)
    grown = threads_of(server) - before
    assert grown < 10, f"40 open event streams took {grown} threads"
    assert all(f.ended is None for f in followers)
    # Each stream still hears what happens next, and ends with the job.
    c.fine_tuning.jobs.cancel(job.id)
    for f in followers:
        f.thread.join(timeout=30)
        assert f.ended is not None and "cancel" in f.events[-1][1]["message"].lower()
