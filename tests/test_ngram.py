"""Character-bigram view of provisions and query-to-law routing: row alignment, persistence, use in search."""
from __future__ import annotations

import shutil

import numpy as np

from assistant.config import Settings
from assistant.documents import Chunk
from assistant.index.builder import build_lexical
from assistant.index.lawdocs import LawRouter
from assistant.index.ngram import NgramIndex, char_bigrams
from assistant.index.store import current_generation
from assistant.retrieval.search import Searcher


def test_char_bigrams_cover_han_runs_only():
    assert char_bigrams("审委会讨论") == ["审委", "委会", "会讨", "讨论"]
    assert char_bigrams("A法官b，罪") == ["法官", "罪"]  # Latin and punctuation split runs; a lone character stays
    assert char_bigrams("") == [] and char_bigrams("2024 abc") == []


def test_scores_align_with_store_rows_and_survive_save_load(tmp_path):
    texts = ["审判委员会讨论决定的重大疑难案件", "合议庭评议案件实行少数服从多数", "人民警察使用武器的情形"]
    idx = NgramIndex.build(texts, rows=[0, 2, 5], n_rows=7)
    sc = idx.scores("审委会讨论的案子")  # no word in common with row 0 after jieba; bigrams share 会讨, 讨论
    assert sc.shape == (7,) and sc[0] > 0 and sc[2] == 0
    assert sc[1] == sc[3] == sc[4] == sc[6] == 0  # rows outside the index are never scored
    assert idx.scores("使用武器")[5] > 0 and idx.scores("使用武器")[0] == 0
    idx.save(tmp_path / "ng")
    back = NgramIndex.load(tmp_path / "ng")
    assert back is not None and np.array_equal(back.scores("审委会讨论的案子"), sc)
    assert NgramIndex.load(tmp_path / "missing") is None


def test_search_uses_bigrams_and_tolerates_generations_without_them(tmp_path):
    local = tmp_path / "local"
    local.mkdir()
    (local / "a.txt").write_text(
        "示范审判组织规定\n第一条 审判委员会讨论决定的案件，合议庭对其汇报的事实负责。\n"
        "第二条 人民警察依法使用武器，应当以制止违法犯罪为限度。\n", encoding="utf-8")
    s = Settings(index_dir=tmp_path / "idx", local_dir=local, sources="local", dense=False)
    build_lexical(s, show=False)
    gen = current_generation(s.index_dir / "lexical")
    assert (gen / "ngram_chunks" / "meta.json").is_file()
    searcher = Searcher.open(s)
    assert searcher.ngram is not None and searcher.router is not None
    assert searcher.search("审委会讨论过的案子谁负责", k=1)[0].chunk.article == "第一条"
    # an index built before the bigram view and routing existed: search falls back to the word list alone
    shutil.rmtree(gen / "ngram_chunks")
    shutil.rmtree(gen / "law_route")
    old = Searcher.open(s)
    assert old.ngram is None and old.router is None
    assert old.search("审判委员会讨论决定的案件", k=1)[0].chunk.article == "第一条"


def _chunk(i: int, doc: str, kind: str = "statute", status: str = "现行有效") -> Chunk:
    return Chunk(id=f"{doc}#{i}", doc_id=doc, kind=kind, title=doc, text="", status=status)


def test_law_router_lifts_the_instruments_the_words_point_to(tmp_path):
    chunks = [_chunk(0, "武器条例"), _chunk(1, "武器条例"), _chunk(2, "法官法"), _chunk(3, "某案", kind="case"),
              _chunk(4, "旧武器条例", status="已废止")]
    tokens = [["开枪", "武器"], ["警械", "孕妇"], ["法官", "回避"], ["开枪", "孕妇"], ["开枪", "孕妇", "武器"]]
    router = LawRouter.build(chunks, tokens)
    b = router.boost(router.scores(["孕妇", "开枪"]))
    assert b[0] == b[1] > 1.0  # both provisions of the instrument whose provisions together hold the words
    assert b[2] == 1.0  # an instrument the words do not point to
    assert b[3] == 1.0 and b[4] == 1.0  # case documents and repealed instruments are not routed to
    assert np.all(router.boost(router.scores(["无关词"])) == 1.0)
    router.save(tmp_path / "route")
    back = LawRouter.load(tmp_path / "route")
    assert back is not None and np.array_equal(back.boost(back.scores(["孕妇", "开枪"])), b)
    assert LawRouter.load(tmp_path / "nothing") is None
