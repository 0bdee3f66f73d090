"""Structured outputs through the official SDK: response_format json_object and json_schema (strict, as
`client.chat.completions.parse` sends it with a pydantic model), streamed and not, several choices, the legacy
completions endpoint, and schemas Tailor cannot enforce refused with the keyword named. Every answer that finishes
with "stop" must validate against its schema (checked with the jsonschema package)."""
import json
from pathlib import Path
from typing import Literal

import jsonschema
import openai
import pytest
from pydantic import BaseModel, Field

import openapi_check
from conftest import BASE_MODEL

PRODUCT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 24},
        "category": {"enum": ["phone", "laptop", "watch", "tablet"]},
        "in_stock": {"type": "boolean"},
        "rating": {"type": "integer", "minimum": 1, "maximum": 5},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["name", "category", "in_stock", "rating", "tags"],
    "additionalProperties": False,
}
ASK = [{"role": "system", "content": "You describe products of the GadgetGurus shop as JSON."},
       {"role": "user", "content": "Describe the SmartWatch 5 in JSON."}]


def schema_format(schema=PRODUCT, name="product"):
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def test_json_schema_answers_validate(server, client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ASK, response_format=schema_format(), max_tokens=120, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "stop", choice      # the schema bounds every string and list: it must end
    jsonschema.validate(json.loads(choice.message.content), PRODUCT)
    raw = server.raw("POST", "/v1/chat/completions", json={"model": BASE_MODEL, "messages": ASK, "max_tokens": 120,
                                                           "temperature": 0, "response_format": schema_format()}).json()
    openapi_check.check("CreateChatCompletionResponse", raw)
    assert json.loads(raw["choices"][0]["message"]["content"]) == json.loads(choice.message.content)   # greedy: the same answer


def test_several_sampled_choices_and_a_stream_all_validate(client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ASK, response_format=schema_format(), max_tokens=120,
                                       temperature=1.0, n=3, seed=5)
    for choice in r.choices:
        assert choice.finish_reason == "stop"
        jsonschema.validate(json.loads(choice.message.content), PRODUCT)
    text, finish = "", None
    for chunk in client.chat.completions.create(model=BASE_MODEL, messages=ASK, response_format=schema_format(), max_tokens=120,
                                                temperature=0.8, seed=9, stream=True):
        for c in chunk.choices:
            text += c.delta.content or ""
            finish = c.finish_reason or finish
    assert finish == "stop"
    jsonschema.validate(json.loads(text), PRODUCT)


class Review(BaseModel):
    product: str = Field(max_length=30)
    stars: int = Field(ge=1, le=5)
    verdict: Literal["buy", "skip"]


def test_parse_with_a_pydantic_model(client):
    completion = client.chat.completions.parse(
        model=BASE_MODEL, response_format=Review, max_tokens=80, temperature=0,
        messages=[{"role": "user", "content": "Review the GadgetGurus Laptop Pro: is it worth buying?"}])
    review = completion.choices[0].message.parsed
    assert isinstance(review, Review) and 1 <= review.stars <= 5 and review.verdict in ("buy", "skip")


def test_json_object_is_one_object(client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ASK, response_format={"type": "json_object"},
                                       max_tokens=200, temperature=0)
    text = r.choices[0].message.content
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)
    else:                                              # cut off by max_tokens: still the start of one object
        assert r.choices[0].finish_reason == "length" and text.lstrip().startswith("{")


def test_the_legacy_completions_endpoint_takes_a_schema(client):
    r = client.completions.create(model=BASE_MODEL, prompt="A GadgetGurus product as JSON: ", max_tokens=120, temperature=0,
                                  extra_body={"response_format": schema_format()})
    assert r.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(r.choices[0].text), PRODUCT)


@pytest.mark.parametrize("response_format, messages, param, needle", [
    (schema_format({"type": "array", "items": {"type": "string"}, "uniqueItems": True}), ASK, "response_format", "uniqueItems"),
    (schema_format({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}), ASK, "response_format", "$ref"),
    (schema_format(name="has space"), ASK, "response_format.json_schema.name", "name"),
    ({"type": "json_object"}, [{"role": "user", "content": "Describe a phone."}], "messages", "json"),
    ({"type": "yaml"}, ASK, "response_format.type", "yaml"),
])
def test_what_cannot_be_enforced_is_refused_by_name(client, response_format, messages, param, needle):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=BASE_MODEL, messages=messages, response_format=response_format, max_tokens=5)
    assert e.value.body["param"] == param and needle in e.value.body["message"], e.value.body


MASKBENCH = Path(__file__).resolve().parents[1] / "TailorGrammarTests" / "Fixtures" / "maskbench"


def test_real_world_schemas_are_accepted_and_every_finished_answer_validates(client):
    """The MaskBench sample (real schemas from JSONSchemaBench) through the API: most are accepted, and an answer that
    ends with "stop" validates against its schema — every one of them, with no exception."""
    accepted, refused, checked = 0, [], 0
    for path in sorted(MASKBENCH.glob("*.json"))[::2]:                    # every other file: 25 schemas
        schema = json.loads(path.read_text())["schema"]
        try:
            r = client.chat.completions.create(
                model=BASE_MODEL, max_tokens=96, temperature=0, response_format=schema_format(schema, name="s"),
                messages=[{"role": "user", "content": "Write an example JSON value for this schema: " + json.dumps(schema)[:1500]}])
        except openai.BadRequestError as e:
            assert e.body["param"] == "response_format", e.body
            refused.append((path.name, e.body["message"][:120]))
            continue
        accepted += 1
        choice = r.choices[0]
        if choice.finish_reason == "stop":
            jsonschema.validate(json.loads(choice.message.content), schema)
            checked += 1
    # 20 of these 25 are accepted today (the goal for the whole set, in BENCHMARKS.md, is 80 %); a small model
    # finishes only some answers within 96 tokens, but enough that the validation above cannot pass vacuously.
    assert accepted >= 0.75 * (accepted + len(refused)), f"refused: {refused}"
    assert checked >= 5, f"only {checked} of {accepted} answers finished within the token budget"
