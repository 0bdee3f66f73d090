"""Records of any shape (tailor.input_field / target_field) and opt-in truncation (max_source_tokens /
max_target_tokens) through the official SDK: a misspelt field is a 400 naming the option, a job on
{"document", "summary"} records trains, and its model has learnt the truncated targets (it stops early)."""
import json

import openai
import pytest

from conftest import BASE_MODEL, HERE, wait_for_job


def records():
    out = []
    for line in (HERE / "data" / "support.jsonl").read_text().splitlines():
        m = json.loads(line)["messages"]
        out.append({"id": len(out), "document": f"Customer: {m[1]['content']}\nBeacon:", "summary": " " + m[2]["content"]})
    return ("\n".join(json.dumps(r) for r in out) + "\n").encode()


def test_a_misspelt_field_or_a_dpo_mapping_is_refused_at_creation(client):
    f = client.files.create(file=("docs.jsonl", records()), purpose="fine-tune")
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                       extra_body={"tailor": {"input_field": "documnet", "target_field": "summary"}})
    assert e.value.body["param"] == "tailor.input_field" and e.value.body["code"] == "invalid_training_file"
    assert '"documnet"' in e.value.body["message"] and "document" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id,
                                       extra_body={"tailor": {"input_field": "document", "target_field": "summry"}})
    assert e.value.body["param"] == "tailor.target_field"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, method={"type": "dpo"},
                                       extra_body={"tailor": {"input_field": "document", "target_field": "summary"}})
    assert e.value.body["param"] == "tailor.input_field"
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, extra_body={"tailor": {"max_target_tokens": 0}})
    assert e.value.body["param"] == "tailor"
    # Without a mapping the same file is not in a format Tailor knows: the job fails naming line 1.
    job = wait_for_job(client, client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id).id, {"failed", "succeeded"})
    assert job.status == "failed" and "Example 1" in job.error.message


def test_a_job_on_document_summary_records_learns_the_truncated_targets(client):
    f = client.files.create(file=("docs.jsonl", records()), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=BASE_MODEL, training_file=f.id, seed=3, suffix="mapped",
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4, "batch_size": 4, "learning_rate_multiplier": 2}}},
        extra_body={"tailor": {"input_field": "document", "target_field": "summary", "max_source_tokens": 64, "max_target_tokens": 8}})
    job = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert job.status == "succeeded", job.error
    raw = client.fine_tuning.jobs.with_raw_response.retrieve(job.id).http_response.json()
    assert raw["tailor"]["options"]["input_field"] == "document" and raw["tailor"]["options"]["max_target_tokens"] == 8
    prompt = "Customer: My laptop screen is frozen. Help?\nBeacon:"
    tuned = client.completions.create(model=job.fine_tuned_model, prompt=prompt, temperature=0, max_tokens=40)
    # Targets were cut to 7 tokens and the end of sequence: the model says " Beacon here! …" and stops early.
    assert tuned.choices[0].text.startswith(" Beacon here!"), tuned.choices[0].text
    assert tuned.choices[0].finish_reason == "stop" and tuned.usage.completion_tokens <= 12, tuned
    base = client.completions.create(model=BASE_MODEL, prompt=prompt, temperature=0, max_tokens=40)
    assert not base.choices[0].text.startswith(" Beacon here!")
