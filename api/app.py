"""The FastAPI application: `create_app(settings=None, searcher=None)`; `app` for `uvicorn api.app:app`."""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from assistant.config import Settings, get_settings

from . import errors
from .background import DenseWorker, background_enabled
from .deps import ServiceState
from .routes import cases, chat, health, search, web

log = logging.getLogger("api")

DESCRIPTION = """明责 Mingze：法规与案例检索、问答、引用核验、类案推送。
OpenAI-compatible `POST /v1/chat/completions` (sources in the extra fields `sources` and `mingze`).
Errors are `{"error": {"code", "message_zh", "message_en"}}`."""


def create_app(settings: Settings | None = None, searcher=None, dense_background: bool | None = None) -> FastAPI:
    """Build the service. Tests pass a prepared searcher/settings; the index is otherwise opened at startup
    (and looked for again on later requests while it is missing: 503 meanwhile)."""
    settings = settings or get_settings()
    st = ServiceState(settings, searcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if st.searcher(force=True) is None:
            log.warning("index unavailable: %s", st.open_error)
        run_bg = background_enabled(settings) if dense_background is None else dense_background
        if run_bg and settings.dense:
            st.dense_worker = DenseWorker(settings, st.searcher).start()
        try:
            yield
        finally:
            if st.dense_worker is not None:
                st.dense_worker.stop()

    app = FastAPI(title="明责 Mingze", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None,
                  redoc_url=None)
    app.state.mingze = st
    errors.install(app, max_body=max(1_000_000, settings.max_draft_chars * 8))
    for r in (health.router, chat.router, search.router, cases.router, web.router):
        app.include_router(r)
    app.mount("/static", StaticFiles(directory=web.STATIC), name="static")
    return app


app = create_app()
