"""Chat and completions with the official SDK: base and fine-tuned models, streaming with usage, n, stop, seeds,
length limits, logprobs, errors, a client leaving mid-stream, and concurrent streams on different adapters."""
import json
import socket
import threading

import openai
import pytest
import requests

import openapi_check
from conftest import BASE_MODEL, HERE, wait_for_job

SYSTEM = {"role": "system", "content": "You are Beacon, the support bot of Lumen Devices."}


def ask(text):
    return [SYSTEM, {"role": "user", "content": text}]


def test_base_model_chat_and_raw_shape(server, client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=[{"role": "user", "content": "Name a color."}],
                                       max_completion_tokens=12, temperature=0)
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-") and r.model == BASE_MODEL
    assert r.choices[0].message.role == "assistant" and r.choices[0].message.content
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens <= 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    raw = server.raw("POST", "/v1/chat/completions", json={"model": BASE_MODEL, "max_tokens": 5,
                                                           "messages": [{"role": "user", "content": "Hi"}]}).json()
    openapi_check.check("CreateChatCompletionResponse", raw)


def test_streaming_with_usage(server, client):
    chunks = list(client.chat.completions.create(model=BASE_MODEL, messages=ask("Say hello."), max_tokens=16,
                                                 temperature=0, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1 and len({c.created for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])
    whole = client.chat.completions.create(model=BASE_MODEL, messages=ask("Say hello."), max_tokens=16, temperature=0)
    assert text == whole.choices[0].message.content
    # The raw stream: data lines, each chunk valid against the spec, ending with [DONE].
    r = requests.post(server.url + "/v1/chat/completions", stream=True, timeout=60,
                      headers={"Authorization": f"Bearer {client.api_key}"},
                      json={"model": BASE_MODEL, "messages": ask("Hi"), "max_tokens": 4, "stream": True})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [l for l in r.iter_lines(decode_unicode=True) if l.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    for e in events[:-1]:
        openapi_check.check("CreateChatCompletionStreamResponse", json.loads(e[6:]))


def test_n_stop_seed_and_length(client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ask("Tell me a story."), n=3, max_tokens=8, seed=5)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert 3 <= r.usage.completion_tokens <= 24                                   # summed over the three choices
    again = client.chat.completions.create(model=BASE_MODEL, messages=ask("Tell me a story."), n=3, max_tokens=8, seed=5)
    assert [c.message.content for c in r.choices] == [c.message.content for c in again.choices]
    other = client.chat.completions.create(model=BASE_MODEL, messages=ask("Tell me a story."), n=3, max_tokens=8, seed=6)
    assert [c.message.content for c in r.choices] != [c.message.content for c in other.choices]
    capped = client.chat.completions.create(model=BASE_MODEL, messages=ask("Count to twenty."), max_tokens=3, temperature=0)
    assert capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens == 3
    full = client.chat.completions.create(model=BASE_MODEL, messages=[{"role": "user", "content": "List: 1, 2, 3, 4, 5, 6"}],
                                          max_tokens=30, temperature=0).choices[0].message.content
    cut = full.strip()[4:7]
    stopped = client.chat.completions.create(model=BASE_MODEL, messages=[{"role": "user", "content": "List: 1, 2, 3, 4, 5, 6"}],
                                             max_tokens=30, temperature=0, stop=[cut])
    assert stopped.choices[0].finish_reason == "stop" and cut not in stopped.choices[0].message.content
    assert full.startswith(stopped.choices[0].message.content)


def test_logprobs(client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ask("Hi"), max_tokens=5, temperature=0,
                                       logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert 1 <= len(content) <= 5 and all(len(t.top_logprobs) == 3 for t in content)
    for t in content:
        assert t.logprob <= 0 and t.top_logprobs[0].logprob >= t.top_logprobs[-1].logprob
        assert t.token == t.top_logprobs[0].token       # greedy: the chosen token is the most likely
        assert bytes(t.bytes).decode("utf-8", "replace") == t.token
    assert "".join(t.token for t in content) == r.choices[0].message.content


def test_errors(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=ask("hi"))
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=BASE_MODEL, messages=ask("word " * 9000))
    assert e.value.code == "context_length_exceeded" and e.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=BASE_MODEL, messages=ask("hi"), temperature=3)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=BASE_MODEL, messages=[])
    assert e.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=BASE_MODEL, messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])
    assert e.value.body["param"] == "messages[0].content[0]"


