"""Law-name and article lookups: "法官法第46条", "《刑诉法解释》第一条", aliases included."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..documents import ACTIVE_STATUSES
from ..lexicon import Lexicon
from ..text import ARTICLE_RE, article_key, cn2int, law_key

_QUOTED = re.compile(r"《([^《》]*(?:〈[^〉]*〉[^《》]*)*)》")
# the words an instrument's name ends with, and what may stand before a bare "...第N条"
_NAME_END = ("法", "条例", "规定", "解释", "办法", "规则", "意见", "决定", "细则", "准则", "规范", "纲要", "通知", "批复")
_NAME_STOP = re.compile(r"[\s，。？！、；：,.?!;:“”\"'（）()《》]")
_HEAD_STOP = re.compile(r"[\s，。？！、；：,.?!;:“”\"'（）()]")
# a version or trial note written after a name: （2024年修订） （试行） (2018修正)
_NOTE = re.compile(r"[（(][^（）()]{0,12}(?:\d{4}|修订|修正|试行|暂行)[^（）()]{0,6}[）)]")
MIN_FUZZY = 4  # shortest written name matched loosely against titles
MIN_UNORDERED = 6  # shortest written name matched by its characters in any order ("警械和武器使用条例")


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _contains_chars(short: str, long: str) -> bool:
    """Every character of short (with its multiplicity) occurs in long, in any order."""
    return all(long.count(ch) >= n for ch, n in Counter(short).items())


@dataclass
class LawRef:
    alias: str  # as written
    titles: list[str]  # candidate full titles, best first
    start: int
    end: int
    article_key: str = ""
    article: str = ""


class LawDirectory:
    """Known titles, aliases and (title, article_key) -> rows of the chunk store."""

    def __init__(self, titles: list[str], article_keys: list[str], statuses, lexicon: Lexicon):
        self.rows: dict[tuple[str, str], list[int]] = {}
        self.title_rows: dict[str, list[int]] = {}
        active: dict[str, int] = {}
        for i, (t, a) in enumerate(zip(titles, article_keys)):
            if not a:
                continue
            self.rows.setdefault((t, a), []).append(i)
            self.title_rows.setdefault(t, []).append(i)
            if statuses[i] in ACTIVE_STATUSES:
                active[t] = active.get(t, 0) + 1
        self.active = active
        self._keys: list[tuple[str, str]] | None = None
        alias: dict[str, set[str]] = {}
        for t in self.title_rows:
            alias.setdefault(law_key(t), set()).add(t)
        for a, ts in lexicon.aliases.items():
            alias.setdefault(a, set()).update(x for x in ts if x in self.title_rows)
        self.alias = {a: self._rank(ts) for a, ts in alias.items() if ts}
        # longest alias first, for scanning free text
        # two-character names only for laws (刑法, 宪法): shorter ones would match ordinary words
        self._scan = sorted((a for a in self.alias if len(a) >= 3 or (len(a) == 2 and a.endswith("法"))), key=len, reverse=True)
        self._first_char: dict[str, list[str]] = {}
        for a in self._scan:
            self._first_char.setdefault(a[0], []).append(a)

    def _rank(self, titles: set[str]) -> list[str]:
        # in-force first, then the shortest (the law itself rather than 民法典（合同编）-style parts)
        return sorted(titles, key=lambda t: (-(t in self.active), len(t), t))

    def resolve(self, name: str) -> list[str]:
        """Full titles for a written law name ('法官法', '《中华人民共和国法官法》', '刑诉法解释')."""
        n = re.sub(r"\s+", "", name).strip("《》")
        for cand in (n, law_key(n), n.replace("〈", "《").replace("〉", "》")):
            if cand in self.alias:
                return self.alias[cand]
            if law_key(cand) in self.alias:
                return self.alias[law_key(cand)]
        return []

    def find_refs(self, text: str) -> list[LawRef]:
        """Law mentions in free text (quoted or bare), each with the article that follows, if any."""
        refs: list[LawRef] = []
        taken = [False] * len(text)
        for m in _QUOTED.finditer(text):
            titles = self.resolve(m.group(1))
            if titles:
                refs.append(LawRef(m.group(1), titles, m.start(), m.end()))
                for i in range(m.start(), m.end()):
                    taken[i] = True
        i = 0
        while i < len(text):
            if taken[i]:
                i += 1
                continue
            hit = None
            for a in self._first_char.get(text[i], ()):
                if text.startswith(a, i) and not any(taken[i : i + len(a)]):
                    hit = a
                    break
            if hit:
                refs.append(LawRef(hit, self.alias[hit], i, i + len(hit)))
                i += len(hit)
            else:
                i += 1
        refs.sort(key=lambda r: r.start)
        refs = self._fuzzy_refs(text, refs)
        for r in refs:
            note = _NOTE.match(text, r.end)  # 检察官惩戒工作程序规定（试行）第八条: the note belongs to the name
            if note:
                r.end = note.end()
            m = ARTICLE_RE.match(text, r.end) or ARTICLE_RE.match(text, r.end + 1)
            if m and m.start() - r.end <= 2:
                num = cn2int(m.group(1))
                sub = cn2int(m.group(2)) if m.group(2) else None
                if num is not None:
                    r.article_key = article_key(num, sub)
                    r.article = m.group(0)
        return refs

    def _fuzzy_refs(self, text: str, refs: list[LawRef]) -> list[LawRef]:
        """"政务处分法第11条", "减刑假释具体应用法律的规定第25条": a name that is no known alias, right before an
        article number, matched to the titles that contain its characters in order (shortest such titles first)."""
        ends = {r.end for r in refs}
        out = list(refs)
        for m in ARTICLE_RE.finditer(text):
            p = m.start()
            if p in ends or p - 1 in ends:
                continue
            # 《》 may sit inside a name (最高人民法院关于适用《中华人民共和国刑事诉讼法》的解释第28条)
            head = _HEAD_STOP.split(text[max(0, p - 60) : p])[-1].removesuffix("》")
            for i in range(len(head) - MIN_FUZZY + 1):
                name = head[i:]
                if not name.endswith(_NAME_END):
                    break
                if name.count("《") != name.count("》"):
                    continue
                titles = self.resolve(name) or self.fuzzy(name)
                if titles:
                    out.append(LawRef(name, titles, p - len(name), p))
                    break
        return sorted(out, key=lambda r: r.start)

    def fuzzy(self, name: str) -> list[str]:
        """Titles holding all characters of name in order, best (in force, shortest) first; for a long name
        (MIN_UNORDERED) written in another word order, titles holding all its characters in any order."""
        key = law_key(name)
        if len(key) < MIN_FUZZY:
            return []
        if self._keys is None:
            self._keys = [(t, law_key(t)) for t in self.title_rows]
        hits = [t for t, k in self._keys if key[0] in k and _subsequence(key, k)]
        if not hits and len(key) >= MIN_UNORDERED:
            hits = [t for t, k in self._keys if _contains_chars(key, k)]
        return self._rank(set(hits))[:3] if hits else []

    def article_rows(self, ref: LawRef) -> list[int]:
        for t in ref.titles:
            rows = self.rows.get((t, ref.article_key))
            if rows:
                return rows
        return []
