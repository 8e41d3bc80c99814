"""Citation checker: find 《法律》第X条 citations in a text and verify each against the corpus.

Per citation: does the law exist, does the article exist in it, its validity (preferring the in-force version of
a law with several versions), whether a corpus provision declares the law repealed ("《…》同时废止"), and whether
quoted text ("…规定：“…”") matches the article. The repeal map and alias scanner (citation_index.py) are built once
per Searcher.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher

from ..documents import AMENDED, HISTORICAL, IN_FORCE, REPEALED, UNKNOWN
from ..retrieval.search import QueryError
from ..text import CN_NUM, NUM_CHARS, article_key, article_label, book, cn2int, int2cn
from .citation_index import STATUS_RANK, CitationIndex, citation_index, quoted_spans, written_name

MISSING = "不存在"
QUOTE_THRESHOLD = 0.9

_ART = re.compile(rf"第\s*([{NUM_CHARS}]+)\s*条(?:\s*之\s*([{CN_NUM}0-9]+))?")
_ITEM = re.compile(rf"(?:\s*第\s*[（(]?\s*[{NUM_CHARS}]+\s*[）)]?\s*[款项目])+")
_ITEM_PART = re.compile(rf"第\s*[（(]?\s*([{NUM_CHARS}]+)\s*[）)]?\s*([款项目])")
_LEAD = re.compile(r"\s*(?:[（(][^（）()《》]{1,20}[）)])?\s*")  # 《刑法》（2020年修正）第X条
_LIST_CONN = re.compile(r"\s*(?:以及|或者|、|，|,|和|及|与|或|至|到)\s*")
_ITEM_CONN = re.compile(r"\s*(?:以及|或者|、|和|及|与|或|至)\s*")
_QUOTE = re.compile(
    r"\s*(?:的)?(?:中|里)?\s*(?:明确|明文|具体)?(?:规定为|规定|指出|写明|载明|表述为|称)?\s*[:：，,]?\s*"
    r"[“\"「『]([^”\"」』]{1,3000})[”\"」』]"
)
_LAWLIKE = re.compile(
    r"(?:法|法典|条例|规定|规则|办法|细则|解释|决定|意见|通知|批复|答复|纲要|章程|准则|守则)(?:[（(][^）)]{0,20}[）)])*$"
)
_PUNCT = re.compile(r"[\s，。、；：:;,.！？!?“”\"'‘’（）()《》〈〉【】\[\]—\-_·]")


@dataclass
class Citation:
    citation: str  # as found in the text
    law: str  # resolved full title, or the written name when unknown
    article: str = ""  # 第X条 label ('' = the law itself)
    article_key: str = ""
    item: str = ""  # 款/项 suffix as written, e.g. 第五项
    exists: bool = False
    repealed: bool = False
    status: str = MISSING
    reason: str = ""
    chunk_id: str = ""
    quote: str | None = None
    quote_match: bool | None = None
    quote_similarity: float | None = None
    start: int = 0
    end: int = 0

    def to_dict(self) -> dict:
        return asdict(self)




# ---- verification ------------------------------------------------------------------------------------
def _max_article(keys) -> int:
    nums = [int(k.split("-")[0]) for k in keys if k and k.split("-")[0].isdigit()]
    return max(nums) if nums else 0


def _best(st, rows: list[int]) -> int:
    """The preferred version among rows: in force first, then the most recent."""
    return min(rows, key=lambda r: (STATUS_RANK.get(st.statuses[r], 2), _neg_date(st.dates[r]), r))


def _neg_date(d: str) -> tuple:
    return tuple(-ord(ch) for ch in d) if d else (1,)  # most recent first, undated last


def _item_problem(label: str, text: str, item: str) -> str:
    """'' when the 款/项 may exist; a reason when the article clearly has fewer."""
    for num_s, unit in _ITEM_PART.findall(item):
        num = cn2int(num_s)
        if not num:
            continue
        if unit == "项":
            marks = [cn2int(x) for x in re.findall(r"[（(]([一二三四五六七八九十]+)[）)]", text)]
            top = max((x for x in marks if x), default=0)
            if top and num > top:
                return f"{label}共{int2cn(top)}项，无第{int2cn(num)}项"
        elif unit == "款" and "\n" in text:
            paras = [p for p in text.split("\n") if p.strip() and not re.match(r"\s*[（(][一二三四五六七八九十]+[）)]", p)]
            if num > len(paras):
                return f"{label}共{int2cn(len(paras))}款，无第{int2cn(num)}款"
    return ""


def quote_similarity(quote: str, text: str) -> float:
    """Share of the quote's characters found, in order, in the article (ellipses split fragments)."""
    t = _PUNCT.sub("", text)
    total = matched = 0
    for frag in re.split(r"…+|\.{3,}|⋯+", quote):
        f = _PUNCT.sub("", frag)
        if not f:
            continue
        total += len(f)
        if f in t:
            matched += len(f)
        else:
            sm = SequenceMatcher(None, f, t, autojunk=False)
            matched += sum(b.size for b in sm.get_matching_blocks() if b.size >= 2)
    return round(matched / total, 3) if total else 0.0


