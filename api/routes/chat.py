"""Chat: the native endpoint (POST /v1/chat) and the OpenAI-compatible one (POST /v1/chat/completions)."""
from __future__ import annotations

import logging
import secrets
import time

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from assistant.security.limits import LimitExceeded, check_messages

from ..deps import ApiError, ChatDep, SettingsDep, check_text
from ..errors import to_api_error
from ..schemas import (ERRORS, MODEL_ID, AssistantMessage, ChatCompletionRequest, ChatCompletionResponse, ChatRequest,
                       ChatResponse, Choice, MingzeExtra, ModelCard, ModelList, Usage)
from ..sse import HEADERS, sse

log = logging.getLogger("api")
router = APIRouter(tags=["chat"])
_STARTED = int(time.time())
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


def _result(res) -> dict:
    return res if isinstance(res, dict) else res.to_dict()


def _stream_error(exc: Exception) -> dict:
    if not isinstance(exc, ApiError):
        log.error("error inside a chat stream", exc_info=exc)
    return to_api_error(exc).body()


# ---- native ------------------------------------------------------------------------------------
@router.post("/v1/chat", response_model=ChatResponse, responses=ERRORS,
             summary="问答 ask (native); stream=true gives SSE events delta/final")
def chat(req: ChatRequest, chat: ChatDep, settings: SettingsDep):
    check_text(req.message, settings.max_query_chars, "问题", "message")
    messages = [{"role": "user", "content": req.message}]
    if not req.stream:
        return _result(chat.answer(messages, session_id=req.session_id, agent=req.agent))
    events = chat.stream(messages, session_id=req.session_id, agent=req.agent)  # validates eagerly

    def gen():
        try:
            for ev in events:
                if ev.get("type") == "delta":
                    yield sse({"type": "delta", "text": ev.get("text", "")}, "delta")
                elif ev.get("type") == "final":
                    yield sse({"type": "final", "result": _result(ev["result"])}, "final")
        except Exception as exc:  # headers are gone: report in-band
            yield sse({"type": "error", **_stream_error(exc)}, "error")

    return StreamingResponse(gen(), media_type="text/event-stream", headers=HEADERS)


# ---- OpenAI-compatible --------------------------------------------------------------------------
def _messages(req: ChatCompletionRequest, settings) -> list[dict]:
    try:
        check_messages(len(req.messages), settings.max_chat_messages)
    except LimitExceeded as exc:
        raise ApiError(exc.status, exc.code, exc.zh, exc.en) from None
    out = [{"role": _ROLES[m.role], "content": m.text()} for m in req.messages if m.role in _ROLES]
    users = [m for m in out if m["role"] == "user"]
    if not users or out[-1]["role"] != "user":
        raise ApiError(400, "no_user_message", "最后一条消息必须是用户消息", "the last message must be a user message")
    check_text(out[-1]["content"], settings.max_query_chars, "问题", "message")
    total = sum(len(m["content"]) for m in out)
    if total > settings.max_draft_chars:
        raise ApiError(413, "input_too_long", f"对话过长：{total} 字 > {settings.max_draft_chars}",
                       f"conversation too long: {total} chars > {settings.max_draft_chars}")
    return out


def _extra(r: dict) -> dict:
    return MingzeExtra(**{k: r.get(k) for k in MingzeExtra.model_fields if r.get(k) is not None}).model_dump()


@router.get("/v1/models", response_model=ModelList, summary="模型列表 models (OpenAI-compatible)")
def models():
    return ModelList(data=[ModelCard(created=_STARTED)])


@router.post("/v1/chat/completions", response_model=ChatCompletionResponse, responses=ERRORS,
             summary="OpenAI 兼容问答 chat completions (OpenAI-compatible; sources in extra fields)")
def chat_completions(req: ChatCompletionRequest, chat: ChatDep, settings: SettingsDep):
    messages = _messages(req, settings)
    cid, created = f"chatcmpl-{secrets.token_hex(12)}", int(time.time())
    if not req.stream:
        r = _result(chat.answer(messages, session_id=req.session_id, agent=req.agent))
        prompt = sum(len(m["content"]) for m in messages)  # characters: a rough token count for Chinese
        return ChatCompletionResponse(
            id=cid, created=created, choices=[Choice(message=AssistantMessage(content=r["answer"]))],
            usage=Usage(prompt_tokens=prompt, completion_tokens=len(r["answer"]), total_tokens=prompt + len(r["answer"])),
            sources=r.get("sources") or [], mingze=_extra(r))
    events = chat.stream(messages, session_id=req.session_id, agent=req.agent)  # validates eagerly

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    def gen():
        yield chunk({"role": "assistant", "content": ""})
        try:
            for ev in events:
                if ev.get("type") == "delta" and ev.get("text"):
                    yield chunk({"content": ev["text"]})
                elif ev.get("type") == "final":
                    r = _result(ev["result"])
                    yield chunk({}, "stop", sources=r.get("sources") or [], mingze={**_extra(r), "answer": r["answer"]})
        except Exception as exc:
            yield sse(_stream_error(exc))
        yield sse("[DONE]")

    return StreamingResponse(gen(), media_type="text/event-stream", headers=HEADERS)
