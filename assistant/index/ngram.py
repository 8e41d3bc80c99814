"""Character-bigram BM25 over provisions: a second lexical view that does not depend on word segmentation.

jieba splits colloquial and legal phrasings differently (判错案 / 错案, 审委会 / 审判委员会 ...); overlapping Han
bigrams still match the shared parts. Fused with the word-level list in retrieval/search.py.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from .lexical import LexicalIndex

NGRAM_KINDS = ("statute", "regulation", "policy", "local")  # article-like texts (not case documents)
_HAN = re.compile(r"[\u4e00-\u9fff]+")


def char_bigrams(text: str) -> list[str]:
    """Overlapping bigrams of each Han run (a lone character is kept as itself)."""
    out: list[str] = []
    for run in _HAN.findall(text or ""):
        out.extend([run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)])
    return out


class NgramIndex:
    """BM25 over character bigrams of a subset of chunk rows; `scores` returns one value per store row."""

    def __init__(self, bm25: LexicalIndex, rows: np.ndarray, n_rows: int):
        self.bm25, self.rows, self.n_rows = bm25, rows, n_rows
        self.covered = np.zeros(n_rows, dtype=bool)
        self.covered[rows] = True

    @classmethod
    def build(cls, texts: list[str], rows: list[int], n_rows: int) -> "NgramIndex":
        return cls(LexicalIndex.build([char_bigrams(t) for t in texts]), np.asarray(rows, dtype=np.int64), n_rows)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.bm25.save(path / "bm25")
        np.save(path / "rows.npy", self.rows)
        (path / "meta.json").write_text(json.dumps({"n_rows": self.n_rows}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "NgramIndex | None":
        """None when the generation predates this index (search then uses the word-level list alone)."""
        if not (path / "meta.json").is_file():
            return None
        n_rows = json.loads((path / "meta.json").read_text(encoding="utf-8"))["n_rows"]
        return cls(LexicalIndex.load(path / "bm25"), np.load(path / "rows.npy"), n_rows)

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.n_rows, dtype=np.float32)
        out[self.rows] = self.bm25.scores(char_bigrams(query))
        return out
