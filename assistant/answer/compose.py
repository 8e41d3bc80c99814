"""Evidence bookkeeping, relevance checks and the deterministic (no-LLM) Markdown answer."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..documents import ACTIVE_STATUSES, AMENDED, HISTORICAL, IN_FORCE, REPEALED, UNKNOWN
from ..retrieval.memo import per_searcher
from ..retrieval.search import Hit
from ..text import ARTICLE_RE, law_key, normalize_article, truncate

LAW_KINDS = ["statute", "regulation", "policy", "local"]
CASE_KINDS = ["guiding", "case"]
MIN_COVERAGE = 0.18  # calibrated on statute_qa_dev vs out_of_corpus (see evals/reports/chat-*.md)
CASE_MIN_COVERAGE = 0.65  # of a question's key words by a case passage; 0.5 when cases are asked for
QUOTE_CHARS = 260

_SENT = re.compile(r"(?<=[。！？])|\n")
_QUOTED_NAME = re.compile(r"《([^《》]*(?:〈[^〉]*〉[^《》]*)*)》")
_STRONG_SUFFIX = re.compile(r"(?:条例|细则|准则|规则|章程)")
# a preposition before a name is not part of it (按警械武器条例); a reference back is no name (按现在新条例)
_LEAD_WORD = re.compile(r"^(?:按照|依照|根据|依据|参照|对照|适用|违反|按|依|据|照|对|在|用)")
_BACK_REF = re.compile(r"(?:新|旧|原|该|本|此|这个?|那个?|上述|前述|现行|现在的?)(?:条例|细则|准则|规则|章程)$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ITEM_LINE = re.compile(r"^\s*[（(][一二三四五六七八九十]+[）)]", re.M)
_ART_TOKEN = re.compile(r"^第.*条$|^第$|^条$")
# other jurisdictions: the corpus holds mainland Chinese law only
_FOREIGN = re.compile(
    r"(美国|英国|法国|德国|日本|韩国|俄罗斯|意大利|加拿大|澳大利亚|新加坡|欧盟|欧洲|台湾(?:地区)?|香港|澳门)"
    r".{0,8}?(宪法|法律|法典|条例|修正案|制度|GDPR|第\s*[0-9０-９a-zA-Z一二三四五六七八九十百]+\s*条|[\u4e00-\u9fff]法(?![院官庭警]))"
)
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范廖贾夏韦邹孟熊秦邱尹薛闫雷侯史陶黎贺顾毛郝龚邵钱严覃戴莫孔汤"
# facts about a named person ("张建国法官去年审结了多少件") or a current office-holder: not in any statute.
# Pseudonyms in hypotheticals (李某法官违规会见当事人……) are legal questions and pass.
_PERSON = re.compile(rf"(?:^|[^\u4e00-\u9fff]|[的位名])[{_SURNAMES}][\u4e00-\u9fff]{{0,2}}(?<!某)"
                     r"(?:法官|检察官|检察长|院长|庭长|警官|所长|局长)")
_PERSON_FACT = re.compile(r"是谁|多少件|多少起|有没有受过|受过.{0,6}吗|去年|今年|前年|履历|简历|任职经历|联系方式|电话|住址|哪一?年")
_OFFICE_HOLDER = re.compile(r"(?:现任|时任|前任)[\u4e00-\u9fff]{0,4}(?:院长|检察长|庭长|局长|部长)")
_STATUS_NOTE = {
    AMENDED: "已修改，引用前请核对现行文本",
    REPEALED: "已废止，不宜作为现行依据",
    HISTORICAL: "为历史版本，请以现行版本为准",
    UNKNOWN: "效力状态未知，请核实",
}


@dataclass
class Source:
    n: int
    hit: Hit

    def to_dict(self) -> dict:
        c = self.hit.chunk
        return {"n": self.n, "id": c.id, "doc_id": c.doc_id, "heading": c.heading, "title": c.title,
                "article": c.article, "kind": c.kind, "status": c.status, "issuer": c.issuer, "date": c.date,
                "part": c.part, "text": c.text}


class SourceBook:
    """Numbered evidence [1] [2] ... shared by the composer, the LLM prompt and the verifier."""

    def __init__(self) -> None:
        self.items: list[Source] = []
        self._n_of: dict[str, int] = {}

    def add(self, hit: Hit) -> int:
        c = hit.chunk
        key = f"{c.title}#{c.article_key}" if c.article_key else c.id
        if key not in self._n_of:
            self.items.append(Source(len(self.items) + 1, hit))
            self._n_of[key] = len(self.items)
        return self._n_of[key]

    def __len__(self) -> int:
        return len(self.items)

    def laws(self) -> list[Source]:
        return [s for s in self.items if s.hit.chunk.kind not in CASE_KINDS]

    def cases(self) -> list[Source]:
        return [s for s in self.items if s.hit.chunk.kind in CASE_KINDS]

    def article_keys(self) -> set[tuple[str, str]]:
        return {(law_key(s.hit.chunk.title), s.hit.chunk.article_key) for s in self.items if s.hit.chunk.article_key}

    def ids(self) -> set[str]:
        return {s.hit.chunk.id for s in self.items}

    def to_dicts(self) -> list[dict]:
        return [s.to_dict() for s in self.items]


class Relevance:
    """IDF-weighted coverage of a question's content words by a passage (BM25 vocabulary statistics)."""

    def __init__(self, searcher):
        self.s = searcher

    def idf(self, tok: str) -> float:
        bm25 = self.s.bm25
        return bm25.idf(bm25.df(tok))

    def content_tokens(self, question: str) -> list[str]:
        """Question tokens minus law names (they route, they do not match) and bare numbers."""
        skip: set[str] = set()
        for r in self.s.laws.find_refs(question):
            skip.update(self.s.tokenizer.tokens(r.alias))
        for m in _QUOTED_NAME.finditer(question):
            skip.update(self.s.tokenizer.tokens(m.group(1)))
        toks = [t for t in self.s.tokenizer.tokens(question) if t not in skip and not t.isdigit() and not _ART_TOKEN.match(t)]
        return list(dict.fromkeys(toks))

    def key_tokens(self, question: str) -> list[str]:
        """Maximal content words (国家赔偿, not also 国家 and 赔偿): a stricter test for long passages."""
        toks = [t for t in self.content_tokens(question) if len(t) >= 2]
        return [t for t in toks if not any(t != u and t in u for u in toks)]

    def coverage(self, tokens: list[str], text: str) -> float:
        total = sum(self.idf(t) for t in tokens)
        return sum(self.idf(t) for t in tokens if t in text) / total if total else 0.0


