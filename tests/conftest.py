"""Shared fixtures: one small real index (lexical; statutes + regulations + guiding + policy) per test session."""
from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.config import Settings, get_settings  # noqa: E402

SHARED = get_settings().resolved_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data not present")


@pytest.fixture(scope="session")
def small_settings(tmp_path_factory) -> Settings:
    if SHARED is None:
        pytest.skip("../shared/data not present")
    idx = tmp_path_factory.mktemp("index")
    s = Settings(index_dir=idx, sources="statutes,regulations,guiding,policy", dense=False, local_dir=idx / "no-local")
    from assistant.index.builder import build_lexical

    build_lexical(s, show=False)
    return s


@pytest.fixture(scope="session")
def small_searcher(small_settings):
    from assistant.retrieval.search import Searcher

    return Searcher.open(small_settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app, name: str = "uvicorn-test"):
    """Serve app with uvicorn on a loopback port in a thread; yields the base URL."""
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    t = threading.Thread(target=srv.run, name=name, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not srv.started and t.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{srv.config.port}"
    finally:
        srv.should_exit = True
        t.join(15)


def stop_process(proc, timeout: float = 10) -> None:
    """Terminate a helper server process, killing it if it does not exit in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
