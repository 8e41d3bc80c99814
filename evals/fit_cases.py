"""Fit the case-ranking weights (assistant/retrieval/cases.py WEIGHTS) on a qrels set and report honestly.

    python evals/fit_cases.py [--queries ../shared/data/clcr/queries.jsonl --qrels ../shared/data/clcr/qrels_dev.txt
                               --split dev]

Features are computed once per query; weights are searched on a grid by coordinate ascent (NDCG@10). Prints the
shipped weights' figures, the fitted weights in-sample, and leave-one-query-out (each query ranked with weights
fitted on the others): the LOO figure is the one to compare, the in-sample one flatters.
Exit 2 with a message on a missing file or index.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.retrieval.cases import WEIGHTS, CaseFilters, CaseRanker, best_rows, combine  # noqa: E402
from assistant.retrieval.search import IndexMissing, Searcher  # noqa: E402
from evals.harness import DatasetError, ndcg, read_jsonl, read_qrels  # noqa: E402

GRID = (0.0, 0.1, 0.25, 0.5, 0.8, 1.0, 1.2, 1.6, 2.0, 2.5, 3.0, 4.0)
ROUNDS = 3


def collect(ranker: CaseRanker, queries: list[dict], qrels: dict, f: CaseFilters):
    mask = ranker.doc_mask(f)
    return [(ranker.features(q["text"], mask), mask, qrels[str(q["qid"])]) for q in queries]


def score(data, w: dict[str, float], ids: list[str]) -> list[float]:
    """NDCG@10 per query, ranked as CaseRanker.scored ranks (same combine and cut)."""
    return [ndcg([ids[r] for r in best_rows(combine(feats, w, mask), 10)], rels, 10) for feats, mask, rels in data]


def fit(data, ids: list[str], names: list[str], start: dict[str, float]) -> dict[str, float]:
    """Coordinate ascent over GRID; 'doc' fixed at 1 (scale)."""
    w = dict(start)
    best = float(np.mean(score(data, w, ids)))
    for _ in range(ROUNDS):
        changed = False
        for n in names:
            if n == "doc":
                continue
            for g in GRID:
                trial = {**w, n: g}
                m = float(np.mean(score(data, trial, ids)))
                if m > best + 1e-9:
                    best, w, changed = m, trial, True
        if not changed:
            break
    return w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", default=str(ROOT.parent / "shared/data/clcr/queries.jsonl"))
    ap.add_argument("--qrels", default=str(ROOT.parent / "shared/data/clcr/qrels_dev.txt"))
    ap.add_argument("--split", default="dev")
    ap.add_argument("--dense", action="store_true", help="also fit the dense feature (needs a near-complete index)")
    a = ap.parse_args(argv)
    try:
        qs = [q for q in read_jsonl(Path(a.queries), ("qid", "text")) if not a.split or q.get("split") == a.split]
        qr = read_qrels(Path(a.qrels))
        s = Searcher.open(Settings())
    except (DatasetError, IndexMissing, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ranker = CaseRanker(s, {"dense": 1.0} if a.dense else None)  # features() computes those weighted
    qs = [q for q in qs if any(v > 0 for v in qr.get(str(q["qid"]), {}).values())]
    if not qs:
        print("error: no query has a relevant document in the qrels", file=sys.stderr)
        return 2
    src = ranker.ci.corpus_of({d for rels in qr.values() for d in rels})
    data = collect(ranker, qs, qr, CaseFilters.make(source=None if src == "all" else src))
    ids = ranker.ci.doc_ids
    names = list(data[0][0])
    shipped = {n: WEIGHTS.get(n, 0.0) for n in names}
    fitted = fit(data, ids, names, shipped)
    loo = []
    for i in range(len(data)):
        rest = data[:i] + data[i + 1:]
        loo += score([data[i]], fit(rest, ids, names, shipped), ids)
    print(json.dumps({"n": len(data), "features": names, "shipped": shipped,
                      "shipped_ndcg@10": round(float(np.mean(score(data, shipped, ids))), 4),
                      "fitted": fitted, "fitted_in_sample_ndcg@10": round(float(np.mean(score(data, fitted, ids))), 4),
                      "leave_one_out_ndcg@10": round(float(np.mean(loo)), 4)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
