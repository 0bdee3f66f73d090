"""Tool calling through the official SDK and LangChain: tools with tool_choice required, a named function, auto and
none; parallel_tool_calls; streamed tool_calls deltas; the tool loop (assistant tool_calls and tool messages in the
history); bad tools, tool choices and histories refused with OpenAI's error body; and fine-tuning on OpenAI's
function-calling format, after which the tuned model calls the tool on its own. Every call's arguments must
validate against the function's parameters (checked with the jsonschema package), and raw bodies against the
official OpenAPI schemas."""
import json

import jsonschema
import openai
import pytest
import requests

import openapi_check
from conftest import BASE_MODEL, wait_for_job

WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 30}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "The current weather in a city.",
                                      "parameters": WEATHER, "strict": True}},
    {"type": "function", "function": {"name": "get_time", "description": "The local time in a city.",
                                      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
]
ASK = [{"role": "user", "content": "What's the weather like in Paris today?"}]
PARAMS = {"get_weather": WEATHER, "get_time": TOOLS[1]["function"]["parameters"]}


def check_calls(calls):
    for call in calls:
        assert call.type == "function" and call.id.startswith("call_")
        jsonschema.validate(json.loads(call.function.arguments), PARAMS[call.function.name])


def test_required_and_named_choices_return_valid_calls(server, client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ASK, tools=TOOLS, tool_choice="required",
                                       max_tokens=80, temperature=0)
    choice = r.choices[0]
    assert choice.message.tool_calls, choice
    check_calls(choice.message.tool_calls)
    assert choice.finish_reason in ("tool_calls", "length")
    if choice.finish_reason == "tool_calls":
        assert choice.message.content is None
    # A named function, one call only: exactly one call to it, and the answer ends there.
    raw = server.raw("POST", "/v1/chat/completions", json={
        "model": BASE_MODEL, "messages": ASK, "tools": TOOLS, "max_tokens": 80, "temperature": 0, "parallel_tool_calls": False,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}}}).json()
    openapi_check.check("CreateChatCompletionResponse", raw)
    choice = raw["choices"][0]
    assert choice["finish_reason"] == "tool_calls", choice
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    jsonschema.validate(json.loads(call["function"]["arguments"]), WEATHER)
    ids = {c["id"] for c in choice["message"]["tool_calls"]}
    assert len(ids) == 1


def test_sampled_calls_all_validate(client):
    r = client.chat.completions.create(model=BASE_MODEL, messages=ASK, tools=TOOLS, tool_choice="required", n=4,
                                       temperature=1.2, seed=3, max_tokens=60, parallel_tool_calls=False)
    for choice in r.choices:
        if choice.finish_reason == "tool_calls":
            assert len(choice.message.tool_calls) == 1
            check_calls(choice.message.tool_calls)
        else:
            assert choice.finish_reason == "length"


def test_streamed_calls_arrive_as_openai_deltas(server, client):
    calls, finish = {}, None
    stream = client.chat.completions.create(model=BASE_MODEL, messages=ASK, tools=TOOLS, tool_choice="required",
                                            parallel_tool_calls=False, max_tokens=80, temperature=0, stream=True)
    for chunk in stream:
        for c in chunk.choices:
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                if d.id:   # the first delta of a call names it; later ones only add argument text
                    assert d.index not in calls and d.type == "function" and d.function.name
                    calls[d.index] = {"id": d.id, "name": d.function.name, "arguments": d.function.arguments or ""}
                else:
                    assert d.function.name is None
                    calls[d.index]["arguments"] += d.function.arguments
    assert finish == "tool_calls" and list(calls) == [0]
    jsonschema.validate(json.loads(calls[0]["arguments"]), PARAMS[calls[0]["name"]])
    # The same answer as without streaming (greedy), and every raw chunk valid against the spec.
    whole = client.chat.completions.create(model=BASE_MODEL, messages=ASK, tools=TOOLS, tool_choice="required",
                                           parallel_tool_calls=False, max_tokens=80, temperature=0)
    assert whole.choices[0].message.tool_calls[0].function.arguments == calls[0]["arguments"]
    r = requests.post(server.url + "/v1/chat/completions", stream=True, timeout=120,
                      headers={"Authorization": f"Bearer {client.api_key}"},
                      json={"model": BASE_MODEL, "messages": ASK, "tools": TOOLS, "tool_choice": "required",
                            "max_tokens": 80, "temperature": 0, "stream": True, "parallel_tool_calls": False})
    events = [l for l in r.iter_lines(decode_unicode=True) if l.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    for e in events[:-1]:
        openapi_check.check("CreateChatCompletionStreamResponse", json.loads(e[6:]))


def test_the_tool_loop_answers_from_the_tool_result(client):
    messages = list(ASK)
    first = client.chat.completions.create(model=BASE_MODEL, messages=messages, tools=TOOLS, max_tokens=80, temperature=0,
                                           tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                           parallel_tool_calls=False)
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 21, "unit": "celsius"})})
    # none: the model must answer in words, never with a call.
    second = client.chat.completions.create(model=BASE_MODEL, messages=messages, tools=TOOLS, tool_choice="none",
                                            max_tokens=40, temperature=0)
    choice = second.choices[0]
    assert choice.message.tool_calls is None and choice.finish_reason in ("stop", "length")
    assert choice.message.content and not choice.message.content.startswith("<tool_call>")
    # The tool result is in the prompt: the prompt grew by at least its tokens.
    assert second.usage.prompt_tokens > first.usage.prompt_tokens + 10


