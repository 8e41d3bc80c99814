"""The product's tools (search, cases, citations, roles, drafts, course), the deterministic router that
dispatches them by intent, and the LLM tool-calling loop. Every call is recorded in the trace."""
from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable, Iterator

from ..retrieval.search import Filters, Hit
from .compose import CASE_KINDS, CASE_MIN_COVERAGE, LAW_KINDS, Source, SourceBook, relevance
from .roles import ROLES, check_role, group_of_hit, role_index, role_provisions

MAX_STEPS = 4
LAW_K = 8
CASE_K = 3
SKIP_PARTS = {"首部", "当事人", "诉辩意见", "审理查明", "基本案情", "裁判结果", "案情回顾"}
ROLE_EXTRA = 2  # role-restricted BM25 hits added for role questions
TOOL_TEXT_CHARS = 300


def _optional(module: str, names: tuple[str, ...]) -> Callable | None:
    """A function from a sibling feature module, when that feature exists in this build."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for n in names:
        fn = getattr(mod, n, None)
        if callable(fn):
            return fn
    return None


GIST_PARTS = ("裁判要点", "本院认为", "裁判理由", "法官解读")


def _draft_via_push(searcher, text: str) -> dict:
    """check_draft built from the similar-case push and the citation checker."""
    from ..similar.push import SimilarCases
    from .citations import check_text

    keep = ("doc_id", "title", "kind", "binding", "similarity", "reasons", "court", "date", "case_no")
    sims = SimilarCases(searcher).find(text, k=5, highlights=False)
    return {"similar_cases": [{k: r.get(k) for k in keep} for r in sims],
            "citations": [c.to_dict() for c in check_text(searcher, text)]}


def retrieve_laws(searcher, query: str, k: int = LAW_K, role: str | None = None) -> list[Hit]:
    """Provisions for a question; with a role, that role's provisions come first (谁负责/谁担责)."""
    f = Filters.make(kinds=LAW_KINDS)
    if not role:
        return searcher.search(query, k=k, filters=f)
    hits = searcher.search(query, k=max(20, 3 * k), filters=f)
    mentions = role_index(searcher).mentions
    row_of = searcher.store.row_of
    first = [h for h in hits if "direct" in h.via or (role, row_of[h.chunk.id]) in mentions]
    seen = {h.chunk.id for h in first}
    first += [h for h in role_provisions(searcher, role, k=ROLE_EXTRA, query=query) if h.chunk.id not in seen]
    seen = {h.chunk.id for h in first}
    return (first + [h for h in hits if h.chunk.id not in seen])[:k]


def retrieve_cases(searcher, query: str, k: int = CASE_K, min_coverage: float = CASE_MIN_COVERAGE) -> list[Hit]:
    """Relevant case passages (gist or reasoning, not party lists or narrative facts), one per document,
    guiding cases first."""
    f = Filters.make(kinds=CASE_KINDS, status="all")
    rel = relevance(searcher)
    toks = rel.key_tokens(query)
    best: dict[str, Hit] = {}
    for h in searcher.search(query, k=40, filters=f):
        c = h.chunk
        if c.doc_id in best or c.part in SKIP_PARTS:
            continue
        if rel.coverage(toks, c.title + c.text) >= min_coverage:
            best[c.doc_id] = h
    ranked = sorted(best.values(), key=lambda h: h.chunk.kind != "guiding")
    return ranked[:k]


