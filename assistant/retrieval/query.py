"""Query understanding: law/article references, routing to a named law, tokens and their weights."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..documents import ACTIVE_STATUSES

if TYPE_CHECKING:
    from .search import Searcher


@dataclass
class QueryPlan:
    tokens: list[str]
    weights: dict[str, float] = field(default_factory=dict)
    direct_rows: list[int] = field(default_factory=list)  # exact article lookups, best first
    law_rows: np.ndarray | None = None  # boolean mask of chunks of laws named in the query
    laws: list[str] = field(default_factory=list)
    dense_text: str = ""


class QueryExpander:
    def __init__(self, searcher: "Searcher"):
        self.s = searcher

    def plan(self, query: str) -> QueryPlan:
        s = self.s
        refs = s.laws.find_refs(query)
        direct: list[int] = []
        laws: list[str] = []
        for r in refs:
            if r.article_key:
                rows = s.laws.article_rows(r)
                rows.sort(key=lambda i: s.store.statuses[i] not in ACTIVE_STATUSES)
                direct.extend(x for x in rows if x not in direct)
            laws.extend(t for t in r.titles[:3] if t not in laws)
        law_rows = None
        if laws:
            law_rows = np.zeros(len(s.store), dtype=bool)
            for t in laws:
                law_rows[s.laws.title_rows.get(t, [])] = True
        tokens = s.tokenizer.tokens(query)
        weights: dict[str, float] = {}
        # a law name in the query routes rather than matches: its tokens count less than the question's
        for r in refs:
            for t in s.tokenizer.tokens(r.alias):
                weights[t] = 0.3
        return QueryPlan(tokens, weights, direct, law_rows, laws, dense_text=query)
