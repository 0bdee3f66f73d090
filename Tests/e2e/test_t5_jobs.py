"""T5 encoder-decoders served and fine-tuned through the official SDK: `tailor serve` with the default model and the
tiny gated-GELU T5 fixture (its Unigram tokenizer beside it) lists both; completions and chat on the T5 base give
transformers' greedy tokens (Tests/reference/t5/make_model_fixtures.py), stream the same text, honour stop, n and
seeds; what a T5 model cannot do (tools, structured outputs) is a 400 naming the parameter. A LoRA job on
{"document", "summary"} records trains on the T5 base (the loss falls in its metrics events, checkpoints are kept)
and its ft: model is served as the base with the adapter merged, and a job on that model continues its adapter; a full job (tailor.training_type "full") trains
every weight, its checkpoints are T5 directories served as models of their own, a full job on its model continues from
that model's weights (a LoRA job on it, and a full job on a LoRA model, are 400s), and a server whose training memory
cannot hold it refuses it with the figure; pause and resume continue from the checkpoint of either kind of job; bad
mappings and unsupported kinds of job are 400s. An eval run samples a T5 model as the chat endpoint does."""
import json
import re
import shutil
import time

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, REPO, Server, wait_for_job

FIXTURES = REPO / "Tests" / "TailorEngineTests" / "Fixtures" / "t5"
T5 = "tiny-flan"
REFERENCE = json.loads((FIXTURES / "reference-model.json").read_text())["models"][T5]["sources"]


def decode(ids):
    """transformers' decode(skip_special_tokens=True) of ordinary Unigram pieces: ▁ is a space, the first one dropped."""
    vocab = json.loads((FIXTURES / "unigram" / "tokenizer.json").read_text())["model"]["vocab"]
    text = "".join(vocab[i][0] for i in ids).replace("\u2581", " ")
    return text[1:] if text.startswith(" ") else text


def t5_directory(root):
    """The tiny T5 as a Hugging Face directory (weights and config, its Unigram tokenizer beside them)."""
    model = root / T5
    model.mkdir()
    for d in (FIXTURES / T5, FIXTURES / "unigram"):
        for f in d.iterdir():
            shutil.copy(f, model)
    return model


@pytest.fixture(scope="module")
def t5_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("t5")
    model = t5_directory(root)
    # Test hooks hold a job at a step only when a test arms them (the pause and cancel test).
    s = Server(root / "data", extra_args=["--model", str(model)], env={"TAILOR_TEST_HOOKS": "1"}).start()
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def t5_client(t5_server):
    return t5_server.client()


def test_the_t5_base_is_listed_beside_the_default_model(t5_server, t5_client):
    ids = [m.id for m in t5_client.models.list()]
    assert T5 in ids and BASE_MODEL in ids
    raw = t5_server.raw("GET", f"/v1/models/{T5}").json()
    openapi_check.check("Model", raw)
    assert raw["tailor"]["architecture"] == "encoder-decoder" and raw["tailor"]["base_model"] == T5


@pytest.mark.parametrize("source", REFERENCE, ids=lambda s: s["text"][:20])
def test_greedy_completions_are_transformers_tokens(t5_server, t5_client, source):
    raw = t5_server.raw("POST", "/v1/completions", json={"model": T5, "prompt": source["text"], "temperature": 0,
                                                          "max_tokens": len(source["greedy"])}).json()
    openapi_check.check("CreateCompletionResponse", raw)
    c = t5_client.completions.create(model=T5, prompt=source["text"], temperature=0, max_tokens=len(source["greedy"]))
    assert c.choices[0].text == raw["choices"][0]["text"] == decode(source["greedy"]), (c.choices[0].text, source["greedy"])
    assert c.choices[0].finish_reason == "length"
    assert c.usage.prompt_tokens == len(source["ids"]) and c.usage.completion_tokens == len(source["greedy"])


