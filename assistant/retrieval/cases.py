"""Rank whole case documents for a question, a fact description or a draft judgment."""
from __future__ import annotations

from .search import Filters, Searcher


class CaseRanker:
    def __init__(self, searcher: Searcher):
        self.s = searcher

    def rank(self, text: str, k: int = 10, filters: Filters | None = None) -> list[str]:
        return [d for d, _, _ in self.s.search_docs(text, k=k, filters=filters)]
