"""GET /healthz: index readiness, counts, dense progress, LLM mode."""
from __future__ import annotations

from fastapi import APIRouter, Response

from ..deps import StateDep, index_unavailable
from ..schemas import DenseProgress, ErrorBody, HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="健康检查 readiness (503 while the index is missing)")
def healthz(st: StateDep, response: Response):
    s = st.settings
    llm = f"{s.llm_model or 'default'} @ {s.llm_base_url}" if s.llm_base_url else "none (deterministic answers)"
    searcher = st.searcher()
    if searcher is None:
        response.status_code = 503
        zh, en = index_unavailable(st.open_error)
        return HealthResponse(ready=False, llm=llm, error=ErrorBody(code="index_unavailable", message_zh=zh, message_en=en))
    worker = st.dense_worker
    background = worker.info() if worker else {"state": "off"}
    try:
        status = searcher.status()
    except Exception as exc:  # a damaged dense index must not hide the lexical readiness
        status = {"chunks": len(searcher.store), "dense_chunks": 0, "dense_error": f"{type(exc).__name__}: {exc}"}
    n, d = int(status.get("chunks") or 0), int(status.get("dense_chunks") or 0)
    dense = DenseProgress(enabled=s.dense, chunks=n, dense_chunks=d, percent=round(100 * d / n, 2) if n else 0.0,
                          background=background)
    return HealthResponse(ready=True, index=status, dense=dense, llm=llm)
