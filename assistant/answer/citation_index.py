"""Per-Searcher citation index: law-name resolution (aliases, abbreviations, bare names in running text), the map
of laws that corpus provisions declare repealed, and the spans of 《》-quoted names."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..documents import AMENDED, HISTORICAL, IN_FORCE, REPEALED, UNKNOWN
from ..retrieval.memo import per_searcher
from ..text import PRC, book, law_key

STATUS_RANK = {IN_FORCE: 0, AMENDED: 1, UNKNOWN: 2, HISTORICAL: 3, REPEALED: 4}
LAW_KINDS = ("statute", "regulation", "local")
# common abbreviations the corpus-derived aliases do not produce (value is resolved like a written name)
ABBREVIATIONS = {
    "国赔法": "国家赔偿法", "高检规则": "人民检察院刑事诉讼规则", "高检院规则": "人民检察院刑事诉讼规则",
    "政务处分法": "公职人员政务处分法", "治安处罚法": "治安管理处罚法", "公安部规定": "公安机关办理刑事案件程序规定",
    "公安机关程序规定": "公安机关办理刑事案件程序规定", "刑诉解释": "刑诉法解释", "民诉解释": "民诉法解释",
    "行诉解释": "行诉法解释",
}

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


def written_name(name: str, unquote: bool = False) -> str:
    """A law name as written, normalised for lookup: no whitespace, inner 〈〉 as 《》 (outer 《》 removed first
    with unquote)."""
    t = re.sub(r"\s+", "", name or "")
    return (t.strip("《》") if unquote else t).replace("〈", "《").replace("〉", "》")


# ---- per-Searcher index ------------------------------------------------------------------------------
def _rkey(name: str) -> str:
    """Key for repeal matching: like law_key but keeping version suffixes such as （试行）."""
    t = written_name(name, unquote=True)
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
                rep = Repeal(written_name(name), c.title, c.article,
                             c.id, c.date, STATUS_RANK.get(c.status, 2))
                prev = out.get(key)
                if prev is None or (rep.rank, rep.date) < (prev.rank, prev.date):
                    out[key] = rep
        return out

    # ---- resolution ------------------------------------------------------------------------------
    def resolve(self, name: str) -> list[str]:
        """Candidate full titles for a written law name, best first; [] when unknown."""
        laws = self.searcher.laws
        n = written_name(name, unquote=True)
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
                if written_name(name) in self.searcher.laws.title_rows:
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