def test_chat_reads_the_last_user_message_and_the_system_messages(t5_server, t5_client):
    source = REFERENCE[0]
    raw = t5_server.raw("POST", "/v1/chat/completions", json={
        "model": T5, "temperature": 0, "max_tokens": 12, "messages": [{"role": "user", "content": source["text"]}]}).json()
    openapi_check.check("CreateChatCompletionResponse", raw)
    assert raw["choices"][0]["message"]["content"] == decode(source["greedy"])
    assert raw["usage"]["prompt_tokens"] == len(source["ids"])
    # Earlier turns are not read; a system message is put first, on its own line.
    history = [{"role": "user", "content": "Hello world"}, {"role": "assistant", "content": "Hi"},
               {"role": "user", "content": source["text"]}]
    answer = t5_client.chat.completions.create(model=T5, temperature=0, max_tokens=12, messages=history)
    assert answer.choices[0].message.content == decode(source["greedy"])
    with_system = t5_client.chat.completions.create(model=T5, temperature=0, max_tokens=12,
                                                    messages=[{"role": "system", "content": "Be brief."}] + history)
    assert with_system.usage.prompt_tokens > len(source["ids"])


def test_streams_give_the_same_text(t5_server, t5_client):
    source = REFERENCE[2]
    want = decode(source["greedy"])
    # OpenAI's streamed completion chunks carry finish_reason null, which the SDK's strict Completion type rejects.
    lenient = t5_server.client(strict=False)
    chunks = list(lenient.completions.create(model=T5, prompt=source["text"], temperature=0, max_tokens=12, stream=True))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == want
    assert chunks[-1].choices[0].finish_reason == "length"
    stream = t5_client.chat.completions.create(model=T5, temperature=0, max_tokens=12, stream=True,
                                               stream_options={"include_usage": True},
                                               messages=[{"role": "user", "content": source["text"]}])
    chunks = list(stream)
    for c in chunks:
        openapi_check.check("CreateChatCompletionStreamResponse", c.model_dump(exclude_unset=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == want
    assert chunks[-1].usage.completion_tokens == 12


def test_stop_n_and_seeded_sampling(t5_client):
    source = REFERENCE[1]
    want = decode(source["greedy"])
    stop = want[4:7]
    c = t5_client.completions.create(model=T5, prompt=source["text"], temperature=0, max_tokens=12, stop=[stop])
    assert c.choices[0].text == want[:want.index(stop)] and c.choices[0].finish_reason == "stop"
    a = t5_client.completions.create(model=T5, prompt=source["text"], temperature=1.0, seed=11, max_tokens=12, n=3)
    b = t5_client.completions.create(model=T5, prompt=source["text"], temperature=1.0, seed=11, max_tokens=12, n=3)
    assert [x.text for x in a.choices] == [x.text for x in b.choices]
    assert [x.index for x in a.choices] == [0, 1, 2]
    # Sampling at temperature 1 from a random model: the three choices are not all the greedy text.
    assert any(x.text != want for x in a.choices), [x.text for x in a.choices]


def test_what_t5_cannot_do_is_refused_naming_the_parameter(t5_client):
    messages = [{"role": "user", "content": "Hello world"}]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.chat.completions.create(model=T5, messages=messages, tools=[tool])
    assert e.value.body["param"] == "tools"
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.chat.completions.create(model=T5, messages=messages, response_format={
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}})
    assert e.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.chat.completions.create(model=T5, messages=messages + [{"role": "assistant", "content": "Hi"}])
    assert e.value.body["param"] == "messages[1].role"
    # The encoder's scores grow with the square of the source: 100,000 tokens would need hundreds of GB.
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.completions.create(model=T5, prompt=[5] * 100_000, max_tokens=4)
    assert e.value.body["code"] == "request_too_large"
    # A model grader answers under a JSON schema, which a T5 model cannot follow: refused naming the grader's model.
    from test_evals import SCORE, make_eval
    with pytest.raises(openai.BadRequestError) as e:
        make_eval(t5_client, [{**SCORE, "model": T5}])
    assert e.value.body["param"] == "testing_criteria[0].model" and "encoder-decoder" in e.value.body["message"], e.value.body
    # The default model beside it still answers as before.
    assert t5_client.completions.create(model=BASE_MODEL, prompt="Hello", max_tokens=3, temperature=0).choices[0].text


PAIRS = [
    ("The house on the hill is large and wonderful.", "a wonderful house"),
    ("Tailor trains adapters and serves them.", "Tailor trains"),
    ("The weather today is cold, with rain in the morning.", "cold and rainy"),
    ("Hello world, hello again.", "hello"),
    ("The cat sat on the mat all day long.", "a lazy cat"),
    ("Prices rose sharply in the last quarter.", "prices rose"),
    ("The team won the final match by two goals.", "team wins"),
    ("A new bridge opened in the city centre.", "bridge opens"),
    ("Scientists found water on a distant planet.", "water found"),
    ("The library will close early on Friday.", "library closes early"),
    ("Snow fell across the north overnight.", "snow in the north"),
    ("The train was late again this morning.", "late train"),
]
MAPPING = {"input_field": "document", "target_field": "summary"}


def upload(client, pairs, name="docs.jsonl"):
    lines = "".join(json.dumps({"document": "summarize: " + d, "summary": s}) + "\n" for d, s in pairs)
    return client.files.create(file=(name, lines.encode()), purpose="fine-tune")


def continue_model(client, model, train, valid, full, epochs, tailor, plan_says):
    """A job whose `model` is a fine-tuned T5 model: it succeeds, its plan event says what it continues, and its
    baseline validation loss is that model's last (`full`: the first job's full validation losses)."""
    more = client.fine_tuning.jobs.create(
        model=model, training_file=train.id, validation_file=valid.id, seed=6,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs, "batch_size": 4}}},
        extra_body={"tailor": tailor})
    assert more.model == model
    more = wait_for_job(client, more.id, {"succeeded", "failed", "cancelled"})
    assert more.status == "succeeded", more.error
    events = list(client.fine_tuning.jobs.list_events(more.id, limit=100))[::-1]
    plan = next(e for e in events if "pairs" in e.message and "steps" in e.message)
    assert plan_says in plan.message, plan.message
    again = [e.data["full_valid_loss"] for e in events if e.type == "metrics" and "full_valid_loss" in (e.data or {})]
    print("continued job's full validation losses:", again)
    assert abs(again[0] - full[-1]) <= 1e-5 * full[-1], (again, full)
    assert again[-1] < 0.5 * full[0], (again, full)
    return more


