"""assistant course | assistant eval course: pre-service course builder (outline, provisions, cases, quiz)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from ..cli import _emit, _searcher, app, err, eval_app, user_errors

DEFAULT_TOPICS = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "course_topics.jsonl"


@app.command()
@user_errors
def course(
    topic: str = typer.Option(..., "--topic", help="课程主题 e.g. 错案责任追究"),
    audience: str = typer.Option("新任法官", "--audience", help="法官 / 检察官 / 人民警察（新警）/ 司法辅助人员 / 书记员 …"),
    hours: float = typer.Option(4, "--hours", help="学时 0.5-40"),
    fmt: str = typer.Option("md", "--format", help="md | docx | json"),
    out: Optional[Path] = typer.Option(None, "--out", help="输出文件 output file (required for docx)"),
    use_llm: bool = typer.Option(True, "--llm/--no-llm", help="configured LLM rephrases question stems (answer key unchanged)"),
):
    """岗前培训课程 build a course: modules, key provisions, cases, discussion, quiz with answer key."""
    from ..course import build_course, write
    from ..course.model import CourseError
    from ..course.topic import audience_roles, check_format, check_inputs

    fmt = check_format(fmt)  # bad input fails before the index is opened
    check_inputs(topic, audience, hours)
    audience_roles(audience)
    if fmt == "docx" and out is None:
        raise CourseError("Word 格式需要指定输出文件 --out FILE.docx (docx needs --out)")
    llm = None
    if use_llm:
        from ..answer.llm import make_llm
        from ..config import get_settings

        llm = make_llm(get_settings())
    c = build_course(_searcher(), topic, audience, hours, llm=llm)
    for w in c.warnings:
        err.print(f"[yellow]提示 note:[/yellow] {w}")
    res = write(c, fmt, out)
    if out is not None:
        err.print(f"已写入 written: {res} ({len(c.modules)} modules, {len(c.quiz)} questions)")
    else:
        sys.stdout.write(res if res.endswith("\n") else res + "\n")


def _mean(xs: list[float]) -> float | None:
    return round(sum(xs) / len(xs), 4) if xs else None


def _strip_timing(d: dict) -> dict:
    d = json.loads(json.dumps(d))
    d.get("stats", {}).pop("build_seconds", None)
    return d


@eval_app.command("course")
@user_errors
def eval_course_cmd(
    topics: Path = typer.Option(DEFAULT_TOPICS, "--topics", help="JSONL {topic, audience?, hours?, expect_error?}"),
    as_json: bool = typer.Option(False, "--json"),
    report: bool = typer.Option(True, "--report/--no-report"),
):
    """课程质量评测 course quality: answers supported by cited text, citations pass, no duplicates, modules."""
    from evals.harness import latency_stats, read_jsonl, write_report

    from ..course import build_course, to_markdown
    from ..course.quality import course_quality

    items = read_jsonl(topics, ("topic",))
    s = _searcher()
    per, ms = [], []
    for it in items:
        args = (it["topic"], it.get("audience", "新任法官"), it.get("hours", 4))
        t = time.perf_counter()
        try:
            c = build_course(s, *args)
        except ValueError as exc:
            per.append({"topic": args[0], "audience": args[1], "hours": args[2], "error": str(exc),
                        "ok": bool(it.get("expect_error"))})
            continue
        ms.append((time.perf_counter() - t) * 1000)
        q = course_quality(s, c, to_markdown(c))
        ok = not it.get("expect_error") and q["modules_ok"] and q["supported_rate"] == 1.0 and not q["duplicates"] \
            and not q["citation_failures"] and q["questions"] > 0
        per.append({"topic": args[0], "audience": args[1], "hours": args[2], "ok": ok,
                    **{k: v for k, v in q.items() if k != "problems"}, "problems": q["problems"][:5]})
    built = [p for p in per if "error" not in p]
    n_q = sum(p["questions"] for p in built)
    by_type: dict[str, int] = {}
    for p in built:
        for k, v in p["by_type"].items():
            by_type[k] = by_type.get(k, 0) + v
    first = next((it for it in items if not it.get("expect_error")), None)
    deterministic = None
    if first:
        a = (first["topic"], first.get("audience", "新任法官"), first.get("hours", 4))
        deterministic = _strip_timing(build_course(s, *a).to_dict()) == _strip_timing(build_course(s, *a).to_dict())
    out = {
        "topics": len(items), "built": len(built), "ok_rate": round(sum(p["ok"] for p in per) / len(per), 4),
        "expected_errors_ok": sum(1 for p, it in zip(per, items) if it.get("expect_error") and "error" in p),
        "expected_errors": sum(1 for it in items if it.get("expect_error")),
        "modules_ok_rate": round(sum(p["modules_ok"] for p in built) / len(built), 4) if built else 0.0,
        "mean_modules": round(sum(p["modules"] for p in built) / len(built), 2) if built else 0.0,
        "questions": n_q, "questions_by_type": by_type,
        "supported_rate": round(sum(p["supported"] for p in built) / n_q, 4) if n_q else 0.0,
        "citation_failures": sum(len(p["citation_failures"]) for p in built),
        "duplicate_questions": sum(p["duplicates"] for p in built),
        "mean_guiding_cases": round(sum(p["guiding_cases"] for p in built) / len(built), 2) if built else 0.0,
        "mean_similar_cases": round(sum(p["similar_cases"] for p in built) / len(built), 2) if built else 0.0,
        "role_first_rate": _mean([p["role_first_rate"] for p in built if p["role_first_rate"] is not None]),
        "modules_with_questions": _mean([p["modules_with_questions"] for p in built]),
        "parallel_distractor_questions": sum(p["parallel_distractors"] for p in built),
        "answer_letters": {x: sum(p["answer_letters"][x] for p in built) for x in "ABCD"},
        "key_length_ratio": _mean([p["key_length_ratio"] for p in built if p["key_length_ratio"] is not None]),
        "deterministic": deterministic, **(latency_stats(ms) if ms else {}), "per_topic": per,
    }
    if report:
        chart = {"mingze": {"ok_rate": out["ok_rate"], "supported": out["supported_rate"],
                            "modules_ok": out["modules_ok_rate"]}}
        rows = ["| topic | audience | h | ok | modules | questions | supported | cite fails | dups | guiding | similar |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for p in per:
            if "error" in p:
                rows.append(f"| {p['topic']} | {p['audience']} | {p['hours']} | {p['ok']} | error: {p['error'][:60]} |||||||")
            else:
                rows.append(f"| {p['topic']} | {p['audience']} | {p['hours']} | {p['ok']} | {p['modules']}/{p['modules_needed']} | "
                            f"{p['questions']} | {p['supported_rate']} | {len(p['citation_failures'])} | {p['duplicates']} | "
                            f"{p['guiding_cases']} | {p['similar_cases']} |")
        metrics = {k: v for k, v in out.items() if k != "per_topic"}
        out["report"] = str(write_report(f"course-{topics.stem}", f"Course builder: {topics.name}", metrics, chart,
                                         "## Per topic\n\n" + "\n".join(rows)))
    if as_json:
        _emit(out, True)
    else:
        from rich.console import Console

        Console().print_json(data={k: v for k, v in out.items() if k != "per_topic"})
