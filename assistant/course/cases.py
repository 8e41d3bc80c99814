"""Cases for a course: guiding cases that cite a module's key provisions or match the topic, and similar case
records (through the similar-case module when present)."""
from __future__ import annotations

import re
import threading
import weakref

from ..answer.citations import check_one
from ..retrieval.search import Filters, QueryError
from ..text import article_label, law_key, short_title, truncate
from .model import CaseRef, Module
from .topic import TopicModel

CASE_COVERAGE = 0.6  # topic coverage of a case's keywords + 裁判要点 for a topic match
GIST_CHARS = 260
FACTS_CHARS = 260
_KW_LINE = re.compile(r"^关键词[:：].*?\n")
_LAWS_TAIL = re.compile(r"\n?相关法条[:：].*$", re.S)

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cited_map(searcher) -> dict[tuple[str, str], list[str]]:
    """(law key, article key) -> guiding doc ids citing it; built once per Searcher."""
    with _LOCK:
        got = _CACHE.get(searcher)
        if got is not None:
            return got
    st = searcher.store
    out: dict[tuple[str, str], list[str]] = {}
    for doc, rows in st.rows_of_doc.items():
        if st.kinds[rows[0]] != "guiding":
            continue
        c = st.get(rows[0])
        for ref in c.meta.get("cited", []):
            key = (law_key(ref.get("law", "")), ref.get("article_key", ""))
            if doc not in out.setdefault(key, []):
                out[key].append(doc)
    with _LOCK:
        _CACHE[searcher] = out
    return out


def _clean_gist(text: str) -> str:
    return _LAWS_TAIL.sub("", _KW_LINE.sub("", text.strip() + "\n")).strip()


def guiding_ref(searcher, doc_id: str, why: str) -> CaseRef | None:
    chunks = searcher.store.doc_chunks(doc_id)
    if not chunks:
        return None
    by_part = {c.part: c for c in chunks}
    gist = by_part.get("裁判要点") or chunks[0]
    facts = by_part.get("基本案情")
    meta = gist.meta
    laws = []
    for ref in meta.get("cited", [])[:6]:
        try:
            cit = check_one(searcher, ref.get("law", ""), ref.get("article_key", ""))
        except QueryError:
            continue
        if cit.exists and not cit.repealed and cit.article_key:
            laws.append(f"《{short_title(cit.law)}》{article_label(*_split_key(cit.article_key))}")
    return CaseRef(
        doc_id=doc_id, title=gist.title, kind="guiding", number=str(meta.get("number", "")),
        keywords=[k for k in meta.get("keywords", []) if k not in ("刑事", "民事", "行政", "执行", "国家赔偿")][:6],
        gist=truncate(_clean_gist(gist.text), GIST_CHARS), gist_chunk=gist.id,
        facts=truncate(re.sub(r"\s+", "", facts.text), FACTS_CHARS) if facts else "", facts_chunk=facts.id if facts else "",
        laws=list(dict.fromkeys(laws)), court=meta.get("court", ""), why=why)


def _split_key(key: str) -> tuple[int, int | None]:
    a, _, b = key.partition("-")
    return int(a), int(b) if b else None


def _case_text(searcher, doc_id: str) -> str:
    chunks = searcher.store.doc_chunks(doc_id)
    gist = next((c for c in chunks if c.part == "裁判要点"), chunks[0] if chunks else None)
    if gist is None:
        return ""
    return " ".join(gist.meta.get("keywords", [])) + " " + gist.title + " " + _clean_gist(gist.text)


