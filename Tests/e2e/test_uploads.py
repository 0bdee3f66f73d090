"""The Uploads API with the official SDK: a file sent in Parts (`uploads.upload_file_chunked`), completed into a File
a job can train on, the Parts joined in the order named, checked by MD5; cancelling; and the errors, as OpenAI's error
body, with every object checked against the official OpenAPI spec."""
import hashlib

import openai
import pytest

import openapi_check
from conftest import BASE_MODEL, HERE


def test_a_file_sent_in_parts_becomes_a_file_a_job_trains_on(server, client, tmp_path):
    data = (HERE / "data" / "support.jsonl").read_bytes()
    path = tmp_path / "support.jsonl"
    path.write_bytes(data)
    # Parts of 1,000 bytes: the file goes in several, and the last one is shorter.
    upload = client.uploads.upload_file_chunked(file=path, mime_type="text/jsonl", purpose="fine-tune", part_size=1000,
                                                md5=hashlib.md5(data).hexdigest())
    assert upload.object == "upload" and upload.status == "completed" and upload.bytes == len(data)
    assert upload.filename == "support.jsonl" and upload.purpose == "fine-tune" and upload.expires_at > upload.created_at
    assert upload.file.id.startswith("file-") and upload.file.bytes == len(data) and upload.file.purpose == "fine-tune"
    assert client.files.content(upload.file.id).read() == data
    assert client.files.retrieve(upload.file.id).filename == "support.jsonl"
    job = client.fine_tuning.jobs.create(model=BASE_MODEL, training_file=upload.file.id)
    assert job.training_file == upload.file.id
    client.fine_tuning.jobs.cancel(job.id)


def test_parts_are_joined_in_the_order_named_and_each_object_is_openai_s(server):
    created = server.raw("POST", "/v1/uploads", json={"filename": "notes.txt", "purpose": "user_data", "bytes": 11,
                                                      "mime_type": "text/plain"})
    assert created.status_code == 200, created.text
    openapi_check.check("Upload", created.json())
    upload = created.json()
    assert upload["status"] == "pending" and upload["file"] is None and upload["id"].startswith("upload_")
    parts = []
    for chunk in (b"hello", b" ", b"world"):
        r = server.raw("POST", f"/v1/uploads/{upload['id']}/parts", files={"data": ("blob", chunk)})
        assert r.status_code == 200, r.text
        openapi_check.check("UploadPart", r.json())
        assert r.json()["object"] == "upload.part" and r.json()["upload_id"] == upload["id"]
        parts.append(r.json()["id"])
    done = server.raw("POST", f"/v1/uploads/{upload['id']}/complete", json={"part_ids": [parts[2], parts[1], parts[0]]})
    assert done.status_code == 200, done.text
    openapi_check.check("Upload", done.json())
    assert done.json()["status"] == "completed"
    file_id = done.json()["file"]["id"]
    assert server.raw("GET", f"/v1/files/{file_id}/content").content == b"world hello"
    # Completed: it takes no more Parts and cannot be completed again.
    again = server.raw("POST", f"/v1/uploads/{upload['id']}/complete", json={"part_ids": parts})
    assert again.status_code == 400 and again.json()["error"]["param"] == "upload_id"
    assert "completed" in again.json()["error"]["message"]
    late = server.raw("POST", f"/v1/uploads/{upload['id']}/parts", files={"data": ("blob", b"x")})
    assert late.status_code == 400 and "completed" in late.json()["error"]["message"]


def test_a_cancelled_upload_takes_nothing_more(client):
    upload = client.uploads.create(filename="train.jsonl", purpose="fine-tune", bytes=10, mime_type="text/jsonl")
    part = client.uploads.parts.create(upload.id, data=b'{"a": 1}\n')
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.id == upload.id and cancelled.status == "cancelled" and cancelled.file is None
    with pytest.raises(openai.BadRequestError) as e:
        client.uploads.parts.create(upload.id, data=b"x")
    assert e.value.body["param"] == "upload_id" and "cancelled" in e.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload.id, part_ids=[part.id])
    with pytest.raises(openai.BadRequestError):
        client.uploads.cancel(upload.id)


