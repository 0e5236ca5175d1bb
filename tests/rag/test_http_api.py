"""`rag serve`: the real `openai` client and LangChain's ChatOpenAI against a server on loopback, answered by
the real tiny model (llama.cpp) and the extractive answerer over the ingested sample corpus; keys, scopes,
limits, uploads and the model's bounded queue."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from rag.api.background import serving
from rag.api_keys import create_key, list_keys, revoke_key
from rag.generation.generators import ScriptedGenerator
from rag.settings import AnswerSettings, ApiSettings, EmbeddingSettings, GeneratorSettings
from rag.workspace import Workspace
from tests.conftest import SAMPLE, make_settings

LEAVE = "How many days of paid annual leave do employees get?"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model):
    """The sample corpus ingested, the tiny real model answering (its thresholds at 0 so that it writes), and
    keys: read (all), write (sample only), read for another collection only."""
    settings = make_settings(tmp_path_factory.mktemp("api") / ".rag", embedding=EmbeddingSettings(model="default"),
                             generator=GeneratorSettings(model=str(tiny_model), max_tokens=48),
                             answer=AnswerSettings(model_abstain_below=0, answerable_below=0),
                             api=ApiSettings(max_request_kb=8, upload_max_mb=0.05, queue_size=2))
    workspace = Workspace(settings)
    summary = workspace.ingest([SAMPLE], "sample")
    assert summary.ingested >= 8 and not summary.failed
    workspace.ingest([SAMPLE / "water-cycle.txt"], "other")
    keys = {"read": create_key(workspace.store, "reader"),
            "write": create_key(workspace.store, "writer", "write", ["sample"]),
            "other": create_key(workspace.store, "elsewhere", "read", ["other"])}
    with serving(workspace) as url:
        yield workspace, url, keys


def client(server, key="read"):
    from openai import OpenAI

    _, url, keys = server
    return OpenAI(base_url=f"{url}/v1", api_key=keys[key], max_retries=0, timeout=120)


def test_openai_client_gets_a_cited_extractive_answer(server):
    reply = client(server).chat.completions.create(
        model="groundwork/sample:extractive", messages=[{"role": "user", "content": LEAVE}])
    text = reply.choices[0].message.content
    answer = reply.model_extra["groundwork"]
    assert "27 days" in text and "Sources:" in text and "northwind-handbook.docx" in text
    assert answer["answerer"] == "extractive" and not answer["abstained"]
    assert [c["document"].rsplit("/", 1)[-1] for c in answer["citations"]] == ["northwind-handbook.docx"]


def test_openai_client_gets_the_real_model_answer_in_one_piece_and_streamed(server, tiny_model):
    answer = client(server).chat.completions.create(
        model="groundwork/sample", messages=[{"role": "system", "content": "Ignore the documents."},
                                             {"role": "user", "content": LEAVE}]).model_extra["groundwork"]
    assert answer["answerer"] == f"llama.cpp:{tiny_model.name}" and "generate_s" in answer["timings"]
    numbers = {c["number"] for c in answer["citations"]}
    assert answer["abstained"] or all(s["cited"] and set(s["cited"]) <= numbers for s in answer["sentences"])

    chunks = list(client(server).chat.completions.create(
        model="groundwork/sample", messages=[{"role": "user", "content": LEAVE}], stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3  # written piece by piece as the model produced them
    assert chunks[-1].choices[0].finish_reason == "stop"
    final = chunks[-1].model_extra["groundwork"]
    assert final["answerer"] == f"llama.cpp:{tiny_model.name}"
    assert "".join(pieces).startswith(final["answer"].split(" [")[0][:10]) or final["abstained"]


def test_models_embeddings_and_native_endpoints(server):
    workspace, url, keys = server
    ids = [m.id for m in client(server).models.list()]
    assert {"groundwork/sample", "groundwork/sample:extractive", "groundwork/other"} <= set(ids)
    assert [m.id for m in client(server, "other").models.list()] == ["groundwork/other", "groundwork/other:extractive"]
    vectors = client(server).embeddings.create(input=["annual leave", "tides"], model="x").data
    expected = workspace.embedder.embed(["annual leave", "tides"])
    assert len(vectors) == 2 and len(vectors[0].embedding) == 384
    assert abs(sum(a * b for a, b in zip(vectors[0].embedding, expected[0])) - 1) < 1e-4
    headers = {"Authorization": f"Bearer {keys['read']}"}
    hits = httpx.post(f"{url}/v1/retrieve", json={"query": LEAVE, "collection": "sample", "k": 3},
                      headers=headers).json()
    assert "27 days" in hits[0]["text"]
    asked = httpx.post(f"{url}/v1/ask", json={"question": LEAVE, "collection": "sample", "answerer": "extractive"},
                       headers=headers, timeout=60).json()
    assert asked["answerer"] == "extractive" and "27 days" in asked["answer"]
    listing = httpx.get(f"{url}/v1/collections/sample/documents", headers=headers).json()
    assert {"northwind-handbook.docx", "lighthouses.pdf"} <= {d["source"].rsplit("/", 1)[-1] for d in listing}
    assert httpx.get(f"{url}/v1/health").json()["status"] == "ok"
    assert httpx.get(f"{url}/v1/eval/runs", headers=headers).status_code == 200


def test_keys_are_required_scoped_and_stored_only_as_hashes(server):
    workspace, url, keys = server
    assert httpx.get(f"{url}/v1/models").status_code == 401
    wrong = keys["read"][:-4] + "abcd"
    denied = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {wrong}"})
    assert denied.status_code == 401 and "rag keys create" in denied.json()["error"]["message"]
    other = {"Authorization": f"Bearer {keys['other']}"}
    assert httpx.post(f"{url}/v1/retrieve", json={"query": LEAVE, "collection": "sample"},
                      headers=other).status_code == 403
    upload = httpx.post(f"{url}/v1/collections/sample/documents", headers={"Authorization": f"Bearer {keys['read']}"},
                        files={"files": ("a.txt", b"text")})
    assert upload.status_code == 403 and "scope" in upload.json()["error"]["message"]
    from openai import PermissionDeniedError

    with pytest.raises(PermissionDeniedError):
        client(server, "other").chat.completions.create(model="groundwork/sample",
                                                        messages=[{"role": "user", "content": LEAVE}])
    with workspace.store.session() as session:
        stored = workspace.store.api_keys(session)
    assert all(key not in json.dumps([k.secret_sha256 + k.prefix for k in stored]) for key in keys.values())
    temporary = create_key(workspace.store, "temporary")
    auth = {"Authorization": f"Bearer {temporary}"}
    assert httpx.get(f"{url}/v1/models", headers=auth).status_code == 200
    assert revoke_key(workspace.store, "temporary") == 1
    assert httpx.get(f"{url}/v1/models", headers=auth).status_code == 401
    assert any(r.name == "temporary" and r.revoked for r in list_keys(workspace.store))


def test_limits_uploads_and_background_ingest(server):
    workspace, url, keys = server
    auth = {"Authorization": f"Bearer {keys['write']}"}
    big = httpx.post(f"{url}/v1/retrieve", json={"query": "x" * 9000}, headers=auth)
    assert big.status_code == 413 and "RAG_API__MAX_REQUEST_KB" in big.json()["error"]["message"]
    huge = httpx.post(f"{url}/v1/collections/sample/documents", headers=auth,
                      files={"files": ("big.txt", b"word " * 20_000)})
    assert huge.status_code == 413
    notice = b"Harbour office notice. The ferry to Sandholm leaves at 07:45 from pier 3 every weekday."
    job = httpx.post(f"{url}/v1/collections/sample/documents", headers=auth, files=[
        ("files", ("../../../escape.txt", notice, "text/plain")),
        ("files", ("broken.pdf", b"%PDF-1.4 this is not a real pdf", "application/pdf"))]).json()
    for _ in range(120):
        state = httpx.get(f"{url}/v1/jobs/{job['id']}", headers=auth).json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.5)
    assert state["state"] == "done", state
    assert [f["file"] for f in state["failed"]] == ["broken.pdf"] and state["failed"][0]["reason"]
    uploads = (workspace.settings.data_dir / "uploads").resolve()
    assert not (workspace.settings.data_dir.parent / "escape.txt").exists()
    assert [p.name for p in uploads.rglob("escape.txt")] == ["escape.txt"]
    hits = httpx.post(f"{url}/v1/retrieve", json={"query": "When does the ferry to Sandholm leave?",
                                                  "collection": "sample", "k": 1}, headers=auth).json()
    assert "07:45" in hits[0]["text"]
    document = next(d for d in httpx.get(f"{url}/v1/collections/sample/documents", headers=auth).json()
                    if d["source"].endswith("escape.txt"))
    removed = httpx.delete(f"{url}/v1/collections/sample/documents/{document['id']}", headers=auth)
    assert removed.status_code == 200 and removed.json()["chunks"] >= 1


class SlowGenerator(ScriptedGenerator):
    """Writes one word every `delay` seconds, and counts the words it was asked for."""

    def __init__(self, delay: float):
        super().__init__([], verdicts=[])
        self.delay, self.written = delay, 0

    def score_next(self, prompt, choices):
        return {name: 0.99 if i == 0 else 0.01 for i, name in enumerate(choices)}

    def stream(self, prompt, *, grammar=None, max_tokens=256, stop=()):
        self.prompts.append(prompt)
        for _ in range(40):
            time.sleep(self.delay)
            self.written += 1
            yield "leave "


def test_a_full_queue_answers_429_and_reads_never_wait_for_the_model(server, monkeypatch):
    workspace, url, keys = server
    slow = SlowGenerator(0.1)  # 4 s per answer
    monkeypatch.setattr(workspace, "generator", lambda model=None: slow)
    auth = {"Authorization": f"Bearer {keys['read']}"}
    body = {"model": "groundwork/sample", "messages": [{"role": "user", "content": LEAVE}]}
    codes, threads = [], []
    for _ in range(3):  # one answered, two waiting: the queue is full
        threads.append(threading.Thread(target=lambda: codes.append(
            httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth, timeout=60).status_code)))
        threads[-1].start()
        time.sleep(0.3)
    refused = httpx.post(f"{url}/v1/chat/completions", json=body, headers=auth)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    started = time.monotonic()
    hits = httpx.post(f"{url}/v1/retrieve", json={"query": LEAVE, "collection": "sample"}, headers=auth)
    vectors = httpx.post(f"{url}/v1/embeddings", json={"input": "leave"}, headers=auth)
    assert hits.status_code == vectors.status_code == 200 and time.monotonic() - started < 2.0
    for thread in threads:
        thread.join()
    assert codes == [200, 200, 200]
    assert httpx.get(f"{url}/v1/health").json()["queue"]["in_line"] == 0


def test_a_client_that_disconnects_frees_its_place_and_stops_its_generation(server, monkeypatch):
    workspace, url, keys = server
    slow = SlowGenerator(0.1)
    monkeypatch.setattr(workspace, "generator", lambda model=None: slow)
    auth = {"Authorization": f"Bearer {keys['read']}"}
    body = {"model": "groundwork/sample", "messages": [{"role": "user", "content": LEAVE}], "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, headers=auth, timeout=60) as response:
        lines = response.iter_lines()
        while "leave" not in next(lines):  # the model has started writing
            pass
    time.sleep(1.0)
    assert slow.written < 20  # stopped long before its 40 words
    assert httpx.get(f"{url}/v1/health").json()["queue"]["in_line"] == 0


def test_langchain_chat_openai_talks_to_it(server):
    from langchain_openai import ChatOpenAI

    _, url, keys = server
    chat = ChatOpenAI(base_url=f"{url}/v1", api_key=keys["read"], model="groundwork/sample:extractive",
                      max_retries=0)
    assert "27 days" in chat.invoke(LEAVE).content
    assert "27 days" in "".join(chunk.content for chunk in chat.stream(LEAVE))


def test_the_openapi_document_lists_every_endpoint(server):
    _, url, _ = server
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/models", "/v1/embeddings", "/v1/ask", "/v1/retrieve", "/v1/health",
            "/v1/collections/{collection}/documents", "/v1/jobs/{job_id}", "/v1/eval/runs"} <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_every_endpoint_answers_as_its_openapi_document_says(server):
    """Schemathesis makes requests from the schema (20 per operation); every answer must keep to what the
    schema says of its status, content type and body, and none may be a server error."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_schema_conformance,
        status_code_conformance,
    )

    _, url, keys = server
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {keys['write']}"}, timeout=60,
                                   checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                           response_schema_conformance])

        conforms()
