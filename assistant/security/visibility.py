"""Who may see which case sources: one predicate, applied to search, chat, similar cases and documents.

Settings.case_source_units maps a source (chunk.source: clcr, guiding_cases, lawrefbook_cases, cail2019_scm ...)
to the units allowed to see it; an entry "role:<role>" admits a whole role; admin sees everything; sources not
listed are open to all. A principal that may not see some source gets a ScopedSearcher: the same index with the
documents of those sources masked out before ranking (lexical, dense and doc-level), so chat answers are built
only from visible documents. Results are filtered once more on the way out (belt and braces).
"""
from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterable

import numpy as np

from ..index.store import ChunkStore
from ..retrieval.search import Filters, Hit, Searcher
from .keys import Principal

MAX_FETCH = 100  # similar-case over-fetch ceiling (SimilarCases.find allows k <= 100)


class Visibility:
    def __init__(self, rules: dict[str, Iterable[str]] | None):
        self.rules = {src: frozenset(units) for src, units in (rules or {}).items()}
        self._docs: "weakref.WeakKeyDictionary[Searcher, dict[str, frozenset[str]]]" = weakref.WeakKeyDictionary()
        self._views: "weakref.WeakKeyDictionary[Searcher, dict[frozenset[str], ScopedSearcher]]" = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def hidden_sources(self, p: Principal) -> frozenset[str]:
        if p.role == "admin":
            return frozenset()
        return frozenset(src for src, allowed in self.rules.items() if p.unit not in allowed and f"role:{p.role}" not in allowed)

    def may_see_source(self, p: Principal, source: str) -> bool:
        return source not in self.hidden_sources(p)

    def docs_of(self, searcher: Searcher, sources: frozenset[str]) -> frozenset[str]:
        """Document ids whose chunks come from these sources (one scan of the chunk store per source)."""
        with self._lock:
            per = self._docs.setdefault(searcher, {})
            missing = [s for s in sources if s not in per]
            if missing:
                conn = sqlite3.connect(f"file:{searcher.store.path}?mode=ro", uri=True)
                try:
                    for s in missing:
                        rows = conn.execute("SELECT DISTINCT doc_id FROM chunks WHERE json_extract(json, '$.source') = ?",
                                            (s,))
                        per[s] = frozenset(r[0] for r in rows)
                finally:
                    conn.close()
            return frozenset().union(*(per[s] for s in sources)) if sources else frozenset()

    def view(self, searcher: Searcher, p: Principal) -> Searcher:
        """The searcher this principal may use: the shared one, or a cached scoped view of it."""
        hidden = self.hidden_sources(p)
        if not hidden:
            return searcher
        base = getattr(searcher, "base", searcher)
        docs = self.docs_of(base, hidden)
        with self._lock:
            views = self._views.setdefault(base, {})
            if hidden not in views:
                views[hidden] = ScopedSearcher(base, docs, hidden)
            return views[hidden]


class ScopedStore(ChunkStore):
    """The shared ChunkStore's arrays and connection; lookups of hidden documents find nothing."""

    def __init__(self, base: ChunkStore, hidden_docs: frozenset[str]):  # noqa: super().__init__ would re-read the db
        self.__dict__.update(base.__dict__)
        self.base, self.hidden_docs = base, hidden_docs

    def by_id(self, chunk_id: str):
        c = self.base.by_id(chunk_id)
        return None if c is None or c.doc_id in self.hidden_docs else c

    def doc_chunks(self, doc_id: str):
        return [] if doc_id in self.hidden_docs else self.base.doc_chunks(doc_id)

    def rows_containing(self, substring: str) -> list[int]:
        return [r for r in self.base.rows_containing(substring) if self.doc_ids[r] not in self.hidden_docs]


