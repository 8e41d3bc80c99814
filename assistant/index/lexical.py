"""BM25 (bm25s) over jieba tokens, with a token cache keyed by content hash so rebuilds re-tokenize nothing."""
from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..lexicon import Lexicon, Tokenizer

K1, B = 1.5, 0.75


class TokenCache:
    """hash -> space-joined tokens, in SQLite; shared across generations (it is only ever added to)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE IF NOT EXISTS tokens (h TEXT PRIMARY KEY, lex TEXT, toks TEXT)")

    def get_many(self, hashes: Sequence[str], lex_id: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for i in range(0, len(hashes), 900):
            part = hashes[i : i + 900]
            q = f"SELECT h, toks FROM tokens WHERE lex = ? AND h IN ({','.join('?' * len(part))})"
            for h, toks in self.conn.execute(q, (lex_id, *part)):
                out[h] = toks.split(" ") if toks else []
        return out

    def put_many(self, items: dict[str, list[str]], lex_id: str) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO tokens VALUES (?,?,?)", [(h, lex_id, " ".join(t)) for h, t in items.items()]
            )

    def close(self) -> None:
        self.conn.close()


_worker_tk: Tokenizer | None = None


def _init_worker(lexicon_path: str) -> None:
    global _worker_tk
    _worker_tk = Tokenizer(Lexicon.load(Path(lexicon_path)))


def _tokenize_batch(job: tuple[str, list[str]]) -> list[list[str]]:
    assert _worker_tk is not None
    mode, texts = job
    fn = _worker_tk.doc_tokens if mode == "doc" else _worker_tk.tokens
    return [fn(t) for t in texts]


def tokenize_all(
    texts: Sequence[str],
    lexicon_path: Path,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    mode: str = "search",
) -> list[list[str]]:
    """Tokenize in worker processes (jieba is single-threaded); order preserved."""
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    batch = 500
    batches = [(mode, list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    out: list[list[str]] = []
    if workers == 1 or len(texts) < 2000:
        _init_worker(str(lexicon_path))
        for b in batches:
            out.extend(_tokenize_batch(b))
            if progress:
                progress(len(b[1]))
        return out
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(str(lexicon_path),)) as ex:
        for b, res in zip(batches, ex.map(_tokenize_batch, batches)):
            out.extend(res)
            if progress:
                progress(len(b[1]))
    return out


class LexicalIndex:
    """One bm25s index; rows align with the ChunkStore (or with a doc list for doc-level indexes)."""

    def __init__(self, bm25):
        self.bm25 = bm25
        self.n = int(bm25.scores["num_docs"]) if hasattr(bm25, "scores") else 0

    @classmethod
    def build(cls, corpus_tokens: list[list[str]], k1: float = K1, b: float = B) -> "LexicalIndex":
        import bm25s

        bm = bm25s.BM25(k1=k1, b=b)
        bm.index([t if t else ["∅"] for t in corpus_tokens], show_progress=False)
        return cls(bm)

    def save(self, path: Path) -> None:
        self.bm25.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path) -> "LexicalIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(path), mmap=False, show_progress=False, verbosity=0))

    def postings(self, token: str) -> np.ndarray:
        """Sorted row ids holding token (empty when unknown), from bm25s's token-major score matrix."""
        j = self.bm25.vocab_dict.get(token)
        if j is None:
            return np.zeros(0, dtype=np.int64)
        ptr = self.bm25.scores["indptr"]
        return self.bm25.scores["indices"][ptr[j] : ptr[j + 1]]

    def df(self, token: str) -> int:
        return len(self.postings(token))

    def idf(self, df: int) -> float:
        """BM25 idf of a term held by df rows (the same formula bm25s scores with)."""
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def scores(self, tokens: list[str], weights: dict[str, float] | None = None) -> np.ndarray:
        """BM25 score of every row. Unknown tokens are ignored; optional per-token weights."""
        vocab = self.bm25.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.n, dtype=np.float32)
        if not weights:
            return self.bm25.get_scores(known)
        total = np.zeros(self.n, dtype=np.float32)
        groups: dict[float, list[str]] = {}
        for t in known:
            groups.setdefault(weights.get(t, 1.0), []).append(t)
        for w, toks in groups.items():
            total += w * self.bm25.get_scores(toks)
        return total