def test_a_lora_job_on_the_t5_base_is_served(t5_server, t5_client):
    train, valid = upload(t5_client, PAIRS), upload(t5_client, PAIRS[:3], "valid.jsonl")
    job = t5_client.fine_tuning.jobs.create(
        model=T5, training_file=train.id, validation_file=valid.id, seed=5, suffix="sum",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 6, "batch_size": 4}}},
        extra_body={"tailor": {**MAPPING, "lora_rank": 4, "lora_alpha": 8, "base_learning_rate": 1e-2}})
    assert job.model == T5 and job.status in ("validating_files", "queued", "running")
    job = wait_for_job(t5_client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    openapi_check.check("FineTuningJob", t5_server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json())
    assert job.fine_tuned_model.startswith(f"ft:{T5}:default:sum:") and job.trained_tokens > 0

    events = list(t5_client.fine_tuning.jobs.list_events(job.id, limit=100))[::-1]   # listed newest first
    steps = [e.data for e in events if e.type == "metrics" and "train_loss" in (e.data or {})]
    assert [d["step"] for d in steps] == list(range(1, 19))
    full = [e.data["full_valid_loss"] for e in events if e.type == "metrics" and "full_valid_loss" in (e.data or {})]
    # The baseline (step 0) and every epoch's end: the validation loss falls to under half of the base model's.
    print("full validation losses:", full)
    assert len(full) == 7 and full[-1] < 0.5 * full[0], full
    assert sum(d["train_loss"] for d in steps[-3:]) < 0.5 * sum(d["train_loss"] for d in steps[:3]), steps
    assert any("pairs" in e.message and '"document"' in e.message for e in events)
    checkpoints = list(t5_client.fine_tuning.jobs.checkpoints.list(job.id))
    assert checkpoints and checkpoints[0].fine_tuned_model_checkpoint == job.fine_tuned_model

    assert job.fine_tuned_model in [m.id for m in t5_client.models.list()]
    prompt = "summarize: " + PAIRS[0][0]
    tuned = [t5_client.completions.create(model=job.fine_tuned_model, prompt=prompt, temperature=0, max_tokens=12)
             for _ in range(2)]
    base = t5_client.completions.create(model=T5, prompt=prompt, temperature=0, max_tokens=12)
    assert tuned[0].choices[0].text == tuned[1].choices[0].text, "greedy twice gives one text"
    print("base:", repr(base.choices[0].text), "fine-tuned:", repr(tuned[0].choices[0].text))
    assert tuned[0].choices[0].text != base.choices[0].text
    assert tuned[0].system_fingerprint != base.system_fingerprint
    chat = t5_client.chat.completions.create(model=job.fine_tuned_model, temperature=0, max_tokens=12,
                                             messages=[{"role": "user", "content": prompt}])
    assert chat.choices[0].message.content == tuned[0].choices[0].text
    # A checkpoint of the job is a model of its own (the adapter of that step merged in).
    step = t5_client.completions.create(model=checkpoints[-1].fine_tuned_model_checkpoint, prompt=prompt, temperature=0, max_tokens=12)
    assert step.model == checkpoints[-1].fine_tuned_model_checkpoint and isinstance(step.choices[0].text, str)

    # A job on the fine-tuned model continues its adapter (the adapter's rank, whatever the request's default): its
    # baseline is the first job's last validation loss, and its own model is served. Full fine-tuning of it is refused.
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=job.fine_tuned_model, training_file=train.id,
                                          extra_body={"tailor": {**MAPPING, "training_type": "full"}})
    assert e.value.body["param"] == "model" and "is a LoRA fine-tuned model" in e.value.body["message"], e.value.body
    more = continue_model(t5_client, job.fine_tuned_model, train, valid, full, epochs=2, tailor={**MAPPING, "base_learning_rate": 1e-2},
                          plan_says=f"the LoRA adapter of {job.fine_tuned_model} (rank 4), continued")
    assert more.fine_tuned_model.startswith(f"ft:{T5}:default::") and more.fine_tuned_model != job.fine_tuned_model
    continued = t5_client.completions.create(model=more.fine_tuned_model, prompt=prompt, temperature=0, max_tokens=12)
    assert continued.model == more.fine_tuned_model and isinstance(continued.choices[0].text, str)
    # A checkpoint of the first job is a starting point too.
    from_step = t5_client.fine_tuning.jobs.create(model=checkpoints[-1].fine_tuned_model_checkpoint, training_file=train.id,
                                                  extra_body={"tailor": MAPPING})
    assert from_step.model == checkpoints[-1].fine_tuned_model_checkpoint
    assert t5_client.fine_tuning.jobs.cancel(from_step.id).status in ("cancelled", "running", "validating_files", "queued")
    assert wait_for_job(t5_client, from_step.id, {"succeeded", "failed", "cancelled"}).status != "failed"