@pytest.mark.parametrize("body, param, says", [
    ({"purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl"}, "filename", "filename"),
    ({"filename": "a.jsonl", "purpose": "fine-tune", "mime_type": "text/jsonl"}, "bytes", "bytes"),
    ({"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 0, "mime_type": "text/jsonl"}, "bytes", "between 1 and"),
    ({"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 9 << 30, "mime_type": "text/jsonl"}, "bytes", "between 1 and"),
    ({"filename": "a.jsonl", "purpose": "homework", "bytes": 10, "mime_type": "text/jsonl"}, "purpose", "homework"),
    ({"filename": "a.csv", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/csv"}, "filename", "Must be .jsonl"),
    ({"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "application/pdf"}, "mime_type", "JSON Lines"),
    ({"filename": "a.jsonl", "purpose": "fine-tune", "bytes": 10, "mime_type": "text/jsonl",
      "expires_after": {"anchor": "created_at", "seconds": 60}}, "expires_after.seconds", "between 3600"),
])
def test_a_bad_upload_is_refused_naming_the_parameter(server, body, param, says):
    r = server.raw("POST", "/v1/uploads", json=body)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and says in error["message"], error
    assert set(error) == {"message", "type", "param", "code"}


def test_completing_with_the_wrong_parts_or_checksum_is_refused_and_the_upload_stays_open(server, client):
    upload = client.uploads.create(filename="notes.txt", purpose="user_data", bytes=6, mime_type="text/plain")
    a = client.uploads.parts.create(upload.id, data=b"abc")
    b = client.uploads.parts.create(upload.id, data=b"def")
    cases = [
        ({"part_ids": [a.id]}, "part_ids", "hold 3 bytes; the Upload was created for 6"),
        ({"part_ids": [a.id, a.id]}, "part_ids", "more than once"),
        ({"part_ids": [a.id, "part_../../files/x"]}, "part_ids", "No Part"),
        ({"part_ids": []}, "part_ids", "at least one Part"),
        ({"part_ids": [a.id, b.id], "md5": "0" * 32}, "md5", hashlib.md5(b"abcdef").hexdigest()),
        ({"part_ids": [a.id, b.id], "md5": "not-hex"}, "md5", "32 hexadecimal"),
        ({"part_ids": "all"}, "part_ids", "array"),
    ]
    for body, param, says in cases:
        r = server.raw("POST", f"/v1/uploads/{upload.id}/complete", json=body)
        assert r.status_code == 400 and r.json()["error"]["param"] == param and says in r.json()["error"]["message"], (body, r.text)
    done = client.uploads.complete(upload.id, part_ids=[a.id, b.id], md5=hashlib.md5(b"abcdef").hexdigest().upper())
    assert done.status == "completed" and client.files.content(done.file.id).read() == b"abcdef"


def test_a_fine_tune_upload_is_checked_as_jsonl_at_completion(client):
    upload = client.uploads.create(filename="bad.jsonl", purpose="fine-tune", bytes=9, mime_type="text/jsonl")
    part = client.uploads.parts.create(upload.id, data=b"not json\n")
    with pytest.raises(openai.BadRequestError) as e:
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert e.value.body["code"] == "invalid_file_format" and "Line 1 is not valid JSON" in e.value.body["message"]


def test_another_project_s_upload_looks_missing(server, client):
    upload = client.uploads.create(filename="notes.txt", purpose="user_data", bytes=3, mime_type="text/plain")
    other = server.client(key=server.key("uploads-other"))
    for call in (lambda: other.uploads.parts.create(upload.id, data=b"abc"),
                 lambda: other.uploads.complete(upload.id, part_ids=[]),
                 lambda: other.uploads.cancel(upload.id)):
        with pytest.raises(openai.NotFoundError) as e:
            call()
        assert e.value.body["message"] == f"No such Upload: {upload.id}" and e.value.body["param"] == "upload_id"
