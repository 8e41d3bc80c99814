"""assistant chat "问题" [--session ID] [--json] | assistant eval chat: grounded Q&A and its evaluation."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markdown import Markdown

from ..cli import _emit, _searcher, app, eval_app, fail, user_errors
from ..config import get_settings


def _session_file() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mingze" / "chat_sessions.json"
    return Path(os.environ.get("ASSISTANT_CHAT_SESSIONS") or default)


@app.command()
@user_errors
def chat(
    question: str = typer.Argument(..., help="问题 question; a follow-up when --session is given"),
    session: Optional[str] = typer.Option(None, "--session", help="继续已有会话 continue a session (id printed by an earlier call)"),
    agent: bool = typer.Option(False, "--agent", help="让模型调用工具 let the LLM call tools (needs an LLM)"),
    as_json: bool = typer.Option(False, "--json"),
):
    """问答 grounded Q&A with numbered, verified citations (deterministic without an LLM)."""
    from ..answer.chat import ChatService
    from ..answer.sessions import FileSessionStore, UnknownSession

    svc = ChatService(_searcher(), get_settings(), sessions=FileSessionStore(_session_file()))
    try:
        res = svc.answer([{"role": "user", "content": question}], session_id=session, agent=agent)
    except UnknownSession as exc:
        fail(str(exc))
    if as_json:
        _emit(res.to_dict(), True)
        return
    out = Console()
    if res.rewritten_query != question:
        out.print(f"[dim]改写 rewritten: {res.rewritten_query}[/dim]")
    out.print(Markdown(res.answer))
    for r in res.removed_citations:
        out.print(f"[yellow]已删除 removed[/yellow] {r.get('citation')}: {r.get('reason')}")
    out.print(f"[dim]会话 session: {res.session_id}  意图 intent: {res.intent}[/dim]")


def _gold_hit(searcher, res, gold: set[tuple[str, str]]) -> bool:
    from ..answer.llm import own_citations
    from ..text import law_key

    keys = {(law_key(s["title"]), s["article"] and _key(s["article"])) for s in res.sources}
    keys |= {(law_key(c.law), c.article_key) for c in own_citations(searcher, res.answer, _bodies(res)) if c.exists}
    return bool(keys & gold)


def _bodies(res) -> list[str]:
    return [s["text"] for s in res.sources]


def _key(article: str) -> str:
    from ..text import normalize_article

    return normalize_article(article)


@eval_app.command("chat")
@user_errors
def eval_chat_cmd(
    dataset: Path = typer.Option(..., "--dataset", help="JSONL {question, gold:[{law, article}]}"),
    ooc: Optional[Path] = typer.Option(None, "--ooc", help="JSONL {question}: out-of-corpus questions (should be refused)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N questions of each set"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """问答评测 chat: cited_gold@answer, unverifiable rate, refusal / false refusal, latency (no LLM)."""
    from evals.harness import gold_keys, latency_stats, read_jsonl, write_report

    from ..answer.chat import ChatService
    from ..answer.llm import own_citations
    from ..answer.sessions import SessionStore

    settings = get_settings().model_copy(update={"llm_base_url": "", "llm_model": ""})
    searcher = _searcher()
    svc = ChatService(searcher, settings, sessions=SessionStore(max_size=10))
    items = read_jsonl(dataset, ("question", "gold"))[:limit]
    t = time.perf_counter()
    svc.answer([{"role": "user", "content": items[0]["question"]}])  # builds the lazy role/citation indexes
    warmup_ms = (time.perf_counter() - t) * 1000

    def run(q: str):
        t = time.perf_counter()
        res = svc.answer([{"role": "user", "content": q}])
        ms.append((time.perf_counter() - t) * 1000)
        bad = [c.citation for c in own_citations(searcher, res.answer, _bodies(res)) if not c.exists]
        return res, bad

    ms: list[float] = []
    cited = refused = unverifiable = 0
    misses, false_refusals, bad_rows = [], [], []
    for it in items:
        res, bad = run(it["question"])
        unverifiable += bool(bad)
        if bad:
            bad_rows.append({"question": it["question"], "citations": bad})
        if res.insufficient:
            refused += 1
            false_refusals.append({"question": it["question"], "why": res.warnings[:2]})
        elif _gold_hit(searcher, res, gold_keys(it["gold"])):
            cited += 1
        else:
            misses.append({"question": it["question"], "gold": it["gold"], "top": [s["heading"] for s in res.sources[:3]]})
    n = len(items)
    out = {"n": n, "cited_gold@answer": round(cited / n, 4), "unverifiable_rate": round(unverifiable / n, 4),
           "false_refusal_rate": round(refused / n, 4), **latency_stats(ms), "warmup_ms": round(warmup_ms, 1)}
    answered_ooc = []
    if ooc:
        oitems = read_jsonl(ooc, ("question",))[:limit]
        ooc_refused = 0
        for it in oitems:
            res, bad = run(it["question"])
            unverifiable += bool(bad)
            ooc_refused += res.insufficient
            if not res.insufficient:
                answered_ooc.append({"question": it["question"], "top": [s["heading"] for s in res.sources[:2]]})
        out.update({"ooc_n": len(oitems), "refusal_rate": round(ooc_refused / len(oitems), 4),
                    "unverifiable_rate_all": round(unverifiable / (n + len(oitems)), 4), **{
                        k + "_all": v for k, v in latency_stats(ms).items()}})
    if report:
        chart = {"mingze (no LLM)": {m: out[m] for m in ("cited_gold@answer", "false_refusal_rate", "unverifiable_rate")}}
        if ooc:
            chart["mingze (no LLM)"]["refusal_rate(ooc)"] = out["refusal_rate"]
        md = ["## Gold article not cited", ""] + [f"- {m['question']} → gold {m['gold']}; top {m['top']}" for m in misses]
        md += ["", "## False refusals (statute set)", ""] + [f"- {m['question']}: {m['why']}" for m in false_refusals]
        md += ["", "## Out-of-corpus questions answered", ""] + [f"- {m['question']} → {m['top']}" for m in answered_ooc]
        md += ["", "## Unverifiable citations", ""] + [f"- {m['question']}: {m['citations']}" for m in bad_rows]
        out["report"] = str(write_report(f"chat-{dataset.stem}", f"Chat (grounded Q&A, no LLM): {dataset.name}",
                                         out, chart, "\n".join(md)))
    _emit(out, True) if as_json else Console().print_json(data=out)
