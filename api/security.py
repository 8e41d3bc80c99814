"""HTTP side of assistant.security: the audit middleware and the document visibility check.

Every successful /v1/* request that returns content (answers, search hits, similar cases, documents, courses;
not /v1/models) is written to the audit log: time, key, role, unit, path, the question or text (truncated),
the source ids returned and the hash of the answer (of the body when there is no answer text). JSON responses
are held until their record is written: if the log cannot be written the caller gets 503, not an unrecorded
answer. Streams (SSE) are recorded when they end (best effort: the text has already gone out).
"""
from __future__ import annotations

import json
import logging

import anyio
from fastapi.responses import JSONResponse

from assistant.security.audit import sha256_text
from assistant.security.keys import LOCAL
from assistant.security.visibility import doc_of, is_visible

from .deps import ApiError

log = logging.getLogger("api")
NOT_AUDITED = ("/v1/models",)
MAX_CAPTURE = 4_000_000  # bytes of request body kept for the record


def audited(method: str, path: str) -> bool:
    return path.startswith("/v1/") and path not in NOT_AUDITED and method in ("GET", "POST")


def check_document(searcher, any_id: str) -> None:
    """403 when the document (or chunk) exists but belongs to a case source the caller's unit may not see."""
    if not is_visible(searcher, any_id):
        sources = ", ".join(sorted(getattr(searcher, "hidden_sources", ())))
        raise ApiError(403, "forbidden_source", f"无权查看该文档：来源 {sources} 仅限指定单位查看",
                       f"forbidden: {doc_of(searcher, any_id)} belongs to a restricted case source ({sources})")


# ---- what a request asked and what it returned ---------------------------------------------------------
def _text_of(content) -> str:
    if isinstance(content, list):
        return "\n".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def request_text(method: str, path: str, body: bytes) -> str:
    if method == "GET":
        return path.rsplit("/v1/", 1)[-1]
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        return ""
    if not isinstance(req, dict):
        return ""
    for k in ("message", "query", "text", "topic", "question"):
        if isinstance(req.get(k), str):
            return req[k]
    msgs = [m for m in req.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    return _text_of(msgs[-1].get("content")) if msgs else ""


def source_ids(obj, out: list[str] | None = None, depth: int = 0) -> list[str]:
    """Ids of the documents and chunks a response returned: items carrying chunk_id, or id/doc_id."""
    out = [] if out is None else out
    if depth > 6 or len(out) > 500:
        return out
    if isinstance(obj, dict):
        if isinstance(obj.get("chunk_id"), str) and obj["chunk_id"]:
            out.append(obj["chunk_id"])
        elif isinstance(obj.get("doc_id"), str):
            out.append(obj["id"] if isinstance(obj.get("id"), str) and "#" in obj["id"] else obj["doc_id"])
        for v in obj.values():
            if isinstance(v, (dict, list)):
                source_ids(v, out, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            source_ids(v, out, depth + 1)
    return out


def _answer(obj) -> str | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("answer"), str):
        return obj["answer"]
    choices = obj.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        msg = choices[0].get("message") or {}
        if isinstance(msg.get("content"), str):
            return msg["content"]
    return None


def response_summary(body: bytes, sse: bool) -> tuple[list[str], str]:
    """(source ids, answer hash) of a JSON body or of an SSE stream's final event."""
    if not sse:
        try:
            obj = json.loads(body)
        except ValueError:
            return [], sha256_text(body)
        ans = _answer(obj)
        return source_ids(obj.get("hits", obj.get("sources", obj)) if isinstance(obj, dict) else obj), \
            sha256_text(ans if ans is not None else body)
    final, deltas = None, []
    for block in body.decode("utf-8", "replace").split("\n\n"):
        data = "\n".join(x[5:].removeprefix(" ") for x in block.split("\n") if x.startswith("data:"))
        if not data or data == "[DONE]":
            continue
        try:
            ev = json.loads(data)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("type") == "final":  # native stream
            final = ev.get("result") or {}
        elif isinstance(ev, dict) and "sources" in ev:  # OpenAI-compatible stream: the last chunk
            final = {"sources": ev["sources"], "answer": (ev.get("mingze") or {}).get("answer")}
        elif isinstance(ev, dict) and ev.get("type") == "delta":
            deltas.append(ev.get("text") or "")
    if final is None:
        return [], sha256_text("".join(deltas) or body)
    ans = final.get("answer") if isinstance(final.get("answer"), str) else "".join(deltas)
    return source_ids(final.get("sources") or []), sha256_text(ans)


# ---- middleware --------------------------------------------------------------------------------------
class AuditMiddleware:
    def __init__(self, app, state):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        audit = self.state.gate.audit
        if audit is None or scope["type"] != "http" or not audited(scope["method"], scope["path"]):
            return await self.app(scope, receive, send)
        req = bytearray()
        start: dict | None = None
        body = bytearray()
        sse = False

        async def recv():
            msg = await receive()
            if msg["type"] == "http.request" and len(req) < MAX_CAPTURE:
                req.extend(msg.get("body", b"")[: MAX_CAPTURE - len(req)])
            return msg

        def record() -> None:
            p = scope.get("mingze.principal") or (LOCAL if self.state.gate.keys is None else None)
            ids, answer_hash = response_summary(bytes(body), sse)
            audit.append(key_id=p.key_id if p else "", role=p.role if p else "", unit=p.unit if p else "",
                         method=scope["method"], path=scope["path"], status=start["status"],
                         query=request_text(scope["method"], scope["path"], bytes(req)), source_ids=ids,
                         answer_hash=answer_hash)

        async def snd(msg):
            nonlocal start, sse
            if msg["type"] == "http.response.start":
                start = msg
                ctype = dict(msg.get("headers") or []).get(b"content-type", b"")
                sse = b"text/event-stream" in ctype
                if msg["status"] != 200 or sse:
                    await send(msg)
                return
            if msg["type"] != "http.response.body" or start is None or start["status"] != 200:
                return await send(msg)
            body.extend(msg.get("body", b""))
            if sse:
                if not msg.get("more_body"):  # record before the closing message: a client that has read
                    try:  # the whole stream finds its record written
                        await anyio.to_thread.run_sync(record)
                    except Exception as exc:  # the events have gone out already: log loudly
                        log.error("audit record of a stream failed: %s", exc)
                return await send(msg)
            if msg.get("more_body"):
                return
            try:
                await anyio.to_thread.run_sync(record)
            except Exception as exc:  # fail closed: no unrecorded answers
                log.error("audit log unavailable: %s", exc)
                err = ApiError(503, "audit_unavailable", "审计日志无法写入，请求未完成", f"audit log unavailable: {exc}")
                return await JSONResponse(err.body(), status_code=503)(scope, receive, send)
            await send(start)
            await send({"type": "http.response.body", "body": bytes(body), "more_body": False})

        await self.app(scope, recv, snd)
