"""Service state and route dependencies: settings, the shared Searcher, lazily built services, API errors."""
from __future__ import annotations

import importlib
import re
import threading
import time
from typing import Annotated, Any

from fastapi import Depends, Request

from assistant.config import Settings
from assistant.security.gate import Gate
from assistant.security.keys import AuthError, Principal
from assistant.security.limits import LimitExceeded

RETRY_OPEN_S = 5.0  # a missing index is looked for again at most this often
RELOAD_CHECK_S = 5.0  # how often a newly published index generation is looked for


class ApiError(Exception):
    """An error with an HTTP status and a reason in Chinese and English."""

    def __init__(self, status: int, code: str, zh: str, en: str, detail: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(f"{zh} {en}")
        self.status, self.code, self.zh, self.en, self.detail, self.headers = status, code, zh, en, detail, headers

    def body(self) -> dict:
        err: dict[str, Any] = {"code": self.code, "message_zh": self.zh, "message_en": self.en}
        if self.detail:
            err["detail"] = self.detail
        return {"error": err}


_CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef《》]")


def bilingual(msg: str, zh_default: str, en_default: str) -> tuple[str, str]:
    """Split the product's '中文 english' messages ("查询不能为空 query is empty") into (zh, en)."""
    msg = (msg or "").strip()
    if not msg:
        return zh_default, en_default
    m = re.match(r"^(.*?[\u4e00-\u9fff》）][^A-Za-z]*?)\s+([A-Za-z].*)$", msg, re.S)
    if m and _CJK.search(m.group(1)):
        zh, en = m.group(1).strip(), m.group(2).strip()
        if ": " in en and not re.search(r"[:：]", zh):  # carry the specifics (ids, numbers) over to the zh text
            zh += "：" + en.split(": ", 1)[1]
        return zh, en
    if _CJK.search(msg):
        return msg, f"{en_default}: {msg}"
    return f"{zh_default}：{msg}", msg


class ServiceState:
    """One per app: settings, the Searcher (opened lazily, re-tried while the index is missing), services."""

    def __init__(self, settings: Settings, searcher=None):
        self.settings = settings
        self._searcher = searcher
        self._lock = threading.Lock()
        self._last_try = float("-inf")
        self.open_error: str | None = None
        self._services: dict[str, Any] = {}
        self.dense_worker = None  # api.background.DenseWorker when started
        self._last_check = time.monotonic()
        self._reloading = False
        self.reloads = 0
        self.gate = Gate(settings)  # keys, rate limit, visibility, audit (assistant.security)

    def searcher(self, force: bool = False):
        """The Searcher, or None when the index is missing (open_error says why)."""
        if self._searcher is not None:
            self._maybe_reload()
            return self._searcher
        with self._lock:
            if self._searcher is None and (force or time.monotonic() - self._last_try >= RETRY_OPEN_S):
                from assistant.retrieval.search import Searcher

                self._last_try = time.monotonic()
                try:
                    self._searcher = Searcher.open(self.settings)
                    self.open_error = None
                except Exception as exc:  # IndexMissing, or a damaged generation
                    self.open_error = str(exc)
            return self._searcher

    def _maybe_reload(self) -> None:
        """A re-index (`assistant index` while the service runs) publishes a new generation: open it in the
        background and swap it in whole; requests keep the old one until then, and a failed open keeps it."""
        now = time.monotonic()
        if self._reloading or now - self._last_check < RELOAD_CHECK_S:
            return
        self._last_check = now
        from assistant.index.builder import LEX_ROOT
        from assistant.index.store import current_generation

        gen = current_generation(self.settings.index_dir / LEX_ROOT)
        old = self._searcher
        if gen is None or old is None or getattr(old, "gen", gen) == gen:
            return
        self._reloading = True
        threading.Thread(target=self._reload, args=(gen,), name="index-reload", daemon=True).start()

    def _reload(self, gen) -> None:
        from assistant.retrieval.search import Searcher

        try:
            new = Searcher(self.settings, gen)
            with self._lock:
                self._searcher = new
                self._services.clear()  # rebuilt on first use over the new index
                self.reloads += 1
        except Exception as exc:  # half-deleted or damaged: keep serving the old one, try again later
            self.open_error = f"reload failed, serving the previous index: {exc}"
        finally:
            self._reloading = False

    def service(self, name: str, build):
        """A per-app singleton built on first use (e.g. the ChatService)."""
        with self._lock:
            if name not in self._services:
                self._services[name] = build()
            return self._services[name]


def state(request: Request) -> ServiceState:
    return request.app.state.mingze


def get_settings(st: Annotated[ServiceState, Depends(state)]) -> Settings:
    return st.settings


def get_principal(request: Request, st: Annotated[ServiceState, Depends(state)]) -> Principal:
    """Who is calling (401 without a valid key when auth is on; 429 over the rate limit). Kept in the scope
    for the audit middleware."""
    try:
        p = st.gate.authenticate(request.headers.get("authorization"), request.headers.get("x-api-key"))
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.zh, exc.en, headers={"WWW-Authenticate": "Bearer"}) from None
    except LimitExceeded as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en, headers={"Retry-After": str(exc.retry_after)}) from None
    request.scope["mingze.principal"] = p
    return p


def get_searcher(st: Annotated[ServiceState, Depends(state)], principal: Annotated[Principal, Depends(get_principal)]):
    """The Searcher this caller may use: the shared one, or a view without the case sources its unit may not see."""
    s = st.searcher()
    if s is None:
        raise ApiError(503, "index_unavailable", *index_unavailable(st.open_error))
    return st.gate.visibility.view(s, principal)


def index_unavailable(reason: str | None) -> tuple[str, str]:
    en = bilingual(reason or "", "", "no index yet")[1]
    return "索引尚未建立或无法打开，请先运行 assistant index", en if "assistant index" in en else f"{en}: run `assistant index`"


def feature(module: str):
    """Import a feature module, or 503 with a reason while it is not installed/built yet."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise  # a real missing dependency inside the module: an internal error
        raise ApiError(503, "feature_unavailable", f"功能尚未可用：{module}", f"feature not available: {module} is missing")


def get_chat(st: Annotated[ServiceState, Depends(state)], searcher=Depends(get_searcher)):
    """One ChatService (and session store) per visibility scope."""
    mod = feature("assistant.answer.chat")
    hidden = sorted(getattr(searcher, "hidden_sources", ()))
    if not hidden:
        return st.service("chat", lambda: mod.ChatService(searcher, st.settings))
    from assistant.security.visibility import ScopedChat

    return st.service("chat:" + ",".join(hidden), lambda: ScopedChat(mod.ChatService(searcher, st.settings), searcher))


def check_text(text: str, limit: int, what_zh: str, what_en: str) -> str:
    """Non-empty (else 400) and at most `limit` characters (else 413), with the reason."""
    if not text or not text.strip():
        raise ApiError(400, "empty_input", f"{what_zh}不能为空", f"{what_en} is empty")
    if len(text) > limit:
        raise ApiError(413, "input_too_long", f"{what_zh}过长：{len(text)} 字 > {limit}",
                       f"{what_en} too long: {len(text)} chars > {limit}")
    return text


StateDep = Annotated[ServiceState, Depends(state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SearcherDep = Annotated[Any, Depends(get_searcher)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ChatDep = Annotated[Any, Depends(get_chat)]
