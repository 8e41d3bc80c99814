"""Every request and response model of the HTTP API, in one place."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MODEL_ID = "mingze"
DATE = r"^\d{4}(-\d{2}(-\d{2})?)?$"


class _Strict(BaseModel):
    """Native endpoints: unknown fields are an error (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid")


# ---- errors ----------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    code: str
    message_zh: str
    message_en: str
    detail: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "请求无效 bad request"},
    401: {"model": ErrorResponse, "description": "缺少或无效的 API 密钥 missing or invalid API key (when auth is on)"},
    403: {"model": ErrorResponse, "description": "无权查看 forbidden: a case source restricted to other units"},
    404: {"model": ErrorResponse, "description": "未找到 not found"},
    413: {"model": ErrorResponse, "description": "请求过大 body, text or message count over the limit"},
    422: {"model": ErrorResponse, "description": "参数错误 validation error"},
    429: {"model": ErrorResponse, "description": "请求过于频繁 rate limit per key (Retry-After header)"},
    503: {"model": ErrorResponse, "description": "索引或审计日志不可用 index or audit log unavailable"},
}


# ---- OpenAI-compatible chat --------------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = None


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type in ("text", "input_text"))
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI's request; sampling fields are accepted and ignored. Extras: session_id, agent."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_ID
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    user: str | None = None
    session_id: str | None = None
    agent: bool = False


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str = "stop"


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class MingzeExtra(BaseModel):
    session_id: str | None = None
    warnings: list[Any] = []
    removed_citations: list[Any] = []
    intent: str | None = None
    rewritten_query: str | None = None
    insufficient: bool = False


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = MODEL_ID
    choices: list[Choice]
    usage: Usage
    sources: list[dict[str, Any]] = []
    mingze: MingzeExtra


class ModelCard(BaseModel):
    id: str = MODEL_ID
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "mingze"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# ---- native chat -------------------------------------------------------------------------------
class ChatRequest(_Strict):
    message: str = Field(description="用户问题 the user's message")
    session_id: str | None = Field(None, description="继续已有会话 continue a session")
    agent: bool = False
    stream: bool = Field(False, description="SSE: event delta {text} ..., then event final {result}")


class ChatResponse(BaseModel):
    session_id: str
    answer: str
    sources: list[dict[str, Any]]
    warnings: list[Any] = []
    removed_citations: list[Any] = []
    intent: str | None = None
    rewritten_query: str | None = None
    insufficient: bool = False
    trace: Any = None


# ---- search / documents ------------------------------------------------------------------------
class SearchRequest(_Strict):
    query: str
    k: int = Field(10, ge=1, le=100)
    kinds: list[str] | str | None = Field(None, description="statute/regulation/guiding/case/policy/local")
    status: str = Field("active", description="active | all | 现行有效 | 已修改 | 已废止 | 历史版本 | 未知")
    issuer: str | None = None
    date_from: str | None = Field(None, pattern=DATE, description="YYYY[-MM[-DD]]")
    date_to: str | None = Field(None, pattern=DATE, description="YYYY[-MM[-DD]]")


class HitOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    doc_id: str
    kind: str
    title: str
    article: str
    heading: str
    status: str
    text: str
    score: float
    via: list[str]


class SearchResponse(BaseModel):
    query: str
    count: int
    took_ms: float
    hits: list[HitOut]


class ChunkOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    doc_id: str
    kind: str
    title: str
    heading: str
    article: str
    part: str
    chapter: str
    status: str
    issuer: str
    date: str
    text: str
    meta: dict[str, Any]


class DocumentResponse(BaseModel):
    id: str = Field(description="the id asked for (document or chunk)")
    doc_id: str
    kind: str
    title: str
    status: str
    issuer: str
    date: str
    focus: str | None = Field(None, description="the chunk id when a single chunk was asked for")
    count: int
    chunks: list[ChunkOut]


# ---- citations / similar cases / drafts ----------------------------------------------------------
class TextRequest(_Strict):
    text: str


class CitationsResponse(BaseModel):
    count: int
    problems: int
    citations: list[dict[str, Any]]


class SimilarFilters(_Strict):
    kinds: list[str] | str | None = Field(None, description="guiding / case")
    case_type: str | None = Field(None, description="刑事 民事 行政 …")
    court_level: str | None = Field(None, description="最高 高级 中级 基层")
    date_from: str | None = Field(None, description="YYYY[-MM[-DD]]")
    date_to: str | None = Field(None, description="YYYY[-MM[-DD]]")
    source: str | None = Field(None, description="clcr guiding_cases lawrefbook_cases cail2019_scm")


class SimilarRequest(_Strict):
    text: str = Field(description="案情或文书 case facts or a draft")
    k: int = Field(10, ge=1, le=100)
    filters: SimilarFilters | None = None


class SimilarResponse(BaseModel):
    count: int
    cases: list[dict[str, Any]]


# ---- health ------------------------------------------------------------------------------------
class DenseProgress(BaseModel):
    enabled: bool
    chunks: int = 0
    dense_chunks: int = 0
    percent: float = 0.0
    background: dict[str, Any] = {}


class HealthResponse(BaseModel):
    ready: bool
    index: dict[str, Any] | None = None
    dense: DenseProgress | None = None
    llm: str = "none"
    error: ErrorBody | None = None


# ---- courses ---------------------------------------------------------------------------------
class CourseRequest(_Strict):
    topic: str = Field(..., description="培训主题 e.g. 错案责任追究")
    audience: str = Field("新任法官", description="新任法官 / 新任检察官 / 人民警察 / 司法辅助人员 ...")
    hours: float = Field(4, description="课时 (0.5-40)")
    format: Literal["json", "md", "docx"] = "json"
