"""Exception handlers: every failure is a JSON {"error": {code, message_zh, message_en}}; the app keeps serving."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answer.sessions import UnknownSession
from assistant.retrieval.search import IndexMissing, QueryError

from .deps import ApiError, bilingual, index_unavailable

log = logging.getLogger("api")

_TYPE_ZH = {
    "missing": "缺少必填字段", "string_type": "应为字符串", "bool_type": "应为布尔值", "bool_parsing": "应为布尔值",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数", "float_type": "应为数字",
    "float_parsing": "应为数字", "list_type": "应为列表", "dict_type": "应为对象", "model_type": "应为对象",
    "model_attributes_type": "应为对象", "extra_forbidden": "未知字段", "too_short": "过短或为空",
    "too_long": "过长", "string_too_long": "过长", "string_pattern_mismatch": "格式不符", "greater_than_equal": "数值过小", "less_than_equal": "数值过大",
    "greater_than": "数值过小", "less_than": "数值过大", "literal_error": "取值无效", "enum": "取值无效",
    "union_tag_invalid": "类型无效", "json_invalid": "不是合法的 JSON", "json_type": "不是合法的 JSON",
}
_STATUS = {
    400: ("bad_request", "请求无效", "bad request"), 404: ("not_found", "接口或资源不存在", "not found"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    413: ("payload_too_large", "请求体过大", "request body too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "unsupported media type"),
}


def _loc(err: dict) -> str:
    return ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"


def validation_error(exc: RequestValidationError) -> ApiError:
    errs = exc.errors()
    detail = [{"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")} for e in errs[:10]]
    if any(e.get("type") in ("json_invalid", "json_type") for e in errs):
        return ApiError(400, "malformed_json", "请求体不是合法的 JSON", "malformed JSON body", detail)
    zh = "；".join(f"{_loc(e)} {_TYPE_ZH.get(e.get('type', ''), '无效')}" for e in errs[:5])
    en = "; ".join(f"{_loc(e)}: {e.get('msg')}" for e in errs[:5])
    return ApiError(422, "invalid_request", f"参数错误：{zh}", f"invalid request: {en}", detail)


def to_api_error(exc: BaseException) -> ApiError:
    """Map any exception to the API's error (also used for errors inside SSE streams)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_error(exc)
    if isinstance(exc, QueryError):
        return ApiError(400, "bad_query", *bilingual(str(exc), "请求无效", "bad request"))
    if isinstance(exc, UnknownSession):
        return ApiError(404, "unknown_session", *bilingual(str(exc), "会话不存在或已过期", "unknown or expired session"))
    if isinstance(exc, IndexMissing):
        return ApiError(503, "index_unavailable", *index_unavailable(str(exc)))
    if isinstance(exc, StarletteHTTPException):
        code, zh, en = _STATUS.get(exc.status_code, ("http_error", "请求失败", "request failed"))
        if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed"):
            en = f"{en}: {exc.detail}"
        return ApiError(exc.status_code, code, zh, en)
    return ApiError(500, "internal_error", f"内部错误：{type(exc).__name__}，服务仍在运行",
                    f"internal error: {type(exc).__name__}: {str(exc)[:300]}; the service keeps running")


def _respond(exc: BaseException) -> JSONResponse:
    err = to_api_error(exc)
    headers = getattr(exc, "headers", None) if isinstance(exc, (StarletteHTTPException, ApiError)) else None
    return JSONResponse(err.body(), status_code=err.status, headers=headers)


class Guard:
    """ASGI catch-all: an unexpected exception becomes a 500 with a reason (not re-raised, so the server and
    test clients carry on); oversized bodies get 413: by Content-Length before they are read, and while they
    are read (chunked uploads without a length)."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > self.max_body:
                err = ApiError(413, "payload_too_large", f"请求体过大：{int(v)} 字节 > {self.max_body}",
                               f"request body too large: {int(v)} bytes > {self.max_body}")
                return await JSONResponse(err.body(), status_code=413)(scope, receive, send)
        started = False
        received = 0

        async def counting_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:  # an HTTPException passes FastAPI's body parsing unchanged
                    raise StarletteHTTPException(413, f"more than {self.max_body} bytes")
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception as exc:
            log.error("unhandled error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if not started:
                await _respond(exc)(scope, receive, send)


def install(app: FastAPI, max_body: int) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        return _respond(exc)

    for cls in (ApiError, RequestValidationError, QueryError, UnknownSession, IndexMissing, StarletteHTTPException):
        app.add_exception_handler(cls, handle)
    app.add_middleware(Guard, max_body=max_body)  # the catch-all for everything else (500 with a reason)
