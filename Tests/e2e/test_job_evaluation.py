"""A fine-tuning job's built-in evaluation (`tailor.evaluation`) through the official SDK: the option checked when the
job is created (OpenAI's error body naming the parameter), the job's `tailor.evaluation` naming the eval and its two
runs once the job has succeeded, the runs answering every test line on the base and the fine-tuned model with the
default graders, and a test file that cannot be deleted while the job needs it."""
import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, EVAL_LINES, HERE


def create_job(server, training_file, evaluation):
    return server.raw("POST", "/v1/fine_tuning/jobs", json={
        "model": BASE_MODEL, "training_file": training_file, "tailor": {"evaluation": evaluation}})


def train_with_evaluation(client, training_file, test_file):
    """One epoch with `test_file` as the evaluation; the job must succeed. Returns the job."""
    from conftest import wait_for_job
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=training_file,
                                         method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1, "batch_size": 4}}},
                                         extra_body={"tailor": {"evaluation": {"file": test_file}}})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    return job


def error_of(response, status=400):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def test_the_evaluation_option_is_checked_when_the_job_is_created(server, client):
    train = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    uploaded = []

    def upload(name, data, purpose="fine-tune"):
        r = server.raw("POST", "/v1/files", files={"file": (name, data)}, data={"purpose": purpose})
        assert r.status_code == 200, r.text
        uploaded.append(r.json()["id"])
        return uploaded[-1]

    try:
        e = error_of(create_job(server, train.id, {"file": "file-missing"}))
        assert e["param"] == "tailor.evaluation.file" and e["code"] == "invalid_file"
        e = error_of(create_job(server, train.id, {}))
        assert e["param"] == "tailor.evaluation.file" and e["code"] == "missing_required_parameter"
        e = error_of(create_job(server, train.id, {"file": upload("b.jsonl", b'{"a": 1}\n', purpose="batch")}))
        assert e["param"] == "tailor.evaluation.file" and e["code"] == "invalid_file_purpose"
        e = error_of(create_job(server, train.id, {"file": upload("notes.txt", b"just words\n", purpose="evals")}))
        assert e["param"] == "tailor.evaluation.file" and "line 1" in e["message"] and "JSONL" in e["message"]
        no_answer = upload("q.jsonl", b'{"messages": [{"role": "user", "content": "hi"}]}\n')
        e = error_of(create_job(server, train.id, {"file": no_answer}))
        assert e["param"] == "tailor.evaluation.file" and "assistant" in e["message"]
        arithmetic = upload("arithmetic.jsonl", (HERE / "data" / "arithmetic.jsonl").read_bytes())
        e = error_of(create_job(server, train.id, {"file": arithmetic}))
        assert e["param"] == "tailor.evaluation.file" and "prompt_completion" in e["message"] and "chat" in e["message"]
        e = error_of(create_job(server, train.id, {"file": train.id, "shots": 3}))
        assert e["param"] == "tailor.evaluation.shots" and e["code"] == "unknown_parameter"
        bad_metric = {"type": "text_similarity", "name": "s", "input": "{{sample.output_text}}",
                      "reference": "{{item.reference}}", "evaluation_metric": "rouge_9", "pass_threshold": 0.5}
        e = error_of(create_job(server, train.id, {"file": train.id, "graders": [bad_metric]}))
        assert e["param"] == "tailor.evaluation.graders[0].evaluation_metric"
        wrong_field = dict(bad_metric, evaluation_metric="rouge_l", reference="{{item.answer}}")
        e = error_of(create_job(server, train.id, {"file": train.id, "graders": [wrong_field]}))
        assert e["param"] == "tailor.evaluation.graders[0]" and "reference" in e["message"]
        e = error_of(create_job(server, train.id, {"file": train.id, "graders": [{"type": "python", "name": "p"}]}))
        assert e["param"] == "tailor.evaluation.graders[0].type" and e["code"] == "unsupported_grader"
        with pytest.raises(openai.BadRequestError) as caught:
            client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=train.id,
                                           extra_body={"tailor": {"evaluation": "file-x"}})
        assert caught.value.param == "tailor.evaluation"
    finally:
        for f in uploaded:
            assert server.raw("DELETE", f"/v1/files/{f}").status_code == 200


def test_a_test_file_cannot_be_deleted_while_its_job_is_live(server, client):
    train = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    test = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=train.id,
                                         extra_body={"tailor": {"evaluation": {"file": test.id}}})
    raw = server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
    openapi_check.check("FineTuningJob", raw)
    assert raw["tailor"]["evaluation"] == {"file": test.id, "graders": None, "eval_id": None, "base_run_id": None,
                                           "fine_tuned_run_id": None, "error": None}
    refused = server.raw("DELETE", f"/v1/files/{test.id}")
    still_live = client.fine_tuning.jobs.retrieve(job.id).status not in ("succeeded", "failed", "cancelled")
    if still_live:   # checked after the delete: the job was live when it was refused
        assert error_of(refused)["code"] == "file_in_use" and job.id in refused.json()["error"]["message"]
    client.fine_tuning.jobs.cancel(job.id)
    assert client.fine_tuning.jobs.retrieve(job.id).model_extra["tailor"]["evaluation"]["eval_id"] is None


