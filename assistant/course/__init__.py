"""Pre-service course builder: outline, key provisions, cases, discussion and a quiz with a verified answer key.

    course = build_course(searcher, "错案责任追究", audience="新任法官", hours=4)
    to_markdown(course) / to_docx(course, path) / course.to_dict()
Bad input raises CourseError (a ValueError) with a Chinese + English message.
"""
from __future__ import annotations

import time

from .cases import attach_guiding, attach_similar
from .export import to_docx, to_markdown, write
from .model import CaseRef, Course, CourseError, Module, Provision, Question
from .outline import build_modules
from .quiz import build_quiz
from .topic import audience_roles, check_format, check_inputs, role_label, topic_model

__all__ = ["build_course", "to_markdown", "to_docx", "write", "check_format", "Course", "CourseError", "Module",
           "Provision", "Question", "CaseRef"]


def build_course(searcher, topic: str, audience: str = "新任法官", hours: float = 4, llm=None) -> Course:
    """Build a course deterministically from the corpus; `llm` (a langchain chat model) only rephrases stems."""
    t0 = time.perf_counter()
    topic, audience, hours = check_inputs(topic, audience, hours)
    roles = audience_roles(audience)
    tm = topic_model(searcher, topic)
    warnings: list[str] = []
    modules = build_modules(searcher, tm, roles, hours, warnings, role_label(audience, roles))
    attach_guiding(searcher, tm, modules)
    attach_similar(searcher, tm, modules)
    quiz = build_quiz(searcher, modules)
    generated_by = "deterministic"
    if llm is not None and quiz:
        from .rephrase import rephrase

        n = rephrase(llm, quiz)
        if n:
            generated_by = f"deterministic+llm ({n} stems rephrased)"
    if not quiz:
        warnings.append("未能从所选条文生成测验题 no quiz questions could be generated from the selected provisions")
    course = Course(
        title=f"{topic}岗前培训课程（{audience}）", topic=topic, audience=audience, roles=roles, hours=hours,
        modules=modules, quiz=quiz, readings=_readings(searcher, tm), warnings=warnings, generated_by=generated_by)
    course.stats = {
        "modules": len(modules), "provisions": sum(len(m.provisions) for m in modules),
        "guiding_cases": sum(len(m.cases) for m in modules), "similar_cases": sum(len(m.similar) for m in modules),
        "questions": len(quiz), "quiz_minutes": int(hours * 60 - sum(m.minutes for m in modules)),
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    return course


def _readings(searcher, tm, k: int = 3) -> list[dict]:
    """Policy documents on the topic, for further reading (no article citations)."""
    from ..retrieval.search import Filters

    out, seen = [], set()
    for h in searcher.search(tm.topic, k=10, filters=Filters.make(["policy"])):
        c = h.chunk
        if c.doc_id in seen or tm.coverage(c.title + c.text) < 0.6:
            continue
        seen.add(c.doc_id)
        out.append({"title": c.title, "date": c.date, "doc_id": c.doc_id, "chunk_id": c.id})
        if len(out) == k:
            break
    return out
