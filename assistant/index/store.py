"""Chunk store (SQLite) inside one index generation, plus the atomic generation switch."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..documents import Chunk

CURRENT = "CURRENT"


class ChunkStore:
    """Chunks by row number; columns needed for filtering are held in memory as arrays."""

    def __init__(self, path: Path):
        self.path = path
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        rows = self._conn.execute(
            "SELECT id, doc_id, kind, status, title, article_key, issuer, date FROM chunks ORDER BY rowid"
        ).fetchall()
        self.ids = [r[0] for r in rows]
        self.doc_ids = [r[1] for r in rows]
        self.kinds = np.array([r[2] for r in rows], dtype=object)
        self.statuses = np.array([r[3] for r in rows], dtype=object)
        self.titles = [r[4] for r in rows]
        self.article_keys = [r[5] for r in rows]
        self.issuers = np.array([r[6] for r in rows], dtype=object)
        self.dates = np.array([r[7] or "" for r in rows], dtype=object)
        self.kind_codes, self.kind_vocab = _encode(self.kinds)
        self.status_codes, self.status_vocab = _encode(self.statuses)
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}
        self.rows_of_doc: dict[str, list[int]] = {}
        for i, d in enumerate(self.doc_ids):
            self.rows_of_doc.setdefault(d, []).append(i)

    def in_values(self, column: str, values) -> np.ndarray:
        """Fast membership mask on a low-cardinality column ('kind' or 'status')."""
        codes, vocab = (self.kind_codes, self.kind_vocab) if column == "kind" else (self.status_codes, self.status_vocab)
        wanted = [vocab[v] for v in values if v in vocab]
        return np.isin(codes, np.array(wanted, dtype=codes.dtype)) if wanted else np.zeros(len(codes), dtype=bool)

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, row: int) -> Chunk:
        (payload,) = self._conn.execute("SELECT json FROM chunks WHERE rowid = ?", (row + 1,)).fetchone()
        return Chunk.from_dict(json.loads(payload))

    def get_many(self, rows: Iterable[int]) -> list[Chunk]:
        return [self.get(r) for r in rows]

    def by_id(self, chunk_id: str) -> Chunk | None:
        row = self.row_of.get(chunk_id)
        return None if row is None else self.get(row)

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        return self.get_many(self.rows_of_doc.get(doc_id, []))

    def rows_containing(self, substring: str) -> list[int]:
        """Rows whose stored JSON contains `substring` (SQL LIKE, a full scan: for rare corpus-wide lookups)."""
        esc = substring.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cur = self._conn.execute("SELECT rowid FROM chunks WHERE json LIKE ? ESCAPE '\\' ORDER BY rowid", (f"%{esc}%",))
        return [r[0] - 1 for r in cur]

    @staticmethod
    def write(path: Path, chunks: Iterable[Chunk]) -> int:
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TABLE chunks (id TEXT UNIQUE, doc_id TEXT, kind TEXT, status TEXT, title TEXT,"
            " article_key TEXT, issuer TEXT, date TEXT, hash TEXT, json TEXT)"
        )
        n = 0
        with conn:
            for c in chunks:
                conn.execute(
                    "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (c.id, c.doc_id, c.kind, c.status, c.title, c.article_key, c.issuer, c.date, c.hash,
                     json.dumps(c.to_dict(), ensure_ascii=False)),
                )
                n += 1
        conn.execute("CREATE INDEX idx_doc ON chunks(doc_id)")
        conn.commit()
        conn.close()
        return n


def _encode(values) -> tuple[np.ndarray, dict[str, int]]:
    vocab: dict[str, int] = {}
    codes = np.fromiter((vocab.setdefault(v, len(vocab)) for v in values), dtype=np.int16, count=len(values))
    return codes, vocab


def new_generation(root: Path) -> Path:
    """A fresh, not yet visible directory for the next index generation."""
    root.mkdir(parents=True, exist_ok=True)
    gen = root / f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.tmp"
    gen.mkdir()
    return gen


def publish(root: Path, gen_tmp: Path) -> Path:
    """Make a finished generation the current one: rename, then swap the CURRENT pointer atomically."""
    final = gen_tmp.with_suffix("")
    gen_tmp.rename(final)
    ptr_tmp = root / f".{CURRENT}.{os.getpid()}"
    ptr_tmp.write_text(final.name, encoding="utf-8")
    with open(ptr_tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(ptr_tmp, root / CURRENT)
    _cleanup(root, keep=final.name)
    return final


def current_generation(root: Path) -> Path | None:
    ptr = root / CURRENT
    if not ptr.is_file():
        return None
    gen = root / ptr.read_text(encoding="utf-8").strip()
    return gen if gen.is_dir() else None


def _cleanup(root: Path, keep: str) -> None:
    """Remove older generations and abandoned temporaries (a killed build leaves *.tmp behind)."""
    for p in root.glob("gen-*"):
        if p.name != keep and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
