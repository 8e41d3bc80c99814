"""Load test (`make load`): N concurrent clients for T seconds on search and chat against a real server.

Starts uvicorn (the real app, serving configuration: API keys on, audit log on, rate limit off so that clients
are not throttled) on a free loopback port over an index, runs `clients` threads that alternate POST /v1/search
and POST /v1/chat with the statute QA questions, then stops everything by itself. Prints p50/p95 per endpoint
and the error count; checks afterwards that the audit log holds one intact record per answered request.

    python -m evals.load [--clients 50] [--seconds 60] [--workers 1] [--index-dir DIR] [--no-auth] [--report]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from .harness import REPORTS, pct, read_jsonl

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
QUESTIONS = ROOT / "datasets" / "statute_qa_dev.jsonl"
STARTUP_S = 180.0
REQUEST_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, port: int, env_extra: dict[str, str], workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "ASSISTANT_INDEX_DIR": str(index_dir), "ASSISTANT_DENSE_BACKGROUND": "0",
           "ASSISTANT_LLM_BASE_URL": "", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env_extra}
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, url: str, timeout: float = STARTUP_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
        try:
            r = httpx.get(f"{url}/healthz", timeout=5)
            if r.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server not ready after {timeout:.0f}s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def client_loop(url: str, key: str | None, questions: list[str], offset: int, seconds: float, out: list,
                start: threading.Barrier) -> None:
    """Warm up (one search, one chat), wait for every client, then loop for `seconds`."""
    headers = {"X-API-Key": key} if key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as c:
        warm = []  # one search and one chat per client before the clock starts (lazy loads in each worker)
        for body, ep in (({"query": questions[offset % len(questions)]}, "search"), ({"message": questions[0]}, "chat")):
            try:
                r = c.post(f"/v1/{ep}", json=body)
                warm.append(None if r.status_code == 200 else f"warm-up HTTP {r.status_code}: {r.text[:200]}")
            except httpx.HTTPError as exc:
                warm.append(f"warm-up {type(exc).__name__}: {exc}")
        out.extend(("warmup", 0.0, e) for e in warm if e)
        try:
            start.wait(timeout=3 * REQUEST_TIMEOUT_S)
        except threading.BrokenBarrierError:
            out.append(("warmup", 0.0, "clients did not all start (warm-up too slow)"))
            return
        deadline = time.monotonic() + seconds
        i = offset
        while time.monotonic() < deadline:
            q = questions[i % len(questions)]
            endpoint = "search" if i % 2 == 0 else "chat"
            body = {"query": q, "k": 10} if endpoint == "search" else {"message": q}
            t = time.perf_counter()
            try:
                r = c.post(f"/v1/{endpoint}", json=body)
                err = None if r.status_code == 200 else f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as exc:
                err = f"{type(exc).__name__}: {exc}"
            out.append((endpoint, (time.perf_counter() - t) * 1000, err))
            i += 1


def run(clients: int = 50, seconds: float = 60.0, index_dir: Path | None = None, auth: bool = True,
        dense: bool = False, report: bool = False, workers: int = 1) -> dict:
    from assistant.config import get_settings

    index_dir = Path(index_dir or get_settings().index_dir)
    questions = [r["question"] for r in read_jsonl(QUESTIONS, ("question", "gold"))]
    with tempfile.TemporaryDirectory(prefix="mingze-load-") as tmp:
        keys_db, audit_db = Path(tmp) / "keys.sqlite", Path(tmp) / "audit.sqlite"
        env = {"ASSISTANT_DENSE": "true" if dense else "false", "ASSISTANT_AUTH_ENABLED": "true" if auth else "false",
               "ASSISTANT_KEYS_DB": str(keys_db), "ASSISTANT_AUDIT_DB": str(audit_db), "ASSISTANT_RATE_LIMIT_PER_MIN": "0"}
        keys: list[str | None] = [None] * clients
        if auth:
            from assistant.security.keys import ROLES, KeyStore

            ks = KeyStore(keys_db)
            keys = [ks.create(ROLES[i % 4], f"单位{i:02d}", f"load client {i}")[0] for i in range(clients)]
            ks.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(index_dir, port, env, workers)
        results: list = []
        try:
            t0 = time.perf_counter()
            wait_ready(proc, url)
            startup = time.perf_counter() - t0
            began: list[float] = []
            start = threading.Barrier(clients, action=lambda: began.append(time.perf_counter()))
            threads = [threading.Thread(target=client_loop, args=(url, keys[i], questions, i * 7, seconds, results, start),
                                        daemon=True) for i in range(clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(seconds + 3 * REQUEST_TIMEOUT_S + 10)
            wall = time.perf_counter() - began[0] if began else 0.0
        finally:
            stop_server(proc)
        res: dict = {"clients": clients, "seconds": seconds, "wall_s": round(wall, 1), "startup_s": round(startup, 1),
                     "index_dir": str(index_dir), "auth_and_audit": auth, "dense": dense, "workers": workers,
                     "requests": sum(1 for r in results if r[0] != "warmup"), "errors": sum(1 for r in results if r[2]),
                     "throughput_rps": round(sum(1 for r in results if r[0] != "warmup") / wall, 1) if wall else 0.0}
        for ep in ("search", "chat"):
            ms = [r[1] for r in results if r[0] == ep and not r[2]]
            res[ep] = {"n": len(ms), "errors": sum(1 for r in results if r[0] == ep and r[2]),
                       **({"p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
                           "max_ms": round(max(ms), 1)} if ms else {})}
        res["error_samples"] = sorted({r[2] for r in results if r[2]})[:5]
        if auth:
            from assistant.security.audit import AuditLog

            log = AuditLog(audit_db)
            v = log.verify()
            res["audit"] = {"records": v["records"], "intact": v["ok"],
                            "answered": 2 * clients + res["requests"] - res["errors"]}  # warm-up requests included
            log.close()
    if report:
        write_report(res)
    return res


def write_report(res: dict) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "load.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = [f"| {ep} | {res[ep]['n']} | {res[ep].get('p50_ms', '-')} | {res[ep].get('p95_ms', '-')} | {res[ep]['errors']} |"
            for ep in ("search", "chat")]
    md = [f"# Load: {res['clients']} clients × {res['seconds']:.0f} s", "",
          f"Generated {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores; {res['workers']} uvicorn process(es); clients on the"
          f" same machine. Index {res['index_dir']}; auth+audit {'on' if res['auth_and_audit'] else 'off'};"
          f" dense {'on' if res['dense'] else 'off'}.", "",
          "| endpoint | requests | p50 ms | p95 ms | errors |", "|---|---|---|---|---|", *rows, "",
          f"Throughput {res['throughput_rps']} req/s; errors {res['errors']}; audit {res.get('audit')}.", ""]
    path = REPORTS / "load.md"
    path.write_text("\n".join(md), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--no-auth", action="store_true", help="serve without API keys and audit")
    ap.add_argument("--dense", action="store_true", help="use the dense index too")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (the audit chain spans them)")
    ap.add_argument("--report", action="store_true", help="write evals/reports/load.md/json")
    a = ap.parse_args(argv)
    if not (1 <= a.clients <= 500 and 1 <= a.seconds <= 3600):
        print("错误 error: clients must be 1..500 and seconds 1..3600", file=sys.stderr)
        return 2
    res = run(a.clients, a.seconds, a.index_dir, auth=not a.no_auth, dense=a.dense, report=a.report, workers=a.workers)
    print(f"{res['clients']} clients × {res['seconds']:.0f} s: {res['requests']} requests, {res['errors']} errors, "
          f"{res['throughput_rps']} req/s")
    for ep in ("search", "chat"):
        r = res[ep]
        print(f"  {ep:6s} n={r['n']:5d}  p50 {r.get('p50_ms', '-')} ms  p95 {r.get('p95_ms', '-')} ms  errors {r['errors']}")
    if res.get("audit"):
        print(f"  audit: {res['audit']}")
    print(json.dumps(res, ensure_ascii=False))
    return 1 if res["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
