"""Evaluation harness: statute QA (recall/MRR), case retrieval (NDCG/P/R), peer comparison, reports."""
from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from assistant.text import law_key, normalize_article

REPORTS = Path(__file__).resolve().parent / "reports"


class DatasetError(ValueError):
    pass


def read_jsonl(path: Path, required: tuple[str, ...]) -> list[dict]:
    if not path.is_file():
        raise DatasetError(f"数据集不存在 dataset not found: {path}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path.name}:{n}: invalid JSON ({exc.msg})") from exc
        missing = [k for k in required if k not in rec]
        if missing:
            raise DatasetError(f"{path.name}:{n}: missing field(s) {', '.join(missing)}")
        out.append(rec)
    if not out:
        raise DatasetError(f"数据集为空 dataset is empty: {path}")
    return out


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    if not path.is_file():
        raise DatasetError(f"qrels not found: {path}")
    out: dict[str, dict[str, int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise DatasetError(f"{path.name}:{n}: expected 'qid 0 docid rel'")
        out.setdefault(parts[0], {})[parts[2]] = int(parts[3])
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    v = sorted(values)
    i = min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))
    return v[i]


def latency_stats(ms: list[float]) -> dict:
    return {"latency_ms_p50": round(statistics.median(ms), 2), "latency_ms_p95": round(pct(ms, 95), 2)}


def gold_keys(gold: list[dict]) -> set[tuple[str, str]]:
    return {(law_key(g["law"]), normalize_article(g["article"])) for g in gold}


def eval_statutes(items: list[dict], ranker: Callable[[str], list[tuple[str, str]]], k: int = 10) -> dict:
    """ranker(question) -> ranked [(law title, article label or key)]."""
    r1 = r5 = mrr = 0.0
    ms: list[float] = []
    per: list[dict] = []
    for it in items:
        gold = gold_keys(it["gold"])
        t = time.perf_counter()
        ranked = ranker(it["question"])[:k]
        ms.append((time.perf_counter() - t) * 1000)
        keys = [(law_key(t_), a if a.replace("-", "").isdigit() else normalize_article(a)) for t_, a in ranked]
        found = [i for i, key in enumerate(keys) if key in gold]
        r1 += len({keys[i] for i in found if i < 1}) / len(gold)
        r5 += len({keys[i] for i in found if i < 5}) / len(gold)
        mrr += 1 / (found[0] + 1) if found else 0
        per.append({"question": it["question"], "rank": found[0] + 1 if found else None, "top": ranked[:3]})
    n = len(items)
    return {"n": n, "recall@1": round(r1 / n, 4), "recall@5": round(r5 / n, 4), "mrr@10": round(mrr / n, 4),
            **latency_stats(ms), "_per_question": per}


def ndcg(ranked: list[str], rels: dict[str, int], k: int) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def eval_cases(queries: list[dict], qrels: dict[str, dict[str, int]], ranker: Callable[[str], list[str]]) -> dict:
    """ranker(text) -> ranked doc ids. Queries without relevant docs are skipped."""
    nd = p5 = r20 = 0.0
    ms: list[float] = []
    per = []
    used = [q for q in queries if any(v > 0 for v in qrels.get(str(q["qid"]), {}).values())]
    if not used:
        raise DatasetError("no query has a relevant document in the qrels")
    for q in used:
        rels = qrels[str(q["qid"])]
        t = time.perf_counter()
        ranked = ranker(q["text"])
        ms.append((time.perf_counter() - t) * 1000)
        relevant = {d for d, r in rels.items() if r > 0}
        nd_q = ndcg(ranked, rels, 10)
        nd += nd_q
        p5 += sum(1 for d in ranked[:5] if d in relevant) / 5
        r20 += sum(1 for d in ranked[:20] if d in relevant) / len(relevant)
        per.append({"qid": q["qid"], "ndcg@10": round(nd_q, 4), "top": ranked[:5]})
    n = len(used)
    return {"n": n, "ndcg@10": round(nd / n, 4), "p@5": round(p5 / n, 4), "recall@20": round(r20 / n, 4),
            **latency_stats(ms), "_per_query": per}


def write_report(name: str, title: str, metrics: dict, chart: dict[str, dict[str, float]], extra_md: str = "") -> Path:
    """Markdown report with a bar chart of the main metrics (series name -> {metric: value})."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    REPORTS.mkdir(parents=True, exist_ok=True)
    png = REPORTS / f"{name}.png"
    fig, ax = plt.subplots(figsize=(7, 3.2))
    series = list(chart)
    metric_names = list(next(iter(chart.values())))
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [j + i * width for j in range(len(metric_names))]
        ax.bar(xs, [chart[s].get(m, 0) for m in metric_names], width, label=s)
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(metric_names))], metric_names)
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title(name)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    public = {k: v for k, v in metrics.items() if not k.startswith("_")}
    md = [f"# {title}", "", f"Generated {time.strftime('%Y-%m-%d %H:%M')}.", "", "| metric | value |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in public.items() if not isinstance(v, dict)]
    for k, v in public.items():
        if isinstance(v, dict):
            md += ["", f"## {k}", "", "| metric | value |", "|---|---|"] + [f"| {a} | {b} |" for a, b in v.items()]
    md += ["", f"![chart]({png.name})", "", extra_md]
    path = REPORTS / f"{name}.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path
