"""Rank whole case documents (guiding cases and case records) for a question, a fact description or a draft.

Score = weighted sum of normalised features, weights fitted on the CLCR dev split by `python evals/fit_cases.py`
(NDCG@10 0.554 in-sample, 0.551 leave-one-query-out, so they are not over-fitted):
  doc    BM25 of the whole document (plain jieba tokens, placeholders and question boilerplate removed)
  chunk  best BM25 of any one section of the document (search-mode tokens)
  rm3    pseudo-relevance feedback: top terms of the 3 best documents, scored again
  vote   the causes of action / charges the 10 best documents agree on (the query's likely 案由/罪名)
  name   the query names (or its words cover) a document's 案由/罪名
  dense  best dense-chunk similarity; weight 0 by default (measured harmful), used only with >= 90% coverage
"""
from __future__ import annotations

import collections
import math
import re
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..documents import CASE_KINDS
from ..elements import civil_causes
from .memo import per_searcher
from .search import Filters, QueryError, Searcher

# dense off: e5-small on 128-char case passages lowered CLCR dev NDCG@10 (0.544 -> 0.526 at 0.3, 0.507 at 1.0)
# and Chroma's filtered query cost 0.5-3 s under load; a stronger model can be weighted in by configuration
WEIGHTS = {"doc": 1.0, "chunk": 2.0, "rm3": 1.2, "vote": 0.5, "name": 0.1, "dense": 0.0}
DENSE_MIN_COVERAGE = 0.9
FEEDBACK_DOCS, FEEDBACK_TERMS, VOTE_DOCS = 3, 20, 10
MAX_QUERY_TERMS = 160  # long drafts: keep the most specific terms (speed, and less noise)
# placeholders (甲乙丙丁, A/B), question boilerplate and function words that only add noise to case matching
QUERY_STOP = frozenset(
    "案件 背景 案件背景 问题 请问 甲 乙 丙 丁 戊 甲乙 甲乙丙丁 某 A B C D 本案 应当 能否 可否 是否 为什么 如何 哪些 什么 谁"
    " 该 其 将 给 向 被 对 把 但 已 未 后 时 现 应 可以 有 为 以".split()
)
SOURCES = ("clcr", "guiding_cases", "lawrefbook_cases", "cail2019_scm")
_LABEL_END = re.compile(r"(?:纠纷|之诉|争议|罪)$")


@dataclass
class CaseFilters:
    """Filters on case documents. Values are matched exactly; dates are ISO prefixes (2018, 2018-05)."""

    kinds: list[str] | None = None  # guiding / case
    case_type: str | None = None  # 刑事 民事 行政 ...
    court_level: str | None = None  # 最高 高级 中级 基层
    date_from: str | None = None
    date_to: str | None = None
    source: str | None = None  # clcr guiding_cases lawrefbook_cases cail2019_scm

    @classmethod
    def make(cls, kinds=None, case_type=None, court_level=None, date_from=None, date_to=None, source=None) -> "CaseFilters":
        kinds = [kinds] if isinstance(kinds, str) else (list(kinds) if kinds else None)
        bad = [k for k in kinds or [] if k not in CASE_KINDS]
        if bad:
            raise QueryError(f"未知案例类型 unknown case kind: {', '.join(bad)}; choose from {', '.join(CASE_KINDS)}")
        if court_level and court_level not in ("最高", "高级", "中级", "基层"):
            raise QueryError(f"未知法院层级 unknown court level: {court_level}; choose from 最高, 高级, 中级, 基层")
        if source and source not in SOURCES:
            raise QueryError(f"未知来源 unknown source: {source}; choose from {', '.join(SOURCES)}")
        for d in (date_from, date_to):
            if d and not re.fullmatch(r"\d{4}(-\d{2}(-\d{2})?)?", d):
                raise QueryError(f"日期格式应为 YYYY[-MM[-DD]] bad date: {d}")
        return cls(kinds, case_type or None, court_level or None, date_from or None, date_to or None, source or None)

    @classmethod
    def coerce(cls, f) -> "CaseFilters":
        if f is None:
            return cls()
        if isinstance(f, CaseFilters):
            return f
        if isinstance(f, Filters):
            kinds = [k for k in f.kinds or [] if k in CASE_KINDS] or None
            return cls(kinds=kinds, date_from=f.date_from, date_to=f.date_to)
        if isinstance(f, dict):
            return cls.make(**f)
        raise QueryError(f"bad filters: {type(f).__name__}")


