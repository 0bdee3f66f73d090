"""Preference fine-tuning (method "dpo") through the official SDK: a job from upload to succeeded on OpenAI's
preference format, what DPO users watch (rewards, margin, accuracy) in its events and results file, its model
served, and bad input answered with the parameter or the example."""
import csv
import io
import json

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, HERE, wait_for_job

GENERIC = "Thank you for reaching out. Please consult the product documentation or contact customer service."


def preference_lines():
    """The support conversations as pairs: Beacon's answer preferred over a generic one."""
    lines = []
    for raw in (HERE / "data" / "support.jsonl").read_text().splitlines():
        messages = json.loads(raw)["messages"]
        lines.append({"input": {"messages": messages[:-1]}, "preferred_output": [messages[-1]],
                      "non_preferred_output": [{"role": "assistant", "content": GENERIC}]})
    return lines


def upload(c, lines, name="pairs.jsonl"):
    return c.files.create(file=(name, ("\n".join(json.dumps(l) for l in lines) + "\n").encode()), purpose="fine-tune")


def dpo(**hyper):
    return {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "batch_size": 4, **hyper}}}


def test_a_dpo_job_trains_reports_rewards_and_serves_its_model(server, client):
    pairs = preference_lines()
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload(client, pairs).id,
                                         validation_file=upload(client, pairs[:4], "valid.jsonl").id, method=dpo(beta=0.2))
    done = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    assert done.method.type == "dpo" and done.method.dpo.hyperparameters.beta == 0.2
    raw = server.raw("GET", f"/v1/fine_tuning/jobs/{job.id}").json()
    openapi_check.check("FineTuningJob", raw)
    assert raw["method"]["dpo"]["hyperparameters"] == {"n_epochs": 2, "batch_size": 4, "learning_rate_multiplier": 1, "beta": 0.2}

    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    messages = [e.message for e in events][::-1]
    assert any(m.startswith("Training file: 12 preference pairs, 24 answers") and "DPO β 0.2" in m for m in messages), messages
    metrics = sorted((e.data for e in events if e.type == "metrics" and "reward_margin" in (e.data or {})), key=lambda d: d["step"])
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    for m in metrics:
        assert abs(m["reward_margin"] - (m["chosen_reward"] - m["rejected_reward"])) < 1e-9 and 0 <= m["reward_accuracy"] <= 1
    # The first step starts at the reference: DPO's loss is log 2 there; by the end the preferred answer wins.
    assert abs(metrics[0]["train_loss"] - 0.6931) < 1e-3 and abs(metrics[0]["reward_margin"]) < 1e-4
    assert metrics[-1]["reward_margin"] > 0 and metrics[-1]["train_loss"] < metrics[0]["train_loss"]
    full = [e.data for e in events if e.type == "metrics" and "full_valid_loss" in (e.data or {})]
    assert full, "no validation DPO loss was reported"
    # Before any update the policy is the reference: DPO loss log 2, no pair ranked right yet.
    assert "Before training: full validation DPO loss=0.6931, reward accuracy=0.000" in messages, messages

    rows = list(csv.reader(io.StringIO(client.files.content(done.result_files[0]).text)))
    assert rows[0][-3:] == ["chosen_reward", "rejected_reward", "reward_margin"] and len(rows) == 7
    ckpts = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert ckpts[0].fine_tuned_model_checkpoint == done.fine_tuned_model
    answer = client.chat.completions.create(model=done.fine_tuned_model, max_tokens=16, temperature=0, messages=pairs[0]["input"]["messages"])
    assert answer.choices[0].message.content


def test_bad_dpo_requests_name_the_parameter(client):
    f = upload(client, preference_lines())
    for method, param in [
        (dpo(beta=3), "method.dpo.hyperparameters.beta"),
        (dpo(beta=0), "method.dpo.hyperparameters.beta"),
        ({"type": "supervised", "supervised": {"hyperparameters": {"beta": 0.1}}}, "method.supervised.hyperparameters.beta"),
        ({"type": "reinforcement"}, "method.type"),
    ]:
        with pytest.raises(openai.BadRequestError) as e:
            client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, method=method)
        assert e.value.body["param"] == param, (method, e.value.body)
        if param == "method.type":
            assert "reinforcement" in e.value.body["message"]


@pytest.mark.parametrize("case", ["chat lines in a dpo job", "pairs in a supervised job", "identical answers", "missing preferred_output"])
def test_bad_dpo_files_fail_the_job_naming_the_example(client, case):
    pairs = preference_lines()
    method = dpo()
    if case == "chat lines in a dpo job":
        lines, needle = [json.loads(l) for l in (HERE / "data" / "support.jsonl").read_text().splitlines()], "preference pairs"
    elif case == "pairs in a supervised job":
        lines, method, needle = pairs, {"type": "supervised"}, "dpo"
    elif case == "identical answers":
        pairs[2]["non_preferred_output"] = pairs[2]["preferred_output"]
        lines, needle = pairs, "Example 3: \"preferred_output\" and \"non_preferred_output\" are identical"
    else:
        del pairs[4]["preferred_output"]
        lines, needle = pairs, "Example 5: \"preferred_output\" is missing"
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload(client, lines).id, method=method)
    failed = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert failed.status == "failed" and failed.error.code == "invalid_training_file" and failed.error.param == "training_file"
    assert needle in failed.error.message, failed.error.message


def test_dpo_on_a_fine_tuned_model_measures_rewards_against_that_model(client, tuned):
    """SFT then DPO, the usual recipe: the reference is the ft: model's adapter, so training starts at margin 0."""
    job = client.fine_tuning.jobs.create(model=tuned.fine_tuned_model, training_file=upload(client, preference_lines()).id,
                                         method=dpo(n_epochs=1))
    done = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    metrics = sorted((e.data for e in client.fine_tuning.jobs.list_events(job.id, limit=100)
                      if e.type == "metrics" and "reward_margin" in (e.data or {})), key=lambda d: d["step"])
    assert abs(metrics[0]["reward_margin"]) < 1e-4 and abs(metrics[0]["train_loss"] - 0.6931) < 1e-3
    assert client.chat.completions.create(model=done.fine_tuned_model, max_tokens=4, messages=[{"role": "user", "content": "hi"}]).choices


def test_a_pair_longer_than_a_pass_trains(client):
    """Each answer fits a pass but a pair (kept whole in one) does not: the job lays out a pass for the longest pair
    instead of overrunning the one it laid out for the longest answer (which stopped the server)."""
    long = " ".join(["The quick brown fox jumps over the lazy dog."] * 52)          # ~520 tokens
    other = " ".join(["A lazy dog sleeps under the quick brown fox."] * 52)
    lines = [{"input": {"messages": [{"role": "user", "content": f"Say it {i}."}]},
              "preferred_output": [{"role": "assistant", "content": long}],
              "non_preferred_output": [{"role": "assistant", "content": other}]} for i in range(10)]
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload(client, lines).id,
                                         method=dpo(n_epochs=1, batch_size=10))
    done = wait_for_job(client, job.id, {"succeeded", "failed", "cancelled"})
    assert done.status == "succeeded", done.error
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100)]
    assert any(m.startswith("Training file: 10 preference pairs, 20 answers") for m in messages), messages
    assert client.models.retrieve(done.fine_tuned_model).id == done.fine_tuned_model
