"""Similar-case push and draft checking."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import SearcherDep, SettingsDep, StateDep, check_text, feature
from ..schemas import ERRORS, SimilarRequest, SimilarResponse, TextRequest

router = APIRouter(tags=["cases"])


@router.post("/v1/similar-cases", response_model=SimilarResponse, responses=ERRORS,
             summary="类案推送 similar cases for a case description or draft")
def similar_cases(req: SimilarRequest, searcher: SearcherDep, settings: SettingsDep, st: StateDep):
    check_text(req.text, settings.max_draft_chars, "案情", "text")
    mod = feature("assistant.similar.push")
    filters = req.filters.model_dump(exclude_none=True) if req.filters else None
    finder = st.service("similar", lambda: mod.SimilarCases(searcher))
    cases = finder.find(req.text, k=req.k, filters=filters)
    return SimilarResponse(count=len(cases), cases=cases)


@router.post("/v1/drafts/check", response_model=dict[str, Any], responses=ERRORS,
             summary="文书检查 check a draft: citations, similar cases, elements")
def check_draft(req: TextRequest, searcher: SearcherDep, settings: SettingsDep):
    check_text(req.text, settings.max_draft_chars, "文书", "draft")
    return feature("assistant.similar.draft").check_draft(searcher, req.text)
