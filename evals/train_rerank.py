"""Train the provision reranker (assistant/retrieval/rerank.py) on a statute QA set and write its weights.

    python evals/train_rerank.py [--train evals/datasets/statute_qa_dev.jsonl] [--test evals/datasets/statute_qa_test.jsonl]

Pairwise logistic regression (gold provision vs every other candidate of the same question), L2 chosen by 5-fold
cross-validation on the training set; one weight vector with the dense index (hybrid) and one without (lexical).
The held-out set is only scored, never trained or tuned on. Needs the full index (`assistant index`, and
`assistant index --dense` for the hybrid vector); prints the figures and writes them into the weights file
(`--dry-run`: print only). `*_ceiling` is recall within the first 5/30/100 of the first stage: the reranker reorders
the first 30, so its recall@1 and recall@5 cannot exceed the recall@30 there.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.retrieval.rerank import FEATURES, WEIGHTS_FILE, Reranker  # noqa: E402
from assistant.retrieval.search import IndexMissing, Searcher  # noqa: E402
from assistant.text import law_key  # noqa: E402
from evals.harness import DatasetError, gold_keys, read_jsonl  # noqa: E402

L2_GRID = (0.003, 0.01, 0.03, 0.1)
FOLDS = 5


CEILING_KS = (5, 30, 100)


def collect(s: Searcher, items: list[dict], positions: list | None = None) -> list[tuple[np.ndarray, np.ndarray, int, int]]:
    """Per question: (features of the pool, gold flags, number of gold articles, gold found before the pool).
    `positions` receives, per question, (gold ranks in the whole first-stage list, number of gold articles)."""
    rr = Reranker(s, {})
    out = []
    for it in items:
        gold = gold_keys(it["gold"])
        c = s.candidates(it["question"])
        if positions is not None:
            first = c.direct[:1] + c.ranked
            positions.append(([i for i, r in enumerate(first)
                               if (law_key(s.store.titles[r]), s.store.article_keys[r]) in gold], len(gold)))
        found_direct = sum((law_key(s.store.titles[r]), s.store.article_keys[r]) in gold for r in c.direct[:1])
        pool = rr.pool(c.ranked)  # the live pool: rows without an article key are never gold
        x = rr.features(c.plan, c.query, pool, c.parts, c.fused) if pool else np.zeros((0, len(FEATURES)))
        y = np.array([(law_key(s.store.titles[r]), s.store.article_keys[r]) in gold for r in pool], dtype=bool)
        out.append((x, y, len(gold), found_direct))
    return out


def metrics(data, w: np.ndarray | None) -> dict:
    """recall@1/@5 and MRR@10 over the pool (direct lookups first, as search does)."""
    r1 = r5 = mrr = 0.0
    for x, y, n_gold, direct in data:
        order = np.argsort(-(x @ w), kind="stable") if w is not None and len(x) else np.arange(len(x))
        ys = np.concatenate([np.ones(direct, dtype=bool), y[order]])
        hits = np.flatnonzero(ys)
        r1 += ys[:1].sum() / n_gold
        r5 += ys[:5].sum() / n_gold
        mrr += 1 / (hits[0] + 1) if len(hits) and hits[0] < 10 else 0.0
    n = max(1, len(data))
    return {"recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4), "mrr@10": round(mrr / n, 4)}


def ceiling(positions: list) -> dict:
    """Recall within the first k of the first stage (before reranking): what no reordering of the top k can beat."""
    n = max(1, len(positions))
    return {f"recall@{k}": round(sum(min(sum(p < k for p in ps), g) / g for ps, g in positions) / n, 4)
            for k in CEILING_KS}


def train(data, l2: float, steps: int = 2000, lr: float = 0.1) -> np.ndarray:
    diffs = [x[g] - x[~y] for x, y, _, _ in data if y.any() and (~y).any() for g in np.flatnonzero(y)]
    if not diffs:
        raise DatasetError("没有可训练的问题 no question has its gold article among the candidates")
    d = np.concatenate(diffs)
    scale = np.abs(d).mean(axis=0) + 1e-9  # features on one scale for the gradient steps
    d = d / scale
    w = np.zeros(d.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(np.clip(d @ w, -30, 30)))
        w -= lr * (-(d * p[:, None]).mean(axis=0) + l2 * w)
    return w / scale


def cross_validate(data, l2: float) -> dict:
    idx = np.random.default_rng(0).permutation(len(data))
    scores = []
    for fold in np.array_split(idx, FOLDS):
        held = set(fold.tolist())
        w = train([data[i] for i in idx if i not in held], l2)
        scores.append(metrics([data[i] for i in fold], w))
    return {m: round(float(np.mean([s[m] for s in scores])), 4) for m in scores[0]}


def main(argv: list[str] | None = None) -> int:
    """Exit 2 with a message on a bad dataset or a missing index; the weights file is only replaced on success."""
    try:
        return _main(argv)
    except (DatasetError, IndexMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", default=str(ROOT / "evals/datasets/statute_qa_dev.jsonl"))
    ap.add_argument("--test", default=str(ROOT / "evals/datasets/statute_qa_test.jsonl"))
    ap.add_argument("--out", default=str(WEIGHTS_FILE))
    ap.add_argument("--modes", default="hybrid,lexical", help="which weight vectors to train (others are kept)")
    ap.add_argument("--dry-run", action="store_true", help="print the figures, leave the weights file as it is")
    a = ap.parse_args(argv)
    train_items = read_jsonl(Path(a.train), ("question", "gold"))
    test_items = read_jsonl(Path(a.test), ("question", "gold")) if a.test else []
    result = {"features": list(FEATURES), "weights": {}, "trained_on": Path(a.train).name, "report": {},
              "trained_at": time.strftime("%Y-%m-%d")}
    if Path(a.out).is_file():  # keep the vectors not trained now
        old = json.loads(Path(a.out).read_text(encoding="utf-8"))
        if old.get("features") == list(FEATURES):
            result["weights"], result["report"] = old.get("weights", {}), old.get("report", {})
    for mode in [m for m in ("hybrid", "lexical") if m in a.modes.split(",")]:
        s = Searcher.open(Settings(dense=mode == "hybrid", rerank=False))
        d = s.dense()
        if mode == "hybrid" and d is None:
            print("hybrid: no dense index, skipped", file=sys.stderr)
            continue
        pos_tr: list = []
        pos_te: list = []
        tr, te = collect(s, train_items, pos_tr), collect(s, test_items, pos_te)
        cv = {l2: cross_validate(tr, l2) for l2 in L2_GRID}
        best = max(L2_GRID, key=lambda l2: (cv[l2]["mrr@10"], cv[l2]["recall@1"]))
        w = train(tr, best)
        rep = {"dense_chunks": d.count() if d else 0, "chunks": len(s.store), "l2": best,
               "train_first_stage": metrics(tr, None), "train_cv": cv[best],
               "train_ceiling": ceiling(pos_tr), "test_ceiling": ceiling(pos_te),
               "test_first_stage": metrics(te, None), "test_reranked": metrics(te, w)}
        print(mode, json.dumps(rep, ensure_ascii=False))
        result["weights"][mode] = {f: round(float(v), 5) for f, v in zip(FEATURES, w)}
        result["report"][mode] = rep
    if not result["weights"]:
        print("no weights trained", file=sys.stderr)
        return 2
    if a.dry_run:
        return 0
    tmp = Path(a.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
