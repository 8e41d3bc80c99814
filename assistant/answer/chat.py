"""Grounded Q&A: understand (intent, follow-up rewrite) -> retrieve -> answer -> verify -> respond.

ChatService(searcher, settings, llm=None).answer(messages, session_id=None, agent=False) -> ChatResult
ChatService.stream(...) yields {"type": "delta", "text"} events, then {"type": "final", "result": {...}}.
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

from ..config import Settings, get_settings
from ..retrieval.search import QueryError
from ..text import ARTICLE_RE
from .agent import MAX_STEPS, Tools, agent_loop, collect, route, text_of
from .citations import check_text
from .compose import (Assessment, SourceBook, assess, compose_answer, insufficient_answer, named_articles,
                      status_warnings)
from .llm import build_messages, make_llm, new_tag, rewrite_with_llm, verify_answer, wrap
from .roles import ROLE_QUESTION, role_terms, roles_in
from .sessions import Session, SessionStore, Turn, UnknownSession

__all__ = ["ChatResult", "ChatService", "QueryError", "UnknownSession", "classify", "rewrite_followup", "expand"]

log = logging.getLogger(__name__)
MAX_MESSAGES = 100
INTENTS = ("statute", "role", "cases", "citation", "course")
_CITATION_CUE = re.compile(r"核查|核对|核实|校验|验证|查证|是否存在|存不存在|有没有这(?:条|个)|还有效|是否有效|是否废止|废止了吗|"
                           r"失效了吗|引用.{0,8}(?:对|正确|准确|有误|错)|引得对")
_CASE_CUE = re.compile(r"类案|案例|判例|相似案件|类似案件|类似的案子|同类案件|有没有.{0,8}案子|参照.{0,4}案")
_COURSE_CUE = re.compile(r"课程|大纲|教案|课件|讲义|培训|教学|学习计划|备课")
_FOLLOW_START = re.compile(r"^(?:那么?|那如果是?|如果是|如果换成|换成|要是|若是|假如是?|还有|那对于|对于|至于)")
_FOLLOW_END = re.compile(r"(?:呢|的话|怎么样|怎么办)?[？?。！!]*$")
# everyday words -> the corpus's legal terms (appended to the retrieval query, never replacing it)
COLLOQUIAL: dict[str, str] = {
    "审委会": "审判委员会", "检委会": "检察委员会", "监委": "监察委员会 监察机关", "纪委": "纪律检查委员会",
    "院庭长": "院长 庭长", "员额法官": "法官", "承办法官": "法官 审判人员", "主审法官": "法官 审判人员",
    "民警": "人民警察", "警察": "人民警察", "狱警": "监狱 人民警察", "辅警": "警务辅助人员",
    "开枪": "使用武器", "枪支": "武器", "警棍": "警械", "手铐": "警械",
    "公务员": "公职人员", "当官的": "公职人员", "判错": "错案 责任", "错判": "错案 责任", "办错": "错案 责任",
    "担责": "责任", "追责": "追究 责任", "背锅": "责任", "扛": "责任",
    "亲戚": "近亲属", "表哥": "近亲属 亲属", "表弟": "近亲属 亲属", "表姐": "近亲属 亲属", "表妹": "近亲属 亲属",
    "堂兄": "近亲属 亲属", "舅舅": "近亲属 亲属", "叔叔": "近亲属 亲属", "老公": "配偶", "老婆": "配偶",
    "打人": "殴打", "打了": "殴打", "关起来": "羁押 留置", "关押": "羁押", "坐牢": "有期徒刑 服刑",
    "换掉": "回避", "换人": "回避", "请吃饭": "宴请", "请的饭": "宴请", "收红包": "收受 财物", "送礼": "财物",
    "酒驾": "饮酒后驾驶机动车", "醉驾": "醉酒驾驶机动车", "驾照": "机动车驾驶证", "扣车": "扣留机动车",
    "交警": "公安机关交通管理部门 交通警察", "赔钱": "赔偿", "赔了钱": "赔偿", "掏钱": "追偿", "嫌疑人": "犯罪嫌疑人", "被抓": "拘留 逮捕",
}
_COLLOQUIAL_RE = re.compile("|".join(sorted(map(re.escape, COLLOQUIAL), key=len, reverse=True)))


@dataclass
class ChatResult:
    session_id: str
    answer: str
    sources: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removed_citations: list[dict] = field(default_factory=list)
    trace: list[dict] = field(default_factory=list)
    intent: str = "statute"
    rewritten_query: str = ""
    insufficient: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


# ---- understanding ----------------------------------------------------------------------------------
def classify(question: str, searcher=None) -> tuple[str, str | None]:
    """(intent, role) by cue words: citation check > course > similar cases > role > statute."""
    plain = re.sub(r"《[^》]*》", "", question)
    if searcher is not None:  # law names are not roles (法官法 is not about 法官 as an actor here)
        for r in sorted(searcher.laws.find_refs(plain), key=lambda r: -r.start):
            plain = plain[: r.start] + plain[r.end :]
    roles = roles_in(plain)
    role = roles[0] if roles else None
    if _CITATION_CUE.search(question) and ("《" in question or ARTICLE_RE.search(question)):
        return "citation", role
    if _COURSE_CUE.search(plain):
        return "course", role
    if _CASE_CUE.search(plain):
        return "cases", role
    if role and ROLE_QUESTION.search(plain):
        return "role", role
    return "statute", role


def expand(question: str) -> str:
    extra = [COLLOQUIAL[m.group(0)] for m in _COLLOQUIAL_RE.finditer(question)]
    extra = [w for w in dict.fromkeys(" ".join(extra).split()) if w not in question]
    return f"{question} {' '.join(extra)}" if extra else question


def is_followup(question: str) -> bool:
    q = question.strip()
    return len(q) <= 30 and bool(_FOLLOW_START.search(q) or re.search(r"呢[？?。！!]*$", q))


def rewrite_followup(searcher, question: str, previous: str) -> str:
    """Deterministic follow-up rewrite: keep the previous question's topic, swap the role or law named now."""
    q = question.strip()
    if not previous or not is_followup(q):
        return q
    core = _FOLLOW_END.sub("", _FOLLOW_START.sub("", q)).strip(" ，,、")
    new_terms, old_terms = role_terms(core), role_terms(previous)
    if new_terms and old_terms:
        old_role, new_term = old_terms[0][1], new_terms[0][0]
        out, pos = [], 0
        for term, r, a, b in old_terms:
            if r == old_role:
                out += [previous[pos:a], new_term]
                pos = b
        return "".join(out + [previous[pos:]])
    new_refs, old_refs = searcher.laws.find_refs(core), searcher.laws.find_refs(previous)
    if new_refs and old_refs:
        o, n = old_refs[0], new_refs[0]
        end = o.end + (len(o.article) + (previous[o.end:o.end + 1] == " ") if o.article and n.article else 0)
        return previous[: o.start] + core[n.start : n.end + (len(n.article) if n.article else 0)] + previous[end:]
    topic = previous.rstrip("？?。！! ")
    return f"{topic}（{core}）" if core else previous


