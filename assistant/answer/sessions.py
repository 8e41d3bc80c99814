"""Server-side chat sessions: in-memory, with a time-to-live and a maximum size (least recently used evicted)."""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field


class UnknownSession(KeyError):
    """No live session with this id (never created, expired or evicted): HTTP 404 / exit 2."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the message readable
        return str(self.args[0]) if self.args else "unknown session"


@dataclass
class Turn:
    role: str  # user | assistant
    content: str
    query: str = ""  # user turns: the standalone (rewritten) question used for retrieval
    intent: str = ""


@dataclass
class Session:
    id: str
    turns: list[Turn] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    touched: float = field(default_factory=time.time)

    def last_query(self) -> str:
        for t in reversed(self.turns):
            if t.role == "user":
                return t.query or t.content
        return ""

    def history(self) -> list[dict]:
        return [{"role": t.role, "content": t.content} for t in self.turns]


class SessionStore:
    """Thread-safe id -> Session map. Sessions idle longer than ttl_s expire; beyond max_size the LRU goes."""

    def __init__(self, ttl_s: float = 3600.0, max_size: int = 1000, max_turns: int = 40):
        if ttl_s <= 0 or max_size <= 0:
            raise ValueError("ttl_s and max_size must be positive")
        self.ttl_s = ttl_s
        self.max_size = max_size
        self.max_turns = max_turns
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(time.time())
            return len(self._items)

    def _expire(self, now: float) -> None:
        while self._items:
            sid, s = next(iter(self._items.items()))
            if now - s.touched <= self.ttl_s:
                break
            del self._items[sid]

    def create(self) -> Session:
        with self._lock:
            now = time.time()
            self._expire(now)
            s = Session(secrets.token_urlsafe(12), created=now, touched=now)
            self._items[s.id] = s
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)
            return s

    def get(self, session_id: str) -> Session:
        with self._lock:
            now = time.time()
            self._expire(now)
            s = self._items.get(session_id) if isinstance(session_id, str) else None
            if s is None:
                raise UnknownSession(f"会话不存在或已过期 unknown or expired session: {session_id}")
            s.touched = now
            self._items.move_to_end(session_id)
            return s

    def append(self, session: Session, *turns: Turn) -> None:
        with self._lock:
            session.turns.extend(turns)
            del session.turns[: max(0, len(session.turns) - self.max_turns)]
            session.touched = time.time()
            if session.id in self._items:
                self._items.move_to_end(session.id)

    def delete(self, session_id: str) -> None:
        with self._lock:
            if self._items.pop(session_id, None) is None:
                raise UnknownSession(f"会话不存在或已过期 unknown or expired session: {session_id}")


class FileSessionStore(SessionStore):
    """For the CLI, where each call is a new process: the same store, persisted to a JSON file."""

    def __init__(self, path, **kw):
        super().__init__(**kw)
        from pathlib import Path

        self.path = Path(path)
        self._load()

    def _load(self) -> None:
        import json

        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for d in sorted(data if isinstance(data, list) else [], key=lambda d: d.get("touched", 0)):
            try:
                turns = [Turn(**t) for t in d["turns"]]
                self._items[d["id"]] = Session(d["id"], turns, d["created"], d["touched"])
            except (KeyError, TypeError):
                continue
        self._expire(time.time())

    def _save(self) -> None:
        import json
        import os
        from dataclasses import asdict

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with self._lock:
            data = [asdict(s) for s in self._items.values()]
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def create(self) -> Session:
        s = super().create()
        self._save()
        return s

    def append(self, session: Session, *turns: Turn) -> None:
        super().append(session, *turns)
        self._save()
