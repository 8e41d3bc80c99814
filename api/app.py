"""The FastAPI application: `create_app(settings=None, searcher=None)`; `app` for `uvicorn api.app:app`."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from assistant.config import Settings, get_settings

from . import errors
from .background import DenseWorker, background_enabled
from .deps import ServiceState, get_principal
from .security import AuditMiddleware
from .routes import cases, chat, courses, health, search, web

log = logging.getLogger("api")

DESCRIPTION = """明责 Mingze：法规与案例检索、问答、引用核验、类案推送。
OpenAI-compatible `POST /v1/chat/completions` (sources in the extra fields `sources` and `mingze`).
Errors are `{"error": {"code", "message_zh", "message_en"}}`.
When serving with `ASSISTANT_AUTH_ENABLED=true`, send `Authorization: Bearer KEY` or `X-API-Key: KEY`
(keys: `assistant keys create --role judge --unit 某某法院`); answers are recorded in a hash-chained audit log."""


def create_app(settings: Settings | None = None, searcher=None, dense_background: bool | None = None) -> FastAPI:
    """Build the service. Tests pass a prepared searcher/settings; the index is otherwise opened at startup
    (and looked for again on later requests while it is missing: 503 meanwhile)."""
    settings = settings or get_settings()
    st = ServiceState(settings, searcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if st.searcher(force=True) is None:
            log.warning("index unavailable: %s", st.open_error)
        if st.gate.keys is not None and not any(k["revoked_at"] is None for k in st.gate.keys.list()):
            log.warning("auth is on but there is no active API key: `assistant keys create --role judge --unit ...`")
        run_bg = background_enabled(settings) if dense_background is None else dense_background
        if run_bg and settings.dense:
            st.dense_worker = DenseWorker(settings, st.searcher).start()
        try:
            yield
        finally:
            if st.dense_worker is not None:
                st.dense_worker.stop()
            st.gate.close()

    app = FastAPI(title="明责 Mingze", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.mingze = st
    app.add_middleware(AuditMiddleware, state=st)  # inside the Guard: records only what is answered
    errors.install(app, max_body=settings.resolved_max_request_bytes())
    for r in (health.router, web.router):
        app.include_router(r)
    for r in (chat.router, search.router, cases.router, courses.router):  # API keys (when auth is on) and rate limits
        app.include_router(r, dependencies=[Depends(get_principal)])
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    return app


app = create_app()