class Tools:
    """Tool implementations over one Searcher; results are numbered into a SourceBook and traced."""

    def __init__(self, searcher, book: SourceBook, trace: list[dict]):
        self.s = searcher
        self.book = book
        self.trace = trace
        self._draft = _optional("assistant.similar.draft", ("check_draft", "check", "analyze_draft"))
        if self._draft is None and _optional("assistant.similar.push", ("SimilarCases",)):
            self._draft = _draft_via_push
        self._course = None
        for mod in ("assistant.course", "assistant.course.build", "assistant.course.builder", "assistant.course.course"):
            self._course = self._course or _optional(mod, ("course_outline", "build_course", "make_course", "outline"))

    # ---- tools ---------------------------------------------------------------------------------
    def search_regulations(self, query: str, k: int = LAW_K, role: str | None = None) -> list[Source]:
        hits = retrieve_laws(self.s, query, max(1, min(int(k), 10)), role)
        return [self.book.items[self.book.add(h) - 1] for h in hits]

    def search_cases(self, query: str, k: int = CASE_K, asked: bool = True) -> list[Source]:
        """asked=False for the router's incidental lookups: a stricter relevance bar."""
        hits = retrieve_cases(self.s, query, max(1, min(int(k), 8)), 0.5 if asked else CASE_MIN_COVERAGE)
        return [self.book.items[self.book.add(h) - 1] for h in hits]

    def verify_citations(self, text: str) -> list:
        from .citations import check_text

        cits = check_text(self.s, text)
        for c in cits:
            chunk = self.s.store.by_id(c.chunk_id) if getattr(c, "chunk_id", None) else None
            if chunk is not None:
                self.book.add(Hit(chunk, 1.0, ["citation"]))
        return cits

    def list_role_provisions(self, role: str, query: str = "", k: int = 6) -> list[Source]:
        hits = role_provisions(self.s, check_role(role), max(1, min(int(k), 20)), query=query or None)
        return [self.book.items[self.book.add(h) - 1] for h in hits]

    def check_draft(self, text: str):
        """Similar cases for a draft (added to the sources) and the draft's citations checked. Ranked on the
        shared index, then cut to the cases this caller may see (as POST /v1/drafts/check does)."""
        if not self._draft:
            return None
        from ..security.visibility import keep_visible, visible_draft

        result = self._draft(getattr(self.s, "base", self.s), text)
        if isinstance(result, dict) and "similar" in result:
            result = visible_draft(importlib.import_module(self._draft.__module__), result, self.s)
        elif isinstance(result, dict):
            result["similar_cases"] = keep_visible(self.s, result.get("similar_cases") or [])
        cases = (result.get("similar") or result.get("similar_cases") or []) if isinstance(result, dict) else []
        for item in cases:
            chunks = self.s.store.doc_chunks(item.get("doc_id", ""))
            best = next((c for p in GIST_PARTS for c in chunks if c.part == p), chunks[0] if chunks else None)
            if best is not None:
                item["n"] = self.book.add(Hit(best, float(item.get("similarity") or 0), ["draft"]))
        return result

    def course_outline(self, topic: str):
        """A course outline on a topic; its key provisions join the sources."""
        course = self._course(self.s, topic) if self._course else None
        for m in getattr(course, "modules", None) or []:
            for p in getattr(m, "provisions", []):
                chunk = self.s.store.by_id(getattr(p, "chunk_id", ""))
                if chunk is not None:
                    self.book.add(Hit(chunk, 1.0, ["course"]))
        return course

    def names(self) -> list[str]:
        out = ["search_regulations", "search_cases", "verify_citations", "list_role_provisions"]
        return out + (["check_draft"] if self._draft else []) + (["course_outline"] if self._course else [])

    # ---- dispatch with tracing -----------------------------------------------------------------
    def run(self, name: str, args: dict, by: str = "router") -> tuple[object, str]:
        """Call a tool by name; returns (result, text for a model). Errors become tool output, not crashes."""
        t = time.perf_counter()
        entry: dict = {"tool": name, "args": args, "by": by}
        try:
            if name not in self.names():
                raise ValueError(f"unknown tool {name}")
            result = getattr(self, name)(**args)
            text, summary = self._render(name, result)
        except Exception as exc:  # a bad tool call from a model must not end the conversation
            result, text, summary = None, f"error: {type(exc).__name__}: {exc}", {"error": str(exc)}
        entry.update(result=summary, ms=round((time.perf_counter() - t) * 1000, 1))
        self.trace.append(entry)
        return result, text

    def _render(self, name: str, result) -> tuple[str, object]:
        if name == "verify_citations":
            rows = [c.to_dict() for c in result]
            brief = [{k: r.get(k) for k in ("citation", "exists", "repealed", "status", "reason")} for r in rows]
            return json.dumps(brief, ensure_ascii=False), brief
        if name in ("check_draft", "course_outline"):
            obj = result.to_dict() if hasattr(result, "to_dict") else result
            text = json.dumps(obj, ensure_ascii=False, default=str)
            return text[:6000], {"chars": len(text)}
        lines = []
        for s in result:
            c = s.hit.chunk
            body = c.text if len(c.text) <= TOOL_TEXT_CHARS else c.text[:TOOL_TEXT_CHARS] + "…"
            lines.append(f"[{s.n}] {c.heading}（{c.kind}；{c.status}；{c.issuer}）\n{body}")
        return ("\n\n".join(lines) or "（无结果 no results）"), [f"[{s.n}] {s.hit.chunk.heading}" for s in result]

    def specs(self) -> list[dict]:
        """OpenAI-format tool schemas for bind_tools."""
        def fn(name, desc, props, required):
            return {"type": "function", "function": {"name": name, "description": desc, "parameters": {
                "type": "object", "properties": props, "required": required}}}

        q = {"type": "string", "description": "检索问题或关键词"}
        k = {"type": "integer", "description": "结果数", "minimum": 1, "maximum": 10}
        out = [
            fn("search_regulations", "检索法律法规条文 search statutes/regulations; returns numbered sources", {"query": q, "k": k}, ["query"]),
            fn("search_cases", "检索指导性案例与类案 search guiding cases and case records", {"query": q, "k": k}, ["query"]),
            fn("verify_citations", "核查文本中的法条引用是否存在、是否废止 verify 《法》第X条 citations", {"text": {"type": "string"}}, ["text"]),
            fn("list_role_provisions", "列出某一角色的职责/权力/责任条文 provisions on a role's duties, powers, liabilities",
               {"role": {"type": "string", "enum": list(ROLES)}, "query": q, "k": k}, ["role"]),
        ]
        if self._draft:
            out.append(fn("check_draft", "检查裁判文书草稿并推送类案 check a draft judgment", {"text": {"type": "string"}}, ["text"]))
        if self._course:
            out.append(fn("course_outline", "生成培训课程大纲 course outline on a topic", {"topic": {"type": "string"}}, ["topic"]))
        return out


