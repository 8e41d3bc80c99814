"""Append-only audit log in SQLite, each record chained to the previous one by hash.

record hash = sha256(prev_hash + canonical JSON of the record's fields, as stored). One transaction per record
(BEGIN IMMEDIATE, so writers in several processes serialise too); UPDATE and DELETE are refused by triggers.
`verify()` walks the chain and names the first edited, deleted or re-ordered record; a deleted tail shows as
a gap against SQLite's AUTOINCREMENT counter. Keep the printed head hash elsewhere to anchor the chain.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from .privatedb import open_private_db

GENESIS = "0" * 64
FIELDS = ("id", "ts", "key_id", "role", "unit", "method", "path", "status", "query", "source_ids", "answer_hash")
QUERY_CHARS = 500
MAX_SOURCES = 200

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL, key_id TEXT, role TEXT, unit TEXT, method TEXT,
  path TEXT, status INTEGER, query TEXT, source_ids TEXT, answer_hash TEXT, prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
"""


def canonical(record: dict) -> str:
    return json.dumps({k: record.get(k) for k in FIELDS}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, record: dict) -> str:
    return hashlib.sha256((prev_hash + canonical(record)).encode("utf-8")).hexdigest()


def sha256_text(text: str | bytes) -> str:
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_private_db(self.path, _init, timeout=30, isolation_level=None)
        return self._conn

    def append(self, *, key_id: str, role: str = "", unit: str = "", method: str = "", path: str = "",
               status: int = 200, query: str = "", source_ids: list[str] | None = None, answer_hash: str = "") -> dict:
        """Write one record atomically; returns it with its hash. Raises sqlite3.Error (e.g. disk full)."""
        now = time.time()
        rec = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z",
               "key_id": key_id, "role": role, "unit": unit, "method": method, "path": path, "status": int(status),
               "query": (query or "")[:QUERY_CHARS],
               "source_ids": json.dumps(list(dict.fromkeys(source_ids or []))[:MAX_SOURCES], ensure_ascii=False),
               "answer_hash": answer_hash}
        with self._lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
                prev = row[0] if row else GENESIS
                seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
                rec["id"] = (seq[0] if seq else 0) + 1
                rec["prev_hash"], rec["hash"] = prev, chain_hash(prev, rec)
                db.execute(f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) VALUES "
                           f"({', '.join('?' * (len(FIELDS) + 2))})", [rec[k] for k in FIELDS] + [prev, rec["hash"]])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return rec

    def rows(self):
        cur = self._db().execute(f"SELECT {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id")
        for r in cur:
            yield dict(zip((*FIELDS, "prev_hash", "hash"), r))

    def count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM audit").fetchone()[0]

    def verify(self) -> dict:
        """{"ok", "records", "head", "bad_id", "reason"}: the first record that breaks the chain, if any."""
        if not self.path.exists():
            return {"ok": True, "records": 0, "head": GENESIS, "bad_id": None, "reason": "no audit log yet"}
        with self._lock:
            prev, expect, n = GENESIS, 1, 0
            for rec in self.rows():
                n += 1
                if rec["id"] != expect:
                    return _bad(n - 1, prev, expect, f"第 {expect} 条记录缺失（被删除）record {expect} is missing (deleted)")
                if rec["prev_hash"] != prev:
                    return _bad(n - 1, prev, rec["id"], f"第 {rec['id']} 条记录的前序哈希不符（前一条被改动或删除）"
                                                         f" record {rec['id']}: prev_hash does not match the previous record")
                if chain_hash(prev, rec) != rec["hash"]:
                    return _bad(n - 1, prev, rec["id"], f"第 {rec['id']} 条记录被改动 record {rec['id']} was edited "
                                                         f"(hash mismatch)")
                prev, expect = rec["hash"], expect + 1
            seq = self._db().execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
            if seq and seq[0] >= expect:
                return _bad(n, prev, expect, f"第 {expect} 至 {seq[0]} 条记录缺失（末尾被删除）"
                                             f" records {expect}..{seq[0]} are missing (tail deleted)")
        return {"ok": True, "records": n, "head": prev, "bad_id": None, "reason": "intact"}

    def export_csv(self, out: Path) -> int:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        n = 0
        with self._lock, open(out, "w", newline="", encoding="utf-8-sig") as fh:  # BOM: Excel opens 中文 right
            w = csv.writer(fh)
            w.writerow((*FIELDS, "prev_hash", "hash"))
            for rec in self.rows():
                w.writerow([rec[k] for k in (*FIELDS, "prev_hash", "hash")])
                n += 1
        return n

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _init(conn: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """WAL + schema, once per file. Switching the journal mode does not wait for a busy database like
    ordinary writes do, so concurrent first opens (several workers) retry here."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_no_delete'").fetchone():
                conn.executescript(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _bad(n: int, head: str, bad_id: int, reason: str) -> dict:
    return {"ok": False, "records": n, "head": head, "bad_id": bad_id, "reason": reason}