def _validate(messages, limit: int) -> tuple[str, list[dict]]:
    if not isinstance(messages, list) or not messages:
        raise QueryError("消息不能为空 messages must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise QueryError(f"消息过多 too many messages: {len(messages)} > {MAX_MESSAGES}")
    clean: list[dict] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "system") or not isinstance(m.get("content"), str):
            raise QueryError(f"第 {i + 1} 条消息格式错误 message {i + 1} needs role (user/assistant) and content (string)")
        if len(m["content"]) > limit:
            raise QueryError(f"消息过长 message {i + 1} too long: {len(m['content'])} chars > {limit}")
        if m["role"] != "system":  # a client cannot set the system prompt
            clean.append({"role": m["role"], "content": m["content"]})
    if not clean or clean[-1]["role"] != "user" or not clean[-1]["content"].strip():
        raise QueryError("最后一条消息必须是非空的用户问题 the last message must be a non-empty user question")
    return clean[-1]["content"].strip(), clean[:-1]


# ---- service -------------------------------------------------------------------------------------------
class ChatService:
    def __init__(self, searcher, settings: Settings | None = None, llm=None, sessions: SessionStore | None = None):
        self.searcher = searcher
        self.settings = settings or get_settings()
        self.llm = llm if llm is not None else make_llm(self.settings)
        self.sessions = sessions if sessions is not None else SessionStore()

    def answer(self, messages: list[dict], session_id: str | None = None, agent: bool = False) -> ChatResult:
        for kind, payload in self._run(messages, session_id, agent):
            if kind == "final":
                return payload
        raise RuntimeError("chat pipeline ended without a result")  # pragma: no cover

    def stream(self, messages: list[dict], session_id: str | None = None, agent: bool = False) -> Iterator[dict]:
        """Validation errors raise before the first event; then deltas, then the verified final result."""
        run = self._run(messages, session_id, agent)
        first = next(run)  # runs validation and session lookup eagerly

        def events() -> Iterator[dict]:
            for kind, payload in _chain(first, run):
                if kind == "delta":
                    yield {"type": "delta", "text": payload}
                else:
                    yield {"type": "final", "result": payload.to_dict()}

        return events()

    # ---- pipeline ------------------------------------------------------------------------------
    def _run(self, messages, session_id, agent) -> Iterator[tuple[str, object]]:
        question, client_history = _validate(messages, self.settings.max_query_chars)
        session = self.sessions.get(session_id) if session_id is not None else self.sessions.create()
        yield "start", None
        t0 = time.perf_counter()
        trace: list[dict] = []
        history = session.history() or client_history
        query = self._rewrite(session, question, history, trace)
        intent, role = classify(query, self.searcher)
        trace.append({"step": "understand", "intent": intent, "role": role})
        book = SourceBook()
        tools = Tools(self.searcher, book, trace)
        search_q = expand(query)
        if len(search_q) > self.searcher.settings.max_query_chars:  # the expansion must not make it invalid
            search_q = query
        cits = None
        if intent != "citation" and ("《" in query or ARTICLE_RE.search(query)):
            cits = check_text(self.searcher, query)
            named = named_articles(self.searcher, query, cits)
            for h in named:
                book.add(h)
            trace.append({"step": "lookup_named", "citations": [c.citation for c in cits],
                          "missing": [c.citation for c in cits if not c.exists], "found": [h.chunk.heading for h in named]})
        routed = route(tools, intent, search_q, role)
        cits = routed.get("citations") if cits is None else cits
        direct = any("direct" in s.hit.via for s in book.laws())
        a = (assess(self.searcher, query, [x.hit for x in book.laws()], cits or [], direct, search_q)
             if intent != "citation" else Assessment(False))
        trace.append({"step": "assess", "insufficient": a.insufficient, "coverage": a.coverage, "reasons": a.reasons})
        removed: list[dict] = []
        answer = None
        if self.llm is not None and (agent or not a.insufficient):
            try:
                answer, removed, warnings = yield from self._llm_answer(query, book, history, tools, agent)
                insufficient = "依据不足" in answer[:200]
                trace.append({"step": "verify", "removed": len(removed)})
            except Exception as exc:  # an unreachable or failing model: fall back to the deterministic answer
                log.warning("LLM answer failed, using the deterministic answer: %s", exc)
                trace.append({"step": "llm_error", "error": f"{type(exc).__name__}: {exc}"})
                answer = None
            if answer is not None and not answer.strip():
                a.reasons.append("模型未给出可核实的回答 the model gave no verifiable answer")
                answer, insufficient = insufficient_answer(a, _searched(trace), book.laws()), True
        if answer is None:
            answer, warnings = compose_answer(self.searcher, query, intent, book, routed, a, role, _searched(trace))
            if any(t.get("step") == "llm_error" for t in trace):
                warnings.append("大模型暂不可用，以下为基于检索结果的规则化回答 LLM unavailable: deterministic answer")
            insufficient = a.insufficient
            for part in re.split(r"(?<=\n)(?=## )", answer):
                yield "delta", part
        trace.append({"step": "done", "ms": round((time.perf_counter() - t0) * 1000, 1)})
        self.sessions.append(session, Turn("user", question, query, intent), Turn("assistant", answer))
        yield "final", ChatResult(session.id, answer, book.to_dicts(), warnings, removed, trace, intent,
                                  query, insufficient)

    def _llm_answer(self, query: str, book: SourceBook, history: list[dict], tools: Tools, agent: bool):
        """Stream the model's answer (deltas), then verify it. Returns (answer, removed, warnings)."""
        tag = new_tag()
        msgs = build_messages(query, book, history, tag, agent=agent, steps=MAX_STEPS)
        # the model's raw text is never streamed: it may carry invented citations; only the verified answer is
        if agent:
            text = _drain(agent_loop(self.llm, tools, msgs, lambda t: wrap(t, tag)))
        else:
            text = text_of(_drain(collect(self.llm, msgs)))
        answer, removed, warnings = verify_answer(self.searcher, text, book)
        for part in re.split(r"(?<=\n)", answer):
            if part:
                yield "delta", part
        return answer, removed, status_warnings(book.laws()) + warnings

    def _rewrite(self, session: Session, question: str, history: list[dict], trace: list[dict]) -> str:
        previous = session.last_query() or next((m["content"] for m in reversed(history) if m["role"] == "user"), "")
        if not previous:
            return question
        query, by = None, "llm"
        if self.llm is not None:
            try:
                query = rewrite_with_llm(self.llm, history or [{"role": "user", "content": previous}], question)
            except Exception as exc:  # fall back to the rules
                log.warning("LLM rewrite failed: %s", exc)
        if query is None:
            query, by = rewrite_followup(self.searcher, question, previous), "rules"
        if len(query) > self.searcher.settings.max_query_chars or not query.strip():
            query = question
        if query != question:
            trace.append({"step": "rewrite", "by": by, "from": question, "to": query})
        return query


def _chain(first, rest):
    if first[0] != "start":
        yield first
    yield from rest


def _drain(gen):
    """Consume a text generator and return its value (its items are unverified model text)."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _searched(trace: list[dict]) -> list[str]:
    names = {"search_regulations": "法规条文", "search_cases": "案例", "list_role_provisions": "角色权责条文",
             "verify_citations": "引用核查"}
    out = []
    for t in trace:
        if t.get("tool") in names:
            q = t["args"].get("query") or t["args"].get("role") or t["args"].get("text", "")[:40]
            n = len(t["result"]) if isinstance(t.get("result"), list) else 0
            out.append(f"{names[t['tool']]}「{q}」（{n} 条）")
    return out