def test_a_succeeded_job_evaluates_its_base_and_its_model(server, client, evaluated):
    job = evaluated
    raw = server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
    openapi_check.check("FineTuningJob", raw)
    e = raw["tailor"]["evaluation"]
    assert e["eval_id"].startswith("eval_") and e["error"] is None and e["graders"] is None
    ev = client.evals.retrieve(e["eval_id"])
    openapi_check.check("Eval", server.raw("GET", f"/v1/evals/{ev.id}").json())
    assert ev.metadata == {"fine_tuning_job": job.id, "test_file": e["file"]}
    assert [c.name for c in ev.testing_criteria] == ["exact_match", "rouge_l", "bleu"]
    models = {}
    for run_id in (e["base_run_id"], e["fine_tuned_run_id"]):
        raw_run = server.raw("GET", f"/v1/evals/{ev.id}/runs/{run_id}").json()
        openapi_check.check("EvalRun", raw_run)
        assert raw_run["status"] == "completed" and raw_run["result_counts"]["total"] == EVAL_LINES
        assert raw_run["result_counts"]["errored"] == 0
        assert raw_run["data_source"]["input_messages"] == {"type": "item_reference", "item_reference": "item.messages"}
        assert raw_run["report_url"].endswith(f"/#/evals/{ev.id}/runs/{run_id}")
        models[run_id] = raw_run["model"]
        items = client.evals.runs.output_items.list(run_id, eval_id=ev.id, limit=100).data
        assert sorted(i.datasource_item_id for i in items) == list(range(EVAL_LINES))
        first = next(i for i in items if i.datasource_item_id == 0)
        assert first.datasource_item["reference"].startswith("Beacon here!")
        assert [m["role"] for m in first.datasource_item["messages"]] == ["system", "user"]
        assert first.sample.output[0].content.strip(), "each model answered"
    assert models == {e["base_run_id"]: BASE_MODEL, e["fine_tuned_run_id"]: job.fine_tuned_model}


def test_prompt_completion_lines_are_continued_as_plain_prompts(server, client):
    """A prompt/completion job is evaluated as it was trained: each prompt continued as plain text, without the chat
    template (whose system turn alone would be more tokens than these prompts)."""
    from conftest import wait_for_eval_run
    data = open(HERE / "data" / "arithmetic.jsonl", "rb").read()
    train = client.files.create(file=("arithmetic.jsonl", data), purpose="fine-tune")
    test = client.files.create(file=("arithmetic-test.jsonl", b"".join(data.splitlines(keepends=True)[:3])), purpose="fine-tune")
    job = train_with_evaluation(client, train.id, test.id)
    e = job.model_extra["tailor"]["evaluation"]
    for run_id in (e["base_run_id"], e["fine_tuned_run_id"]):
        run = wait_for_eval_run(client, e["eval_id"], run_id)
        assert run.status == "completed" and run.result_counts.total == 3 and run.result_counts.errored == 0
        assert run.data_source.input_messages.item_reference == "item.prompt"
        for item in client.evals.runs.output_items.list(run_id, eval_id=e["eval_id"]).data:
            assert item.datasource_item["prompt"].startswith("Q: what is") and item.datasource_item["reference"].startswith(" ")
            assert item.sample.usage.prompt_tokens < 20, item.sample.usage
            assert item.sample.max_completion_tokens == 16, "twice the longest reference, at least 16"


def test_a_job_evaluation_interrupted_by_a_restart_finishes(fresh_server):
    """SIGTERM while the job's evaluation runs: the next start finishes both runs, every test line graded once."""
    import time
    from conftest import wait_for_eval_run
    fresh_server.start()
    client = fresh_server.client()
    train = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    test = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune")
    job = train_with_evaluation(client, train.id, test.id)
    e = job.model_extra["tailor"]["evaluation"]
    deadline = time.time() + 120
    while client.evals.runs.retrieve(e["base_run_id"], eval_id=e["eval_id"]).result_counts.total < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert fresh_server.stop() == 0
    fresh_server.start()
    client = fresh_server.client()
    assert client.fine_tuning.jobs.retrieve(job.id).model_extra["tailor"]["evaluation"] == e
    for run_id in (e["base_run_id"], e["fine_tuned_run_id"]):
        run = wait_for_eval_run(client, e["eval_id"], run_id)
        assert run.status == "completed" and run.result_counts.total == 12
        items = client.evals.runs.output_items.list(run_id, eval_id=e["eval_id"], limit=100).data
        assert sorted(i.datasource_item_id for i in items) == list(range(12))