class CaseIndex:
    """Per-searcher tables for case ranking (built once, ~0.5 s): doc metadata, labels, doc-term rows."""

    def __init__(self, s: Searcher):
        self.s = s
        st = s.store
        self.doc_ids = list(s.doc_ids)
        self.n = len(self.doc_ids)
        self.row = {d: i for i, d in enumerate(self.doc_ids)}
        self.meta: list[dict] = []
        raw_labels: list[list[str]] = []
        for d in self.doc_ids:
            c = st.get(st.rows_of_doc[d][0])
            m = dict(c.meta)
            m.update(kind=c.kind, source=c.source, title=c.title, date=c.date or "", doc_id=d)
            labels = [x for x in (m.get("charges") or []) if x]
            if not labels:
                labels = civil_causes("", re.sub(r"^指导性?案例\d+号[：:]", "", c.title).removesuffix("案"))
            raw_labels.append(labels)
            self.meta.append(m)
        self.charges = set(s.lexicon.charges)
        self.set_labels(raw_labels)
        # doc -> rows of its case chunks (for the section-level feature)
        kinds = np.asarray(st.kinds)
        self.case_rows = np.where(np.isin(kinds, list(CASE_KINDS)))[0]
        self.chunk_doc = np.array([self.row.get(st.doc_ids[r], -1) for r in self.case_rows])
        ok = self.chunk_doc >= 0
        self.case_rows, self.chunk_doc = self.case_rows[ok], self.chunk_doc[ok]
        self._csr = None
        self._dense_coverage: float | None = None
        self._dense_checked = 0.0
        self.lock = threading.Lock()

    def set_labels(self, raw_labels: list[list[str]]) -> None:
        """Learn the 案由 vocabulary from the documents' labels and index labels per document."""
        self.raw_labels = raw_labels
        self.label_counts = collections.Counter(x for ls in raw_labels for x in ls)
        self.causes = {c for c, n in self.label_counts.items() if n >= 2 and 4 <= len(c) <= 20 and not c.endswith("罪")}
        self.labels = [self.canon(ls) for ls in raw_labels]
        for m, ls in zip(self.meta, self.labels):
            m["labels"] = ls
        self.label_list = sorted({x for ls in self.labels for x in ls})
        lid = {x: i for i, x in enumerate(self.label_list)}
        width = max([len(ls) for ls in self.labels] + [1])
        self.doc_labels = np.full((self.n, width), -1, dtype=np.int64)  # -1 = padding
        for i, ls in enumerate(self.labels):
            self.doc_labels[i, : len(ls)] = [lid[x] for x in ls]
        self._label_tokens = []

    def canon(self, labels: list[str]) -> list[str]:
        """Map rare labels onto the 罪名 list / the learned 案由 vocabulary: '周某民间借贷纠纷' -> '民间借贷纠纷'.
        A label seen in several documents is a cause in its own right and is kept."""
        out: list[str] = []
        for x in labels:
            vocab = self.charges if x.endswith("罪") else self.causes
            if vocab and x not in vocab and self.label_counts.get(x, 0) <= 1:
                x = next((x[i:] for i in range(1, len(x) - 2) if x[i:] in vocab), x)
            if x not in out:
                out.append(x)
        return out

    def doc_terms(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, BM25 weights) of one document, from the transposed doc-level BM25 matrix."""
        if self._csr is None:
            with self.lock:
                if self._csr is None:
                    sc = self.s.bm25_docs.bm25.scores
                    ptr = np.asarray(sc["indptr"])
                    terms = np.repeat(np.arange(len(ptr) - 1, dtype=np.int32), np.diff(ptr))
                    order = np.argsort(sc["indices"], kind="stable")
                    counts = np.bincount(sc["indices"], minlength=self.n)
                    self.id2tok = {i: t for t, i in self.s.bm25_docs.bm25.vocab_dict.items()}
                    self._csr = (np.concatenate([[0], np.cumsum(counts)]), terms[order], np.asarray(sc["data"])[order])
        ptr, terms, vals = self._csr
        return terms[ptr[row] : ptr[row + 1]], vals[ptr[row] : ptr[row + 1]]

    def label_terms(self) -> list[tuple[str, list[str], np.ndarray]]:
        """Per label: (core text, its tokens, their idf on the document index); built on first use."""
        if not self._label_tokens:
            with self.lock:
                docs = self.s.bm25_docs
                out = []
                for lab in self.label_list:
                    core = _LABEL_END.sub("", lab)
                    toks = self.s.tokenizer.doc_tokens(core)
                    idf = np.array([docs.idf(docs.df(t)) for t in toks], dtype=np.float32)
                    out.append((core, toks, idf))
                self._label_tokens = out
        return self._label_tokens

    def per_doc(self, label_values: np.ndarray) -> np.ndarray:
        """Max over each document's labels of a per-label value (0 for documents without labels)."""
        padded = np.concatenate([label_values.astype(np.float32), np.zeros(1, dtype=np.float32)])
        return padded[self.doc_labels].max(axis=1)

    def corpus_of(self, doc_ids: set[str]) -> str:
        """The one source all these (judged) documents come from, else 'all': a benchmark's own collection."""
        found = {self.meta[self.row[d]].get("source") for d in doc_ids if d in self.row}
        return found.pop() if len(found) == 1 else "all"

    def dense_coverage(self) -> float:
        """Share of case documents with at least one chunk in the dense index (0 when there is none)."""
        if self._dense_coverage is None or time.monotonic() - self._dense_checked > 600:  # it grows meanwhile
            self._dense_checked = time.monotonic()
            d = self.s.dense()
            cov = 0.0
            if d is not None:
                try:
                    got = d.col.get(where={"kind": {"$in": list(CASE_KINDS)}}, include=["metadatas"])
                    docs = {(md or {}).get("doc_id") for md in got["metadatas"]}
                    cov = len(docs & set(self.doc_ids)) / max(1, self.n)
                except Exception:
                    cov = 0.0
            self._dense_coverage = cov
        return self._dense_coverage