def attach_guiding(searcher, tm: TopicModel, modules: list[Module], per_module: int = 2) -> None:
    """Guiding cases per module: those citing the module's provisions first, then topic matches."""
    cited = _cited_map(searcher)
    used: set[str] = set()
    for m in modules:
        for p in m.provisions:
            for doc in cited.get((law_key(p.law), p.article_key), []):
                if len(m.cases) < per_module and doc not in used:
                    ref = guiding_ref(searcher, doc, f"援引本模块条文 cites {p.heading}")
                    if ref:
                        m.cases.append(ref)
                        used.add(doc)
    # topic matches: ranked by document retrieval, kept when their gist covers the topic
    try:
        ranked = searcher.search_docs(" ".join([tm.topic, *tm.query_terms]), k=30,
                                      filters=Filters(kinds=["guiding"], statuses=None))
    except QueryError:
        ranked = []
    matches = [d for d, _, _ in ranked if d not in used and tm.coverage(_case_text(searcher, d)) >= CASE_COVERAGE]
    for doc in matches:
        text = _case_text(searcher, doc)
        best = max(modules, key=lambda m: (len(m.cases) < per_module, _overlap(searcher, text, m), -m.n))
        if len(best.cases) >= per_module:
            break
        ref = guiding_ref(searcher, doc, "与课程主题相符 matches the topic")
        if ref:
            best.cases.append(ref)
            used.add(doc)


def _overlap(searcher, text: str, m: Module) -> float:
    a = set(searcher.tokenizer.tokens(text))
    b = set(searcher.tokenizer.tokens(" ".join(p.text for p in m.provisions)))
    return len(a & b) / (len(a) or 1)


def attach_similar(searcher, tm: TopicModel, modules: list[Module], per_module: int = 1) -> None:
    """Similar case records per module (judgments), kept only when their reasoning is about the topic:
    the topic covered and its main word said at least twice in the holding (本院认为/裁判理由)."""
    if not (searcher.manifest.get("by_kind") or {}).get("case"):
        return
    finder = _similar_finder(searcher)
    main = max(tm.concepts, key=lambda c: c.weight)
    used: set[str] = set()
    for m in modules:
        query = tm.topic + " " + " ".join(p.text[:200] for p in m.provisions[:2])
        for doc_id, reasons in finder(query):
            if doc_id in used:
                continue
            hold = _holding(searcher, doc_id)
            if hold is None or tm.coverage(hold.text) < CASE_COVERAGE:
                continue
            mentions = sum(hold.text.count(w) for w in (main.word, *main.alts))
            if mentions < 2:
                continue
            m.similar.append(CaseRef(doc_id=doc_id, title=hold.title, kind="case", gist=_window(hold.text, main),
                                     gist_chunk=hold.id, court=hold.meta.get("court", ""),
                                     why="；".join(reasons) or "类案 similar case"))
            used.add(doc_id)
            if len(m.similar) >= per_module:
                break


def _holding(searcher, doc_id: str):
    chunks = searcher.store.doc_chunks(doc_id)
    return next((c for c in chunks if c.part in ("本院认为", "裁判理由")), None)


def _window(text: str, concept, n: int = 200) -> str:
    """About n characters of the holding around the first mention of the topic's main word."""
    t = re.sub(r"\s+", "", text)
    pos = min((i for i in (t.find(w) for w in (concept.word, *concept.alts)) if i >= 0), default=0)
    start = max(0, t.rfind("。", 0, max(0, pos - n // 3)) + 1) if pos > n // 2 else 0
    return truncate(t[start:], n)


def _similar_finder(searcher):
    """query -> [(doc_id, reasons)] of case records: SimilarCases (assistant/similar) when present."""
    try:
        from ..retrieval.cases import CaseFilters
        from ..similar.push import SimilarCases
    except ImportError:  # written concurrently: plain document ranking until it exists
        def via_docs(query: str):
            return [(d, []) for d, _, _ in searcher.search_docs(query, k=10, filters=Filters(kinds=["case"], statuses=None))]

        return via_docs
    sc = SimilarCases(searcher)
    filters = CaseFilters.make(kinds=["case"])

    def via_push(query: str):
        return [(r["doc_id"], [x for x in r.get("reasons", []) if x != "案情相关"])
                for r in sc.find(query, k=10, filters=filters, highlights=False)]

    return via_push
