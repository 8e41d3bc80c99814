"""Trainer tools: pre-service course builder (outline, provisions, cases, quiz with answer key)."""
from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from ..deps import ApiError, SearcherDep, feature
from ..schemas import ERRORS, CourseRequest

router = APIRouter(tags=["courses"])
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@router.post("/v1/courses", responses=ERRORS, summary="培训课程 build a course with quizzes and answer keys")
def build_course(req: CourseRequest, searcher: SearcherDep):
    mod = feature("assistant.course")
    try:
        course = mod.build_course(searcher, req.topic, audience=req.audience, hours=req.hours)
    except mod.CourseError as exc:
        msg = str(exc)
        raise ApiError(400, "bad_course_request", msg, msg) from None
    if req.format == "md":
        return PlainTextResponse(mod.to_markdown(course), media_type="text/markdown; charset=utf-8")
    if req.format == "docx":
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "course.docx"
            mod.to_docx(course, path)
            data = path.read_bytes()
        return Response(data, media_type=DOCX, headers={"Content-Disposition": 'attachment; filename="course.docx"'})
    return course.to_dict()