def route(tools: Tools, intent: str, query: str, role: str | None) -> dict:
    """Deterministic dispatch by intent (the no-LLM agent). Returns what the composer needs."""
    out: dict = {"citations": None, "listing": None, "draft": None, "course": None}
    if intent == "citation":
        out["citations"], _ = tools.run("verify_citations", {"text": query})
        tools.run("search_cases", {"query": query, "k": 2, "asked": False})
        return out
    if intent == "course":
        if "course_outline" in tools.names():
            out["course"], _ = tools.run("course_outline", {"topic": query})
        tools.run("search_regulations", {"query": query})
        return out
    if intent == "cases":
        if "check_draft" in tools.names() and len(query) > 300:
            out["draft"], _ = tools.run("check_draft", {"text": query})
        tools.run("search_cases", {"query": query, "k": 5})
        tools.run("search_regulations", {"query": query, "k": 3})
        return out
    if intent == "role" and role:
        tools.run("search_regulations", {"query": query, "role": role})
        listing, _ = tools.run("list_role_provisions", {"role": role, "query": query, "k": 6})
        if listing:
            groups: dict[str, list[Source]] = {}
            for s in listing:
                groups.setdefault(group_of_hit(tools.s, s.hit) or "职责", []).append(s)
            out["listing"] = groups
        tools.run("search_cases", {"query": query, "k": 2, "asked": False})
        return out
    tools.run("search_regulations", {"query": query})
    tools.run("search_cases", {"query": query, "asked": False})
    return out


def agent_loop(llm, tools: Tools, messages: list, wrap_result: Callable[[str], str]) -> Iterator[str]:
    """Tool-calling loop bounded by MAX_STEPS. Yields text deltas as the model streams; returns the
    model's final (unverified) text as the generator's value."""
    from langchain_core.messages import HumanMessage, ToolMessage

    try:
        bound = llm.bind_tools(tools.specs())
    except NotImplementedError:  # test doubles without tool binding still emit scripted tool calls
        bound = llm
    for step in range(MAX_STEPS + 1):
        last = step == MAX_STEPS
        if last:
            messages.append(HumanMessage("工具调用次数已用完，请仅依据已有编号资料作答。"))
        msg = yield from collect(llm if last else bound, messages)
        messages.append(msg)
        calls = getattr(msg, "tool_calls", None) or []
        if not calls or last:
            return text_of(msg)
        for i, call in enumerate(calls):
            args = call.get("args") if isinstance(call.get("args"), dict) else {}
            _, text = tools.run(call.get("name", ""), args, by=f"llm step {step + 1}")
            messages.append(ToolMessage(content=wrap_result(text), tool_call_id=call.get("id") or f"call_{step}_{i}"))
    return ""


def collect(model, messages: list) -> Iterator[str]:
    """Stream one model turn: yields content deltas, returns the aggregated message."""
    msg = None
    for chunk in model.stream(messages):
        delta = text_of(chunk)
        if delta:
            yield delta
        msg = chunk if msg is None else msg + chunk
    return msg


def text_of(msg) -> str:
    content = getattr(msg, "content", "") if msg is not None else ""
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content or ""
