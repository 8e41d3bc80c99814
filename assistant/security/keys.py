"""API keys with roles and units, stored hashed (sha256 over a per-key salt + the secret) in SQLite.

A key reads `mzk_<id>_<secret>`: the id finds the row, the secret is compared against the stored hash in
constant time. The plain key is shown once, at creation; the database never holds it.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .privatedb import open_private_db

ROLES = ("judge", "prosecutor", "police", "trainer", "admin")
ROLE_ZH = {"judge": "法官", "prosecutor": "检察官", "police": "人民警察", "trainer": "培训师", "admin": "管理员"}
PREFIX = "mzk"
_KEY = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{20,200}})$")


class KeyAdminError(ValueError):
    """Bad key-management input (unknown role, unknown id): exit 2 in the CLI."""


class AuthError(Exception):
    """A request's key is missing, malformed, unknown or revoked (HTTP 401)."""

    def __init__(self, code: str, zh: str, en: str):
        super().__init__(f"{zh} {en}")
        self.code, self.zh, self.en = code, zh, en


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    unit: str
    name: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


LOCAL = Principal("local", "admin", "", "single-user local run (auth off)")


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode("utf-8")).hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _init(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, name TEXT, role TEXT NOT NULL,"
                 " unit TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL,"
                 " revoked_at TEXT)")
    conn.commit()


class KeyStore:
    """keys(id, name, role, unit, salt, hash, created_at, revoked_at); thread-safe, one short query per check."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = open_private_db(self.path, _init, timeout=10)
        return self._conn

    def create(self, role: str, unit: str, name: str = "") -> tuple[str, Principal]:
        """A new key: (the plain key, shown once; its principal)."""
        if role not in ROLES:
            raise KeyAdminError(f"未知角色 unknown role: {role}; choose from {', '.join(ROLES)}")
        unit = (unit or "").strip()
        if not unit:
            raise KeyAdminError("单位不能为空 unit is required (e.g. --unit 某某法院)")
        kid, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(32), secrets.token_hex(16)
        with self._lock:
            db = self._db()
            with db:
                db.execute("INSERT INTO keys VALUES (?,?,?,?,?,?,?,NULL)",
                           (kid, name.strip(), role, unit, salt, _hash(salt, secret), _now()))
        return f"{PREFIX}_{kid}_{secret}", Principal(kid, role, unit, name.strip())

    def revoke(self, key_id: str) -> dict:
        with self._lock:
            db = self._db()
            with db:
                cur = db.execute("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (_now(), key_id))
            if cur.rowcount == 0:
                row = db.execute("SELECT revoked_at FROM keys WHERE id = ?", (key_id,)).fetchone()
                if row is None:
                    raise KeyAdminError(f"密钥不存在 unknown key id: {key_id}")
                raise KeyAdminError(f"密钥已吊销 key already revoked: {key_id} (at {row[0]})")
        return next(k for k in self.list() if k["id"] == key_id)

    def list(self) -> list[dict]:
        with self._lock:
            rows = self._db().execute(
                "SELECT id, name, role, unit, created_at, revoked_at FROM keys ORDER BY created_at, id").fetchall()
        return [dict(zip(("id", "name", "role", "unit", "created_at", "revoked_at"), r)) for r in rows]

    def verify(self, key: str) -> Principal:
        """The key's principal, or AuthError (401) with a reason."""
        m = _KEY.match((key or "").strip())
        if not m:
            raise AuthError("invalid_api_key", "API 密钥格式无效", "malformed API key (expected mzk_<id>_<secret>)")
        kid, secret = m.groups()
        with self._lock:
            row = self._db().execute("SELECT role, unit, name, salt, hash, revoked_at FROM keys WHERE id = ?",
                                     (kid,)).fetchone()
        if row is None or not hmac.compare_digest(_hash(row[3], secret), row[4]):
            raise AuthError("invalid_api_key", "API 密钥无效", "invalid API key")
        if row[5]:
            raise AuthError("revoked_api_key", f"API 密钥已于 {row[5]} 吊销", f"API key revoked at {row[5]}")
        return Principal(kid, row[0], row[1], row[2] or "")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def key_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """`Authorization: Bearer KEY` or `X-API-Key: KEY`; None when neither is sent."""
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    if authorization and authorization.strip():
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise AuthError("invalid_authorization", "Authorization 头格式无效，应为 Bearer 密钥",
                        "malformed Authorization header: expected 'Bearer KEY'")
    return None