def _verify(idx: CitationIndex, c: Citation, written: str) -> Citation:
    st, laws = idx.searcher.store, idx.searcher.laws
    titles = idx.resolve(written)
    if idx.distinct_version(written, titles):
        titles = []
    rep = idx.repeal_of(written, titles)
    if not titles:
        c.law = rep.title if rep else written_name(written)
        if rep:
            c.repealed, c.status, c.reason = True, REPEALED, rep.reason + ("，语料中无该法条文" if c.article else "")
        else:
            c.reason = f"语料中未找到{book(c.law)}"
        return c
    title = titles[0]
    if c.article_key:
        title = next((t for t in titles if laws.rows.get((t, c.article_key))), title)
    c.law = title
    all_rows = laws.title_rows.get(title) or idx.law_titles.get(title, [])
    law_row = _best(st, all_rows)
    if rep:  # a version in force and newer than the repealing provision means the law was re-enacted
        newer = [r for r in all_rows if st.statuses[r] in (IN_FORCE, AMENDED) and rep.date and st.dates[r] > rep.date]
        rep = None if newer else rep
    if not c.article_key:
        c.exists, c.status = True, REPEALED if rep else st.statuses[law_row]
        c.repealed = c.status == REPEALED
        c.reason = rep.reason if rep else {IN_FORCE: "法律法规存在，现行有效", REPEALED: "该法律法规已废止"}.get(
            c.status, f"法律法规存在，状态：{c.status}")
        return c
    rows = laws.rows.get((title, c.article_key), [])
    if not rows:
        doc = st.doc_ids[law_row]
        total = _max_article(st.article_keys[r] for r in st.rows_of_doc.get(doc, []))
        c.repealed = bool(rep) or st.statuses[law_row] == REPEALED
        c.status = REPEALED if c.repealed else MISSING
        c.reason = f"{book(title)}共{int2cn(total)}条，无{c.article}" if total else f"{book(title)}中无{c.article}"
        if rep:
            c.reason += "；" + rep.reason
        return c
    row = _best(st, rows)
    chunk = st.get(row)
    c.chunk_id, c.status, c.exists = chunk.id, REPEALED if rep else chunk.status, True
    c.repealed = c.status == REPEALED
    problem = _item_problem(c.article, chunk.text, c.item) if c.item else ""
    if problem:
        c.exists, c.status, c.reason = False, REPEALED if c.repealed else MISSING, problem
    elif rep:
        c.reason = rep.reason
    else:
        c.reason = {
            IN_FORCE: "条文存在，现行有效", AMENDED: "条文存在，该法已被修改（非废止）", REPEALED: "条文存在，但该法已废止",
            HISTORICAL: "条文仅见于历史版本", UNKNOWN: "条文存在，效力状态未知",
        }.get(c.status, f"条文存在，状态：{c.status}")
    if c.quote is not None:
        c.quote_similarity = quote_similarity(c.quote, chunk.text)
        c.quote_match = c.quote_similarity >= QUOTE_THRESHOLD
        if not c.quote_match:
            other = [r for r in rows if r != row and quote_similarity(c.quote, st.get(r).text) >= QUOTE_THRESHOLD]
            c.reason += "；引文与条文不符" + (f"（与{st.statuses[other[0]]}条文相符）" if other else "")
    return c