def test_auto_may_answer_in_words_or_in_calls(client):
    # The base model mostly answers in words here; whichever it does, the message is well-formed.
    r = client.chat.completions.create(model=BASE_MODEL, messages=[{"role": "user", "content": "Tell me a joke."}],
                                       tools=TOOLS, max_tokens=30, temperature=0.9, seed=11, n=3)
    for choice in r.choices:
        if choice.message.tool_calls:
            check_calls(choice.message.tool_calls)
            assert choice.message.content is None
        else:
            assert not (choice.message.content or "").startswith("<tool_call>\n")


def test_model_says_how_it_renders_tools(server):
    m = server.raw("GET", f"/v1/models/{BASE_MODEL}").json()
    openapi_check.check("Model", m)
    assert m["tailor"]["tool_format"] == "tailor"   # SmolLM2's template has no tool syntax: Tailor's default


@pytest.mark.parametrize("change, param, words", [
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name", "missing"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name", "not a valid function name"),
    ({"tools": [TOOLS[0], TOOLS[0]]}, "tools[1].function.name", "unique"),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "function"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_stock"}}}, "tool_choice", "get_stock"),
    ({"tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice", "sometimes"),
    ({"tool_choice": "auto"}, "tool_choice", "only allowed when 'tools'"),
    ({"parallel_tool_calls": False}, "parallel_tool_calls", "only allowed when 'tools'"),
    ({"tools": [{"type": "function", "function": {"name": "f", "strict": True, "parameters": {
        "type": "object", "properties": {"a": {"type": "string", "not": {"const": "x"}}}}}}]},
     "tools[0].function.parameters", "'not'"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
     "tools[0].function.parameters.type", "object"),
    ({"functions": [{"name": "f"}]}, "functions", "tools"),
    ({"messages": [ASK[0], {"role": "tool", "tool_call_id": "call_x", "content": "21"}]}, "messages.[1].role", "preceeding"),
    ({"messages": [ASK[0], {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}]}, "messages.[1].role", "call_1"),
    ({"messages": [ASK[0], {"role": "assistant", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "21"}]}, "messages[1].tool_calls[0].function.arguments", "JSON"),
    ({"messages": [ASK[0], {"role": "tool", "content": "21"}]}, "messages[1].tool_call_id", "tool_call_id"),
])
def test_bad_tool_requests_name_the_parameter(server, change, param, words):
    body = {"model": BASE_MODEL, "messages": ASK, "max_tokens": 5, **change}
    r = server.raw("POST", "/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["type"] == "invalid_request_error"
    assert err["param"] == param and words in err["message"], err
    # Nothing else changed: the server still answers.
    assert server.raw("GET", "/v1/models").status_code == 200


def test_langchain_bind_tools_and_structured_output(server):
    import langchain_openai   # pinned in requirements.txt: a missing package fails, it is not skipped
    from langchain_core.tools import tool
    from pydantic import BaseModel, Field

    llm = langchain_openai.ChatOpenAI(base_url=server.url + "/v1", api_key=server.client().api_key, model=BASE_MODEL,
                                      temperature=0, max_tokens=80)

    @tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        return "21 degrees"

    message = llm.bind_tools([get_weather], tool_choice="get_weather").invoke("What's the weather in Oslo?")
    assert message.tool_calls and all(c["name"] == "get_weather" and isinstance(c["args"]["city"], str) for c in message.tool_calls)

    class Gadget(BaseModel):
        name: str = Field(max_length=24)
        in_stock: bool

    for method in ("json_schema", "function_calling"):
        gadget = llm.with_structured_output(Gadget, method=method).invoke("Describe the SmartWatch 5 with its name and whether it is in stock.")
        assert isinstance(gadget, Gadget), method


def weather_line(city, unit="celsius"):
    return {"tools": TOOLS, "messages": [
        {"role": "system", "content": "You are a weather assistant. Use the tools."},
        {"role": "user", "content": f"What's the weather in {city}?"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": json.dumps({"city": city, "unit": unit})}}]}]}


def upload(client, lines, name="tools.jsonl"):
    return client.files.create(file=(name, ("\n".join(json.dumps(l) for l in lines) + "\n").encode()), purpose="fine-tune")


def test_fine_tuning_on_tool_calls_teaches_the_call(client):
    cities = ["Paris", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Prague", "Dublin", "Warsaw", "Athens", "Oslo", "Helsinki"]
    bad = weather_line("Paris")
    bad["messages"][2]["tool_calls"][0]["function"]["arguments"] = "city=Paris"
    f = upload(client, [weather_line(c) for c in cities[:4]] + [bad] + [weather_line(c) for c in cities[4:]])
    job = wait_for_job(client, client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id).id, {"failed", "succeeded"})
    assert job.status == "failed" and job.error.param == "training_file"
    assert "Example 5, message 3" in job.error.message and "JSON" in job.error.message

    f = upload(client, [weather_line(c) for c in cities])
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=f.id, seed=3, method={
        "type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 4, "batch_size": 4, "learning_rate_multiplier": 4}}})
    job = wait_for_job(client, job.id, {"failed", "succeeded", "cancelled"})
    assert job.status == "succeeded", job.error
    # Asked about a city it never saw, with tool_choice auto (nothing forces a call), the tuned model calls the tool.
    ask = [{"role": "system", "content": "You are a weather assistant. Use the tools."},
           {"role": "user", "content": "What's the weather in Copenhagen?"}]
    tuned = client.chat.completions.create(model=job.fine_tuned_model, messages=ask, tools=TOOLS, max_tokens=60, temperature=0)
    choice = tuned.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    check_calls(choice.message.tool_calls)
    assert choice.message.tool_calls[0].function.name == "get_weather"
    client.models.delete(job.fine_tuned_model)