class ScopedSearcher(Searcher):
    """A Searcher over the same index with some documents masked out (shares every array and index)."""

    def __init__(self, base: Searcher, hidden_docs: frozenset[str], hidden_sources: frozenset[str]):  # noqa
        self.__dict__.update(base.__dict__)
        self.base, self.hidden_docs, self.hidden_sources = base, hidden_docs, hidden_sources
        self.store = ScopedStore(base.store, hidden_docs)
        self.visible_rows = np.fromiter((d not in hidden_docs for d in base.store.doc_ids), dtype=bool,
                                        count=len(base.store))
        self._masks = {}
        self.doc_kind = {d: ("" if d in hidden_docs else k) for d, k in base.doc_kind.items()}  # "" ranks nowhere

    def visible(self, doc_id: str) -> bool:
        return doc_id not in self.hidden_docs

    def _mask(self, f: Filters) -> np.ndarray:
        return Searcher._mask(self, f) & self.visible_rows

    def dense_search(self, text, k, kinds, statuses, mask=None, qv=None):
        rows, docs = self.store.row_of, self.store.doc_ids
        return [(c, sc) for c, sc in Searcher.dense_search(self, text, k, kinds, statuses, mask, qv)
                if c in rows and docs[rows[c]] not in self.hidden_docs]

    def search(self, query: str, k: int = 10, filters: Filters | None = None) -> list[Hit]:
        return [h for h in Searcher.search(self, query, k, filters) if h.chunk.doc_id not in self.hidden_docs]

    def search_docs(self, text: str, k: int = 10, filters: Filters | None = None, limit: int | None = None):
        return [r for r in Searcher.search_docs(self, text, k, filters, limit) if r[0] not in self.hidden_docs]


# ---- output filters (no-ops on an unscoped searcher) ---------------------------------------------------
def hidden_docs(searcher) -> frozenset[str]:
    return getattr(searcher, "hidden_docs", frozenset())


def doc_of(searcher, any_id: str) -> str:
    """The document id of a document or chunk id."""
    row = searcher.store.row_of.get(any_id)
    return searcher.store.doc_ids[row] if row is not None else any_id


def is_visible(searcher, any_id: str) -> bool:
    hidden = hidden_docs(searcher)
    return not hidden or doc_of(searcher, any_id) not in hidden


def keep_visible(searcher, items: list[dict], key: str = "doc_id") -> list[dict]:
    hidden = hidden_docs(searcher)
    return [x for x in items if x.get(key) not in hidden] if hidden else items


def fetch_visible(searcher, fetch: Callable[[int], list[dict]], k: int, key: str = "doc_id") -> list[dict]:
    """fetch(n) -> best-first results; ask for more until k visible ones are found or the results run out."""
    hidden = hidden_docs(searcher)
    if not hidden:
        return fetch(k)
    n = k
    while True:
        got = fetch(n)
        vis = [x for x in got if x.get(key) not in hidden]
        if len(vis) >= k or len(got) < n or n >= MAX_FETCH:
            return vis[:k]
        n = min(MAX_FETCH, n * 3)


class ScopedChat:
    """A ChatService over a ScopedSearcher whose results' sources are filtered once more on the way out."""

    def __init__(self, chat, searcher):
        self.chat, self.searcher = chat, searcher

    def __getattr__(self, name):
        return getattr(self.chat, name)

    def answer(self, messages, session_id=None, agent=False):
        r = self.chat.answer(messages, session_id=session_id, agent=agent)
        r.sources = keep_visible(self.searcher, r.sources)
        return r

    def stream(self, messages, session_id=None, agent=False):
        events = self.chat.stream(messages, session_id=session_id, agent=agent)  # validates eagerly

        def gen():
            for ev in events:
                if ev.get("type") == "final" and isinstance(ev.get("result"), dict):
                    ev["result"]["sources"] = keep_visible(self.searcher, ev["result"].get("sources") or [])
                yield ev

        return gen()


def visible_draft(mod, result: dict, searcher) -> dict:
    """A draft check without the similar cases the caller may not see; the outcome comparison is redone
    over the visible ones."""
    if not getattr(searcher, "hidden_docs", None):
        return result
    before = len(result.get("similar") or [])
    for key in ("similar", "guiding"):
        result[key] = keep_visible(searcher, result.get(key) or [])
    s = result.get("summary") or {}
    s.update(similar_cases=len(result["similar"]), guiding_cases=len(result["guiding"]))
    if len(result["similar"]) != before:
        old = (result.get("comparison") or {}).get("text")
        pool = [{"labels": r.get("labels"), "elements": {"sentence": r.get("sentence") or {},
                                                        "amounts_yuan": {"case": r.get("amounts_yuan") or []}}}
                for r in result["similar"]]
        result["comparison"] = mod.outcome_comparison(result.get("elements") or {}, pool)
        result["warnings"] = [w for w in result.get("warnings") or [] if w != old]
        if result["comparison"].get("flag"):
            result["warnings"].append(result["comparison"]["text"])
    return result
