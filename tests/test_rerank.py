"""Provision reranker: features from the index, case rows keep their slots, direct lookups stay first, weights file."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.config import Settings
from assistant.index.builder import build_dense, build_lexical
from assistant.retrieval.rerank import FEATURES, Reranker, load_weights
from assistant.retrieval.search import Searcher

LAW = """示范警务规定
第一条 为了规范警务工作，制定本规定。
第二条 人民警察对孕妇不得使用武器。
第三条 继续盘问的时限一般不超过二十四小时，经批准可以延长至四十八小时。
第四条 人民警察违反本规定使用武器的，依法追究责任，给予处分。
"""


def _searcher(tmp_path, dense: bool = False, **kw) -> Searcher:
    local = tmp_path / "local"
    local.mkdir(exist_ok=True)
    (local / "law.txt").write_text(LAW, encoding="utf-8")
    s = Settings(index_dir=tmp_path / "idx", local_dir=local, sources="local", dense=dense, **kw)
    build_lexical(s, show=False)
    if dense:
        build_dense(s, show=False)
    return Searcher.open(s)


def _weights(**w) -> dict[str, np.ndarray]:
    v = np.array([w.get(f, 0.0) for f in FEATURES])
    return {"lexical": v, "hybrid": v}


def test_features_read_the_question_and_the_provisions(tmp_path):
    s = _searcher(tmp_path, rerank=False)
    c = s.candidates("盘问最长能留多少小时")
    rr = Reranker(s, {})
    pool = [r for r in c.ranked if rr.provision[r]]
    x = rr.features(c.plan, c.query, pool, c.parts, c.fused)
    assert x.shape == (len(pool), len(FEATURES))
    col = {f: x[:, i] for i, f in enumerate(FEATURES)}
    art = [s.store.article_keys[r] for r in pool]
    third = art.index("3")
    assert col["asks_number"][third] == 1.0  # asks "多少小时" and the article states hours
    assert col["cov_text"][third] == col["cov_text"].max() > 0
    assert col["cov_bigram"][third] == col["cov_bigram"].max() > 0
    assert np.all(col["asks_liability"] == 0)  # the question does not ask about liability
    assert np.all((0 <= col["cov_text"]) & (col["cov_text"] <= 1))
    # full-array scores read at every pool row, relative to the best; no dense index: no cosine feature
    assert col["word_full"].max() == 1.0 and np.all(col["word_full"] >= 0)
    assert col["gram_full"][third] == 1.0
    assert np.all(col["cos_full"] == 0)


def test_cosine_feature_reads_stored_embeddings_for_every_pool_row(tmp_path):
    s = _searcher(tmp_path, dense=True, rerank=False)
    c = s.candidates("孕妇能不能开枪")
    rr = Reranker(s, {})
    pool = [r for r in c.ranked if rr.provision[r]]
    assert len(pool) >= 3
    cos = rr._cosines(pool, c.parts["qv"], {})
    assert cos.max() == 0.0 and np.all(cos <= 0) and np.all(cos > -1.5)
    # the dense list's own cosines are reused, and they are the stored embeddings' cosines
    known = c.parts["cos"]
    assert set(known) & set(pool)
    assert np.allclose(rr._cosines(pool, c.parts["qv"], known), cos, atol=1e-4)
    d = s.dense()
    d.col.delete(ids=[s.store.ids[pool[-1]]])  # a row not embedded (yet): a fixed penalty, the others unchanged
    again = rr._cosines(pool, c.parts["qv"], {})
    assert again[-1] == -0.2 and np.allclose(again[:-1] - again[:-1].max(), cos[:-1] - cos[:-1].max())


def test_rerank_follows_the_weights_and_keeps_direct_lookups_first(tmp_path):
    s = _searcher(tmp_path, rerank=False)
    q = "警察使用武器违反规定要承担什么责任"
    plain = [h.chunk.article_key for h in s.search(q, k=4)]
    s.reranker = Reranker(s, _weights(asks_liability=10.0, fused=1.0))
    assert [h.chunk.article_key for h in s.search(q, k=4)][0] == "4"
    s.reranker = Reranker(s, _weights(general=10.0, fused=1.0))  # a weight that prefers 第一条/第二条
    got = [h.chunk.article_key for h in s.search(q, k=4)]
    assert got[0] in ("1", "2") and sorted(got) == sorted(plain)
    scores = [h.score for h in s.search(q, k=4)]
    assert scores == sorted(scores, reverse=True)  # slots keep their scores
    hit = s.search("示范警务规定第三条", k=3)[0]
    assert hit.via == ["direct"] and hit.chunk.article_key == "3"


def test_a_failing_reranker_keeps_the_fused_order(tmp_path):
    s = _searcher(tmp_path, rerank=False)
    q = "警察使用武器违反规定要承担什么责任"
    plain = [h.chunk.id for h in s.search(q, k=4)]

    class Broken:
        def rerank(self, *a):
            raise RuntimeError("boom")

    s.reranker = Broken()
    assert [h.chunk.id for h in s.search(q, k=4)] == plain


def test_case_rows_keep_their_slots():
    class Stub:  # a pool of provisions (p) and cases (c) in fused order
        pass

    rr = Reranker.__new__(Reranker)
    rr.provision = np.array([True, False, True, True, False, True])
    rr.weights = {"lexical": np.ones(len(FEATURES))}
    rr.features = lambda plan, q, pool, parts, fused: np.array([[float(r)] * len(FEATURES) for r in pool])
    out = rr.rerank(Stub(), "q", [0, 1, 2, 3, 4, 5], {"dense": {}}, {})
    assert out[1] == 1 and out[4] == 4  # case rows where they were
    assert [out[i] for i in (0, 2, 3, 5)] == [5, 3, 2, 0]  # provisions reordered by the model


def test_weights_file_must_match_the_features(tmp_path):
    f = tmp_path / "w.json"
    f.write_text(json.dumps({"features": ["fused"], "weights": {"lexical": {"fused": 1}}}), encoding="utf-8")
    assert load_weights(f) is None  # trained for another feature list: not used
    f.write_text(json.dumps({"features": list(FEATURES), "weights": {"lexical": {k: 1 for k in FEATURES}}}),
                 encoding="utf-8")
    w = load_weights(f)
    assert set(w) == {"lexical"} and w["lexical"].shape == (len(FEATURES),)
    assert load_weights(tmp_path / "none.json") is None
    for bad in ("{oops", json.dumps({"features": list(FEATURES), "weights": {"lexical": {"fused": 1}}}),
                json.dumps({"features": list(FEATURES), "weights": {"lexical": {k: "x" for k in FEATURES}}})):
        f.write_text(bad, encoding="utf-8")
        assert load_weights(f) is None  # damaged: reranking off, search still opens


def test_shipped_weights_load_and_search_uses_them(tmp_path):
    shipped = load_weights()  # rerank_weights.json is in the package, with a vector for each search mode
    assert shipped is not None and set(shipped) == {"hybrid", "lexical"}
    assert all(np.isfinite(w).all() and np.abs(w).sum() > 0 for w in shipped.values())
    s = _searcher(tmp_path)
    assert s.reranker is not None
    assert Searcher.open(Settings(index_dir=s.settings.index_dir, local_dir=s.settings.local_dir, sources="local",
                                  dense=False, rerank=False)).reranker is None


def test_training_command_rejects_bad_datasets_and_keeps_the_weights(tmp_path, capsys):
    from evals import train_rerank

    out = tmp_path / "w.json"
    out.write_text("{}", encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "法官回避"}\n{oops\n', encoding="utf-8")
    for train in (tmp_path / "missing.jsonl", bad):
        assert train_rerank.main(["--train", str(train), "--test", "", "--out", str(out)]) == 2
        assert "error:" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "{}"  # untouched
    with pytest.raises(train_rerank.DatasetError):  # no question with its gold among the candidates
        train_rerank.train([(np.zeros((3, len(FEATURES))), np.zeros(3, dtype=bool), 1, 0)], 0.1)


def test_ceiling_counts_gold_within_the_first_k_of_the_first_stage():
    from evals import train_rerank

    # question 1: its one gold at rank 3; question 2: two gold at ranks 10 and 60; question 3: gold not found
    got = train_rerank.ceiling([([3], 1), ([10, 60], 2), ([], 1)])
    assert got == {"recall@5": round(1 / 3, 4), "recall@30": round(1.5 / 3, 4), "recall@100": round(2 / 3, 4)}
