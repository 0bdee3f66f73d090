"""The Evals API through the official SDK on a real `tailor serve`: a jsonl run with inline samples graded by
string_check and text_similarity (exact scores), a completions run on the base model, cancel and delete, the graders
endpoints, and bad input answered with OpenAI's error body naming the parameter. Raw bodies are checked against the
official OpenAPI schemas (Eval, EvalRun, EvalRunOutputItem, …) when ../shared is present. Template messages there
use `input_text` parts: with a plain string `content` a message matches both of the spec's `oneOf` branches
(EasyInputMessage and EvalItem), so the official schema refuses it, though Tailor and OpenAI accept it (the bad-input
test sends strings)."""
import time

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL

ITEM_SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
               "required": ["answer"]}
EXACT = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "operation": "eq"}
ROUGE = {"type": "text_similarity", "name": "rouge", "input": "{{sample.output_text}}", "reference": "{{item.answer}}",
         "evaluation_metric": "rouge_1", "pass_threshold": 0.5}
# Model graders on the default model; input_text parts, as in the spec's own examples (see the module docstring).
SCORE = {"type": "score_model", "name": "judge", "model": BASE_MODEL, "pass_threshold": 0.5, "range": [0, 1],
         "input": [{"role": "system", "content": [{"type": "input_text", "text": "Score how well the answer matches the expected answer, from 0 to 1. Reply in JSON."}]},
                   {"role": "user", "content": [{"type": "input_text", "text": "Expected: {{item.answer}}\nAnswer: {{sample.output_text}}"}]}],
         "sampling_params": {"max_completions_tokens": 16}}
LABEL = {"type": "label_model", "name": "verdict", "model": BASE_MODEL, "labels": ["correct", "incorrect"],
         "passing_labels": ["correct"],
         "input": [{"role": "user", "content": [{"type": "input_text", "text": "Is '{{sample.output_text}}' the answer to '{{item.question}}'?"}]}]}


def wait_for_run(client, eval_id, run_id, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = client.evals.runs.retrieve(run_id, eval_id=eval_id)
        if run.status in ("completed", "failed", "canceled"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not finish; last status {run.status}")


def make_eval(client, criteria, schema=ITEM_SCHEMA, **kw):
    return client.evals.create(name="e2e", data_source_config={"type": "custom", "item_schema": schema,
                                                               "include_sample_schema": True},
                               testing_criteria=criteria, **kw)


def error_of(response, status=400):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body["error"]) == {"message", "type", "param", "code"}, body
    return body["error"]


def test_jsonl_run_with_inline_samples_gives_exact_scores(server, client):
    ev = make_eval(client, [EXACT, ROUGE], metadata={"suite": "e2e"})
    raw = server.raw("GET", f"/v1/evals/{ev.id}").json()
    openapi_check.check("Eval", raw)
    assert raw["data_source_config"]["schema"]["properties"]["item"] == ITEM_SCHEMA
    assert [c["name"] for c in raw["testing_criteria"]] == ["exact", "rouge"]
    content = [
        {"item": {"answer": "the cat sat"}, "sample": {"output_text": "the cat sat"}},
        {"item": {"answer": "the cat sat on the mat"}, "sample": {"output_text": "the cat sat"}},
        {"item": {"answer": "paris"}, "sample": {"output_text": "london"}},
        {"item": {"answer": "no sample here"}},
    ]
    run = client.evals.runs.create(ev.id, name="inline", data_source={
        "type": "jsonl", "source": {"type": "file_content", "content": content}})
    assert run.status == "queued" and run.model == "" and run.report_url.endswith(f"/#/evals/{ev.id}/runs/{run.id}")
    run = wait_for_run(client, ev.id, run.id)
    assert run.status == "completed", run.error
    raw = server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}").json()
    openapi_check.check("EvalRun", raw)
    assert raw["result_counts"] == {"total": 4, "errored": 1, "failed": 2, "passed": 1}
    assert [(r["passed"], r["failed"]) for r in raw["per_testing_criteria_results"]] == [(1, 3), (2, 2)]
    assert raw["per_model_usage"] == []

    page = client.evals.runs.output_items.list(run.id, eval_id=ev.id)
    raw_items = server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}/output_items").json()
    openapi_check.check("EvalRunOutputItemList", raw_items)
    items = page.data
    assert [i.datasource_item_id for i in items] == [0, 1, 2, 3]
    assert [i.status for i in items] == ["pass", "fail", "fail", "error"]
    scores = [[(r.name, r.score, r.passed) for r in i.results] for i in items[:3]]
    # rouge_1 of "the cat sat" against "the cat sat on the mat": precision 1, recall 1/2, F1 2/3.
    assert scores[0] == [("exact", 1.0, True), ("rouge", 1.0, True)]
    assert scores[1][0] == ("exact", 0.0, False)
    assert scores[1][1][1] == pytest.approx(2 / 3, abs=1e-12) and scores[1][1][2] is True
    assert scores[2] == [("exact", 0.0, False), ("rouge", 0.0, False)]
    assert items[0].sample.output[0].content == "the cat sat"
    assert "sample.output_text" in items[3].sample.error.message
    one = client.evals.runs.output_items.retrieve(items[1].id, eval_id=ev.id, run_id=run.id)
    assert one.id == items[1].id
    openapi_check.check("EvalRunOutputItem", server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}/output_items/{one.id}").json())
    failed = client.evals.runs.output_items.list(run.id, eval_id=ev.id, status="fail")
    assert [i.datasource_item_id for i in failed.data] == [1, 2]