relevance = per_searcher(Relevance)


def best_sentence(rel: Relevance, tokens: list[str], text: str, limit: int = 160) -> str:
    """The source sentence that best covers the question (verbatim; the whole text when short)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    sents = [s.strip() for s in _SENT.split(text) if s and s.strip()]
    if not sents:
        return truncate(text, limit)
    best = max(sents, key=lambda s: (rel.coverage(tokens, s), -sents.index(s)))
    return truncate(best, limit)


# ---- evidence assessment ------------------------------------------------------------------------
@dataclass
class Assessment:
    insufficient: bool
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # law names / citations absent from the corpus
    coverage: float = 0.0


def missing_laws(searcher, question: str, citations: list) -> list[str]:
    """Law names or articles the question names that the corpus does not hold."""
    out: list[str] = []
    for c in citations:
        if not getattr(c, "exists", True):
            out.append(c.citation)
    spans = [(m.start(), m.end()) for m in _QUOTED_NAME.finditer(question)]
    for m in _QUOTED_NAME.finditer(question):
        name = m.group(1).strip()
        if name and not searcher.laws.resolve(name) and not any(name in x for x in out):
            out.append(f"《{name}》")
    for m in _STRONG_SUFFIX.finditer(question):
        if any(a <= m.start() < b for a, b in spans):
            continue
        start = m.start()
        while start > 0 and _CJK.match(question[start - 1]):
            start -= 1
        run = _LEAD_WORD.sub("", question[start : m.end()])
        if len(run) < 6 or _BACK_REF.search(run):
            continue
        known = any(searcher.laws.resolve(run[i:]) for i in range(0, len(run) - 3)) or _loose_title(searcher, run)
        if not known and not any(run in x for x in out):
            out.append(run)
    return out


def _loose_title(searcher, name: str) -> str | None:
    """The corpus title containing every character of an approximately written law name
    (警械和武器使用条例 ~ 人民警察使用警械和武器条例): in force first, then the shortest."""
    key = law_key(name)
    chars = set(key)
    cands = [t for t in searcher.laws.title_rows if len(law_key(t)) <= len(key) + 12 and chars <= set(t)]
    return min(cands, key=lambda t: (t not in searcher.laws.active, len(t), t)) if cands else None


_LAW_SUFFIX = re.compile(r"(?:法|条例|规定|办法|解释|规则|细则|准则|意见|决定)$")


def named_articles(searcher, question: str, citations: list) -> list[Hit]:
    """Articles the question names: verified citations, plus approximately written law names followed by
    第X条 (检察院司法责任追究条例第七条 -> 《人民检察院司法责任追究条例（2024年修订）》第七条)."""
    st, laws = searcher.store, searcher.laws
    out: list[Hit] = []
    seen: set[str] = set()

    def add(chunk) -> None:
        if chunk is not None and chunk.id not in seen:
            seen.add(chunk.id)
            out.append(Hit(chunk, 1.0, ["direct"]))

    for c in citations:
        if getattr(c, "exists", False) and getattr(c, "chunk_id", ""):
            add(st.by_id(c.chunk_id))
    for m in ARTICLE_RE.finditer(question):
        start = m.start()
        while start > 0 and (_CJK.match(question[start - 1]) or question[start - 1] == "、"):
            start -= 1
        run = question[start : m.start()].strip()
        if len(run) < 4 or not _LAW_SUFFIX.search(run):
            continue
        key = normalize_article(m.group(0))
        title = None
        for i in range(0, len(run) - 3):
            title = (laws.resolve(run[i:]) or [None])[0] or _loose_title(searcher, run[i:])
            if title:
                break
        rows = laws.rows.get((title, key), []) if title else []
        if rows:
            add(st.get(min(rows, key=lambda r: st.statuses[r] not in ACTIVE_STATUSES)))
    return out


def mention(text: str) -> str:
    """Write law names asked about with 「」 instead of 《》: they are being reported, not cited."""
    return text.replace("《", "「").replace("》", "」")


def foreign_reference(searcher, question: str) -> str | None:
    for m in _FOREIGN.finditer(question):
        inside_known = any(r.start <= m.start(1) < r.end for r in searcher.laws.find_refs(question))
        if not inside_known:
            return m.group(1)
    return None


def assess(searcher, question: str, laws: list[Hit], citations: list, direct: bool, search_query: str = "") -> Assessment:
    """Is the evidence strong enough to answer? Coverage of the (expanded) query's content words by the
    best of the top three provisions, plus law-name resolution, jurisdiction and personal-fact checks."""
    rel = relevance(searcher)
    toks = rel.content_tokens(search_query or question)
    cov = max((rel.coverage(toks, h.chunk.index_text()) for h in laws[:3]), default=0.0)
    a = Assessment(False, coverage=round(cov, 3))
    a.missing = missing_laws(searcher, question, citations)
    if a.missing:
        a.reasons.append(f"问题所涉法规/条文未收录于语料库：{mention('、'.join(a.missing))}")
    where = foreign_reference(searcher, question)
    if where:
        a.reasons.append(f"问题涉及域外法（{where}），语料库仅收录中国大陆法规与案例")
    if (_PERSON.search(question) and _PERSON_FACT.search(question)) or _OFFICE_HOLDER.search(question):
        a.reasons.append("问题涉及具体人员或任职等事实信息，语料库只收录法规和案例")
    if not laws:
        a.reasons.append("未检索到相关条文")
    elif not direct and cov < MIN_COVERAGE:
        a.reasons.append(f"最相关条文与问题的匹配度过低（关键词覆盖 {cov:.0%} < {MIN_COVERAGE:.0%}）")
    a.insufficient = bool(a.reasons)
    return a


# ---- Markdown -----------------------------------------------------------------------------------
def _status_line(c) -> str:
    bits = [c.status or UNKNOWN]
    if c.issuer:
        bits.append(c.issuer)
    if c.date:
        bits.append(c.date)
    return "；".join(bits)


def _quote(text: str, n: int = QUOTE_CHARS) -> str:
    return "\n".join("> " + line for line in truncate(text.strip(), n).splitlines() if line.strip())


def law_block(sources: list[Source]) -> list[str]:
    out: list[str] = []
    for s in sources:
        c = s.hit.chunk
        head = c.heading if c.article else mention(c.heading)  # a policy title quoting a law is not a citation
        out += [f"[{s.n}] {head}（{_status_line(c)}）", _quote(c.text), ""]
    return out


def case_block(sources: list[Source]) -> list[str]:
    out: list[str] = []
    for s in sources:
        c = s.hit.chunk
        tag = "指导性案例，" + c.meta.get("binding", "应当参照") if c.kind == "guiding" else "案例"
        court = c.meta.get("court") or c.issuer
        extra = "；".join(x for x in (tag, court, c.date) if x)
        out += [f"[{s.n}] {mention(c.title)}（{extra}）", _quote(f"{c.part}：{c.text}" if c.part else c.text, 160), ""]
    return out


def status_warnings(sources: list[Source]) -> list[str]:
    out: list[str] = []
    for s in sources:
        c = s.hit.chunk
        note = _STATUS_NOTE.get(c.status) if c.status != IN_FORCE else None
        if note:
            out.append(f"[{s.n}] {c.heading}{note}。")
    return out


def conclusion(searcher, question: str, top: Source) -> str:
    rel = relevance(searcher)
    text = top.hit.chunk.text
    sent = best_sentence(rel, rel.content_tokens(question), text).replace("\n", "")
    items = len(_ITEM_LINE.findall(text))
    if sent.endswith(("：", ":")) and items:  # a list's lead-in: say that the items follow in the source
        return f"根据{top.hit.chunk.heading}：“{sent}……”（列举 {items} 项情形，详见 [{top.n}]）"
    return f"根据{top.hit.chunk.heading}：“{sent}”[{top.n}]"


def render(sections: list[tuple[str, list[str]]]) -> str:
    out: list[str] = []
    for title, lines in sections:
        if lines:
            out += [f"## {title}", "", *lines]
            if out[-1] != "":
                out.append("")
    return "\n".join(out).strip() + "\n"


def insufficient_answer(a: Assessment, searched: list[str], nearest: list[Source]) -> str:
    lines = ["未能在语料库中找到足以回答该问题的依据，因此不作实质性回答。", ""]
    lines += [f"- 原因：{mention(r)}" for r in a.reasons]
    lines += [f"- 已检索：{mention(s)}" for s in searched]
    near = [f"- [{s.n}] {s.hit.chunk.heading}（{s.hit.chunk.status}）" for s in nearest[:3]]
    tips = ["请提供法规全称、条文序号或条文原文后再问；本助手仅依据已收录的中国大陆法规与案例作答。"]
    return render([("依据不足", lines), ("最接近的检索结果（仅供参考，未据此作答）", near), ("提示", [f"- {t}" for t in tips])])


def compose_answer(searcher, question: str, intent: str, book: SourceBook, routed: dict, a: Assessment,
                   role: str | None, searched: list[str]) -> tuple[str, list[str]]:
    """The deterministic answer (Markdown) and its warnings, built only from numbered sources."""
    laws, cases = book.laws(), book.cases()
    if intent == "citation":
        return citation_answer(routed.get("citations") or [], book), status_warnings(laws)
    if a.insufficient:
        return insufficient_answer(a, searched, laws), list(a.reasons)
    warnings = status_warnings(laws + cases)
    head: list[str] = []
    if intent == "cases":
        n_guiding = sum(1 for s in cases if s.hit.chunk.kind == "guiding")
        head.append(f"检索到 {len(cases)} 件相关案例（其中指导性案例 {n_guiding} 件，应当参照）。" if cases
                    else "未检索到足够相关的案例。")
    if laws:
        prefix = f"关于{role}：" if intent == "role" and role else ""
        head.append(prefix + conclusion(searcher, question, laws[0]))
    if a.coverage < 2 * MIN_COVERAGE and intent != "cases":
        warnings.append(f"最相关条文与问题的关键词匹配度一般（{a.coverage:.0%}），请结合条文原文判断是否适用。")
    listing = routed.get("listing") or {}
    roles_md = [f"- **{g}**：" + "；".join(f"[{s.n}] {s.hit.chunk.heading}" for s in listing[g])
                for g in ("职责", "权力", "责任") if listing.get(g)]
    case_md = case_block(cases) or ["未检索到足够相关的案例。"]
    sections = [("结论", head), ("依据", law_block(laws))]
    if roles_md:
        sections.append((f"权责清单（{role}）", roles_md))
    if routed.get("course") is not None:
        sections.insert(1, ("课程大纲", course_block(routed["course"], book)))
    if routed.get("draft"):
        bad = [c for c in routed["draft"].get("citations", []) if not c.get("exists") or c.get("repealed")]
        warnings += [f"草稿引用「{mention(c['citation'])}」：{c.get('reason', '')}" for c in bad]
    if intent == "cases":
        sections.insert(1, ("相关案例", case_md))
    else:
        sections.append(("相关案例", case_md))
    tips = warnings + ["以上内容摘自检索到的条文和案例原文，具体适用请以有权机关发布的现行文本为准。"]
    sections.append(("提示", [f"- {t}" for t in tips]))
    return render(sections), warnings


def citation_answer(citations: list, book: SourceBook) -> str:
    if not citations:
        return render([("核查结果", ["未在文本中识别到“《法规名称》第X条”形式的引用。"])])
    n_of = {s.hit.chunk.id: s.n for s in book.items}
    lines = []
    for c in citations:
        ref = f" [{n_of[c.chunk_id]}]" if getattr(c, "chunk_id", None) in n_of else ""
        if not c.exists:
            lines.append(f"- ✗ {c.citation}：未找到{('（' + c.reason + '）') if c.reason else ''}")
        elif c.repealed:
            lines.append(f"- ⚠ {c.citation}：存在，但已废止或失效（{c.status}）{ref}")
        else:
            lines.append(f"- ✓ {c.citation}：存在（{c.status}）{ref}")
    bad = sum(1 for c in citations if not c.exists or c.repealed)
    head = [f"共识别 {len(citations)} 处引用，其中 {bad} 处不存在或已失效。"]
    return render([("结论", head), ("核查结果", lines), ("依据", law_block(book.laws())),
                   ("提示", ["- 仅核查语料库已收录的法规；未收录不等于该法规不存在。"])])


def course_block(course, book: SourceBook) -> list[str]:
    n_of = {s.hit.chunk.id: s.n for s in book.items}
    out = [f"**{getattr(course, 'title', '')}**（{getattr(course, 'hours', '')} 学时）", ""]
    for m in getattr(course, "modules", []):
        refs = "；".join(f"[{n_of[p.chunk_id]}] {p.heading}" for p in m.provisions if p.chunk_id in n_of)
        out.append(f"{m.n}. {m.title}（{m.minutes} 分钟）" + (f"：{refs}" if refs else ""))
    return out
