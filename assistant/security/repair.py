"""Detect a damaged index and rebuild it from the sources.

Lexical: the current generation must open and answer a query; else it is rebuilt (build_lexical force=True;
a killed build leaves only *.tmp generations behind, which the next publish removes). Dense: the local Chroma
directory must pass SQLite's quick_check, open, count and answer a query; else it is moved aside to
chroma.corrupt-<time> (kept for inspection) and rebuilt with build_dense. A Chroma server is only checked.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import numpy as np

from ..config import Settings

log = logging.getLogger(__name__)


def check_lexical(s: Settings) -> tuple[bool, str]:
    from ..retrieval.search import Searcher

    try:
        searcher = Searcher.open(s.model_copy(update={"dense": False}))
        searcher.search("法律", k=1)
        return True, f"ok: {len(searcher.store)} chunks"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def check_dense(s: Settings) -> tuple[bool, str]:
    """(ok, reason). No dense index at all is ok (nothing to repair)."""
    from ..index.dense import dense_available, make_embedder, open_dense

    emb = make_embedder(s.embedding_backend)
    if emb is None or not dense_available(s):
        return True, "no dense index"
    db = s.index_dir / "chroma" / "chroma.sqlite3"
    if not s.chroma_host and db.exists():
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                res = conn.execute("PRAGMA quick_check").fetchone()[0]
            finally:
                conn.close()
            if res != "ok":
                return False, f"chroma.sqlite3 quick_check: {res}"
        except sqlite3.Error as exc:
            return False, f"chroma.sqlite3: {exc}"
    try:
        _forget_clients()
        d = open_dense(s, emb)
        n = d.count()
        if n:
            d.search(np.full(emb.dim, 1.0 / np.sqrt(emb.dim), dtype=np.float32), 1)
        return True, f"ok: {n} vectors"
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


def _forget_clients() -> None:
    """Chroma caches one client per path and process; drop them so a moved or rebuilt store is reopened."""
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # pragma: no cover - an older/newer chromadb without the cache
        pass


def move_aside(path: Path) -> Path:
    dest = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while dest.exists():
        dest = dest.with_name(f"{dest.name}-{n}")
        n += 1
    path.rename(dest)
    return dest


def repair(s: Settings, rebuild: bool = True, show: bool = False, dense_limit: int | None = None) -> dict:
    """Check both indexes, rebuild what is damaged. Returns what was found and done."""
    from ..index.builder import build_dense, build_lexical, build_lock

    out: dict = {}
    ok, why = check_lexical(s)
    out["lexical"] = {"ok": ok, "detail": why}
    if not ok and rebuild:
        res = build_lexical(s, show=show, force=True)
        out["lexical"].update(rebuilt=True, chunks=res["chunks"], ok_after=check_lexical(s)[0])
    ok, why = check_dense(s)
    out["dense"] = {"ok": ok, "detail": why}
    if not ok and not s.chroma_host:
        with build_lock(s.index_dir / "dense-lock"):
            _forget_clients()
            out["dense"]["moved_to"] = str(move_aside(s.index_dir / "chroma"))
        log.warning("damaged dense index moved to %s", out["dense"]["moved_to"])
        if rebuild:
            out["dense"]["rebuilt"] = build_dense(s, show=show, limit=dense_limit)
            out["dense"]["ok_after"] = check_dense(s)[0]
    return out