def test_completions_run_on_the_base_model(server, client):
    never = {"type": "string_check", "name": "not the marker", "input": "{{sample.output_text}}",
             "reference": "<<never>>", "operation": "ne"}
    ev = make_eval(client, [never], schema={"type": "object", "properties": {"question": {"type": "string"}}})
    content = [{"item": {"question": "What is 2+2?"}}, {"item": {"question": "Name a colour."}}, {"item": {}}]
    source = {
        "type": "completions", "model": BASE_MODEL,
        "input_messages": {"type": "template", "template": [
            {"role": "developer", "content": {"type": "input_text", "text": "Answer in one word."}},
            {"role": "user", "content": {"type": "input_text", "text": "{{item.question}}"}}]},
        "sampling_params": {"temperature": 0, "max_completion_tokens": 4, "seed": 7},
        "source": {"type": "file_content", "content": content}}
    run = client.evals.runs.create(ev.id, data_source=source)
    assert run.model == BASE_MODEL and run.name == BASE_MODEL
    run = wait_for_run(client, ev.id, run.id)
    assert run.status == "completed", run.error
    openapi_check.check("EvalRun", server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}").json())
    assert (run.result_counts.total, run.result_counts.passed, run.result_counts.errored) == (3, 2, 1)
    usage = run.per_model_usage[0]
    assert usage.run_model_name == BASE_MODEL and usage.invocation_count == 2
    assert 1 <= usage.completion_tokens <= 8 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id).data
    first = items[0].sample
    assert first.input[0].role == "system" and first.input[1].content == "What is 2+2?"
    assert first.model == BASE_MODEL and first.max_completion_tokens == 4 and first.seed == 7 and first.temperature == 0
    assert first.output[0].role == "assistant" and first.usage.completion_tokens <= 4
    assert first.finish_reason in ("stop", "length")
    assert items[2].status == "error" and "item.question" in items[2].sample.error.message
    for i in items:
        openapi_check.check("EvalRunOutputItem", server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}/output_items/{i.id}").json())
    # The same run again: its prompts come from the prompt cache, with the same answers.
    again = wait_for_run(client, ev.id, client.evals.runs.create(ev.id, data_source=source).id)
    repeat = again.per_model_usage[0]
    assert repeat.cached_tokens == repeat.prompt_tokens == usage.prompt_tokens and repeat.completion_tokens == usage.completion_tokens
    repeated = client.evals.runs.output_items.list(again.id, eval_id=ev.id).data
    assert repeated[0].sample.usage.cached_tokens == repeated[0].sample.usage.prompt_tokens
    assert [i.sample.output for i in repeated] == [i.sample.output for i in items]


