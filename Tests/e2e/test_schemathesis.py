"""Schemathesis against Tailor's own OpenAPI description (Tests/openapi/tailor-openapi.yaml) and a real `tailor serve`:
every operation gets the spec's examples, the coverage phase's boundary and negative cases and a bounded number of
fuzzed cases (fixed seed, so a run repeats), and every response must be no 5xx, a documented status, a documented
content type, and match the declared schema (4xx bodies are OpenAI's error object; stream events one by one); every
authenticated operation must refuse a missing or wrong key, and a method a path lacks must be a 405 with Allow.

Bounds, all at test time and none in the spec (the spec says what Tailor accepts):
- FUZZ_EXAMPLES fuzzed cases per operation and a TIME_BUDGET for the whole run; past the budget the remaining cases
  are not sent and a warning says how many were left out.
- Generation requests are made cheap: max_tokens (and max_completion_tokens) are capped at MAX_TOKENS and set when
  absent (Tailor's default is the rest of the context), and n at MAX_N; so is a completions eval run's
  sampling_params.max_completion_tokens.
- The server gets its own data directory, seeded with files, five jobs (failed in validation, cancelled, two paused,
  and trained for one step: a checkpoint, a result file and a fine-tuned model) whose ids are added as examples of the
  path parameters, so the object endpoints answer 200 too, not only 404, and chat reaches an adapter. The file the
  failed job was made from is the only training file job creation is offered: it fails validation, so a generated
  job ends at once. The one training step schemathesis can cause is resuming a paused one-step job. An eval with a
  completed jsonl run (and an eval and a run for the DELETEs) gives the eval endpoints objects to find."""
import collections
import copy
import time
import warnings

import pytest
import requests
import schemathesis
import yaml
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, ignored_auth, response_schema_conformance,
                                               status_code_conformance, unsupported_method)

from conftest import ADMIN_KEY, BASE_MODEL, REPO, Server

SPEC = REPO / "Tests" / "openapi" / "tailor-openapi.yaml"
SEED = 20260418
FUZZ_EXAMPLES = 100
TIME_BUDGET = 150.0  # seconds for all operations together
MAX_TOKENS = 3
MAX_N = 2
# ignored_auth sends each authenticated request again without a key (and with a wrong one) and wants a 401;
# unsupported_method wants a 405 with an Allow header for a method a path does not have.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth, unsupported_method]

_clock = {"start": None, "unsent": 0, "sent": 0}
_statuses = collections.defaultdict(collections.Counter)  # operation label -> status code -> responses


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("tailor-schemathesis") / "data").start()
    yield s
    code = s.stop()
    assert code == 0, f"tailor serve exited with {code} on SIGTERM; log: {s.log_path}"


