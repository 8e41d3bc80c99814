"""Search, documents by id, citation verification."""
from __future__ import annotations

import time

from fastapi import APIRouter, Path

from assistant.retrieval.search import Filters

from ..deps import ApiError, SearcherDep, SettingsDep, check_text, feature
from ..schemas import ERRORS, CitationsResponse, DocumentResponse, SearchRequest, SearchResponse, TextRequest
from ..security import check_document

router = APIRouter(tags=["search"])


@router.post("/v1/search", response_model=SearchResponse, responses=ERRORS, summary="检索 search laws and cases")
def search(req: SearchRequest, searcher: SearcherDep):
    f = Filters.make(req.kinds, req.status, req.issuer, req.date_from, req.date_to)
    t0 = time.perf_counter()
    hits = searcher.search(req.query, k=req.k, filters=f)
    took = round((time.perf_counter() - t0) * 1000, 1)
    return SearchResponse(query=req.query, count=len(hits), took_ms=took, hits=[h.to_dict() for h in hits])


def _chunk_out(c) -> dict:
    return {**c.to_dict(), "heading": c.heading}


@router.get("/v1/documents/{doc_id:path}", response_model=DocumentResponse, responses=ERRORS,
            summary="文档 all chunks of a document, or one chunk by chunk id (escape '#' as %23)")
def document(searcher: SearcherDep, doc_id: str = Path(..., max_length=300)):
    check_document(searcher, doc_id)
    store = searcher.store
    one = store.by_id(doc_id)
    chunks = [one] if one is not None else store.doc_chunks(doc_id)
    if not chunks:
        raise ApiError(404, "unknown_document", f"文档不存在：{doc_id}", f"unknown document or chunk id: {doc_id}")
    c0 = chunks[0]
    return DocumentResponse(id=doc_id, doc_id=c0.doc_id, kind=c0.kind, title=c0.title, status=c0.status,
                            issuer=c0.issuer, date=c0.date, focus=one.id if one is not None else None,
                            count=len(chunks), chunks=[_chunk_out(c) for c in chunks])


@router.post("/v1/citations/verify", response_model=CitationsResponse, responses=ERRORS,
             summary="引用核验 verify 《law》第X条 citations in a text")
def verify_citations(req: TextRequest, searcher: SearcherDep, settings: SettingsDep):
    check_text(req.text, settings.max_draft_chars, "文本", "text")
    cites = [c.to_dict() for c in feature("assistant.answer.citations").check_text(searcher, req.text)]
    problems = sum(1 for c in cites if not c.get("exists") or c.get("repealed"))
    return CitationsResponse(count=len(cites), problems=problems, citations=cites)