def test_cancel_then_delete(server, client):
    ev = make_eval(client, [EXACT])
    content = [{"item": {"question": f"Write a long story number {i}.", "answer": "x"}} for i in range(20)]
    run = client.evals.runs.create(ev.id, data_source={
        "type": "completions", "model": BASE_MODEL,
        "input_messages": {"type": "template", "template": [
            {"role": "user", "content": {"type": "input_text", "text": "{{item.question}}"}}]},
        "sampling_params": {"max_completion_tokens": 200}, "source": {"type": "file_content", "content": content}})
    canceled = client.evals.runs.cancel(run.id, eval_id=ev.id)
    assert canceled.status == "canceled"
    openapi_check.check("EvalRun", server.raw("POST", f"/v1/evals/{ev.id}/runs/{run.id}").json())
    time.sleep(1.0)
    again = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert again.status == "canceled" and again.result_counts.total < 20
    assert client.evals.runs.cancel(run.id, eval_id=ev.id).status == "canceled", "cancelling twice answers the run"
    listed = client.evals.runs.list(ev.id)
    assert [r.id for r in listed.data] == [run.id]

    deleted = client.evals.runs.delete(run.id, eval_id=ev.id)
    assert deleted.deleted and deleted.run_id == run.id
    assert error_of(server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}"), 404)["param"] == "run_id"
    gone = client.evals.delete(ev.id)
    assert gone.deleted and gone.eval_id == ev.id
    assert error_of(server.raw("GET", f"/v1/evals/{ev.id}"), 404)["param"] == "eval_id"


def test_list_update_and_order(server, client):
    a, b = make_eval(client, [EXACT]), make_eval(client, [EXACT])
    updated = client.evals.update(a.id, name="renamed", metadata={"k": "v"})
    assert updated.name == "renamed" and updated.metadata == {"k": "v"}
    ids = [e.id for e in client.evals.list(limit=100).data]
    assert ids.index(a.id) < ids.index(b.id), "oldest first by default, as OpenAI documents"
    newest = client.evals.list(order="desc", limit=1)
    assert newest.data[0].id == b.id and newest.has_more
    raw = server.raw("GET", "/v1/evals?limit=2").json()
    openapi_check.check("EvalList", raw)


def test_graders_run_and_validate(server, client):
    item = {"label": "Paris"}
    r = client.fine_tuning.alpha.graders.run(grader={**EXACT, "reference": "{{item.label}}"}, model_sample="Paris", item=item)
    assert r.reward == 1.0 and not r.metadata.errors.invalid_variable_error
    multi = {"type": "multi", "name": "m", "calculate_output": "0.5 * exact + 0.5 * fuzzy", "graders": {
        "exact": {**EXACT, "reference": "{{item.label}}"},
        "fuzzy": {"type": "text_similarity", "name": "fuzzy", "input": "{{sample.output_text}}",
                  "reference": "{{item.label}}", "evaluation_metric": "fuzzy_match"}}}
    r = client.fine_tuning.alpha.graders.run(grader=multi, model_sample="paris", item=item)
    assert r.reward == pytest.approx(0.4, abs=1e-12) and r.sub_rewards == {"exact": 0.0, "fuzzy": pytest.approx(0.8)}
    raw = server.raw("POST", "/v1/fine_tuning/alpha/graders/run", json={"grader": EXACT, "model_sample": "x"}).json()
    openapi_check.check("RunGraderResponse", raw)
    assert raw["reward"] == 0 and raw["metadata"]["errors"]["invalid_variable_error"] is True
    assert client.fine_tuning.alpha.graders.validate(grader=ROUGE).grader.name == "rouge"
    e = error_of(server.raw("POST", "/v1/fine_tuning/alpha/graders/validate",
                            json={"grader": {"type": "python", "name": "p", "source": "def grade(s, i): return 1"}}))
    assert e["param"] == "grader.type" and e["code"] == "unsupported_grader" and "'python'" in e["message"]


