"""T5 encoder-decoders served and fine-tuned through the official SDK: `tailor serve` with the default model and the
tiny gated-GELU T5 fixture (its Unigram tokenizer beside it) lists both; completions and chat on the T5 base give
transformers' greedy tokens (Tests/reference/t5/make_model_fixtures.py), stream the same text, honour stop, n and
seeds; what a T5 model cannot do (tools, structured outputs) is a 400 naming the parameter."""
import json
import shutil

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, REPO, Server

FIXTURES = REPO / "Tests" / "TailorEngineTests" / "Fixtures" / "t5"
T5 = "tiny-flan"
REFERENCE = json.loads((FIXTURES / "reference-model.json").read_text())["models"][T5]["sources"]


def decode(ids):
    """transformers' decode(skip_special_tokens=True) of ordinary Unigram pieces: ▁ is a space, the first one dropped."""
    vocab = json.loads((FIXTURES / "unigram" / "tokenizer.json").read_text())["model"]["vocab"]
    text = "".join(vocab[i][0] for i in ids).replace("\u2581", " ")
    return text[1:] if text.startswith(" ") else text


@pytest.fixture(scope="module")
def t5_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("t5")
    model = root / T5
    model.mkdir()
    for d in (FIXTURES / T5, FIXTURES / "unigram"):
        for f in d.iterdir():
            shutil.copy(f, model)
    s = Server(root / "data", extra_args=["--model", str(model)]).start()
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
    # The default model beside it still answers as before.
    assert t5_client.completions.create(model=BASE_MODEL, prompt="Hello", max_tokens=3, temperature=0).choices[0].text
