"""Dense index sync inside the service process, so search uses what is ready and /healthz shows progress.

Runs assistant.index.builder.build_dense in rounds of ROUND chunks (it is incremental by content hash), so a
stop request takes effect between rounds. The Searcher's Chroma client is the process's shared one, so new
vectors are visible to search at once.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from assistant.config import Settings

log = logging.getLogger(__name__)
ROUND = 2048
BUSY_RETRY_S = 60.0
ENV = "ASSISTANT_DENSE_BACKGROUND"


def background_enabled(settings: Settings) -> bool:
    """Settings.dense_background when the settings define it, else env ASSISTANT_DENSE_BACKGROUND (default off)."""
    val = getattr(settings, "dense_background", None)
    if val is None:
        val = os.environ.get(ENV, "0").strip().lower() in ("1", "true", "yes", "on")
    return bool(val) and settings.dense and settings.embedding_backend not in ("", "none")


class DenseWorker:
    def __init__(self, settings: Settings, searcher_fn, max_rounds: int | None = None, round_size: int = ROUND):
        self.settings = settings
        self.max_rounds, self.round_size = max_rounds, round_size
        self.searcher_fn = searcher_fn
        self.state = "idle"  # idle | checking | running | waiting | complete | stopped | failed
        self.message = ""
        self.embedded = 0
        self.rounds = 0
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "DenseWorker":
        self.started_at = time.time()
        self._thread = threading.Thread(target=self._run, name="dense-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def info(self) -> dict:
        return {"state": self.state, "message": self.message, "embedded": self.embedded, "rounds": self.rounds,
                "started_at": self.started_at, "finished_at": self.finished_at}

    def _complete(self) -> bool:
        searcher = self.searcher_fn()
        if searcher is None:
            return False
        d = searcher.dense()
        return d is not None and d.count() >= len(searcher.store)

    def _run(self) -> None:
        from assistant.index.builder import IndexBusy, build_dense

        try:
            self.state = "checking"
            if self._complete():
                self.state, self.message = "complete", "dense index already complete"
                return
            self.state = "running"
            while not self._stop.is_set():
                try:
                    res = build_dense(self.settings, show=False, limit=self.round_size)
                except IndexBusy:
                    self.state = "waiting"
                    self.message = "另一个进程正在向量化 another process is embedding; retrying"
                    self._stop.wait(BUSY_RETRY_S)
                    continue
                self.state, self.message = "running", ""
                self.rounds += 1
                self.embedded += int(res.get("embedded", 0))
                if not res.get("embedded"):
                    self.state, self.message = "complete", f"total {res.get('total')}"
                    return
                if self.max_rounds is not None and self.rounds >= self.max_rounds:
                    break
            self.state = "stopped"
        except Exception as exc:  # never take the service down: search stays lexical
            log.warning("dense background sync failed: %s", exc)
            self.state, self.message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.finished_at = time.time()