def _seed(server):
    """Files, an Upload and jobs for the object endpoints to find: a job that failed validation, one cancelled before it ran,
    one trained for a single step (a checkpoint, a fine-tuned model, a result file) and two paused before they ran
    (one for cancel, one for pause and resume; that resume trains one step)."""
    def upload(name, text):
        r = server.raw("POST", "/v1/files", files={"file": (name, text.encode())}, data={"purpose": "fine-tune"})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def job(file_id, **extra):
        r = server.raw("POST", "/v1/fine_tuning/jobs", json={"model": BASE_MODEL, "training_file": file_id,
                                                            "metadata": {"seeded": "yes"}, **extra})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def get(job_id):
        return server.raw("GET", f"/v1/fine_tuning/jobs/{job_id}").json()

    one_step = {"method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 10}}}}
    bad = upload("bad.jsonl", '{"neither": "messages nor prompt"}\n' * 3)
    doomed = upload("doomed.jsonl", '{"deleted": "by DELETE /v1/files/{id}"}\n')
    good = upload("chat.jsonl", '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 10)
    failed = job(bad)
    cancelled = job(good)
    assert server.raw("POST", f"/v1/fine_tuning/jobs/{cancelled}/cancel").status_code == 200
    paused, to_cancel = job(good, **one_step), job(good, **one_step)
    for j in (paused, to_cancel):
        assert server.raw("POST", f"/v1/fine_tuning/jobs/{j}/pause").status_code == 200
    trained = job(good, suffix="schema", **one_step)
    deadline = time.time() + 180
    while time.time() < deadline and get(trained)["status"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.5)
    done = get(trained)
    assert done["status"] == "succeeded", done
    for j in (failed, cancelled):
        while time.time() < deadline and get(j)["status"] not in ("failed", "cancelled"):
            time.sleep(0.2)
    # A pending Upload for the Parts, completion and cancel operations to find.
    pending = server.raw("POST", "/v1/uploads", json={"filename": "notes.txt", "purpose": "user_data", "bytes": 3,
                                                      "mime_type": "text/plain"})
    assert pending.status_code == 200, pending.text
    return {"files": [good, *done["result_files"]], "bad_file": bad, "doomed_file": doomed,
            "jobs": [failed, cancelled, paused, trained], "to_cancel": to_cancel, "model": done["fine_tuned_model"],
            "upload": pending.json()["id"], **_seed_evals(server)}


def _seed_evals(server):
    """An eval with a completed jsonl run and its output item, for the eval endpoints to find; and an eval and a run
    of their own for the two DELETEs, so that the other operations still find theirs whatever the order."""
    criteria = [{"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                 "reference": "{{item.answer}}", "operation": "eq"}]

    def create_eval():
        r = server.raw("POST", "/v1/evals", json={"name": "seeded", "testing_criteria": criteria, "data_source_config": {
            "type": "custom", "item_schema": {"type": "object", "properties": {"answer": {"type": "string"}}}}})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def create_run(eval_id):
        r = server.raw("POST", f"/v1/evals/{eval_id}/runs", json={"data_source": {"type": "jsonl", "source": {
            "type": "file_content", "content": [{"item": {"answer": "a"}, "sample": {"output_text": "a"}}]}}})
        assert r.status_code == 200, r.text
        return r.json()["id"]

    kept, doomed_eval = create_eval(), create_eval()
    run, doomed_run = create_run(kept), create_run(kept)
    deadline = time.time() + 60
    while time.time() < deadline and server.raw("GET", f"/v1/evals/{kept}/runs/{run}").json()["status"] != "completed":
        time.sleep(0.2)
    items = server.raw("GET", f"/v1/evals/{kept}/runs/{run}/output_items").json()["data"]
    assert len(items) == 1, items
    return {"eval": kept, "doomed_eval": doomed_eval, "run": run, "doomed_run": doomed_run, "output_item": items[0]["id"]}


@pytest.fixture(scope="module")
def api_schema(schema_server):
    seeded = _seed(schema_server)
    with open(SPEC) as f:
        raw = yaml.safe_load(f)
    raw = copy.deepcopy(raw)
    params = raw["components"]["parameters"]
    params["FileId"]["examples"] = {f"seeded{i}": {"value": f} for i, f in enumerate(seeded["files"])}
    # DELETE gets a file of its own, so that the other file operations still find theirs whatever the order.
    raw["paths"]["/v1/files/{id}"]["delete"]["parameters"] = [
        dict(params["FileId"], examples={"seeded": {"value": seeded["doomed_file"]}})]
    params["JobId"]["examples"] = {f"seeded{i}": {"value": j} for i, j in enumerate(seeded["jobs"])}
    # Cancel gets a paused job of its own, so that pause and resume still find theirs whatever the order.
    raw["paths"]["/v1/fine_tuning/jobs/{fine_tuning_job_id}/cancel"]["parameters"] = [
        dict(params["JobId"], examples={"paused": {"value": seeded["to_cancel"]}, "failed": {"value": seeded["jobs"][0]}})]
    # The fine-tuned model is retrieved and chatted with, but not deleted (that would race the others).
    raw["paths"]["/v1/models/{model}"]["delete"]["parameters"] = [dict(params["ModelId"])]
    params["ModelId"]["examples"] = dict(params["ModelId"]["examples"], tuned={"value": seeded["model"]})
    # Job creation reaches its deeper checks only with a real file id: the seeded bad file, so that a job created
    # from it fails validation at once, without training.
    job_fields = raw["components"]["schemas"]["CreateFineTuningJobRequest"]["properties"]
    job_fields["training_file"]["examples"] = [seeded["bad_file"]]
    job_fields["validation_file"]["examples"] = [seeded["bad_file"]]
    # Valid requests name the served model and (for jobs) that file; negative cases still send any other value.
    schemas = raw["components"]["schemas"]
    for name in ("CreateChatCompletionRequest", "CreateCompletionRequest"):
        schemas[name]["allOf"][1]["properties"]["model"]["enum"] = [BASE_MODEL, seeded["model"]]
    job_fields["model"]["enum"] = [BASE_MODEL]
    job_fields["training_file"]["enum"] = [seeded["bad_file"]]
    params["UploadId"]["examples"] = {"seeded": {"value": seeded["upload"]}}
    params["EvalId"]["examples"] = {"seeded": {"value": seeded["eval"]}}
    params["RunId"]["examples"] = {"seeded": {"value": seeded["run"]}}
    paths = raw["paths"]
    paths["/v1/evals/{eval_id}"]["delete"]["parameters"] = [dict(params["EvalId"], examples={"seeded": {"value": seeded["doomed_eval"]}})]
    paths["/v1/evals/{eval_id}/runs/{run_id}"]["delete"]["parameters"] = [dict(params["RunId"], examples={"seeded": {"value": seeded["doomed_run"]}})]
    paths["/v1/evals/{eval_id}/runs/{run_id}/output_items/{output_item_id}"]["parameters"][2]["examples"] = {
        "seeded": {"value": seeded["output_item"]}}
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "suppress-health-check": ["all"],
        "base-url": schema_server.url,
        "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
        "request-timeout": 60,
        "generation": {"max-examples": FUZZ_EXAMPLES, "mode": "all", "database": "none", "deterministic": True},
        # Not QUERY (the draft method schemathesis adds): TailorHTTP's parser (http-parser) does not know it and
        # answers 400 "invalid HTTP method" before routing, where unsupported_method wants 405. A known gap.
        "phases": {"coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"]}},
    })
    return schemathesis.openapi.from_dict(raw, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def _bound(case):
    """Caps the work a generation request asks for; the request stays what schemathesis made otherwise."""
    if case.operation.path == "/v1/evals/{eval_id}/runs" and case.method == "POST" and isinstance(case.body, dict):
        # A run samples every item in the background: keep each answer as short as a chat request's.
        source = case.body.get("data_source")
        if isinstance(source, dict) and source.get("type") == "completions":
            params = source.get("sampling_params")
            if not isinstance(params, dict):
                params = source["sampling_params"] = {}
            given = params.get("max_completion_tokens")
            if not isinstance(given, (int, float)) or isinstance(given, bool) or given > MAX_TOKENS:
                params["max_completion_tokens"] = MAX_TOKENS
        return
    if case.operation.path not in ("/v1/chat/completions", "/v1/completions") or not isinstance(case.body, dict):
        return
    body = case.body
    keys = ["max_completion_tokens", "max_tokens"] if case.operation.path == "/v1/chat/completions" else ["max_tokens"]

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for key in keys:
        if number(body.get(key)) and body[key] > MAX_TOKENS:
            body[key] = MAX_TOKENS
    if all(body.get(k) is None for k in keys):
        body["max_tokens"] = MAX_TOKENS
    if number(body.get("n")) and body["n"] > MAX_N:
        body["n"] = MAX_N


@schema.parametrize()
def test_api_conforms_to_its_openapi_description(case):
    if _clock["start"] is None:
        _clock["start"] = time.monotonic()
    if time.monotonic() - _clock["start"] > TIME_BUDGET:
        _clock["unsent"] += 1
        return
    _bound(case)
    _clock["sent"] += 1
    status = "failed"
    try:
        status = case.call_and_validate(checks=CHECKS).status_code
    finally:
        _statuses[case.operation.label][status] += 1


def test_server_survived_the_run(schema_server):
    """Runs after the schemathesis test: the server is still up and answering."""
    assert schema_server.proc.poll() is None, f"tailor serve died; log: {schema_server.log_path}"
    assert requests.get(schema_server.url + "/healthz", timeout=5).status_code == 200
    print(f"\nschemathesis: {_clock['sent']} requests in {time.monotonic() - (_clock['start'] or time.monotonic()):.0f} s")
    for label, counts in sorted(_statuses.items()):
        print(f"  {label}: " + ", ".join(f"{code}×{n}" for code, n in sorted(counts.items(), key=str)))
    if _clock["unsent"]:
        warnings.warn(f"schemathesis time budget ({TIME_BUDGET:.0f} s) ran out: {_clock['unsent']} generated cases "
                      f"were not sent ({_clock['sent']} were)")