# ---- public API --------------------------------------------------------------------------------------
def _parse_article(s: str) -> tuple[str, str, str]:
    """'第46条第五项' | '46' | '399-1' -> (article_key, label, item)."""
    s = re.sub(r"\s+", "", s or "")
    if not s:
        return "", "", ""
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", s)
    if m:
        num, sub = int(m.group(1)), int(m.group(2)) if m.group(2) else None
        return article_key(num, sub), article_label(num, sub), ""
    m = _ART.match(s)
    num = cn2int(m.group(1)) if m else None
    sub = cn2int(m.group(2)) if m and m.group(2) else None
    if not num:
        raise QueryError(f"无法识别的条号 unrecognised article: {s}")
    return article_key(num, sub), article_label(num, sub), s[m.end():]


def check_one(searcher, law: str, article: str = "") -> Citation:
    """Verify one citation given as a law name and an article in any spelling ('' = the law itself)."""
    if not isinstance(law, str) or not law.strip():
        raise QueryError("法律名称不能为空 law name is empty")
    key, label, item = _parse_article(article)
    text = f"《{law.strip().strip('《》')}》{label}{item}"
    c = Citation(citation=text, law=law.strip(), article=label, article_key=key, item=item, end=len(text))
    return _verify(citation_index(searcher), c, law.strip())


def _chain(text: str, pos: int) -> list[tuple[int, int, str, str, str]]:
    """Articles written after a law name at pos: [(start, end, key, label, item)], lists expanded."""
    out = []
    m = _ART.match(text, _LEAD.match(text, pos).end())
    while m:
        num = cn2int(m.group(1))
        sub = cn2int(m.group(2)) if m.group(2) else None
        if not num:
            break
        end, item = m.end(), ""
        im = _ITEM.match(text, end)
        while im:  # 第四项、第五项 belong to the same article
            item += re.sub(r"\s+", "", text[end:im.end()])
            end = im.end()
            cm = _ITEM_CONN.match(text, end)
            im = _ITEM.match(text, cm.end()) if cm else None
        out.append((m.start(), end, article_key(num, sub), article_label(num, sub), item))
        cm = _LIST_CONN.match(text, end)
        m = _ART.match(text, cm.end()) if cm else None
    return out


def check_text(searcher, text: str) -> list[Citation]:
    """Every citation in text (《》-quoted or bare law name + article; lists expanded), verified, in order."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("文本不能为空 text is empty")
    limit = searcher.settings.max_draft_chars
    if len(text) > limit:
        raise QueryError(f"文本过长 text too long: {len(text)} chars > {limit}")
    idx = citation_index(searcher)
    mentions: list[tuple[int, int, str, bool]] = []  # start, end, written name, quoted
    taken = [False] * len(text)
    for s, e, inner in quoted_spans(text):
        s, e, inner = idx.widen(text, s, e) or (s, e, inner)
        for i in range(s, e):
            taken[i] = True
        mentions.append((s, e, inner, True))
    mentions += [(s, e, name, False) for s, e, name in idx.scan_bare(text, taken)]
    mentions.sort()
    out: list[Citation] = []
    for s, e, name, quoted in mentions:
        arts = _chain(text, e)
        if not arts:
            if not quoted or not (idx.resolve(name) or idx.repeal_of(name, []) or _LAWLIKE.search(name)):
                continue
            arts_or_law = [(e, e, "", "", "")]
        else:
            arts_or_law = arts
        for n, (a_s, a_e, key, label, item) in enumerate(arts_or_law):
            cs = s if n == 0 else a_s
            c = Citation(citation=text[cs:a_e], law=name, article=label, article_key=key, item=item, start=cs, end=a_e)
            if len(arts_or_law) == 1 and key:
                qm = _QUOTE.match(text, a_e)
                if qm:
                    c.quote = qm.group(1)
            out.append(_verify(idx, c, name))
    return out
