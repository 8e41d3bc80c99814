"""Feature reranker for provisions: a linear model over what the first-stage lists and the texts say about each of
the top candidates (how much of the question a provision covers, whether its law is the one the question points to,
whether it answers the kind of question asked), learned from the statute QA tuning set by `evals/train_rerank.py`.

Only provision rows (statute/regulation/policy/local) are reordered, among the slots they hold in the fused list;
case rows keep theirs. Weights live in rerank_weights.json, one vector for hybrid and one for lexical-only search.
"""
from __future__ import annotations

import json
import logging
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..index.ngram import NGRAM_KINDS, char_bigrams

if TYPE_CHECKING:
    from .query import QueryPlan
    from .search import Searcher

log = logging.getLogger(__name__)
WEIGHTS_FILE = Path(__file__).with_name("rerank_weights.json")
RERANK_N = 30  # candidates reordered (the rest keep the fused order)
FEATURES = ("fused", "rankpos", "word", "gram", "dense", "route", "law_share", "cov_text", "cov_title", "cov_bigram",
            "statute", "regulation", "loglen", "named", "general", "asks_number", "asks_liability",
            "word_full", "gram_full", "cos_full")
# question cues and the provision text that answers them
_ASKS_NUMBER = re.compile(r"几|多少|多久|多长|最长|最多|最少|期限|时限|以内|之内")
_HAS_NUMBER = re.compile(r"[一二三四五六七八九十百0-9]+(?:日|天|个月|月|年|小时|人|次|倍|元)")
_ASKS_LIABILITY = re.compile(r"责任|处分|处罚|追究|后果|怎么处理|担责|追责|惩戒|罚")
_HAS_LIABILITY = re.compile(r"责任|处分|处罚|追究|惩戒|罚款|开除|撤职")


def load_weights(path: Path = WEIGHTS_FILE) -> dict[str, np.ndarray] | None:
    """{"hybrid": w, "lexical": w} aligned with FEATURES, or None (no file, or trained for other features)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data.get("features", ())) != FEATURES:
            return None
        return {mode: np.array([float(w[f]) for f in FEATURES]) for mode, w in data["weights"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a damaged file: search runs without reranking
        log.warning("reranker weights unreadable (%s), reranking off: %s", path, exc)
        return None


def _present(index, tokens: list[str], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(idf per token, bool matrix tokens x rows: token occurs in row) from a bm25s index's token-major matrix."""
    idf = np.zeros(len(tokens))
    out = np.zeros((len(tokens), len(rows)), dtype=bool)
    for i, t in enumerate(tokens):
        docs = index.postings(t)
        if not len(docs):
            continue
        idf[i] = index.idf(len(docs))
        if len(rows):
            pos = np.minimum(np.searchsorted(docs, rows), len(docs) - 1)
            out[i] = docs[pos] == rows
    return idf, out


def _relative(scores: np.ndarray | None, rows: np.ndarray) -> np.ndarray:
    """A full score array (every store row) read at rows, divided by its maximum there."""
    if scores is None:
        return np.zeros(len(rows))
    v = np.asarray(scores)[rows].astype(np.float64)
    return v / v.max() if v.max() > 0 else v


def _coverage(idf: np.ndarray, present: np.ndarray) -> np.ndarray:
    total = float(idf.sum())
    return (idf @ present) / total if total > 0 else np.zeros(present.shape[1])


