"""Policy seeds (cleaning) and the user's local folder adapter."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from assistant.documents import IN_FORCE, REPEALED
from assistant.sources import local, policy
from assistant.sources.cleaning import clean_policy_text, extract_title_date, pack_paragraphs, to_simplified

SEEDS = Path("/work/shared/seeds")
PINYIN = re.compile(r"[(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,7}[)）]")

PAGE = """網站首頁 » 政法動態

關於加強執(zhí)法監督的通知

關於加強執(zhí)法監督的通知
責任編輯:張三
發布時間:2021-07-26 10:00

各單位要堅持黨的領(lǐng)導(dǎo),嚴格執(zhí)法。

 \u00a0
 圖1.jpg

（一）健全責任體系(2021年修訂),開展“五查(察)”聯動。
分享到:
掃一掃 在手機打開當前頁
來源:網絡整理 免責聲明:本文僅限學習分享,如產生版權問題,請聯系我們及時刪除。
Copyright 2020 www.example.gov.cn All Rights Reserved 京ICP備12345678號
"""


def test_clean_converts_and_strips_pinyin():
    out = clean_policy_text("堅持黨的領(lǐng)導(dǎo)，嚴格執（zhí）法。（一）(2021)五查(察)(黨委)")
    assert out == "坚持党的领导，严格执法。（一）(2021)五查(察)(党委)"


def test_clean_drops_boilerplate_and_keeps_body():
    out = clean_policy_text(PAGE)
    lines = out.split("\n")
    assert lines[0] == "关于加强执法监督的通知"
    assert out.count("关于加强执法监督的通知") == 1  # the template's repeated title is gone
    assert "各单位要坚持党的领导，严格执法。" in lines
    assert "（一）健全责任体系(2021年修订)，开展“五查(察)”联动。" in lines
    for junk in ("首页", "责任编辑", "发布时间", ".jpg", "分享", "扫一扫", "免责声明", "来源", "Copyright", "ICP"):
        assert junk not in out, junk
    assert "\n\n\n" not in out and "\u00a0" not in out


def test_extract_title_date():
    assert extract_title_date(PAGE) == ("关于加强执法监督的通知", "2021-07-26")
    page = "某省出台意见 提升公信力\n\n2020年12月21日18:46  来源:人民网\n正文第一段。"
    assert extract_title_date(page) == ("某省出台意见 提升公信力", "2020-12-21")
    # a page that starts with its body has no title; a year inside the body is not a date
    assert extract_title_date("近年来，某委坚决落实部署，2019年出台办法。\n二、其他") == ("", "")


def test_pack_paragraphs_keeps_headings_with_their_text():
    text = "\n".join(["一、标题一", "甲" * 400 + "。", "二、标题二", "乙" * 400 + "。", "丙" * 1500 + "。"])
    chunks = pack_paragraphs(text, 600)
    assert chunks[0].startswith("一、标题一\n甲")
    assert chunks[1].startswith("二、标题二\n乙")
    assert all(len(c) <= 900 for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_policy_adapter_on_made_up_page(tmp_path):
    (tmp_path / "p1.txt").write_text(PAGE, encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text("x", encoding="utf-8")
    assert [p.name for p in policy.files(tmp_path)] == ["p1.txt"]
    chunks = list(policy.iter_chunks(tmp_path))
    assert [c.id for c in chunks] == ["policy-p1#p1"]
    c = chunks[0]
    assert (c.kind, c.title, c.date, c.part, c.source, c.status) == (
        "policy", "关于加强执法监督的通知", "2021-07-26", "p1", "seeds", IN_FORCE)
    assert c.meta == {"file": "p1.txt"}
    assert c.text.startswith("各单位要坚持党的领导")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="shared seeds not available")
def test_real_seeds_are_clean():
    chunks = list(policy.iter_chunks(SEEDS))
    files = policy.files(SEEDS)
    assert {c.doc_id for c in chunks} == {f"policy-{p.stem}" for p in files}
    assert len({c.id for c in chunks}) == len(chunks)
    for c in chunks:
        assert c.id == f"{c.doc_id}#{c.part}" and c.kind == "policy" and c.source == "seeds"
        assert not PINYIN.search(c.text), (c.id, PINYIN.search(c.text))
        for junk in ("责任编辑", "免责声明", ".jpg", "Copyright", "ICP备", "网站首页", "分享到"):
            assert junk not in c.text and junk not in c.title, (c.id, junk)
        assert to_simplified(c.text) == c.text
        assert 0 < len(c.text) <= 1000
        assert c.title and "(" not in c.title
    dates = {c.doc_id: c.date for c in chunks}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in dates.values() if d)
    assert sum(1 for d in dates.values() if d) >= 3


# ---------------------------------------------------------------- local folder

LAW = """某市物业管理办法
第一章 总则
第一条 为了规范物业管理活动，制定本办法。
第二条 本办法适用于本市行政区域内的物业管理。
第二章 业主
第三条 业主依法享有物业的所有权。
第三条 （重复的条文编号，应去重）
"""


def _docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_heading("合同纠纷处理指引", level=1)
    d.add_paragraph("一、签订合同时应当核实对方主体资格。")
    t = d.add_table(rows=2, cols=2)
    t.cell(0, 0).text, t.cell(0, 1).text = "风险", "对策"
    t.cell(1, 0).text, t.cell(1, 1).text = "逾期付款", "约定违约金"
    d.add_paragraph("二、履行过程中注意保留证据。")
    d.save(str(path))


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "local"
    (d / "sub").mkdir(parents=True)
    (d / "README.md").write_text("# 说明\n把文件放这里", encoding="utf-8")
    (d / ".secret.txt").write_text("第一条 不应被索引。", encoding="utf-8")
    (d / "law.txt").write_text(LAW, encoding="gb18030")  # legacy Windows encoding
    (d / "notes.md").write_text("# 办案笔记\n\n**要点**：注意诉讼时效。\n\n" + "证据保全很重要。" * 100, encoding="utf-8")
    _docx(d / "sub" / "guide.docx")
    (d / "one.json").write_text(json.dumps({"title": "劳动争议问答", "content": ["问：试用期可以不签合同吗？", "答：不可以。"]}, ensure_ascii=False), encoding="utf-8")
    lines = [{"title": "案例甲", "text": "甲公司拖欠工资。"}, {"title": "案例乙", "text": "乙某主张加班费。", "status": "已废止"}]
    (d / "cases.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{oops\n", encoding="utf-8")
    (d / "broken.docx").write_bytes(os.urandom(2048))
    (d / "bad.json").write_text('{"title": "缺引号, "text": 1', encoding="utf-8")
    (d / "nothing.json").write_text('[{"title": "只有标题"}]', encoding="utf-8")
    (d / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)  # an image renamed .txt
    (d / "garbled.txt").write_bytes(b"\x81\x20\xff\xfe\x80\x80\x81" * 50)  # invalid in UTF-8 and GB18030
    (d / "empty.md").write_text("  \n", encoding="utf-8")
    (d / "ignored.csv").write_text("a,b", encoding="utf-8")
    return d


def test_local_files_filter(folder):
    names = sorted(p.relative_to(folder).as_posix() for p in local.files(folder))
    assert "README.md" not in names and ".secret.txt" not in names and "ignored.csv" not in names
    assert "sub/guide.docx" in names and "law.txt" in names and len(names) == 11


def test_local_indexes_good_files_and_reports_bad(folder):
    errors: list = []
    chunks = list(local.iter_chunks(folder, errors))
    by_file: dict[str, list] = {}
    for c in chunks:
        by_file.setdefault(c.meta["file"], []).append(c)
        assert c.kind == "local" and c.source == "local" and c.doc_id.startswith("local-")
    assert len({c.id for c in chunks}) == len(chunks)

    # articles from the GB18030 .txt, with chapters, and a de-duplicated repeated key
    law = by_file["law.txt"]
    assert [c.article_key for c in law] == ["1", "2", "3", "3"]
    assert [c.id.split("#")[1] for c in law] == ["1", "2", "3", "3~2"]
    third = law[2]
    assert (third.article, third.chapter, third.title) == ("第三条", "第二章 业主", "某市物业管理办法")
    assert third.text == "业主依法享有物业的所有权。" and third.heading == "《某市物业管理办法》第三条"
    assert law[0].meta == {"file": "law.txt", "ext": "txt"} and law[0].status == IN_FORCE

    md = by_file["notes.md"]
    assert md[0].title == "办案笔记" and md[0].part == "p1" and "**" not in md[0].text and "#" not in md[0].text
    assert len(md) >= 2 and all(len(c.text) <= 900 for c in md)

    docx_chunks = by_file["sub/guide.docx"]
    assert docx_chunks[0].title == "合同纠纷处理指引"
    body = "\n".join(c.text for c in docx_chunks)
    assert "逾期付款 | 约定违约金" in body and body.index("风险") < body.index("二、履行")

    (one,) = by_file["one.json"]
    assert one.title == "劳动争议问答" and one.text == "问：试用期可以不签合同吗？\n答：不可以。"
    jl = by_file["cases.jsonl"]
    assert [c.title for c in jl] == ["案例甲", "案例乙"] and jl[0].doc_id != jl[1].doc_id
    assert [c.status for c in jl] == [IN_FORCE, REPEALED]

    bad = {e["file"]: e["reason"] for e in errors}
    assert set(bad) == {"broken.docx", "bad.json", "nothing.json", "binary.txt", "garbled.txt", "empty.md", "cases.jsonl"}
    assert "docx" in bad["broken.docx"] and "JSON" in bad["bad.json"] and "line 3" in bad["cases.jsonl"]
    assert "二进制" in bad["binary.txt"] and "编码" in bad["garbled.txt"] and "为空" in bad["empty.md"]
    assert all(re.search(r"[a-z]", r) and re.search(r"[\u4e00-\u9fff]", r) for r in bad.values())


def test_local_doc_id_stable_and_errors_optional(folder):
    ids1 = [c.id for c in local.iter_chunks(folder)]  # errors=None must not raise either
    ids2 = [c.id for c in local.iter_chunks(folder, [])]
    assert ids1 == ids2


def test_local_repealed_plain_paragraphs_and_pdf(tmp_path):
    (tmp_path / "old.txt").write_text("某某暂行规定（已废止）\n这是一份旧规定的正文内容。", encoding="utf-8")
    (tmp_path / "long.txt").write_text("第一段没有条文编号而且很长，" * 60 + "\n结尾段落。", encoding="utf-8")
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    with open(tmp_path / "scan.pdf", "wb") as fh:
        w.write(fh)
    (tmp_path / "torn.pdf").write_bytes(b"%PDF-1.4\n" + os.urandom(500))
    errors: list = []
    chunks = list(local.iter_chunks(tmp_path, errors))
    old = [c for c in chunks if c.meta["file"] == "old.txt"]
    assert len(old) == 1 and old[0].status == REPEALED and old[0].title == "某某暂行规定（已废止）"
    assert old[0].text == "这是一份旧规定的正文内容。" and old[0].article == ""
    long = [c for c in chunks if c.meta["file"] == "long.txt"]
    assert long[0].title == "long" and [c.part for c in long] == ["p1", "p2"]
    assert {e["file"] for e in errors} == {"scan.pdf", "torn.pdf"}
