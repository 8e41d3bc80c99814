"""Query-to-law routing: BM25 over whole instruments (all of a law's provisions as one document).

A colloquial question often names no law, but its words together point to one (开枪 + 孕妇 + 警察 -> 人民警察使用警械和
武器条例). The best few instruments lift their provisions by a small factor in retrieval/search.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..documents import ACTIVE_STATUSES
from .lexical import LexicalIndex
from .ngram import NGRAM_KINDS

ROUTE_TOP = 5  # instruments that get a lift
ROUTE_GAIN = 0.1  # lift of the best instrument's provisions (x1.1), the 5th best's x1.0


class LawRouter:
    def __init__(self, bm25: LexicalIndex, law_of_row: np.ndarray):
        self.bm25, self.law_of_row = bm25, law_of_row

    @classmethod
    def build(cls, chunks: list, tokens: list[list[str]]) -> "LawRouter":
        """Instruments in force only (a repealed version would take a routing slot from its successor)."""
        law_ids: dict[str, int] = {}
        law_of_row = np.full(len(chunks), -1, dtype=np.int64)
        docs: list[list[str]] = []
        for r, c in enumerate(chunks):
            if c.kind not in NGRAM_KINDS or c.status not in ACTIVE_STATUSES:
                continue
            doc = c.doc_id
            i = law_ids.setdefault(doc, len(law_ids))
            if i == len(docs):
                docs.append([])
            docs[i].extend(tokens[r])
            law_of_row[r] = i
        return cls(LexicalIndex.build(docs or [[]]), law_of_row)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.bm25.save(path / "bm25")
        np.save(path / "law_of_row.npy", self.law_of_row)
        (path / "meta.json").write_text(json.dumps({"laws": int(self.law_of_row.max() + 1)}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "LawRouter | None":
        """None when the generation predates routing."""
        if not (path / "meta.json").is_file():
            return None
        return cls(LexicalIndex.load(path / "bm25"), np.load(path / "law_of_row.npy"))

    def scores(self, tokens: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every instrument for the query tokens."""
        return self.bm25.scores(tokens, weights)

    def boost(self, sc: np.ndarray) -> np.ndarray:
        """Per-row multiplier from the instruments' scores (`scores`): 1 + ROUTE_GAIN x (min-max normalised score of
        the row's instrument among the top)."""
        out = np.ones(len(self.law_of_row), dtype=np.float32)
        n = min(ROUTE_TOP, len(sc))
        top = np.argsort(-sc)[:n]
        top = top[sc[top] > 0]
        if len(top) == 0:
            return out
        lo, hi = float(sc[top].min()), float(sc[top].max())
        lift = np.zeros(len(sc) + 1, dtype=np.float32)  # the spare last cell serves rows of no instrument (-1)
        lift[top] = (sc[top] - lo) / (hi - lo) if hi > lo else 1.0
        return out + ROUTE_GAIN * lift[self.law_of_row]