def test_an_eval_run_samples_the_t5_model_as_chat_does(t5_server, t5_client):
    """A completions eval run on the T5 base: each item's source is the developer/system messages then the user's, as
    /v1/chat/completions reads it, so greedy samples are the chat endpoint's answers (the grader checks each against
    the chat answer stored in the item)."""
    docs = [d for d, _ in PAIRS[:4]]
    messages = lambda d: [{"role": "developer", "content": "summarize:"}, {"role": "user", "content": d}]
    expected = [t5_client.chat.completions.create(model=T5, messages=messages(d), temperature=0, max_tokens=8)
                .choices[0].message.content for d in docs]
    ev = t5_client.evals.create(
        name="t5", data_source_config={"type": "custom", "item_schema": {
            "type": "object", "properties": {"document": {"type": "string"}, "chat": {"type": "string"}}}},
        testing_criteria=[{"type": "string_check", "name": "as chat", "input": "{{sample.output_text}}",
                           "reference": "{{item.chat}}", "operation": "eq"}])
    run = t5_client.evals.runs.create(ev.id, data_source={
        "type": "completions", "model": T5,
        "input_messages": {"type": "template", "template": [
            {"role": "developer", "content": {"type": "input_text", "text": "summarize:"}},
            {"role": "user", "content": {"type": "input_text", "text": "{{item.document}}"}}]},
        "sampling_params": {"temperature": 0, "max_completion_tokens": 8, "seed": 3},
        "source": {"type": "file_content", "content": [{"item": {"document": d, "chat": c}} for d, c in zip(docs, expected)]}})
    deadline = time.time() + 240
    while run.status not in ("completed", "failed", "canceled") and time.time() < deadline:
        time.sleep(0.2)
        run = t5_client.evals.runs.retrieve(run.id, eval_id=ev.id)
    assert run.status == "completed", run.error
    openapi_check.check("EvalRun", t5_server.raw("GET", f"/v1/evals/{ev.id}/runs/{run.id}").json())
    assert (run.result_counts.total, run.result_counts.passed) == (4, 4), run.result_counts
    usage = run.per_model_usage[0]
    assert usage.run_model_name == T5 and usage.invocation_count == 4 and 4 <= usage.completion_tokens <= 32
    items = t5_client.evals.runs.output_items.list(run.id, eval_id=ev.id).data
    print("T5 eval samples:", [i.sample.output[0].content for i in items], "chat:", expected)
    assert sorted(i.sample.output[0].content for i in items) == sorted(expected)