def test_model_graders_score_with_the_default_model(server, client):
    """score_model and label_model through the SDK: the default model answers under the graders' schemas, so every
    item gets a score in the range (or a label) rather than an error, and the grading model's usage is reported."""
    ev = make_eval(client, [SCORE, LABEL, EXACT])
    raw = server.raw("GET", f"/v1/evals/{ev.id}").json()
    openapi_check.check("Eval", raw)
    assert [c["type"] for c in raw["testing_criteria"]] == ["score_model", "label_model", "string_check"]
    content = [{"item": {"question": "2+2?", "answer": "4"}, "sample": {"output_text": "4"}},
               {"item": {"question": "Capital of France?", "answer": "Paris"}, "sample": {"output_text": "London"}}]
    run = client.evals.runs.create(ev.id, data_source={"type": "jsonl", "source": {"type": "file_content", "content": content}})
    run = wait_for_run(client, ev.id, run.id)
    assert run.status == "completed", run.error
    assert run.result_counts.errored == 0 and run.result_counts.total == 2
    raw = server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}").json()
    openapi_check.check("EvalRun", raw)
    usage = {u["model_name"]: u for u in raw["per_model_usage"]}
    assert usage[BASE_MODEL]["invocation_count"] == 4, "two model graders on two items"
    raw_items = server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}/output_items").json()
    openapi_check.check("EvalRunOutputItemList", raw_items)
    for item in raw_items["data"]:
        judge, verdict, exact = item["results"]
        assert judge["type"] == "score-model-grader" and 0 <= judge["score"] <= 1
        assert judge["passed"] == (judge["score"] >= 0.5)
        assert judge["sample"]["model"] == BASE_MODEL and '"score"' in judge["sample"]["output"][0]["content"]
        assert verdict["score"] in (0.0, 1.0) and verdict["passed"] == (verdict["score"] == 1.0)
        assert verdict["sample"]["output"][0]["content"] in ('{"label":"correct"}', '{"label":"incorrect"}',
                                                           '{"label": "correct"}', '{"label": "incorrect"}')

    # The graders API runs a model grader on one sample.
    r = client.fine_tuning.alpha.graders.run(grader=LABEL, model_sample="4", item={"question": "2+2?"})
    assert r.reward in (0.0, 1.0) and r.metadata.sampled_model_name == BASE_MODEL
    assert not r.metadata.errors.other_error and not r.metadata.errors.invalid_variable_error
    raw = server.raw("POST", "/v1/fine_tuning/alpha/graders/run",
                     json={"grader": SCORE, "model_sample": "4", "item": {"answer": "4"}}).json()
    openapi_check.check("RunGraderResponse", raw)
    assert 0 <= raw["reward"] <= 1 and raw["metadata"]["token_usage"] > 0
    assert not raw["metadata"]["errors"]["model_grader_parse_error"]
    assert set(raw["model_grader_token_usage_per_model"]) == {BASE_MODEL}


