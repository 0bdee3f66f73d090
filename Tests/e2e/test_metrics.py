"""GET /metrics: Prometheus text format behind the API key, with request counts by route pattern, latency
histograms, jobs by status, inference time to first token, adapters and memory."""
import re

import pytest

from conftest import BASE_MODEL

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf)$')


def scrape(server):
    r = server.raw("GET", "/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            assert not line or line.startswith("# TYPE ") or line.startswith("# HELP "), line
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_metrics_need_a_key(server):
    r = server.raw("GET", "/metrics", key=None)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_requests_inference_and_jobs_are_counted(server, client, tuned):
    before = scrape(server)
    client.files.list()
    with pytest.raises(Exception):
        client.files.retrieve("file-does-not-exist")
    client.chat.completions.create(model=tuned.fine_tuned_model, messages=[{"role": "user", "content": "Hello"}],
                                   max_completion_tokens=4)
    after = scrape(server)

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)

    # Labelled by the route's pattern, never the raw path (which would grow without bound).
    assert delta('tailor_http_requests_total{route="/v1/files",method="GET",status="200"}') == 1
    assert delta('tailor_http_requests_total{route="/v1/files/:id",method="GET",status="404"}') == 1
    assert not any("file-does-not-exist" in k for k in after)
    assert delta('tailor_http_request_duration_seconds_count{route="/v1/chat/completions",method="POST"}') == 1
    assert after['tailor_http_requests_total{route="/metrics",method="GET",status="401"}'] >= 1
    assert delta("tailor_inference_time_to_first_token_seconds_count") == 1
    assert delta("tailor_inference_generated_tokens_total") >= 1
    assert after['tailor_jobs{status="succeeded"}'] >= 1
    assert after["tailor_adapters_loaded"] >= 1
    assert after["tailor_job_queue_depth"] >= 0 and "tailor_training_tokens_per_second" in after
    assert 50e6 < after["tailor_process_resident_memory_bytes"] < 8e9
    assert after["tailor_base_models"] == 1 and BASE_MODEL
