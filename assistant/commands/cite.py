"""assistant cite TEXT | assistant eval citations: verify 《法律》第X条 citations in a text."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from ..cli import _emit, _searcher, app, eval_app, user_errors

CLI_KEYS = ("citation", "exists", "repealed", "status", "law", "article", "reason")


@app.command()
@user_errors
def cite(
    text: str = typer.Argument(..., help="含法条引用的文本 text containing citations, e.g. 《法官法》第46条"),
    as_json: bool = typer.Option(False, "--json"),
):
    """核验法条引用 check the law/article citations in a text (exists, repealed, status)."""
    from ..answer.citations import check_text
    from ..retrieval.search import QueryError

    if not text.strip():
        raise QueryError("文本不能为空 text is empty")
    cites = check_text(_searcher(), text)
    if as_json:
        _emit([{k: c.to_dict()[k] for k in CLI_KEYS} for c in cites], True)
        return
    out = Console()
    if not cites:
        out.print("未发现法条引用 no citations found")
        return
    table = Table(show_lines=True)
    for name in ("引用 citation", "法律 law", "条 article", "存在", "废止", "状态 status", "说明 reason"):
        table.add_column(name, overflow="fold")
    for c in cites:
        table.add_row(c.citation, c.law, c.article + c.item, "是" if c.exists else "否", "是" if c.repealed else "否",
                      c.status, c.reason)
    out.print(table)


def _correct(got, expect: dict) -> list[str]:
    """Mismatching fields of the first citation against an expectation ([] = correct)."""
    from assistant.text import law_key, normalize_article

    bad = [k for k in ("exists", "repealed") if bool(getattr(got, k)) != bool(expect.get(k))]
    if expect.get("law") and law_key(got.law) != law_key(expect["law"]):
        bad.append("law")
    if expect.get("article") and got.article_key != normalize_article(expect["article"]):
        bad.append("article")
    return bad


@eval_app.command("citations")
@user_errors
def eval_citations_cmd(
    dataset: Path = typer.Option(..., "--dataset", help="JSONL {text, expect:{exists, repealed, law, article}}"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """引用核验评测 citation checker accuracy on a labelled dataset (first citation of each text)."""
    from evals.harness import read_jsonl, write_report

    from ..answer.citations import check_text

    items = read_jsonl(dataset, ("text", "expect"))
    searcher = _searcher()
    errors, field_ok = [], {"exists": 0, "repealed": 0}
    for it in items:
        cites = check_text(searcher, it["text"])
        if not cites:
            errors.append({"text": it["text"], "expect": it["expect"], "got": None, "wrong": ["no citation found"]})
            continue
        got = cites[0]
        bad = _correct(got, it["expect"])
        for k in field_ok:
            field_ok[k] += k not in bad
        if bad:
            g = {k: getattr(got, k) for k in ("citation", "law", "article", "exists", "repealed", "status", "reason")}
            errors.append({"text": it["text"], "expect": it["expect"], "got": g, "wrong": bad})
    n = len(items)
    out = {"n": n, "accuracy": round((n - len(errors)) / n, 4), "exists_accuracy": round(field_ok["exists"] / n, 4),
           "repealed_accuracy": round(field_ok["repealed"] / n, 4), "errors": errors}
    if report:
        chart = {"mingze": {m: out[m] for m in ("accuracy", "exists_accuracy", "repealed_accuracy")}}
        md = "## Errors\n\n" + ("\n".join(f"- {e['text']} → wrong {e['wrong']}; got {e['got']}" for e in errors) or "none")
        metrics = {k: v for k, v in out.items() if k != "errors"}
        out["report"] = str(write_report(f"citations-{dataset.stem}", f"Citation checker: {dataset.name}", metrics,
                                         chart, md))
    _emit(out, True) if as_json else Console().print_json(data=out)