class Reranker:
    def __init__(self, searcher: "Searcher", weights: dict[str, np.ndarray]):
        self.s, self.weights = searcher, weights
        self.provision = np.isin(np.asarray(searcher.store.kinds), list(NGRAM_KINDS))
        ng = searcher.ngram
        self.ngram_pos = None
        if ng is not None:  # store row -> row of the bigram index
            self.ngram_pos = np.full(len(searcher.store), -1, dtype=np.int64)
            self.ngram_pos[ng.rows] = np.arange(len(ng.rows))
        self._title_tokens = lru_cache(maxsize=4096)(lambda text: frozenset(searcher.tokenizer.tokens(text)))

    @classmethod
    def load(cls, searcher: "Searcher") -> "Reranker | None":
        w = load_weights()
        return cls(searcher, w) if w else None

    def features(self, plan: "QueryPlan", query: str, pool: list[int], parts: dict,
                 fused: dict[int, float]) -> np.ndarray:
        """One row of FEATURES per pool row (pool = provision rows in fused order)."""
        s = self.s
        rows = np.asarray(pool, dtype=np.int64)
        toks = list(dict.fromkeys(plan.tokens))
        idf, pres = _present(s.bm25, toks, rows)
        cov_text = _coverage(idf, pres)
        grams = list(dict.fromkeys(char_bigrams(query)))
        cov_bigram = np.zeros(len(rows))
        if self.ngram_pos is not None and grams:
            _, gp = _present(s.ngram.bm25, grams, self.ngram_pos[rows])
            cov_bigram = gp.mean(axis=0) * (self.ngram_pos[rows] >= 0)
        route = np.zeros(len(rows))
        if s.router is not None:
            lsc = parts["law"]  # the routing scores lexical() computed
            top = float(lsc.max()) if len(lsc) else 0.0
            law = s.router.law_of_row[rows]
            route = np.where(law >= 0, lsc[np.maximum(law, 0)] / top if top > 0 else 0.0, 0.0)
        docs = [s.store.doc_ids[r] for r in pool]
        share = {d: docs.count(d) / len(docs) for d in set(docs)}
        asks_number, asks_liability = bool(_ASKS_NUMBER.search(query)), bool(_ASKS_LIABILITY.search(query))
        qset = {t: w for t, w in zip(toks, idf)}
        total = sum(qset.values()) or 1.0
        word_full, gram_full = _relative(parts.get("word_all"), rows), _relative(parts.get("gram_all"), rows)
        cos_full = self._cosines(pool, parts.get("qv"), parts.get("cos") or {})
        out = np.zeros((len(pool), len(FEATURES)))
        for i, r in enumerate(pool):
            c = s.store.get(r)
            body = c.text or ""
            tt = self._title_tokens(f"{c.title} {c.chapter or ''}")
            out[i] = (
                fused.get(r, 1.0), 1 / math.log2(i + 2), parts["word"].get(r, 0.0), parts["gram"].get(r, 0.0),
                parts["dense"].get(r, 0.0), route[i], share[docs[i]], cov_text[i],
                sum(w for t, w in qset.items() if t in tt) / total, cov_bigram[i],
                float(c.kind == "statute"), float(c.kind == "regulation"), math.log1p(len(body)),
                float(plan.law_rows[r]) if plan.law_rows is not None else 0.0,
                float(c.article_key in ("1", "2")),
                float(asks_number and bool(_HAS_NUMBER.search(body))),
                float(asks_liability and bool(_HAS_LIABILITY.search(body))),
                word_full[i], gram_full[i], cos_full[i],
            )
        return out

    def _cosines(self, pool: list[int], qv: np.ndarray | None, known: dict[int, float]) -> np.ndarray:
        """Cosine of every pool row with the query, minus the best. Rows in the dense list have theirs (`known`);
        the others' stored embeddings are read back (~1 ms for 15). Rows not embedded yet: -0.2; no dense: 0."""
        out = np.zeros(len(pool))
        d = self.s.dense() if qv is not None else None
        if d is None:
            return out
        ids_of = self.s.store.ids
        by_row = {r: known[r] for r in pool if r in known}
        missing = [ids_of[r] for r in pool if r not in known]
        if missing:
            try:
                got = d.col.get(ids=missing, include=["embeddings"])
            except Exception:  # being rewritten by another process: the feature is left out for this query
                return out
            emb = dict(zip(got["ids"], got["embeddings"]))
            by_row.update({r: float(np.dot(emb[ids_of[r]], qv)) for r in pool if ids_of[r] in emb and r not in by_row})
        cos = np.array([by_row.get(r, np.nan) for r in pool])
        return np.nan_to_num(cos - np.nanmax(cos), nan=-0.2) if np.isfinite(cos).any() else out

    def pool(self, ranked: list[int]) -> list[int]:
        """The rows reordered: provision rows among the first RERANK_N (training uses the same pool)."""
        return [r for r in ranked[:RERANK_N] if self.provision[r]]

    def rerank(self, plan: "QueryPlan", query: str, ranked: list[int], parts: dict,
               fused: dict[int, float]) -> list[int]:
        """ranked (fused order; direct lookups are placed before it by the caller) with its first RERANK_N
        provision rows reordered."""
        head = ranked[:RERANK_N]
        pool = self.pool(ranked)
        if len(pool) < 2:
            return ranked
        mode = "hybrid" if parts["dense"] else "lexical"
        w = self.weights.get(mode)
        if w is None:
            return ranked
        x = self.features(plan, query, pool, parts, fused)
        order = [pool[i] for i in np.argsort(-(x @ w), kind="stable")]
        it = iter(order)
        return [next(it) if self.provision[r] else r for r in head] + ranked[RERANK_N:]
