"""Quality checks of a built course, independent of how it was built: every answer supported by its cited
text, distractors absent from it, citations passing the checker, no duplicate questions, enough modules."""
from __future__ import annotations

from ..answer.citations import check_one
from ..retrieval.search import QueryError
from .model import Course, Question
from .outline import module_count
from .phrases import norm
from .quiz import BLANK, LETTERS, is_duplicate


def question_problems(searcher, q: Question) -> list[str]:
    """[] when the question's answer is backed by its cited text; otherwise what is wrong."""
    chunk = searcher.store.by_id(q.cite_chunk) if q.cite_chunk else None
    if chunk is None:
        return [f"{q.id}: cited text not found ({q.cite_chunk or 'no citation'})"]
    text = norm(chunk.text)
    bad = []
    if not q.key or norm(q.key) not in text:
        bad.append(f"{q.id}: answer phrase not in the cited text {q.cite}")
    for d in q.distractors:
        if norm(d) in text:
            bad.append(f"{q.id}: distractor {d!r} occurs in the cited text")
    if q.type == "single_choice":
        if len(q.options) != 4 or len(set(q.options)) != 4:
            bad.append(f"{q.id}: needs 4 distinct options")
        elif q.answer not in LETTERS or q.options[LETTERS.index(q.answer)] != q.key:
            bad.append(f"{q.id}: answer letter does not point at the key phrase")
        elif sorted(o for o in q.options if o != q.key) != sorted(q.distractors):
            bad.append(f"{q.id}: wrong options are not the checked distractors")
        if norm(q.key) in norm(q.stem.replace(BLANK, "")):
            bad.append(f"{q.id}: the stem gives the answer away")
    elif q.type == "true_false":
        if norm(q.quote) not in text:
            bad.append(f"{q.id}: the quoted sentence is not in the cited text")
        if q.answer == "错误" and not (q.distractors and norm(q.distractors[0]) in norm(q.stem)):
            bad.append(f"{q.id}: a false statement must carry the distractor")
        if q.answer == "正确" and norm(q.quote) not in norm(q.stem):
            bad.append(f"{q.id}: a true statement must quote the text")
        if q.answer not in ("正确", "错误"):
            bad.append(f"{q.id}: answer must be 正确/错误")
    elif q.type == "case_analysis":
        if not q.answer.strip():
            bad.append(f"{q.id}: no reference answer")
    else:
        bad.append(f"{q.id}: unknown type {q.type}")
    if q.source_kind == "provision":
        try:
            c = check_one(searcher, chunk.title, chunk.article_key)
            if not c.exists or c.repealed:
                bad.append(f"{q.id}: citation {q.cite} fails the checker ({c.reason})")
        except QueryError as exc:
            bad.append(f"{q.id}: citation {q.cite} unparsable ({exc})")
    return bad


def duplicates(quiz: list[Question]) -> int:
    """Questions repeating an earlier one: same stem, same (cited text, key), or a near-identical key."""
    return sum(1 for i, q in enumerate(quiz) if any(is_duplicate(q, o) for o in quiz[:i]))


def citation_failures(searcher, course: Course, markdown: str | None = None) -> list[dict]:
    """Key provisions checked one by one, plus every citation written anywhere in the rendered document."""
    out = []
    for m in course.modules:
        for p in m.provisions:
            c = check_one(searcher, p.law, p.article_key)
            if not c.exists or c.repealed:
                out.append({"citation": p.heading, "reason": c.reason, "where": f"module {m.n}"})
    if markdown:  # our own words: citations inside verbatim quotes of a source are the source's, not ours
        from ..answer.llm import own_citations

        bodies = [p.text for m in course.modules for p in m.provisions]
        for m in course.modules:
            for c in m.cases + m.similar:
                for cid in (c.gist_chunk, c.facts_chunk):
                    ch = searcher.store.by_id(cid) if cid else None
                    if ch is not None:
                        bodies.append(ch.text)
        limit = searcher.settings.max_draft_chars
        for i in range(0, len(markdown), limit):
            for c in own_citations(searcher, markdown[i:i + limit], bodies):
                if (not c.exists or c.repealed) and c.article_key:
                    out.append({"citation": c.citation, "reason": c.reason, "where": "document"})
    return out


def course_quality(searcher, course: Course, markdown: str | None = None) -> dict:
    problems = {q.id: question_problems(searcher, q) for q in course.quiz}
    n = len(course.quiz)
    supported = sum(1 for v in problems.values() if not v)
    by_type: dict[str, int] = {}
    for q in course.quiz:
        by_type[q.type] = by_type.get(q.type, 0) + 1
    cites = citation_failures(searcher, course, markdown)
    need = module_count(course.hours)
    sc = [q for q in course.quiz if q.type == "single_choice" and len(q.distractors) == 3]
    letters = {x: sum(q.answer == x for q in sc) for x in LETTERS}
    ratios = [len(q.key) / (sum(map(len, q.distractors)) / 3) for q in sc if all(q.distractors)]
    with_q = {q.module for q in course.quiz}
    return {
        "modules": len(course.modules), "modules_needed": need, "modules_ok": len(course.modules) >= need,
        "provisions": sum(len(m.provisions) for m in course.modules),
        "guiding_cases": sum(len(m.cases) for m in course.modules),
        "similar_cases": sum(len(m.similar) for m in course.modules),
        "questions": n, "by_type": by_type, "supported": supported,
        "supported_rate": round(supported / n, 4) if n else 0.0,
        "duplicates": duplicates(course.quiz), "citation_failures": cites,
        "role_first_rate": round(sum(bool(m.provisions) and m.provisions[0].role_match for m in course.modules)
                                 / len(course.modules), 4) if course.roles and course.modules else None,
        "modules_with_questions": round(len(with_q) / len(course.modules), 4) if course.modules else 0.0,
        "parallel_distractors": sum(1 for q in course.quiz if q.distractor_from),
        "answer_letters": letters,
        "key_length_ratio": round(sum(ratios) / len(ratios), 3) if ratios else None,
        "problems": [p for v in problems.values() for p in v],
    }
