"""The Files API with the official SDK: upload, list with pagination, retrieve, content, delete, and the errors."""
import io
import time
from pathlib import Path

import openai
import pytest

import openapi_check
from conftest import HERE


def jsonl(n, tag="x"):
    lines = [f'{{"messages": [{{"role": "user", "content": "q{i} {tag}"}}, {{"role": "assistant", "content": "a{i}"}}]}}' for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def test_upload_retrieve_content_delete(server, client):
    data = (HERE / "data" / "support.jsonl").read_bytes()
    f = client.files.create(file=("support.jsonl", data, "application/jsonl"), purpose="fine-tune")
    assert f.id.startswith("file-") and f.object == "file" and f.purpose == "fine-tune"
    assert f.bytes == len(data) and f.filename == "support.jsonl" and f.status == "processed"
    assert client.files.retrieve(f.id) == f
    assert client.files.content(f.id).read() == data
    raw = server.raw("GET", f"/v1/files/{f.id}")
    assert raw.headers["content-type"] == "application/json" and raw.headers.get("x-request-id", "").startswith("req_")
    openapi_check.check("OpenAIFile", raw.json())
    deleted = client.files.delete(f.id)
    assert deleted.id == f.id and deleted.deleted is True and deleted.object == "file"
    openapi_check.check("DeleteFileResponse", {"id": f.id, "object": "file", "deleted": True})
    with pytest.raises(openai.NotFoundError) as e:
        client.files.retrieve(f.id)
    assert e.value.status_code == 404 and e.value.body["message"] == f"No such File object: {f.id}" and e.value.body["param"] == "id"


def test_list_pagination_order_and_purpose(server, tmp_path):
    c = server.client(key=server.key("pagination"))
    ids = [c.files.create(file=(f"f{i}.jsonl", jsonl(2, str(i))), purpose="fine-tune").id for i in range(5)]
    other = c.files.create(file=("notes.txt", b"hello"), purpose="user_data").id
    page = c.files.list(limit=2, purpose="fine-tune")
    assert [f.id for f in page.data] == ids[::-1][:2] and page.has_more
    assert [f.id for f in c.files.list(limit=2, purpose="fine-tune")] == ids[::-1]      # the SDK pages on its own
    assert [f.id for f in c.files.list(order="asc", purpose="fine-tune")] == ids
    assert [f.id for f in c.files.list()][0] == other
    body = server.raw("GET", "/v1/files?limit=2&purpose=fine-tune", key=c.api_key).json()
    assert body["first_id"] == ids[4] and body["last_id"] == ids[3] and body["has_more"] is True
    openapi_check.check("ListFilesResponse", body)
    last = server.raw("GET", f"/v1/files?limit=10&after={ids[1]}&purpose=fine-tune", key=c.api_key).json()
    assert [f["id"] for f in last["data"]] == [ids[0]] and last["has_more"] is False
    with pytest.raises(openai.BadRequestError) as e:
        c.files.list(after="file-doesnotexist")
    assert e.value.body["param"] == "after"


def test_bad_jsonl_is_refused_naming_the_line(client):
    bad = b'{"messages": []}\n\n{"messages": [\n'
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("bad.jsonl", bad), purpose="fine-tune")
    assert "Line 3" in e.value.message and e.value.body["param"] == "file"
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("array.jsonl", b"[1, 2]\n"), purpose="fine-tune")
    assert "Line 1 is not a JSON object" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("latin1.jsonl", '{"a": "caf\xe9"}\n'.encode("latin-1")), purpose="fine-tune")
    assert "UTF-8" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("data.json", jsonl(1)), purpose="fine-tune")
    assert "Must be .jsonl" in e.value.message
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("x.jsonl", jsonl(1)), purpose="fine-tuning")
    assert e.value.body["param"] == "purpose"


def test_keys_are_required_and_checked(server):
    r = server.raw("GET", "/v1/files", key=None)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    openapi_check.check("ErrorResponse", r.json())
    with pytest.raises(openai.AuthenticationError) as e:
        server.client(key="sk-wrong-key-0000000000000").files.list()
    assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}


def test_projects_do_not_see_each_other(server):
    a, b = server.client(key=server.key("alpha")), server.client(key=server.key("beta"))
    f = a.files.create(file=("a.jsonl", jsonl(3)), purpose="fine-tune")
    with pytest.raises(openai.NotFoundError):
        b.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        b.files.delete(f.id)
    with pytest.raises(openai.NotFoundError):
        b.files.content(f.id)
    assert f.id not in [x.id for x in b.files.list()]
    assert a.files.retrieve(f.id).id == f.id


def test_unknown_routes_methods_and_limits(server):
    r = server.raw("GET", "/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = server.raw("PUT", "/v1/files")
    assert r.status_code == 405 and "GET" in r.headers["allow"] and r.json()["error"]["type"] == "invalid_request_error"
    r = server.raw("POST", "/v1/chat/completions", data=b"{" + b" " * (2 << 20) + b"}", headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = server.raw("POST", "/v1/chat/completions", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


def test_healthz_and_status(server):
    assert server.raw("GET", "/healthz", key=None).json() == {"status": "ok"}
    s = server.raw("GET", "/v1/status").json()
    assert s["models"] == ["SmolLM2-135M-Instruct"] and s["uptime_seconds"] >= 0 and s["data_directory_bytes"] > 0
    assert "queue_depth" in s and isinstance(s["running_jobs"], list)


def test_an_expired_file_vanishes_and_a_job_cannot_use_it(server, client):
    import sqlite3
    f = client.files.create(file=open(HERE / "data" / "support.jsonl", "rb"), purpose="fine-tune",
                            expires_after={"anchor": "created_at", "seconds": 3600})
    assert f.expires_at == f.created_at + 3600
    # An hour is too long to wait: move its expiry into the past in the server's own database.
    with sqlite3.connect(Path(server.data_dir) / "tailor.sqlite", timeout=10) as db:
        db.execute("UPDATE files SET expires_at = ? WHERE id = ?", (int(time.time()) - 1, f.id))
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
    assert f.id not in [x.id for x in client.files.list()]
    assert server.raw("GET", f"/v1/files/{f.id}/content").status_code == 404
    with pytest.raises(openai.BadRequestError) as e:
        client.fine_tuning.jobs.create(model="SmolLM2-135M-Instruct", training_file=f.id)
    assert e.value.body["param"] == "training_file"
    deadline = time.time() + 30                                    # the sweep runs every 5 s
    while (Path(server.data_dir) / "files" / f.id).exists():
        assert time.time() < deadline, "the expired file's bytes are still on disk"
        time.sleep(0.1)
