"""Citation checker: find 《法律》第X条 citations in a text and verify each against the corpus.

Per citation: does the law exist, does the article exist in it, its validity (preferring the in-force version of
a law with several versions), whether a corpus provision declares the law repealed ("《…》同时废止"), and whether
quoted text ("…规定：“…”") matches the article. The repeal map and alias scanner are built once per Searcher.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from difflib import SequenceMatcher

from ..documents import AMENDED, HISTORICAL, IN_FORCE, REPEALED, UNKNOWN
from ..retrieval.memo import per_searcher
from ..retrieval.search import QueryError
from ..text import CN_NUM, NUM_CHARS, PRC, article_key, article_label, book, cn2int, int2cn, law_key

MISSING = "不存在"
STATUS_RANK = {IN_FORCE: 0, AMENDED: 1, UNKNOWN: 2, HISTORICAL: 3, REPEALED: 4}
LAW_KINDS = ("statute", "regulation", "local")
QUOTE_THRESHOLD = 0.9

# common abbreviations the corpus-derived aliases do not produce (value is resolved like a written name)
ABBREVIATIONS = {
    "国赔法": "国家赔偿法", "高检规则": "人民检察院刑事诉讼规则", "高检院规则": "人民检察院刑事诉讼规则",
    "政务处分法": "公职人员政务处分法", "治安处罚法": "治安管理处罚法", "公安部规定": "公安机关办理刑事案件程序规定",
    "公安机关程序规定": "公安机关办理刑事案件程序规定", "刑诉解释": "刑诉法解释", "民诉解释": "民诉法解释",
    "行诉解释": "行诉法解释",
}

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
# a bare law name counts only after a non-CJK char or one of these (function words, ends of 依照/符合/违反/适用…)
_BARE_PREV = frozenset("的了在是为和及与或即见系由经按依据照对同以从自至到用犯合反引守行于成背触称")
_REPEAL_TAIL = re.compile(
    r"(?:\s|[（(][^（）()]{0,40}[）)]|同时|即行|一并|予以|均|亦|也|相应|自[^《》。；，]{0,30}?起)*$"
)
_REPEAL_GAP = re.compile(
    r"\s*(?:[（(][^（）()]{0,40}[）)])?[\s、，,]*(?:和|及|以及|与)?\s*"
    r"(?:[^《》。；]{0,50}?(?:发布|公布|通过|颁布|印发|批准|制定)的)?\s*"
)
# a title written bare around a quoted law: 最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释
_TITLE_TAIL = re.compile(r"[\u4e00-\u9fff]{0,14}?(?:解释|规定|决定|意见|办法|细则|批复|答复|纪要|规则)")
_TITLE_HEAD = re.compile(r"[\u4e00-\u9fff]{1,30}$")
_YEAR_SUFFIX = re.compile(r"[（(]\d{4}[^）)]*[）)]$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
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


@dataclass
class Repeal:
    title: str  # the repealed law as the provision names it
    by_title: str
    by_article: str
    chunk_id: str
    date: str
    rank: int

    @property
    def reason(self) -> str:
        return f"据{book(self.by_title)}{self.by_article}已废止"


# ---- per-Searcher index ------------------------------------------------------------------------------
def _rkey(name: str) -> str:
    """Key for repeal matching: like law_key but keeping version suffixes such as （试行）."""
    t = re.sub(r"\s+", "", name or "").strip("《》").replace("〈", "《").replace("〉", "》")
    return t[len(PRC):] if t.startswith(PRC) and len(t) > len(PRC) + 1 else t


def quoted_spans(text: str) -> list[tuple[int, int, str]]:
    """Top-level 《…》 spans (nesting with 《》 or 〈〉 inside allowed): (start, end, inner)."""
    out, depth, start = [], 0, -1
    for i, ch in enumerate(text):
        if ch == "《":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "》" and depth:
            depth -= 1
            if depth == 0:
                out.append((start, i + 1, text[start + 1 : i]))
        elif depth and (ch in "。\n" or i - start > 150):
            depth = 0
    return out


def repealed_titles(text: str) -> list[str]:
    """Titles a provision declares repealed: a 《…》 list directly before (同时/即行/予以)废止."""
    spans = quoted_spans(text)
    out: list[str] = []
    for m in re.finditer("废止", text):
        pos = m.start()
        if any(s < pos < e for s, e, _ in spans):
            continue
        begin = max(text.rfind(ch, 0, pos) for ch in "。；;\n") + 1
        head = text[begin:pos]
        head = head[: _REPEAL_TAIL.search(head).start()]
        local = quoted_spans(head)
        if not local or local[-1][1] != len(head):
            continue
        found = [local[-1][2]]
        for (_, e0, name), (s1, _, _) in zip(reversed(local[:-1]), reversed(local[1:])):
            if not _REPEAL_GAP.fullmatch(head[e0:s1]):
                break
            found.append(name)
        out += reversed(found)
    return out


class CitationIndex:
    """Alias scanner, all law titles and the repeal map for one Searcher."""

    def __init__(self, searcher):
        self.searcher = searcher
        st = searcher.store
        self.law_titles: dict[str, list[int]] = {}
        for row, (kind, title) in enumerate(zip(st.kinds, st.titles)):
            if kind in LAW_KINDS:
                self.law_titles.setdefault(title, []).append(row)
        self.repeals = self._build_repeals()
        names = set(searcher.laws.alias) | set(ABBREVIATIONS) | {law_key(r.title) for r in self.repeals.values()}
        self._first: dict[str, list[str]] = {}
        for a in sorted((a for a in names if len(a) >= 2), key=len, reverse=True):  # bare names need 第X条 after
            self._first.setdefault(a[0], []).append(a)

    def _build_repeals(self) -> dict[str, Repeal]:
        st = self.searcher.store
        out: dict[str, Repeal] = {}
        for row in st.rows_containing("废止"):
            if st.kinds[row] not in LAW_KINDS or not st.article_keys[row]:
                continue
            c = st.get(row)
            own = _YEAR_SUFFIX.sub("", _rkey(c.title))
            for name in repealed_titles(c.text):
                key = _rkey(name)
                if not key or _YEAR_SUFFIX.sub("", key) == own:  # an older version of the same instrument
                    continue
                rep = Repeal(re.sub(r"\s+", "", name).replace("〈", "《").replace("〉", "》"), c.title, c.article,
                             c.id, c.date, STATUS_RANK.get(c.status, 2))
                prev = out.get(key)
                if prev is None or (rep.rank, rep.date) < (prev.rank, prev.date):
                    out[key] = rep
        return out

    # ---- resolution ------------------------------------------------------------------------------
    def resolve(self, name: str) -> list[str]:
        """Candidate full titles for a written law name, best first; [] when unknown."""
        laws = self.searcher.laws
        n = re.sub(r"\s+", "", name).strip("《》").replace("〈", "《").replace("〉", "》")
        for exact in (n, PRC + n):
            if exact in laws.title_rows or exact in self.law_titles:
                return [exact]
        titles = laws.resolve(n)
        if not titles and n in ABBREVIATIONS:
            titles = laws.resolve(ABBREVIATIONS[n])
        return titles

    def repeal_of(self, written: str, titles: list[str]) -> Repeal | None:
        for name in [written] + titles[:1]:
            rep = self.repeals.get(_rkey(name))
            if rep:
                return rep
        return None

    def distinct_version(self, written: str, titles: list[str]) -> bool:
        """《企业破产法（试行）》 names a repealed instrument, not the current 企业破产法 it resolves to."""
        w = _rkey(written)
        return bool(titles) and w in self.repeals and _rkey(titles[0]) != w and bool(re.search(r"[）)]$", w))

    def widen(self, text: str, s: int, e: int) -> tuple[int, int, str] | None:
        """A quoted law inside a bare title (…关于适用《刑事诉讼法》的解释第28条): the whole title, if it is one
        the corpus holds (exact resolution only), longest first."""
        tail, head = _TITLE_TAIL.match(text, e), _TITLE_HEAD.search(text, max(0, s - 30), s)
        if not tail or not head:
            return None
        for j in range(head.start(), s):
            for end in range(tail.end(), e, -1):
                name = text[j:end]
                if re.sub(r"\s+", "", name).replace("〈", "《").replace("〉", "》") in self.searcher.laws.title_rows:
                    return j, end, name
        return None

    def scan_bare(self, text: str, taken: list[bool]) -> list[tuple[int, int, str]]:
        """Law names written without 《》: (start, end, name), longest name first at each position."""
        out = []
        i = 0
        while i < len(text):
            hit = None
            if not taken[i]:
                for a in self._first.get(text[i], ()):
                    if text.startswith(a, i) and not any(taken[i : i + len(a)]):
                        hit = a
                        break
            if not hit:
                i += 1
                continue
            start = i
            if text.endswith(PRC, 0, i):
                start = i - len(PRC)
            elif i and _CJK.match(text[i - 1]) and text[i - 1] not in _BARE_PREV:
                i += 1  # inside a longer unknown name (劳动合同法 is not 合同法)
                continue
            out.append((start, i + len(hit), hit))
            i += len(hit)
        return out


citation_index = per_searcher(CitationIndex)


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
        c.law = rep.title if rep else re.sub(r"\s+", "", written).replace("〈", "《").replace("〉", "》")
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
