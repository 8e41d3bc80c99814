"""Real index over real data: lookups, filters, hybrid search, incremental and atomic builds, dense on a slice."""
from __future__ import annotations

import json

import pytest

from assistant.config import Settings
from assistant.index import builder
from assistant.index.builder import build_dense, build_lexical
from assistant.index.store import current_generation
from assistant.retrieval.search import Filters, QueryError, Searcher

LAW_A = """中华人民共和国示范审判人员法
第一章 总则
第一条 为了规范审判人员的职责，制定本法。
第二条 审判人员因重大过失导致裁判错误并造成严重后果的，应当给予处分。
第二章 回避
第三条 审判人员是本案当事人近亲属的，应当自行回避。
"""
LAW_B = """辅助人员工作规定
第一条 辅助人员在民警带领下开展工作，不得单独执法。
第二条 辅助人员不得从事案件调查取证。
"""


def _local_settings(tmp_path, **kw) -> Settings:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / "a.txt").write_text(LAW_A, encoding="utf-8")
    (local / "b.md").write_text(LAW_B, encoding="utf-8")
    return Settings(index_dir=tmp_path / "idx", local_dir=local, sources="local", **kw)


def test_direct_article_lookup_with_aliases(small_searcher):
    hit = small_searcher.search("法官法第46条", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "中华人民共和国法官法" and hit.chunk.article == "第四十六条"
    hit = small_searcher.search("刑诉法解释第一条", k=3)[0]
    assert hit.via == ["direct"] and "适用《中华人民共和国刑事诉讼法》的解释" in hit.chunk.title
    assert hit.chunk.status == "现行有效"  # the 2021 interpretation, not the repealed 2012 one
    hit = small_searcher.search("《中华人民共和国刑法》第三百九十九条之一", k=3)[0]
    assert hit.chunk.article_key == "399-1" and "仲裁" in hit.chunk.text


def test_article_lookup_by_a_loose_law_name(small_searcher):
    """A name that is no known alias but holds a title's characters in order resolves to that title."""
    hit = small_searcher.search("政务处分法第11条说的什么？", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "中华人民共和国公职人员政务处分法" and hit.chunk.article_key == "11"
    hit = small_searcher.search("减刑假释具体应用法律的规定第25条是什么", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "最高人民法院关于办理减刑、假释案件具体应用法律的规定"
    assert hit.chunk.article_key == "25"
    # the words of the name in another order: the title that holds all its characters, not a short generic tail
    # ("使用条例" alone would pick 电力供应与使用条例)
    hit = small_searcher.search("警械和武器使用条例第14条怎么规定法律责任的？", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "中华人民共和国人民警察使用警械和武器条例"
    assert hit.chunk.article_key == "14"
    # a version or trial note written between the name and the article, as titles are often copied
    hit = small_searcher.search("检察官惩戒工作程序规定（试行）第八条", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "检察官惩戒工作程序规定（试行）" and hit.chunk.article_key == "8"
    hit = small_searcher.search("依据刑法（2020修正）第399条", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.title == "中华人民共和国刑法" and hit.chunk.article_key == "399"
    # a title with a quoted law inside, written without outer quotes or with nested 《》
    for q in ("最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释第28条",
              "《最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释》第28条"):
        hit = small_searcher.search(q, k=3)[0]
        assert hit.via == ["direct"] and hit.chunk.title == "最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释"
        assert hit.chunk.article_key == "28"
    # no law name at all, or words that are no title: no direct hit
    assert all(h.via != ["direct"] for h in small_searcher.search("他说第十条怎么理解", k=3))
    assert small_searcher.laws.fuzzy("请问什么办法") == []


def test_colloquial_question_finds_the_provision(small_searcher):
    hits = small_searcher.search("法官因为重大过失导致裁判错误，会受什么处分", k=5)
    assert any(h.chunk.title == "中华人民共和国法官法" and h.chunk.article_key == "46" for h in hits)


def test_filters(small_searcher):
    hits = small_searcher.search("赔偿", k=10, filters=Filters.make(kinds=["guiding"]))
    assert hits and all(h.chunk.kind == "guiding" for h in hits)
    hits = small_searcher.search("环境保护", k=30, filters=Filters.make(status="active"))
    assert all(h.chunk.status != "已废止" for h in hits)
    hits = small_searcher.search("环境保护", k=30, filters=Filters.make(status="已废止"))
    assert hits and all(h.chunk.status == "已废止" for h in hits)
    hits = small_searcher.search("刑事诉讼", k=10, filters=Filters.make(issuer="最高人民检察院"))
    assert hits and all("最高人民检察院" in h.chunk.issuer for h in hits)
    hits = small_searcher.search("指导性案例", k=10, filters=Filters.make(kinds="guiding", date_from="2020-01-01"))
    assert hits and all(h.chunk.date >= "2020-01-01" for h in hits)


def test_laws_db_duplicates_not_indexed_twice(small_searcher):
    titles = {t for t in small_searcher.store.titles if t.endswith("法官法")}
    assert titles == {"中华人民共和国法官法"}
    assert len(small_searcher.laws.rows[("中华人民共和国法官法", "46")]) == 1


@pytest.mark.parametrize("bad", ["", "   ", "字" * 100_000])
def test_bad_queries(small_searcher, bad):
    with pytest.raises(QueryError):
        small_searcher.search(bad)


def test_unknown_kind_and_status():
    with pytest.raises(QueryError):
        Filters.make(kinds=["novel"])
    with pytest.raises(QueryError):
        Filters.make(status="maybe")


def test_incremental_and_atomic(tmp_path, monkeypatch):
    s = _local_settings(tmp_path)
    first = build_lexical(s, show=False)
    assert first["changed"] and first["chunks"] == 5
    again = build_lexical(s, show=False)
    assert again["changed"] is False and again["seconds"] < 5
    gen = current_generation(s.index_dir / builder.LEX_ROOT)

    # a crash in the middle of the next build leaves the previous generation serving
    (s.local_dir / "c.txt").write_text("第一条 新增的规定。", encoding="utf-8")

    def boom(*a, **k):
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(builder.ChunkStore, "write", staticmethod(boom))
    with pytest.raises(RuntimeError):
        build_lexical(s, show=False)
    assert current_generation(s.index_dir / builder.LEX_ROOT) == gen
    assert Searcher.open(s).search("审判人员回避", k=1)[0].chunk.article_key == "3"
    monkeypatch.undo()

    done = build_lexical(s, show=False)
    # the crashed run had already cached the new chunk's tokens: nothing is tokenized twice
    assert done["changed"] and done["chunks"] == 6 and done["tokenized"] == 0
    assert not list((s.index_dir / builder.LEX_ROOT).glob("*.tmp"))  # leftovers cleaned


def test_dense_on_a_slice(tmp_path):
    s = _local_settings(tmp_path)
    build_lexical(s, show=False)
    res = build_dense(s, show=False)
    assert res["embedded"] == 5 and res["total"] == 5
    assert build_dense(s, show=False)["embedded"] == 0  # content hashes: nothing to redo
    searcher = Searcher.open(s)
    hits = searcher.search("协警可以自己一个人去执法吗", k=3)
    assert any("dense" in h.via for h in hits)
    assert hits[0].chunk.title == "辅助人员工作规定"


def test_provisions_and_case_sections_are_cut_at_their_own_lengths_and_a_longer_cut_re_embeds_only_long_ones(tmp_path):
    from assistant.documents import Chunk
    from assistant.index.dense import passage_text

    body = "审判人员" * 80  # 320 characters
    art = Chunk(id="a", doc_id="d", kind="regulation", title="示范规定", text=body, article="第一条", article_key="1")
    case = Chunk(id="c", doc_id="k", kind="case", title="某某案", text=body, part="审理查明")
    assert len(passage_text(art, 256, 128)) == 256 and len(passage_text(case, 256, 128)) == 128
    assert len(passage_text(case, 256)) == 256  # no case limit given: one cut for all

    s = _local_settings(tmp_path, embedding_max_chars=128)
    (s.local_dir / "c.txt").write_text("示范长条文规定\n第一条 " + "审判人员应当依法履行职责，" * 15 + "\n", encoding="utf-8")
    build_lexical(s, show=False)
    assert build_dense(s, show=False)["embedded"] == 6
    longer = s.model_copy(update={"embedding_max_chars": 256})
    assert build_dense(longer, show=False)["embedded"] == 1  # only the article longer than 128 characters
    assert build_dense(longer, show=False)["embedded"] == 0


def test_dense_filters_on_our_mask_not_in_chroma(tmp_path, monkeypatch):
    """A filter keeping >= 10% of chunks is applied to unfiltered neighbours (Chroma's metadata filter costs
    30-110 ms); enough neighbours are asked for that k can pass; only rows inside the mask come back."""
    import numpy as np

    s = _local_settings(tmp_path)
    (s.local_dir / "c.txt").write_text("示范规则\n" + "".join(f"第{n}条 示范内容{n}。\n" for n in "一二三四五"),
                                       encoding="utf-8")
    build_lexical(s, show=False)
    build_dense(s, show=False)
    searcher = Searcher.open(s)
    d = searcher.dense()
    assert len(searcher.store) == 10
    calls, real = [], d.search
    monkeypatch.setattr(d, "search", lambda qv, k, kinds=None, statuses=None: calls.append((k, kinds)) or
                        real(qv, k, kinds, statuses))
    target = next(r for r in range(10) if searcher.store.get(r).title == "辅助人员工作规定")
    mask = np.zeros(10, dtype=bool)
    mask[target] = True  # 10% of chunks
    got = searcher.dense_search("协警可以自己一个人去执法吗", 5, ["local"], None, mask)
    assert [searcher.store.row_of[c] for c, _ in got] == [target]
    assert calls == [(int(5 * 1.3 / 0.1), None)]  # unfiltered, 65 neighbours for 5 at a 10% share


def test_local_errors_reported_not_fatal(tmp_path):
    s = _local_settings(tmp_path)
    (s.local_dir / "broken.docx").write_bytes(b"\x00not a zip")
    (s.local_dir / "bad.json").write_text("{oops", encoding="utf-8")
    res = build_lexical(s, show=False)
    assert {e["file"] for e in res["errors"]} == {"broken.docx", "bad.json"}
    assert res["chunks"] == 5
    manifest = json.loads((current_generation(s.index_dir / builder.LEX_ROOT) / "manifest.json").read_text())
    assert len(manifest["errors"]) == 2
