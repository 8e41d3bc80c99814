"""Citation checker against a real small index (statutes + regulations + guiding + policy)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.answer.citation_index import citation_index, repealed_titles
from assistant.answer.citations import check_one, check_text, quote_similarity
from assistant.retrieval.search import QueryError

DEV = Path(__file__).resolve().parent.parent / "evals" / "datasets" / "citations_dev.jsonl"
FULL_PRC_CPL_INTERP = "最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释"


def one(searcher, text):
    cites = check_text(searcher, text)
    assert len(cites) == 1, [c.citation for c in cites]
    return cites[0]


@pytest.mark.parametrize(
    "text, law, article, key, item",
    [
        ("根据《中华人民共和国法官法》第四十六条，应当给予处分。", "中华人民共和国法官法", "第四十六条", "46", ""),
        ("《法官法》第46条规定的处分情形。", "中华人民共和国法官法", "第四十六条", "46", ""),
        ("依照法官法第46条处理。", "中华人民共和国法官法", "第四十六条", "46", ""),
        ("被告人的行为符合刑法第二百四十七条的规定。", "中华人民共和国刑法", "第二百四十七条", "247", ""),
        ("依照《中华人民共和国法官法》第四十六条第五项处理。", "中华人民共和国法官法", "第四十六条", "46", "第五项"),
        ("《刑事诉讼法》第二百六十五条第一款第（一）项规定了保外就医。", "中华人民共和国刑事诉讼法", "第二百六十五条", "265",
         "第一款第（一）项"),
        ("《中华人民共和国刑法》第三百九十九条之一规定了枉法仲裁罪。", "中华人民共和国刑法", "第三百九十九条之一", "399-1", ""),
        ("《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第一条规定了自诉案件。", FULL_PRC_CPL_INTERP, "第一条", "1", ""),
        ("《刑诉法解释》第一百二十三条列举了应当排除的供述。", FULL_PRC_CPL_INTERP, "第一百二十三条", "123", ""),
        ("依据最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释第二十八条申请回避。", FULL_PRC_CPL_INTERP, "第二十八条",
         "28", ""),
    ],
)
def test_real_citation_forms(small_searcher, text, law, article, key, item):
    c = one(small_searcher, text)
    assert (c.law, c.article, c.article_key, c.item) == (law, article, key, item)
    assert c.exists and not c.repealed
    assert text[c.start : c.end] == c.citation
    chunk = small_searcher.store.by_id(c.chunk_id)
    assert chunk.title == law and chunk.article_key == key
    assert c.status == chunk.status and c.status in ("现行有效", "已修改")


def test_in_force_version_preferred(small_searcher):
    # the 2012 interpretation (已废止) and the 2021 one share the title; 监狱法 has a 历史版本 and a 现行 version
    c = one(small_searcher, "《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》第一条")
    assert c.status == "现行有效" and c.reason == "条文存在，现行有效"
    c = one(small_searcher, "依照《监狱法》第五十八条处理。")
    assert small_searcher.store.by_id(c.chunk_id).status == "现行有效" and not c.repealed


def test_fake_article_beyond_the_last(small_searcher):
    c = one(small_searcher, "《中华人民共和国法官法》第九十九条规定了法官退休后的再任职限制。")
    assert not c.exists and not c.repealed and c.status == "不存在" and c.chunk_id == ""
    assert c.reason == "《中华人民共和国法官法》共六十九条，无第九十九条"
    c = one(small_searcher, "《中华人民共和国刑法》第三百九十九条之二")
    assert not c.exists and c.article == "第三百九十九条之二"


def test_bare_title_around_a_quoted_law(small_searcher):
    """The quoted law inside a bare interpretation title is part of that title, not a citation of its own; a title
    that does not resolve exactly leaves the quoted law as it is."""
    cites = check_text(small_searcher, "最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释第九百九十条；"
                                       "以及《中华人民共和国刑事诉讼法》的规定。")
    assert [c.citation for c in cites] == ["最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释第九百九十条",
                                           "《中华人民共和国刑事诉讼法》"]
    assert not cites[0].exists and cites[0].law == FULL_PRC_CPL_INTERP
    assert cites[0].reason.startswith("《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》共")
    assert cites[1].exists and cites[1].article == ""


def test_fake_item_is_reported(small_searcher):
    c = one(small_searcher, "《中华人民共和国法官法》第四十六条第十五项")
    assert not c.exists and c.reason == "第四十六条共十项，无第十五项"


def test_fake_law(small_searcher):
    c = one(small_searcher, "《中华人民共和国法官惩戒法》第十二条规定了惩戒委员会的组成。")
    assert not c.exists and not c.repealed and c.status == "不存在"
    assert c.law == "中华人民共和国法官惩戒法" and "未找到" in c.reason
    # a similar real title must not be picked up
    c = one(small_searcher, "《人民法院司法责任追究条例》第七条")
    assert not c.exists and c.law == "人民法院司法责任追究条例"


def test_repealed_law_names_the_repealing_provision(small_searcher):
    c = one(small_searcher, "根据《中华人民共和国合同法》第五十二条，恶意串通的合同无效。")
    assert c.repealed and not c.exists and c.status == "已废止"
    assert c.law == "中华人民共和国合同法" and c.article == "第五十二条"
    assert c.reason.startswith("据《中华人民共和国民法典》第一千二百六十条已废止")
    c = one(small_searcher, "《民法总则》第一百八十八条规定诉讼时效期间为三年。")
    assert c.repealed and c.law == "中华人民共和国民法总则"
    c = one(small_searcher, "《中华人民共和国行政监察法》第二十条")  # not mistaken for the bare 监察法 inside it
    assert c.repealed and c.reason.startswith("据《中华人民共和国监察法》第七十八条已废止")
    # the repealing provision really is in the corpus
    rep = citation_index(small_searcher).repeals["合同法"]
    chunk = small_searcher.store.by_id(rep.chunk_id)
    assert chunk.title == "中华人民共和国民法典" and "《中华人民共和国合同法》" in chunk.text
    # the in-force law itself is not repealed
    c = one(small_searcher, "《中华人民共和国民法典》第一千二百六十条")
    assert c.exists and not c.repealed


def test_repealed_titles_parser():
    text = ("本法自2021年1月1日起施行。《中华人民共和国婚姻法》、《中华人民共和国继承法》、《中华人民共和国民法通则》"
            "同时废止。")
    assert repealed_titles(text) == ["中华人民共和国婚姻法", "中华人民共和国继承法", "中华人民共和国民法通则"]
    text = "本规则施行后，《人民检察院刑事诉讼规则（试行）》（高检发释字〔2012〕2号）同时废止；以本规则为准。"
    assert repealed_titles(text) == ["人民检察院刑事诉讼规则（试行）"]
    text = "1991年4月9日通过的《中华人民共和国外商投资企业和外国企业所得税法》和1993年12月13日国务院发布的《中华人民共和国企业所得税暂行条例》同时废止。"
    assert len(repealed_titles(text)) == 2
    assert repealed_titles("本条例自发布之日起施行，《中华人民共和国劳动改造条例》中有关看守所的规定即行废止。") == []
    assert repealed_titles("2017年3月1日《国务院关于修改和废止部分行政法规的决定》第一次修订") == []


def test_list_expansion(small_searcher):
    text = "根据《刑法》第六十七条第一款、第七十二条的规定，可以适用缓刑。"
    a, b = check_text(small_searcher, text)
    assert (a.article, a.item, b.article, b.item) == ("第六十七条", "第一款", "第七十二条", "")
    assert a.law == b.law == "中华人民共和国刑法" and a.exists and b.exists
    assert a.citation == "《刑法》第六十七条第一款" and b.citation == "第七十二条"
    c = one(small_searcher, "审查《检察官法》第四十七条第四项、第五项规定的行为。")
    assert c.item == "第四项、第五项" and c.article == "第四十七条"


def test_ben_fa_is_not_a_citation(small_searcher):
    assert check_text(small_searcher, "本法第十条规定了法官的义务。") == []
    assert check_text(small_searcher, "依照刑法的规定，国际刑法第五条另有规定。") == []  # no article / a longer name
    cites = check_text(small_searcher, "《中华人民共和国法官法》第四十六条规定了处分，本法第十条规定了义务。")
    assert [c.article for c in cites] == ["第四十六条"]


def test_law_without_article_and_non_law_titles(small_searcher):
    c = one(small_searcher, "应当遵守《中华人民共和国刑事诉讼法》的规定，另见《人民日报》的报道。")
    assert c.article == "" and c.exists and c.law == "中华人民共和国刑事诉讼法" and c.chunk_id == ""


def test_quote_match_and_mismatch(small_searcher):
    base = "《中华人民共和国法官法》第四十六条"
    real = one(small_searcher, base)
    article_text = small_searcher.store.by_id(real.chunk_id).text
    sentence = article_text.split("\n")[0]
    good = one(small_searcher, f"{base}规定：“{sentence}”")
    assert good.quote == sentence and good.quote_match is True and good.quote_similarity == 1.0
    bad = one(small_searcher, f"{base}规定：“法官应当廉洁奉公，不得收受任何财物，违者一律开除。”")
    assert bad.quote_match is False and bad.quote_similarity < 0.9 and "引文与条文不符" in bad.reason
    assert real.quote is None and real.quote_match is None
    assert quote_similarity("贪污受贿……枉法裁判的", article_text) == 1.0


def test_check_one(small_searcher):
    c = check_one(small_searcher, "法官法", "46")
    assert (c.law, c.article, c.exists) == ("中华人民共和国法官法", "第四十六条", True)
    c = check_one(small_searcher, "《刑法》", "第三百九十九条之一")
    assert c.article_key == "399-1" and c.exists
    c = check_one(small_searcher, "合同法")
    assert c.repealed and c.article == ""
    d = c.to_dict()
    assert {"citation", "exists", "repealed", "status", "law", "article", "reason", "chunk_id"} <= set(d)
    with pytest.raises(QueryError):
        check_one(small_searcher, "法官法", "第四十六款")
    with pytest.raises(QueryError):
        check_one(small_searcher, " ", "46")


def test_bad_text(small_searcher):
    with pytest.raises(QueryError):
        check_text(small_searcher, "  ")
    with pytest.raises(QueryError):
        check_text(small_searcher, "法" * (small_searcher.settings.max_draft_chars + 1))


@pytest.fixture()
def cli(small_settings, monkeypatch):
    from assistant.cli import app
    from assistant.config import get_settings

    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(small_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_DENSE", "false")
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(app, list(args))
    get_settings.cache_clear()


def test_cli_cite_json(cli):
    res = cli("cite", "《中华人民共和国法官法》第四十六条、《中华人民共和国合同法》第五十二条，《法官法》第九十九条", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["article"] for r in rows] == ["第四十六条", "第五十二条", "第九十九条"]
    assert all({"citation", "exists", "repealed", "status", "law", "article", "reason"} <= set(r) for r in rows)
    assert [(r["exists"], r["repealed"]) for r in rows] == [(True, False), (False, True), (False, False)]
    assert "民法典" in rows[1]["reason"]


def test_cli_cite_table_and_empty(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    res = cli("cite", "依照《刑法》第三百九十九条之一")
    assert res.exit_code == 0 and "中华人民共和国刑法" in res.stdout
    res = cli("cite", "   ", "--json")
    assert res.exit_code == 2 and "空" in res.output


def test_cli_eval_dev_set(cli):
    res = cli("eval", "citations", "--dataset", str(DEV), "--json", "--no-report")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n"] >= 60 and out["accuracy"] == 1.0, out["errors"]
    res = cli("eval", "citations", "--dataset", "/nonexistent.jsonl", "--json")
    assert res.exit_code == 2
