"""Similar-case push and draft checking."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assistant.security.visibility import fetch_visible, visible_draft

from ..deps import SearcherDep, SettingsDep, StateDep, check_text, feature
from ..schemas import ERRORS, SimilarRequest, SimilarResponse, TextRequest

router = APIRouter(tags=["cases"])


@router.post("/v1/similar-cases", response_model=SimilarResponse, responses=ERRORS,
             summary="类案推送 similar cases for a case description or draft")
def similar_cases(req: SimilarRequest, searcher: SearcherDep, settings: SettingsDep, st: StateDep):
    check_text(req.text, settings.max_draft_chars, "案情", "text")
    mod = feature("assistant.similar.push")
    filters = req.filters.model_dump(exclude_none=True) if req.filters else None
    base = getattr(searcher, "base", searcher)  # one shared finder; the caller's visibility filters its results
    finder = st.service("similar", lambda: mod.SimilarCases(base))
    cases = fetch_visible(searcher, lambda n: finder.find(req.text, k=n, filters=filters), req.k)
    return SimilarResponse(count=len(cases), cases=cases)


@router.post("/v1/drafts/check", response_model=dict[str, Any], responses=ERRORS,
             summary="文书检查 check a draft: citations, similar cases, elements")
def check_draft(req: TextRequest, searcher: SearcherDep, settings: SettingsDep):
    check_text(req.text, settings.max_draft_chars, "文书", "draft")
    mod = feature("assistant.similar.draft")
    return visible_draft(mod, mod.check_draft(getattr(searcher, "base", searcher), req.text), searcher)
