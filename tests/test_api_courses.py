"""POST /v1/courses over a real small index: JSON, Markdown, DOCX and bad input."""
from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from api.app import create_app


@pytest.fixture(scope="module")
def client(small_settings, small_searcher):
    app = create_app(settings=small_settings, searcher=small_searcher, dense_background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_course_json(client):
    r = client.post("/v1/courses", json={"topic": "错案责任追究", "audience": "新任法官", "hours": 4})
    assert r.status_code == 200, r.text
    course = r.json()
    assert len(course["modules"]) >= 4
    assert "法官" in str(course)


def test_course_markdown_and_docx(client):
    r = client.post("/v1/courses", json={"topic": "回避制度", "audience": "书记员", "hours": 2, "format": "md"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert "答案" in r.text
    r = client.post("/v1/courses", json={"topic": "国家赔偿", "audience": "新任法官", "hours": 2, "format": "docx"})
    assert r.status_code == 200
    import docx

    text = "\n".join(p.text for p in docx.Document(io.BytesIO(r.content)).paragraphs)
    assert "国家赔偿" in text


@pytest.mark.parametrize(
    "body",
    [{"topic": ""}, {"topic": "量子计算"}, {"topic": "错案责任追究", "hours": 500}, {"topic": "错案", "format": "pdf"},
     {"topic": 3}, {"topic": "错案", "extra": 1}],
)
def test_course_bad_input(client, body):
    r = client.post("/v1/courses", json=body)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()
    assert client.get("/healthz").status_code == 200
