"""Similar-case push and draft check against the guiding cases of the small real index (no case records)."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import get_settings
from assistant.retrieval.cases import CaseFilters, CaseRanker
from assistant.retrieval.search import QueryError
from assistant.similar.draft import check_draft, months_cn, to_markdown
from assistant.similar.push import SimilarCases, best_pairs

RACING = """经审理查明：2013年5月某日晚，被告人甲驾驶改装摩托车与被告人乙驾驶的摩托车在城市主干道上相互追赶，
二人多次闯红灯、曲折穿行、强行超车，时速超过道路限速一倍以上，其间未造成人员伤亡。
本院认为，二被告人在道路上驾驶机动车追逐竞驶，情节恶劣，其行为均已构成危险驾驶罪。依照《中华人民共和国刑法》第一百三十三条之一之规定，
判决如下：被告人甲犯危险驾驶罪，判处拘役四个月，并处罚金人民币五千元。"""

BROKER = """原告某房产中介公司诉称：被告陶某通过原告看房后，与原告签订了看房确认书，约定不得绕开中介私下与卖方成交。
后被告利用原告提供的房源信息，通过其他中介公司以较低的佣金与卖方签订了房屋买卖合同。原告请求判令被告支付违约金。
本院认为，买方通过多家中介了解同一房源信息，并选择报价低、服务好的中介成交，不构成违约。"""

DRAFT = RACING + "\n另依照《中华人民共和国合同法》第七十三条、《中华人民共和国刑法》第九百九十九条之规定。"


@pytest.fixture(scope="module")
def push(small_searcher):
    return SimilarCases(small_searcher)


def test_guiding_case_found_with_reasons(push):
    res = push.find(RACING, k=5)
    assert 1 <= len(res) <= 5
    top = {r["doc_id"]: r for r in res}
    assert "guiding-32" in list(top)[:3]  # 追逐竞驶 guiding case
    r = top["guiding-32"]
    assert r["binding"] == "应当参照" and r["kind"] == "guiding" and r["link"] == "/v1/documents/guiding-32"
    assert "危险驾驶罪" in r["elements"]["labels"]["shared"]
    assert any("第一百三十三条之一" in a for a in r["elements"]["cited_articles"]["shared"])
    assert r["reasons"][0] == "指导性案例，应当参照" and any("危险驾驶罪" in x for x in r["reasons"])
    assert r["highlights"] and r["highlights"][0]["draft"] in RACING
    assert 0 < r["similarity"] <= 1 and r["gist"]
    assert [x["similarity"] for x in res] == sorted((x["similarity"] for x in res), reverse=True) or res[0]["binding"]


def test_civil_draft_finds_broker_case(push):
    ids = [r["doc_id"] for r in push.find(BROKER, k=5, highlights=False)]
    assert "guiding-1" in ids  # 居间合同 "跳单" guiding case


def test_ranker_is_deterministic_and_respects_k(small_searcher):
    r = CaseRanker(small_searcher)
    a, b = r.rank(RACING, k=7), r.rank(RACING, k=7)
    assert a == b and len(a) == 7 and len(set(a)) == 7
    scored = r.scored(RACING, k=3)
    assert [d for d, _, _ in scored] == a[:3]
    assert {"doc", "chunk", "rm3", "vote", "name"} <= set(scored[0][2])


def test_filters(small_searcher, push):
    assert push.find(RACING, k=5, filters=CaseFilters(kinds=["case"])) == []  # no case records in this index
    res = push.find(RACING, k=5, filters={"case_type": "民事"}, highlights=False)
    assert res and all(r["case_type"] == "民事" for r in res)
    assert all(r["date"] >= "2020" for r in push.find(RACING, k=5, filters=CaseFilters(date_from="2020")))
    with pytest.raises(QueryError):
        CaseFilters.make(court_level="省级")
    with pytest.raises(QueryError):
        CaseFilters.make(date_from="去年")
    with pytest.raises(QueryError):
        CaseFilters.make(kinds="statute")


def test_bad_input(push):
    with pytest.raises(QueryError):
        push.find("   ")
    with pytest.raises(QueryError):
        push.find("字" * 70000)
    with pytest.raises(ValueError):
        push.find(RACING, k=0)


def test_best_pairs_prefers_shared_wording():
    pairs = best_pairs(["被告人驾驶摩托车在道路上追逐竞驶。", "天气晴朗。"],
                       ["二被告人驾驶摩托车在城市道路上追逐竞驶，情节恶劣。", "本案事实清楚。"])
    assert pairs and pairs[0]["draft"].startswith("被告人驾驶") and "追逐竞驶" in pairs[0]["case"]


def test_check_draft(small_searcher):
    res = check_draft(small_searcher, DRAFT)
    assert res["elements"]["charges"] == ["危险驾驶罪"]
    by_cite = {c["article"]: c for c in res["citations"] if c["law"]}
    assert by_cite["第一百三十三条之一"]["ok"]
    assert not by_cite["第九百九十九条"]["exists"]
    contract = next(c for c in res["citations"] if "合同法" in c["law"])
    assert contract["repealed"] and not contract["ok"]
    assert any("合同法" in w and "废止" in w for w in res["warnings"])
    assert res["comparison"]["metric"] == "prison_months" and res["comparison"]["draft"] == 4
    assert "拘役四个月" in res["comparison"]["text"]
    assert any(g["doc_id"] == "guiding-32" for g in res["guiding"])
    assert res["summary"]["citations"] == len(res["citations"]) >= 3
    md = to_markdown(res)
    assert "# 文书核查报告" in md and "信息对比" in md and "guiding-32" in md
    json.dumps(res, ensure_ascii=False)  # JSON-serialisable


def test_months_cn():
    assert months_cn(10) == "十个月" and months_cn(14) == "一年二个月" and months_cn(24) == "二年" and months_cn(None) == "—"


@pytest.fixture
def cli_env(small_settings, monkeypatch):
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_DENSE", "false")
    get_settings.cache_clear()
    yield small_settings
    get_settings.cache_clear()


def test_cli_similar_and_check_draft(cli_env, tmp_path):
    runner = CliRunner()
    f = tmp_path / "draft.txt"
    f.write_text(DRAFT, encoding="utf-8")
    r = runner.invoke(app, ["similar", "--text", str(f), "--k", "3", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert len(res) == 3 and all(x["link"].startswith("/v1/documents/") for x in res)
    r = runner.invoke(app, ["check-draft", str(f), "--md"])
    assert r.exit_code == 0 and "信息对比" in r.stdout
    r = runner.invoke(app, ["check-draft", str(f), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["summary"]["citations"] >= 3
    for args in (["check-draft", str(tmp_path / "missing.txt")], ["similar", "--text", "  "],
                 ["similar", "--text", RACING, "--court-level", "省级"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2 and "错误" in r.output and "Traceback" not in r.output
