"""Requests that once broke the server or its promises, each found by the schemathesis run
(Tests/e2e/test_schemathesis.py) and fixed; kept as plain requests so a regression names itself."""
import pytest

from conftest import BASE_MODEL


@pytest.fixture(scope="module")
def training_file(server):
    r = server.raw("POST", "/v1/files", files={"file": ("one.jsonl", b'{"messages": []}\n')}, data={"purpose": "fine-tune"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


@pytest.mark.parametrize("tailor", [False, 5, "AAA", [1], 0.5])
def test_job_tailor_options_that_are_not_an_object_are_a_400(server, training_file, tailor):
    # JSONSerialization.data(withJSONObject:) traps on a scalar: this request used to kill the server.
    r = server.raw("POST", "/v1/fine_tuning/jobs", json={"model": BASE_MODEL, "training_file": training_file, "tailor": tailor})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "tailor"
    assert server.raw("GET", "/healthz").status_code == 200


def test_long_decimals_are_echoed_exactly(server, training_file):
    # Foundation's JSONSerialization reads 0.9999999999999999 as an NSDecimalNumber whose doubleValue is 1.0: the job
    # echoed tailor.base_learning_rate as 1.0, outside the (0, 1) it had just accepted.
    r = server.raw("POST", "/v1/fine_tuning/jobs", json={"model": BASE_MODEL, "training_file": training_file,
                                                        "tailor": {"base_learning_rate": 0.9999999999999999}})
    assert r.status_code == 200, r.text
    assert r.json()["tailor"]["options"]["base_learning_rate"] == 0.9999999999999999


@pytest.mark.parametrize("part", [{"type": "text"}, {"type": "text", "text": 5}])
def test_a_text_part_without_text_says_so(server, part):
    # It used to say "content parts of type 'text' are not supported".
    r = server.raw("POST", "/v1/chat/completions", json={"model": BASE_MODEL, "max_tokens": 1,
                                                         "messages": [{"role": "user", "content": [part]}]})
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == "messages[0].content[0].text" and "not supported" not in error["message"]


@pytest.mark.parametrize("prompt", [[False], [True, 5], [1.5]])
def test_completion_token_ids_must_be_integers(server, prompt):
    # Booleans were read as token ids 0 and 1.
    r = server.raw("POST", "/v1/completions", json={"model": BASE_MODEL, "prompt": prompt, "max_tokens": 1})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "prompt"


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_another_method_on_an_api_path_is_405_allowing_only_its_methods(server, method):
    # The dashboard's GET /*path made GET /v1/chat/completions a 404 and put GET, HEAD in every API path's Allow.
    r = server.raw(method, "/v1/chat/completions")
    assert r.status_code == 405, r.text
    assert r.headers["Allow"] == "POST" and r.json()["error"]["code"] == "method_not_allowed"