case_index = per_searcher(CaseIndex)


def _norm(x: np.ndarray) -> np.ndarray:
    m = float(x.max()) if len(x) else 0.0
    return x / m if m > 0 else np.zeros_like(x)


def combine(feats: dict[str, np.ndarray], weights: dict[str, float], mask: np.ndarray) -> np.ndarray:
    """Weighted sum of the features per document; -inf outside mask or where neither BM25 feature matched."""
    total = sum(weights.get(name, 0) * v for name, v in feats.items())
    return np.where(mask & (feats["doc"] + feats["chunk"] > 0), total, -np.inf)


def best_rows(total: np.ndarray, k: int) -> np.ndarray:
    """The k best finite rows of total, best first."""
    n = min(k, int(np.isfinite(total).sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-total, n - 1)[:n]
    return top[np.argsort(-total[top])]


class CaseRanker:
    def __init__(self, searcher: Searcher, weights: dict[str, float] | None = None):
        self.s = searcher
        self.ci = case_index(searcher)
        self.w = {**WEIGHTS, **(weights or {})}

    # ---- query side ----------------------------------------------------------------------------
    def query_tokens(self, text: str) -> tuple[list[str], list[str]]:
        """(plain tokens for documents, search-mode tokens for sections), cleaned; long texts keep the most
        specific MAX_QUERY_TERMS terms (by tf * idf on the document index)."""
        tk = self.s.tokenizer
        plain = [t for t in tk.doc_tokens(text) if t not in QUERY_STOP and not t.isdigit()]
        if len(set(plain)) > MAX_QUERY_TERMS:  # a draft: whole words match the section index too
            plain = self._specific(plain)
            return plain, plain
        return plain, [t for t in tk.tokens(text) if t not in QUERY_STOP and not t.isdigit()]

    def _specific(self, toks: list[str]) -> list[str]:
        docs = self.s.bm25_docs
        tf = collections.Counter(toks)

        def weight(t: str) -> float:
            df = docs.df(t)
            return (1 + math.log(tf[t])) * docs.idf(df) if df else 0.0

        ranked = sorted(tf, key=weight, reverse=True)[:MAX_QUERY_TERMS]
        return ranked

    # ---- features ------------------------------------------------------------------------------
    def doc_mask(self, f: CaseFilters) -> np.ndarray:
        m = np.ones(self.ci.n, dtype=bool)
        for i, md in enumerate(self.ci.meta):
            if f.kinds and md["kind"] not in f.kinds:
                m[i] = False
            elif f.case_type and md.get("case_type") != f.case_type:
                m[i] = False
            elif f.court_level and md.get("court_level") != f.court_level:
                m[i] = False
            elif f.source and md.get("source") != f.source:
                m[i] = False
            elif f.date_from and not (md["date"] and md["date"] >= f.date_from):
                m[i] = False
            elif f.date_to and not (md["date"] and md["date"][: len(f.date_to)] <= f.date_to):
                m[i] = False
        return m

    def features(self, text: str, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        ci, s = self.ci, self.s
        plain, search = self.query_tokens(text)
        if not plain and not search:
            raise QueryError("查询没有可检索的词 query has no searchable words")
        zeros = np.zeros(ci.n, dtype=np.float32)
        doc = _norm(s.bm25_docs.scores(plain)) if s.bm25_docs is not None else zeros
        chunk = np.zeros(ci.n, dtype=np.float32)
        if search and len(ci.case_rows):
            cs = s.bm25.scores(search)[ci.case_rows]
            np.maximum.at(chunk, ci.chunk_doc, cs)
            chunk = _norm(chunk)
        base = doc + 0.6 * chunk
        if mask is not None:
            base = np.where(mask, base, 0)
        rm3 = self._feedback(base) if self.w["rm3"] else zeros
        first = 0.6 * _norm(base) + 0.4 * rm3  # the list the votes are taken from
        top = np.argsort(-first)[:VOTE_DOCS]
        votes = np.zeros(len(ci.label_list) + 1, dtype=np.float32)
        for i, r in enumerate(top):
            if first[r] > 0:
                votes[ci.doc_labels[r]] += 1 / (i + 1)  # padding (-1) lands in the spare last cell
        votes = votes[:-1]
        vote = ci.per_doc(_norm(votes))
        qset = set(plain) | set(search)
        name = ci.per_doc(np.array([self._name_score(core, toks, idf, text, qset)
                                    for core, toks, idf in ci.label_terms()], dtype=np.float32))
        feats = {"doc": doc, "chunk": chunk, "rm3": rm3, "vote": vote, "name": name}
        if self.w.get("dense") and ci.dense_coverage() >= DENSE_MIN_COVERAGE:
            feats["dense"] = self._dense(text)
        return feats

    def _feedback(self, base: np.ndarray) -> np.ndarray:
        ci = self.ci
        top = [int(r) for r in np.argsort(-base)[:FEEDBACK_DOCS] if base[r] > 0]
        if not top:
            return np.zeros(ci.n, dtype=np.float32)
        acc: collections.Counter = collections.Counter()
        for r in top:
            terms, vals = ci.doc_terms(r)
            if len(vals):
                w = vals / vals.sum() * (base[r] / base[top[0]])
                for t, v in zip(terms.tolist(), w.tolist()):
                    acc[t] += v
        bm = self.s.bm25_docs.bm25
        out = np.zeros(ci.n, dtype=np.float32)
        for t, v in acc.most_common(FEEDBACK_TERMS):
            out += v * bm.get_scores([ci.id2tok[t]])
        return _norm(out)

    @staticmethod
    def _name_score(core: str, toks: list[str], idf: np.ndarray, text: str, qset: set[str]) -> float:
        """1 when the text names the 罪名/案由, else the idf-weighted share of its words the text uses."""
        if len(core) >= 2 and core in text:
            return 1.0
        total = float(idf.sum())
        if not toks or total <= 0:
            return 0.0
        return float(sum(w for t, w in zip(toks, idf) if t in qset)) / total

    def _dense(self, text: str) -> np.ndarray:
        out = np.zeros(self.ci.n, dtype=np.float32)
        for cid, score in self.s.dense_search(text[:1000], 200, list(CASE_KINDS), None):
            row = self.s.store.row_of.get(cid)
            if row is not None:
                d = self.ci.row.get(self.s.store.doc_ids[row])
                if d is not None:
                    out[d] = max(out[d], float(score))
        return _norm(out)

    # ---- ranking -------------------------------------------------------------------------------
    def scored(self, text: str, k: int = 10, filters=None) -> list[tuple[str, float, dict[str, float]]]:
        """[(doc_id, score, {feature: value})] best first; documents outside the filters never appear."""
        text = self.s.check_query(text, self.s.settings.max_draft_chars)
        f = CaseFilters.coerce(filters)
        if self.ci.n == 0 or self.s.bm25_docs is None:
            return []
        mask = self.doc_mask(f)
        feats = self.features(text, mask)
        total = combine(feats, self.w, mask)
        return [(self.ci.doc_ids[r], float(total[r]), {name: round(float(v[r]), 4) for name, v in feats.items()})
                for r in best_rows(total, k)]

    def rank(self, text: str, k: int = 10, filters=None) -> list[str]:
        return [d for d, _, _ in self.scored(text, k, filters)]
