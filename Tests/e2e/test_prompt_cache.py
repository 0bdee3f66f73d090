"""Prompt caching with the official SDK: a prompt that repeats one reports the reused tokens in
usage.prompt_tokens_details.cached_tokens (OpenAI's field) and gets exactly the answer it gets without them; a long
shared prefix is reused in whole chunks of 256 tokens; identical prompts sent together in one /v1/completions call
are prefilled once; projects never share cached prompts; /v1/status and /metrics count the cached tokens."""
import json
import uuid

import openapi_check
from conftest import BASE_MODEL
from test_metrics import scrape


def chat(client, messages, **kw):
    return client.chat.completions.create(model=BASE_MODEL, messages=messages, max_completion_tokens=8, seed=11,
                                          temperature=1, logprobs=True, top_logprobs=2, **kw)


def answer(r):
    c = r.choices[0]
    return c.message.content, [t.logprob for t in c.logprobs.content]


def test_a_repeated_prompt_is_answered_from_the_cache_with_the_same_answer(server, client):
    messages = [{"role": "user", "content": f"Ticket {uuid.uuid4().hex[:8]}: my tablet will not charge. What first?"}]
    first, again = chat(client, messages), chat(client, messages)
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    assert again.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens == first.usage.prompt_tokens
    assert answer(again) == answer(first)
    # The raw body, valid against OpenAI's spec, and the same through a stream's usage chunk.
    raw = server.raw("POST", "/v1/chat/completions", json={"model": BASE_MODEL, "messages": messages, "max_tokens": 4}).json()
    openapi_check.check("CreateChatCompletionResponse", raw)
    assert raw["usage"]["prompt_tokens_details"]["cached_tokens"] == raw["usage"]["prompt_tokens"]
    chunks = list(client.chat.completions.create(model=BASE_MODEL, messages=messages, max_tokens=4, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens == chunks[-1].usage.prompt_tokens


def test_projects_never_share_cached_prompts(server):
    alpha, beta = server.client(key=server.key("cache-alpha")), server.client(key=server.key("cache-beta"))
    messages = [{"role": "user", "content": f"Ticket {uuid.uuid4().hex[:8]}: the screen of my phone is cracked."}]
    first = chat(alpha, messages)
    other = chat(beta, messages)
    assert other.usage.prompt_tokens_details.cached_tokens == 0, "another project's prompt was reused"
    assert answer(other) == answer(first)
    assert chat(beta, messages).usage.prompt_tokens_details.cached_tokens == other.usage.prompt_tokens


def test_a_long_shared_prefix_is_reused_in_whole_chunks(server, client):
    status_before = server.raw("GET", "/v1/status").json()["inference"]
    metrics_before = scrape(server)
    manual = " ".join(f"Rule {i}: answer about Lumen device model L{i} only with its manual's section {i}." for i in range(30))
    system = {"role": "system", "content": f"Manual {uuid.uuid4().hex[:8]}. {manual}"}
    first = chat(client, [system, {"role": "user", "content": "How do I reset the L3?"}])
    second = chat(client, [system, {"role": "user", "content": "Does the L7 have a battery?"}])
    assert first.usage.prompt_tokens > 512
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached > 0 and cached % 256 == 0 and cached < second.usage.prompt_tokens
    status = server.raw("GET", "/v1/status").json()["inference"]
    assert status["cached_prompt_tokens"] - status_before["cached_prompt_tokens"] == cached
    metrics = scrape(server)
    assert metrics["tailor_inference_prompt_tokens_cached_total"] - metrics_before.get("tailor_inference_prompt_tokens_cached_total", 0) == cached


def test_identical_prompts_sent_together_are_prefilled_once(server, client):
    prompt = f"Order {uuid.uuid4().hex[:8]} arrived without its charger. Reply to the customer:"
    r = client.completions.create(model=BASE_MODEL, prompt=[prompt, prompt, prompt], max_tokens=4, seed=2)
    per_prompt = r.usage.prompt_tokens // 3
    assert r.usage.prompt_tokens_details.cached_tokens == 2 * per_prompt
    raw = server.raw("POST", "/v1/completions", json={"model": BASE_MODEL, "prompt": prompt, "max_tokens": 2}).json()
    openapi_check.check("CreateCompletionResponse", raw)
    assert raw["usage"]["prompt_tokens_details"]["cached_tokens"] == raw["usage"]["prompt_tokens"]