def test_a_client_leaving_mid_stream_frees_its_slot(server, client):
    s = socket.create_connection(("127.0.0.1", server.port))
    body = json.dumps({"model": BASE_MODEL, "messages": ask("Write a long essay."), "max_tokens": 2000, "stream": True,
                       "temperature": 1, "seed": 1}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + client.api_key.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    s.settimeout(30)
    received = b""
    while b"data:" not in received:
        received += s.recv(4096)
    s.close()
    import time
    deadline = time.time() + 10
    while time.time() < deadline:
        if server.raw("GET", "/v1/status").json()["inference"]["active_sequences"] == 0:
            break
        time.sleep(0.2)
    assert server.raw("GET", "/v1/status").json()["inference"]["active_sequences"] == 0
    assert client.chat.completions.create(model=BASE_MODEL, messages=ask("hi"), max_tokens=2).choices[0].message.content is not None


def test_two_adapters_streaming_at_once_match_each_alone(client, tuned):
    models = [tuned.fine_tuned_model, tuned.fine_tuned_model + ":ckpt-step-3"]
    prompt = ask("My phone battery drains fast. Help?")
    alone = [client.chat.completions.create(model=m, messages=prompt, max_tokens=24, temperature=0).choices[0].message.content
             for m in models]
    assert alone[0] != alone[1] or alone[0].startswith("Beacon")
    results = [None, None]

    def run(i):
        chunks = client.chat.completions.create(model=models[i], messages=prompt, max_tokens=24, temperature=0, stream=True)
        results[i] = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    assert results == alone


def test_models_endpoints(server, client, tuned):
    ids = [m.id for m in client.models.list()]
    assert ids[0] == BASE_MODEL and tuned.fine_tuned_model in ids
    openapi_check.check("ListModelsResponse", server.raw("GET", "/v1/models").json())
    openapi_check.check("Model", server.raw("GET", f"/v1/models/{BASE_MODEL}").json())
    assert client.models.retrieve(tuned.fine_tuned_model + ":ckpt-step-3").id.endswith(":ckpt-step-3")
    assert server.raw("GET", "/v1/models/" + tuned.fine_tuned_model.replace(":", "%3A")).json()["id"] == tuned.fine_tuned_model
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete(BASE_MODEL)
    with pytest.raises(openai.NotFoundError):
        client.models.delete("ft:nothing:here::x")


def test_completions_for_prompt_completion_models(server, client):
    f = client.files.create(file=open(HERE / "data" / "arithmetic.jsonl", "rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, suffix="sums",
                                         method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}})
    job = wait_for_job(client, job.id, {"succeeded", "failed"})
    assert job.status == "succeeded", job.error
    r = client.completions.create(model=job.fine_tuned_model, prompt="Q: what is 2 plus 3?\nA:", max_tokens=6, temperature=0, logprobs=2)
    assert r.object == "text_completion" and r.choices[0].finish_reason in ("stop", "length")
    assert r.choices[0].logprobs.tokens and len(r.choices[0].logprobs.top_logprobs[0]) == 2
    openapi_check.check("CreateCompletionResponse", server.raw("POST", "/v1/completions", json={
        "model": job.fine_tuned_model, "prompt": "Q: what is 1 plus 1?\nA:", "max_tokens": 4}).json())
    # Streamed legacy chunks carry finish_reason null until the last, which the SDK's strict models reject
    # (OpenAI streams the same nulls): read the stream with a lenient client.
    lenient = server.client(strict=False)
    streamed = "".join(c.choices[0].text for c in lenient.completions.create(
        model=job.fine_tuned_model, prompt="Q: what is 2 plus 3?\nA:", max_tokens=6, temperature=0, stream=True) if c.choices)
    assert streamed == r.choices[0].text
    deleted = client.models.delete(job.fine_tuned_model)
    assert deleted.deleted and job.fine_tuned_model not in [m.id for m in client.models.list()]
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model=job.fine_tuned_model, prompt="x")
