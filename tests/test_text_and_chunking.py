from assistant.documents import Chunk, normalize_status
from assistant.elements import cited_articles, split_sections
from assistant.lexicon import law_aliases
from assistant.sources.articles import split_articles
from assistant.text import article_label, cn2int, int2cn, law_key, normalize_article, parse_article


def test_numerals_round_trip():
    for n in list(range(1, 130)) + [399, 1000, 1001, 1010, 1254, 1260, 10000, 10010]:
        assert cn2int(int2cn(n)) == n, n
    assert int2cn(46) == "四十六" and int2cn(110) == "一百一十" and int2cn(1260) == "一千二百六十"
    assert cn2int("４６") == 46 and cn2int("abc") is None


def test_article_numbers_both_ways():
    assert parse_article("第三百九十九条之一") == (399, 1)
    assert normalize_article("第46条") == "46" == normalize_article("第四十六条")
    assert article_label(399, 1) == "第三百九十九条之一"
    assert normalize_article("没有条文") == ""


def test_law_key_and_aliases():
    assert law_key("《中华人民共和国法官法》") == "法官法"
    assert law_key("人民检察院司法责任追究条例（2024年修订）") == "人民检察院司法责任追究条例"
    aliases = law_aliases("最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释")
    assert {"刑诉法解释", "刑事诉讼法解释"} <= aliases
    assert "刑诉法" in law_aliases("中华人民共和国刑事诉讼法")


def test_status_normalisation():
    assert normalize_status("已被修改") == "已修改"
    assert normalize_status("未标记失效(据LawRefBook，未独立核验)") == "现行有效"
    assert normalize_status("已失效或已被新版本取代(据LawRefBook标记)") == "已废止"
    assert normalize_status("历史版本") == "历史版本"
    assert normalize_status("") == "未知"


def test_split_articles_keeps_chapters():
    text = "第一章 总 则\n第一条 为了规范……，制定本法。\n第二条 法官应当……\n（一）第一项；\n第二章 职责\n第三条之一 新增条文。"
    parts = list(split_articles(text))
    assert [p["article_key"] for p in parts] == ["1", "2", "3-1"]
    assert parts[1]["text"].endswith("（一）第一项；") and parts[2]["chapter"] == "第二章 职责"


def test_split_without_articles_gives_paragraph_parts():
    parts = list(split_articles("一、总体要求\n" + "甲" * 500 + "\n二、主要任务\n" + "乙" * 500))
    assert [p["part"] for p in parts] == ["p1", "p2"]


def test_chunk_hash_changes_with_content():
    a = Chunk(id="x#1", doc_id="x", kind="statute", title="某法", text="甲")
    b = Chunk(id="x#1", doc_id="x", kind="statute", title="某法", text="乙")
    assert a.hash != b.hash and a.hash == Chunk.from_dict(a.to_dict()).hash
    assert Chunk(id="y", doc_id="y", kind="regulation", title="关于适用《刑法》的解释", text="", article="第一条").heading == "《关于适用〈刑法〉的解释》第一条"


def test_judgment_sections_and_citations():
    text = (
        "张某盗窃一审刑事判决书\n某某县人民法院\n（2020）某0101刑初1号\n公诉机关某某县人民检察院。\n"
        "某某县人民检察院指控，被告人张某盗窃财物。\n经审理查明，2020年1月1日张某窃取手机一部。\n"
        "本院认为，被告人张某构成盗窃罪。依照《中华人民共和国刑法》第二百六十四条、第六十七条第三款之规定，判决如下：\n"
        "被告人张某犯盗窃罪，判处有期徒刑六个月，并处罚金人民币二千元。\n审判员 李某\n二〇二〇年三月一日\n书记员 王某"
    )
    sec = split_sections(text)
    assert "经审理查明" in sec["facts"] and sec["reasoning"].startswith("本院认为")
    arts = [(c["law"], c["article_key"]) for c in cited_articles(text)]
    assert arts == [("中华人民共和国刑法", "264"), ("中华人民共和国刑法", "67")]