def test_a_t5_job_evaluates_its_base_and_its_model_from_mapped_records(t5_server, t5_client):
    """tailor.evaluation on a T5 job with a field mapping: the test file is read with the job's fields, and each run
    continues the documents as plain sources — its samples are the completions endpoint's greedy answers."""
    from conftest import wait_for_eval_run
    train = upload(t5_client, PAIRS)
    test = upload(t5_client, PAIRS[:3], "test.jsonl")
    bad = t5_client.files.create(file=("bad.jsonl", json.dumps({"text": "x", "summary": "y"}).encode() + b"\n"), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=T5, training_file=train.id, extra_body={"tailor": {**MAPPING, "evaluation": {"file": bad.id}}})
    assert e.value.body["param"] == "tailor.evaluation.file" and '"document"' in e.value.body["message"], e.value.body
    job = t5_client.fine_tuning.jobs.create(
        model=T5, training_file=train.id, seed=5,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3, "batch_size": 4}}},
        extra_body={"tailor": {**MAPPING, "lora_rank": 4, "base_learning_rate": 1e-2, "evaluation": {"file": test.id}}})
    job = wait_for_job(t5_client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    e = t5_server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()["tailor"]["evaluation"]
    assert e["error"] is None, e
    models = {}
    for run_id in (e["base_run_id"], e["fine_tuned_run_id"]):
        run = wait_for_eval_run(t5_client, e["eval_id"], run_id)
        assert run.status == "completed" and run.result_counts.total == 3 and run.result_counts.errored == 0, run
        assert run.data_source.input_messages.item_reference == "item.prompt"
        models[run_id] = run.model
        for item in t5_client.evals.runs.output_items.list(run_id, eval_id=e["eval_id"]).data:
            assert item.datasource_item["prompt"].startswith("summarize: ") and item.datasource_item["reference"] in [s for _, s in PAIRS]
            answer = t5_client.completions.create(model=run.model, prompt=item.datasource_item["prompt"], temperature=0,
                                                  max_tokens=item.sample.max_completion_tokens).choices[0].text
            assert item.sample.output[0].content == answer, (run.model, item.sample.output[0].content, answer)
    assert models == {e["base_run_id"]: T5, e["fine_tuned_run_id"]: job.fine_tuned_model}


def test_bad_t5_jobs_are_refused_at_creation(t5_client):
    f = upload(t5_client, PAIRS)
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=T5, training_file=f.id,
                                          extra_body={"tailor": {"input_field": "documnet", "target_field": "summary"}})
    assert e.value.body["param"] == "tailor.input_field" and '"documnet"' in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=T5, training_file=f.id, extra_body={"tailor": {**MAPPING, "training_type": "full", "lora_rank": 4}})
    assert e.value.body["param"] == "tailor.training_type" and "lora_rank" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=T5, training_file=f.id, method={"type": "dpo"})
    assert e.value.body["param"] == "method.type"
    # Without a mapping the records have no prompt/completion: the job fails validation naming the line.
    job = wait_for_job(t5_client, t5_client.fine_tuning.jobs.create(model=T5, training_file=f.id).id, {"failed", "succeeded"})
    assert job.status == "failed" and job.error.param == "training_file" and "Example 1" in job.error.message, job.error


