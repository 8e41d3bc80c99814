"""Latency of the similar-case push for 3,000-character drafts (prints figures; not a test).

Drafts are the facts + reasoning + judgment of CLCR judgments (read in place from the shared data, never
copied), cut to 3,000 characters. Run on the real index, lexical only:

    ASSISTANT_DENSE=false python evals/bench_similar.py [--n 30] [--chars 3000] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.config import get_settings  # noqa: E402
from assistant.elements import split_sections  # noqa: E402
from assistant.retrieval.search import Searcher  # noqa: E402
from assistant.similar.draft import check_draft  # noqa: E402
from assistant.similar.push import SimilarCases  # noqa: E402
from evals.harness import pct  # noqa: E402


def drafts(n: int, chars: int) -> list[str]:
    data = get_settings().resolved_data_dir()
    if data is None or not (data / "clcr" / "cases.jsonl").is_file():
        raise SystemExit("needs ../shared/data/clcr/cases.jsonl")
    out: list[str] = []
    with (data / "clcr" / "cases.jsonl").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i % 11:
                continue
            sec = split_sections(json.loads(line)["text"])
            body = "\n".join(sec.get(k, "") for k in ("facts", "reasoning", "judgment"))
            if len(body) >= chars:
                out.append(body[:chars])
            if len(out) >= n:
                break
    return out


def timed(fn, items) -> list[float]:
    ms = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        ms.append((time.perf_counter() - t) * 1000)
    return ms


def stats(ms: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1), "max_ms": round(max(ms), 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--chars", type=int, default=3000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    t = time.perf_counter()
    s = Searcher.open(get_settings())
    sc = SimilarCases(s)
    sc.find("醉酒驾驶机动车", k=3)  # warm-up: per-searcher case tables, tokenizer
    warm = (time.perf_counter() - t) * 1000
    items = drafts(a.n, a.chars)
    out = {
        "drafts": len(items), "chars": a.chars, "dense": bool(s.settings.dense), "open_and_warm_ms": round(warm),
        "push_k10": stats(timed(lambda x: sc.find(x, k=10), items)),
        "push_k10_no_highlights": stats(timed(lambda x: sc.find(x, k=10, highlights=False), items)),
        "ranking_only_k10": stats(timed(lambda x: sc.ranker.rank(x, k=10), items)),
        "check_draft": stats(timed(lambda x: check_draft(s, x), items[:10])),
    }
    if a.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for k, v in out.items():
            print(f"{k:24s} {v}")


if __name__ == "__main__":
    main()
