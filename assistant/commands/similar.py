"""assistant similar | check-draft | eval elements | eval push: similar-case push, draft check and their evals."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..cli import _emit, _searcher, app, eval_app, user_errors

SCALARS = ("court", "court_level", "case_no", "date", "procedure", "case_type")
SENTENCE = ("prison_months", "probation_months", "fine_yuan")
LISTS = ("charges", "cited_articles", "amounts_yuan")


def read_text_arg(arg: str) -> str:
    """The argument itself, or the file it names (UTF-8); '-' reads standard input."""
    import sys

    if arg == "-":
        return sys.stdin.read()
    p = Path(arg)
    try:
        is_file = len(arg) < 4096 and "\n" not in arg and p.is_file()
    except OSError:
        is_file = False
    if is_file:
        try:
            return p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"文件不是 UTF-8 文本 not a UTF-8 text file: {arg}") from exc
    return arg


@app.command()
@user_errors
def similar(
    text: str = typer.Option(..., "--text", help="文书草稿、案情或问题；或文件路径 draft/facts/question, or a file path"),
    k: int = typer.Option(10, "--k", min=1, max=100),
    kind: Optional[str] = typer.Option(None, "--kind", help="guiding | case"),
    case_type: Optional[str] = typer.Option(None, "--case-type", help="刑事 民事 行政 ..."),
    court_level: Optional[str] = typer.Option(None, "--court-level", help="最高 高级 中级 基层"),
    date_from: Optional[str] = typer.Option(None, "--from"),
    date_to: Optional[str] = typer.Option(None, "--to"),
    source: Optional[str] = typer.Option(None, "--source", help="clcr guiding_cases lawrefbook_cases cail2019_scm"),
    as_json: bool = typer.Option(False, "--json"),
):
    """类案推送 similar cases for a draft, with reasons, highlights and an element comparison."""
    from ..retrieval.cases import CaseFilters
    from ..similar.push import SimilarCases

    f = CaseFilters.make(kind, case_type, court_level, date_from, date_to, source)
    res = SimilarCases(_searcher()).find(read_text_arg(text), k=k, filters=f)
    if as_json:
        _emit(res, True)
        return
    out = Console()
    if not res:
        out.print("未找到类案 no similar cases")
    for i, r in enumerate(res, 1):
        flag = "[bold red]【应当参照】[/bold red]" if r["binding"] else ""
        out.print(f"[bold]{i}. {flag}{r['title']}[/bold] [dim]{r['court']} {r['date']} 相似度 {r['similarity']:.2f} "
                  f"{r['link']}[/dim]")
        out.print("   理由：" + "；".join(r["reasons"]))
        for h in r["highlights"][:1]:
            out.print(f"   [green]本稿[/green] {h['draft'][:80]}\n   [cyan]类案[/cyan] {h['case'][:80]}")


@app.command("check-draft")
@user_errors
def check_draft_cmd(
    file: str = typer.Argument(..., help="文书草稿文件（UTF-8），'-' 为标准输入 draft file, '-' = stdin"),
    as_json: bool = typer.Option(False, "--json"),
    as_md: bool = typer.Option(False, "--md"),
):
    """文书核查 check a draft: citations, outdated provisions, outcome vs similar cases, guiding cases."""
    from ..similar.draft import check_draft, to_markdown

    if file != "-" and not Path(file).is_file():
        raise FileNotFoundError(f"文件不存在 file not found: {file}")
    res = check_draft(_searcher(), read_text_arg(file))
    if as_json:
        _emit(res, True)
    else:
        md = to_markdown(res)
        if as_md:
            typer.echo(md, nl=False)
        else:
            from rich.markdown import Markdown

            Console().print(Markdown(md))


# ---- evaluation ---------------------------------------------------------------------------------------
def _key(field: str, x):
    from assistant.text import law_key, normalize_article

    if field == "cited_articles":
        return law_key(x["law"]), normalize_article(x["article"])
    if field == "amounts_yuan":
        return round(float(x), 2)
    return x


def score_elements(items: list[tuple[dict, dict]]) -> dict:
    """[(gold, predicted)] -> per-field accuracy (scalars) and set precision/recall/F1 (lists)."""
    out: dict = {}
    for f in SCALARS + SENTENCE:
        ok = 0
        for g, p in items:
            gv = (g.get("sentence") or {}).get(f) if f in SENTENCE else g.get(f)
            pv = (p.get("sentence") or {}).get(f) if f in SENTENCE else p.get(f)
            gv, pv = gv or None, pv or None
            num = isinstance(gv, (int, float)) and isinstance(pv, (int, float))
            ok += (gv == pv) or (num and abs(gv - pv) < 0.01)
        out[f] = {"accuracy": round(ok / len(items), 4)}
    for f in LISTS:
        tp = npred = ngold = 0
        for g, p in items:
            gs = {_key(f, x) for x in g.get(f) or []}
            ps = {_key(f, x) for x in p.get(f) or []}
            tp, npred, ngold = tp + len(gs & ps), npred + len(ps), ngold + len(gs)
        prec, rec = tp / npred if npred else 0.0, tp / ngold if ngold else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[f] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4)}
    return out


def _case_texts(path: Path, ids: set[str]) -> dict[str, str]:
    from evals.harness import DatasetError

    if not path.is_file():
        raise DatasetError(f"案例文本不存在 case texts not found: {path}")
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                did = r.get("case_file_id") or r.get("doc_id") or r.get("id")
                if did in ids:
                    out[did] = r["text"]
    return out


@eval_app.command("elements")
@user_errors
def eval_elements_cmd(
    labels: Path = typer.Option(..., "--labels", help="JSONL hand labels {doc_id, court, ..., cited_articles}"),
    texts: Optional[Path] = typer.Option(None, "--texts", help="JSONL {case_file_id, text} (default: CLCR cases)"),
    vocab: bool = typer.Option(True, "--vocab/--no-vocab", help="use the index's 罪名/案由 vocabularies"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """要素抽取评测 element extraction: per-field accuracy / precision / recall."""
    from evals.harness import DatasetError, read_jsonl, write_report

    from ..config import get_settings
    from ..elements import extract

    gold = read_jsonl(labels, ("doc_id",))
    if texts is None:
        data = get_settings().resolved_data_dir()
        if data is None:
            raise DatasetError("no data dir: pass --texts")
        texts = data / "clcr" / "cases.jsonl"
    found = _case_texts(texts, {g["doc_id"] for g in gold})
    missing = [g["doc_id"] for g in gold if g["doc_id"] not in found]
    if missing:
        raise DatasetError(f"{len(missing)} labelled documents have no text, e.g. {missing[0]}")
    charges = causes = None
    if vocab:
        from ..retrieval.cases import case_index
        from ..retrieval.search import IndexMissing

        try:
            ci = case_index(_searcher())
            charges, causes = ci.charges, ci.causes
        except IndexMissing:
            vocab = False
    t0 = time.perf_counter()
    pairs = []
    for g in gold:
        t = found[g["doc_id"]]
        title = next((ln.strip() for ln in t.splitlines() if ln.strip()), "")
        pairs.append((g, extract(t, title=title, charges_vocab=charges, causes_vocab=causes)))
    ms = (time.perf_counter() - t0) * 1000 / len(pairs)
    out = {"n": len(pairs), "vocab": vocab, "ms_per_doc": round(ms, 2), "fields": score_elements(pairs)}
    if report:
        chart = {"mingze": {f: v.get("accuracy", v.get("f1", 0)) for f, v in out["fields"].items()}}
        md = "Scalars: accuracy (empty = empty counts as correct). Lists: set precision / recall / F1."
        flat = {**{k: v for k, v in out.items() if k != "fields"}, **out["fields"]}
        out["report"] = str(write_report(f"elements-{labels.stem}", f"Element extraction: {labels.name}", flat, chart, md))
    _emit(out, True) if as_json else Console().print_json(data=out)


@eval_app.command("push")
@user_errors
def eval_push_cmd(
    queries: Path = typer.Option(..., "--queries", help="JSONL {qid, text} drafts"),
    qrels: Path = typer.Option(..., "--qrels", help="TREC qrels: qid 0 docid rel"),
    k: int = typer.Option(5, "--k", min=1, max=50),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """类案推送评测 similar-case push on drafts: recall@k of the relevant (guiding) cases, latency."""
    from evals.harness import latency_stats, read_jsonl, read_qrels, write_report

    from ..similar.push import SimilarCases

    qs = read_jsonl(queries, ("qid", "text"))
    rels = read_qrels(qrels)
    sc = SimilarCases(_searcher())
    hits, ms, misses, first = 0.0, [], [], 0
    used = [q for q in qs if any(v > 0 for v in rels.get(str(q["qid"]), {}).values())]
    for q in used:
        gold = {d for d, r in rels[str(q["qid"])].items() if r > 0}
        t = time.perf_counter()
        got = [r["doc_id"] for r in sc.find(q["text"], k=k)]
        ms.append((time.perf_counter() - t) * 1000)
        found = gold & set(got)
        hits += len(found) / len(gold)
        first += bool(got) and got[0] in gold
        if not found:
            misses.append({"qid": q["qid"], "gold": sorted(gold), "top": got[:3]})
    n = len(used)
    out = {"n": n, f"recall@{k}": round(hits / n, 4), "hit@1": round(first / n, 4), **latency_stats(ms),
           "misses": misses}
    if report:
        chart = {"mingze": {f"recall@{k}": out[f"recall@{k}"], "hit@1": out["hit@1"]}}
        md = "## Misses\n\n" + "\n".join(f"- {m['qid']}: gold {m['gold']}, top {m['top']}" for m in misses)
        out["report"] = str(write_report(f"push-{queries.stem}", f"Similar-case push: {queries.name}",
                                         {a: b for a, b in out.items() if a != "misses"}, chart, md))
    _emit(out, True) if as_json else Console().print_json(data=out)