def test_a_full_t5_job_trains_every_weight_and_is_served_as_its_own_model(t5_server, t5_client):
    train, valid = upload(t5_client, PAIRS), upload(t5_client, PAIRS[:3], "valid.jsonl")
    job = t5_client.fine_tuning.jobs.create(
        model=T5, training_file=train.id, validation_file=valid.id, seed=5, suffix="full",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 20, "batch_size": 4}}},
        extra_body={"tailor": {**MAPPING, "training_type": "full", "base_learning_rate": 1e-2}})
    job = wait_for_job(t5_client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model.startswith(f"ft:{T5}:default:full:") and job.trained_tokens > 0

    events = list(t5_client.fine_tuning.jobs.list_events(job.id, limit=100))[::-1]   # listed newest first
    # The pre-flight statement: every weight, its gradient and two moments (94,560 weights × 16 bytes: 2 MB).
    plan = next(e for e in events if "pairs" in e.message and "steps" in e.message)
    assert "(full fine-tuning)" in plan.message and "two AdamW moments in fp32 take 2 MB" in plan.message, plan.message
    assert plan.data["memory_bytes"] > 94_560 * 16, plan.data
    steps = [e.data for e in events if e.type == "metrics" and "train_loss" in (e.data or {})]
    assert [d["step"] for d in steps] == list(range(1, 61))
    full = [e.data["full_valid_loss"] for e in events if e.type == "metrics" and "full_valid_loss" in (e.data or {})]
    print("full validation losses:", full)
    assert len(full) == 21 and full[-1] < 0.5 * full[0], full
    assert sum(d["train_loss"] for d in steps[-3:]) < 0.5 * sum(d["train_loss"] for d in steps[:3]), steps

    assert job.fine_tuned_model in [m.id for m in t5_client.models.list()]
    prompt = "summarize: " + PAIRS[0][0]
    tuned = [t5_client.completions.create(model=job.fine_tuned_model, prompt=prompt, temperature=0, max_tokens=12)
             for _ in range(2)]
    base = t5_client.completions.create(model=T5, prompt=prompt, temperature=0, max_tokens=12)
    print("base:", repr(base.choices[0].text), "fully fine-tuned:", repr(tuned[0].choices[0].text))
    assert tuned[0].choices[0].text == tuned[1].choices[0].text, "greedy twice gives one text"
    assert tuned[0].choices[0].text != base.choices[0].text
    assert tuned[0].choices[0].text.strip() == PAIRS[0][1], tuned[0].choices[0].text
    chat = t5_client.chat.completions.create(model=job.fine_tuned_model, temperature=0, max_tokens=12,
                                             messages=[{"role": "user", "content": prompt}])
    assert chat.choices[0].message.content == tuned[0].choices[0].text
    # A full job on it continues from its weights (its baseline is this job's last validation loss); a LoRA job on it
    # is refused at creation, naming the model and the way that works.
    with pytest.raises(openai.BadRequestError) as e:
        t5_client.fine_tuning.jobs.create(model=job.fine_tuned_model, training_file=train.id, extra_body={"tailor": MAPPING})
    assert e.value.body["param"] == "model" and '"training_type": "full"' in e.value.body["message"], e.value.body
    more = continue_model(t5_client, job.fine_tuned_model, train, valid, full, epochs=1,
                          tailor={**MAPPING, "training_type": "full", "base_learning_rate": 1e-2},
                          plan_says=f"every weight of the encoder-decoder {job.fine_tuned_model} (full fine-tuning, continuing from its weights)")
    continued = t5_client.completions.create(model=more.fine_tuned_model, prompt=prompt, temperature=0, max_tokens=12)
    assert continued.model == more.fine_tuned_model and isinstance(continued.choices[0].text, str)

    # Each checkpoint is a T5 directory of its own, served as a model: the last is the job's model, an earlier one
    # (its optimizer moments dropped) still answers.
    checkpoints = list(t5_client.fine_tuning.jobs.checkpoints.list(job.id))
    assert [c.step_number for c in checkpoints][0] == 60 and len(checkpoints) >= 2, checkpoints
    assert checkpoints[0].fine_tuned_model_checkpoint == job.fine_tuned_model
    earlier = checkpoints[-1].fine_tuned_model_checkpoint
    step = t5_client.completions.create(model=earlier, prompt=prompt, temperature=0, max_tokens=12)
    assert step.model == earlier and isinstance(step.choices[0].text, str)
    # Deleted, the model is gone from the cache and the list alike.
    assert t5_client.models.delete(job.fine_tuned_model).deleted
    with pytest.raises(openai.NotFoundError):
        t5_client.completions.create(model=job.fine_tuned_model, prompt=prompt, max_tokens=2)
    assert job.fine_tuned_model not in [m.id for m in t5_client.models.list()]


def test_a_full_t5_job_that_cannot_fit_the_training_memory_is_refused_with_the_figure(tmp_path):
    model = t5_directory(tmp_path)
    long_pairs = PAIRS + [(" ".join(["the weather is cold"] * 100), "cold")]
    # 1 MB: the weights, their gradients and two moments alone (94,560 × 16 bytes = 2 MB) are refused at creation.
    s = Server(tmp_path / "small", extra_args=["--model", str(model), "--training-memory-mb", "1"]).start()
    try:
        c = s.client()
        f = upload(c, PAIRS)
        with pytest.raises(openai.BadRequestError) as e:
            c.fine_tuning.jobs.create(model=T5, training_file=f.id, extra_body={"tailor": {**MAPPING, "training_type": "full"}})
        assert e.value.body["param"] == "tailor.training_type", e.value.body
        assert "2 MB" in e.value.body["message"] and "1 MB" in e.value.body["message"], e.value.body["message"]
    finally:
        assert s.stop() == 0
    # 2 MB: they fit, but not with the activations of a 400-token document: the job fails validation with the figure.
    s = Server(tmp_path / "medium", extra_args=["--model", str(model), "--training-memory-mb", "2"]).start()
    try:
        c = s.client()
        f = upload(c, long_pairs)
        job = c.fine_tuning.jobs.create(model=T5, training_file=f.id, extra_body={"tailor": {**MAPPING, "training_type": "full"}})
        job = wait_for_job(c, job.id, {"failed", "succeeded", "queued", "running"})
        assert job.status == "failed", job.status
        assert job.error.code == "invalid_training_type" and job.error.param == "tailor.training_type", job.error
        needed = re.search(r"needs about (\d+) MB of memory \(every weight, its gradient and two AdamW moments in fp32: 2 MB, "
                           r"and the activations of sources of up to (\d+)", job.error.message)
        assert needed and int(needed[1]) > 2 and int(needed[2]) > 400, job.error.message
        assert "lets a job use 2 MB" in job.error.message, job.error.message
    finally:
        assert s.stop() == 0


@pytest.mark.parametrize("kind", ["lora", "full"])
def test_a_t5_job_pauses_at_a_step_resumes_from_its_checkpoint_and_cancels(t5_server, kind):
    from test_job_lifecycle import Hooks, held_at
    from test_jobs import events_of, wait_for_event
    c, hooks = t5_server.client(strict=False), Hooks(t5_server)
    f = upload(c, PAIRS)

    def start():
        return c.fine_tuning.jobs.create(model=T5, training_file=f.id, seed=2, extra_body={"tailor": {**MAPPING, "training_type": kind}}, method={
            "type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}})

    with held_at(hooks, "step", start) as job:
        c.fine_tuning.jobs.pause(job.id)
    assert wait_for_event(c, job.id, "Fine-tuning job paused at step").startswith("Fine-tuning job paused at step 1;")
    assert [cp.step_number for cp in c.fine_tuning.jobs.checkpoints.list(job.id).data] == [1]
    c.fine_tuning.jobs.resume(job.id)
    done = wait_for_job(c, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    assert "Fine-tuning job resumed from step 1" in " ".join(events_of(c, job.id))
    steps = [e.data["step"] for e in c.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics" and "train_loss" in (e.data or {})]
    assert sorted(steps) == list(range(1, 7)), steps          # each step once: none lost, none repeated

    with held_at(hooks, "step", start) as job:
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    assert wait_for_event(c, job.id, "Fine-tuning job cancelled at step")
    job = c.fine_tuning.jobs.retrieve(job.id)
    assert job.status == "cancelled" and job.fine_tuned_model is None