def test_bad_input_names_the_parameter(server, client):
    def create_eval(criteria, schema=ITEM_SCHEMA):
        return server.raw("POST", "/v1/evals", json={"data_source_config": {"type": "custom", "item_schema": schema},
                                                      "testing_criteria": criteria})

    e = error_of(create_eval([{"type": "python", "name": "g"}]))
    assert e["param"] == "testing_criteria[0].type" and "'python'" in e["message"] and "not support" in e["message"]
    assert e["code"] == "unsupported_grader"
    e = error_of(create_eval([dict(SCORE, model="no-such-model")]))
    assert e["param"] == "testing_criteria[0].model" and e["code"] == "model_not_found" and BASE_MODEL in e["message"]
    e = error_of(create_eval([dict(LABEL, passing_labels=["maybe"])]))
    assert e["param"] == "testing_criteria[0].passing_labels" and "subset" in e["message"]
    e = error_of(create_eval([{k: v for k, v in SCORE.items() if k != "input"}]))
    assert e["param"] == "testing_criteria[0].input" and e["code"] == "missing_required_parameter"
    e = error_of(create_eval([{"type": "regex", "name": "g"}]))
    assert e["param"] == "testing_criteria[0].type" and "string_check" in e["message"]
    e = error_of(create_eval([dict(ROUGE, evaluation_metric="cosine")]))
    assert e["param"] == "testing_criteria[0].evaluation_metric" and "embedding" in e["message"]
    e = error_of(create_eval([dict(ROUGE, evaluation_metric="rouge_9")]))
    assert e["param"] == "testing_criteria[0].evaluation_metric" and "rouge_l" in e["message"]
    e = error_of(create_eval([dict(EXACT, reference="{{item.label}}")]))
    assert e["param"] == "testing_criteria[0]" and "item.label" in e["message"] and "answer" in e["message"]
    e = error_of(create_eval([EXACT], schema={"type": "object", "oneOf": []}))
    assert e["param"] == "data_source_config.item_schema" and "oneOf" in e["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        make_eval(client, [dict(ROUGE, pass_threshold=None)])
    assert caught.value.param == "testing_criteria[0].pass_threshold"

    ev = make_eval(client, [EXACT])
    runs = f"/v1/evals/{ev.id}/runs"
    completions = {"type": "completions", "model": "no-such-model",
                   "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.question}}"}]},
                   "source": {"type": "file_content", "content": [{"item": {"answer": "a"}}]}}
    e = error_of(server.raw("POST", runs, json={"data_source": completions}))
    assert e["param"] == "data_source.model" and "no-such-model" in e["message"]
    bad_template = dict(completions, model=BASE_MODEL, input_messages={"type": "template", "template": [
        {"role": "user", "content": "{{item.prompt}}"}]})
    e = error_of(server.raw("POST", runs, json={"data_source": bad_template}))
    assert e["param"] == "data_source.input_messages.template[0].content" and "item.prompt" in e["message"]
    e = error_of(server.raw("POST", runs, json={"data_source": {"type": "jsonl", "source": {
        "type": "file_content", "content": [{"item": {"answer": 3}}]}}}))
    assert e["param"] == "data_source.source.content[0]" and "item.answer must be string" in e["message"]
    e = error_of(server.raw("POST", runs, json={"data_source": {"type": "responses", "source": {}}}))
    assert e["param"] == "data_source.type"

    uploaded = []

    def upload(name, data):
        # Raw: the strict SDK's FileObject lists no "evals" purpose, although OpenAI's upload accepts it. Removed
        # at the end, so other tests' strict file listings on this shared server do not meet one.
        r = server.raw("POST", "/v1/files", files={"file": (name, data)}, data={"purpose": "evals"})
        assert r.status_code == 200, r.text
        uploaded.append(r.json()["id"])
        return uploaded[-1]

    try:
        not_jsonl = upload("notes.txt", b"this is not JSON\n")
        e = error_of(server.raw("POST", runs, json={"data_source": {"type": "jsonl", "source": {"type": "file_id", "id": not_jsonl}}}))
        assert e["param"] == "data_source.source.id" and "line 1" in e["message"]
        good = upload("items.jsonl", b'{"item": {"answer": "a"}, "sample": {"output_text": "a"}}\n')
        run = client.evals.runs.create(ev.id, data_source={"type": "jsonl", "source": {"type": "file_id", "id": good}})
    finally:
        for f in uploaded:
            assert server.raw("DELETE", f"/v1/files/{f}").status_code == 200
    run = wait_for_run(client, ev.id, run.id)
    assert (run.status, run.result_counts.passed) == ("completed", 1), "the lines were read when the run was created"
    assert error_of(server.raw("GET", "/v1/evals/eval_missing"), 404)["param"] == "eval_id"


def test_a_run_interrupted_by_a_restart_resumes(fresh_server):
    """SIGTERM mid-run leaves the run in_progress with the items graded so far; the next start finishes the rest,
    keeping those items, so every item is graded exactly once."""
    fresh_server.start()
    client = fresh_server.client()
    ev = make_eval(client, [EXACT])
    content = [{"item": {"question": f"Count from 1 to 20, attempt {i}.", "answer": "x"}} for i in range(6)]
    run = client.evals.runs.create(ev.id, data_source={
        "type": "completions", "model": BASE_MODEL,
        "input_messages": {"type": "template", "template": [{"role": "user", "content": "{{item.question}}"}]},
        "sampling_params": {"max_completion_tokens": 24, "temperature": 0},
        "source": {"type": "file_content", "content": content}})
    deadline = time.time() + 120
    while client.evals.runs.retrieve(run.id, eval_id=ev.id).result_counts.total < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert fresh_server.stop() == 0
    fresh_server.start()
    client = fresh_server.client()
    after = client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert after.status in ("in_progress", "completed") and after.result_counts.total >= 1
    done = wait_for_run(client, ev.id, run.id)
    assert done.status == "completed" and done.result_counts.total == 6
    items = client.evals.runs.output_items.list(run.id, eval_id=ev.id, limit=100).data
    assert sorted(i.datasource_item_id for i in items) == list(range(6))
    assert done.per_model_usage[0].invocation_count == 6
