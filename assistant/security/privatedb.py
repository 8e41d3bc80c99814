"""One opener for the service's private SQLite files (API keys, audit log): created owner-only (0600)."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path


def open_private_db(path: Path, init: Callable[[sqlite3.Connection], None], timeout: float,
                    isolation_level: str | None = "") -> sqlite3.Connection:
    """Connect (shared across threads; callers hold their own lock), run init, and restrict a new file to its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    conn = sqlite3.connect(path, check_same_thread=False, timeout=timeout, isolation_level=isolation_level)
    init(conn)
    if new:
        os.chmod(path, 0o600)
    return conn
