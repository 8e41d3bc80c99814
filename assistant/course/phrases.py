"""Key phrases of an article and their distractors, drawn from sibling provisions: the parallel article of a
parallel law (法官法 <-> 检察官法: same position, different words), neighbouring articles of the same law, and
other items of lists. A distractor never occurs in the article it is tested against."""
from __future__ import annotations

import logging
import re
import threading
import weakref
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache

from ..documents import ACTIVE_STATUSES, Chunk
from ..retrieval.search import Filters
from ..text import CN_NUM, law_key

PARALLEL_RATIO = 0.6  # character similarity for two articles to count as parallel
NEIGHBOURS = 12  # articles either side that make the sibling pool
WIDE = 60  # the second pool for numbers and terms
_WS = re.compile(r"\s+")
_NUM = rf"[{CN_NUM}0-9]+"
NUM_RE = re.compile(rf"{_NUM}(?:至{_NUM})?(?:个)?(?:工作日|日|个月|月|年|人|名|次|倍|小时|周岁|级)(?:以内|以上|以下|内)?")
ARTREF_RE = re.compile(rf"第{_NUM}条(?:第{_NUM}[款项])?(?:、第{_NUM}[款项])?")
ITEM_RE = re.compile(r"[（(]([一二三四五六七八九十]+)[）)]([^（(；。]*?)(?=[；。]|$|[（(][一二三四五六七八九十]+[）)])")
TERM_SUFFIXES = ("委员会", "机关", "机构", "部门", "人员", "处分", "制度")
CATEGORY = {"委员会": "organ", "机关": "organ", "机构": "organ", "部门": "organ"}  # interchangeable suffixes
_BAD_START = tuple("一上下本该其各此自经向由对将把被应可不已收提作依按")
_NOT_PART = frozenset(
    "通知 立即 提请 报请 移送 告知 送达 报告 交付 决定 批准 作出 同意 收到 经过 经 由 向 对 和 与 及 或者 的 在 是 为 通过 会同"
    " 商 报 送 交 依法 应当 可以 及时 负责 设立 设置 建立 属于 担任 包括 指导 协助 配合 接受 提出 请求 要求 责令 给予 予以 并"
    " 发生 涉及 造成 导致 实施 使用 办理 承办 开展 进行 存在 具有 没有 有 无 未 不 已 被 将 把 从 自 至 其 该 本 各 等 或 与其".split())
# words that only name the institution: 法官法 vs 检察官法 differing in these alone makes a trivial question
ROLEISH = ("最高人民法院", "最高人民检察院", "人民法院", "人民检察院", "法院", "检察院", "法官", "检察官", "审判", "检察",
           "院长", "检察长", "审判人员", "检察人员")
_ROLEISH_RE = re.compile("|".join(sorted(ROLEISH, key=len, reverse=True)))
MODALS = ("应当", "可以", "不得", "必须")
_CUT = "，。；：、“”《》（）()"
# near-synonyms that make a bad distractor for each other
_SAME = [{"应当", "必须"}, {"日", "天"}]


def norm(text: str) -> str:
    return _WS.sub("", text or "")


@dataclass
class Phrase:
    text: str
    kind: str  # parallel | item | num | artref | term | modal
    distractors: list[str] = field(default_factory=list)
    source: str = ""  # where the first distractor comes from (parallel article heading)
    rank: int = 0


def items(text: str) -> list[str]:
    """List items （一）…；（二）… of an article, trailing 的/；/。 removed."""
    out = []
    for m in ITEM_RE.finditer(norm(text)):
        it = m.group(2).strip().rstrip("；。，")
        it = re.sub(r"的$", "", it)
        if 4 <= len(it) <= 40:
            out.append(it)
    return out


def lead(text: str) -> str:
    """The lead-in before a list (up to the colon), '' when the article has no list."""
    t = norm(text)
    m = re.search(r"^(.{6,120}?)[：:]\s*[（(]一[）)]", t)
    return m.group(1) if m else ""


def _token_spans(searcher, text: str) -> list[tuple[int, int, str]]:
    spans, pos = [], 0
    for tok in searcher.tokenizer.doc_tokens(text):
        i = text.find(tok, pos)
        if i < 0:
            continue
        spans.append((i, i + len(tok), tok))
        pos = i + len(tok)
    return spans


_MODIFIERS = ("司法", "国家", "行政", "监察", "执法", "审判", "检察", "侦查", "公安", "监管", "辅助", "专业", "有关")


@lru_cache(maxsize=4096)
def _pos(text: str) -> tuple[tuple[str, str], ...]:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    return tuple((w.word, w.flag) for w in jieba.posseg.cut(text))


def _nounish(flag: str) -> bool:
    return flag.startswith("n") or flag in ("vn", "j", "b", "an")


def terms(searcher, text: str) -> list[str]:
    """Organ, personnel and sanction terms (法官惩戒委员会, 赔偿义务机关, 司法工作人员 ...) from POS-tagged words:
    a word ending in a legal suffix, with the nouns directly before it."""
    words = _pos(norm(text))
    out: list[str] = []
    for k, (w, _) in enumerate(words):
        if not w.endswith(TERM_SUFFIXES):
            continue
        phrase = w
        for j in range(k - 1, max(-1, k - 3), -1):
            pw, pf = words[j]
            if len(w) >= 4 and pw not in _MODIFIERS:
                break
            if not _nounish(pf) or len(pw) < 2 or len(pw + phrase) > 8 or pw in _NOT_PART:
                break
            phrase = pw + phrase
        if phrase == w and len(w) < 4:
            continue  # a bare 机关 / 委员会 names nothing
        if 3 <= len(phrase) <= 10 and not any(ch in phrase for ch in _CUT) and not phrase.startswith(_BAD_START):
            out.append(phrase)
    return list(dict.fromkeys(out))


def extract(searcher, text: str) -> dict[str, list[str]]:
    t = norm(text)
    return {
        "num": list(dict.fromkeys(NUM_RE.findall(t))),
        "artref": list(dict.fromkeys(ARTREF_RE.findall(t))),
        "item": items(t),
        "term": terms(searcher, t),
        "modal": [m for m in MODALS if m in t],
    }


# ---- sibling provisions ------------------------------------------------------------------------
_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cache(searcher) -> dict:
    with _LOCK:
        return _CACHE.setdefault(searcher, {})


def parallel(searcher, chunk: Chunk) -> Chunk | None:
    """The most similar in-force article of another law (法官法第48条 -> 检察官法第49条), or None."""
    cache = _cache(searcher)
    key = ("par", chunk.id)
    if key in cache:
        return cache[key]
    t = norm(chunk.text)
    best, best_r = None, PARALLEL_RATIO
    if len(t) >= 20:
        f = Filters.make(["statute", "regulation"])
        for h in searcher.search(t[:300], k=8, filters=f):
            c = h.chunk
            if law_key(c.title) == law_key(chunk.title) or not c.article_key:
                continue
            r = SequenceMatcher(None, t, norm(c.text), autojunk=False).ratio()
            if r > best_r and norm(c.text) != t:
                best, best_r = c, r
    cache[key] = best
    return best


def _num(key: str) -> int:
    try:
        return int(key.split("-")[0])
    except ValueError:
        return 0


def _distance(a: Chunk, b: Chunk) -> int:
    return abs(_num(a.article_key) - _num(b.article_key))


def _category(term: str) -> str:
    suffix = next((s for s in TERM_SUFFIXES if term.endswith(s)), "")
    return CATEGORY.get(suffix, suffix)


def neighbours(searcher, chunk: Chunk, within: int = NEIGHBOURS) -> list[Chunk]:
    """In-force articles of the same law within `within` article numbers."""
    st = searcher.store
    try:
        num = int(chunk.article_key.split("-")[0])
    except ValueError:
        return []
    out = []
    for row in st.rows_of_doc.get(chunk.doc_id, []):
        k = st.article_keys[row]
        if not k or k == chunk.article_key or st.statuses[row] not in ACTIVE_STATUSES:
            continue
        try:
            if abs(int(k.split("-")[0]) - num) <= within:
                out.append(st.get(row))
        except ValueError:
            continue
    return out


def _aligned(a: str, b: str, i: int, j: int) -> str:
    """The span of b at the position of a[i:j] (by character alignment)."""
    sm = SequenceMatcher(None, a, b, autojunk=False)
    bi = bj = None
    for tag, a1, a2, b1, b2 in sm.get_opcodes():
        if bi is None and a1 <= i < max(a2, a1 + 1):
            bi = b1 + (i - a1 if tag == "equal" else 0)
        if a1 < j <= a2 or (a1 == a2 == j):
            bj = b1 + (j - a1 if tag == "equal" else b2 - b1)
            if bi is not None:
                break
    return b[bi:bj] if bi is not None and bj is not None and bj > bi else ""


def parallel_pairs(searcher, chunk: Chunk, par: Chunk, own: list[str] = ()) -> list[tuple[str, str]]:
    """(phrase in chunk, the parallel article's words at the same position) for each differing phrase;
    `own` are the chunk's extracted phrases, blanked whole when a difference touches them."""
    a, b = norm(chunk.text), norm(par.text)
    spans = _token_spans(searcher, a)
    out = []
    sm = SequenceMatcher(None, a, b, autojunk=False)
    for tag, a1, a2, b1, b2 in sm.get_opcodes():
        if tag != "replace":
            continue
        # widen to token boundaries, then to at least 4 characters without crossing punctuation
        s = max((x for x, y, _ in spans if x <= a1), default=a1)
        e = min((y for x, y, _ in spans if y >= a2), default=a2)
        while e - s < 4:
            nxt = [y for x, y, _ in spans if x == e and not any(ch in a[x:y] for ch in _CUT)]
            prv = [x for x, y, _ in spans if y == s and not any(ch in a[x:y] for ch in _CUT)]
            if nxt:
                e = nxt[0]
            elif prv:
                s = prv[0]
            else:
                break
        for ph in own:  # a number, article reference or term overlapping the span is blanked whole
            for m in re.finditer(re.escape(ph), a):
                if m.start() < e and m.end() > s:
                    s, e = min(s, m.start()), max(e, m.end())
        pa, pb = a[s:e], _aligned(a, b, s, e)
        if pa not in own or not pb or pb in a or _ROLEISH_RE.sub("", pa) == _ROLEISH_RE.sub("", pb):
            continue
        if _same_kind(pa, pb):
            out.append((pa, pb))
    return list(dict.fromkeys(out))


def _same_kind(pa: str, pb: str) -> bool:
    """pb can stand in for pa: both numbers with the same unit, both article references, or same-suffix terms."""
    if NUM_RE.fullmatch(pa):
        return bool(NUM_RE.fullmatch(pb)) and _unit(pa) == _unit(pb)
    if ARTREF_RE.fullmatch(pa):
        return bool(ARTREF_RE.fullmatch(pb))
    suffix = next((x for x in TERM_SUFFIXES if pa.endswith(x)), None)
    return bool(suffix) and pb.endswith(suffix) and 3 <= len(pb) <= 10 and not any(ch in pb for ch in _CUT)


def _similar(x: str, y: str) -> bool:
    if x == y or x in y or y in x:
        return True
    if NUM_RE.fullmatch(x) or ARTREF_RE.fullmatch(x):
        return False  # 第四十六条 vs 第四十七条: a different number is a different answer
    return any(x in s and y in s for s in _SAME) or SequenceMatcher(None, x, y).ratio() >= 0.85


def _unit(p: str) -> str:
    m = re.search(r"(工作日|日|个月|月|年|人|名|次|倍|小时|周岁|级)", p)
    return m.group(1) if m else ""


def _overlaps(p: str, t: str, own_items: list[str]) -> bool:
    """A list item that shares an element with the article (贪污受贿 …) or paraphrases one of its items."""
    parts = [x for x in re.split(r"[、，,]|或者|以及|和", p) if len(x) >= 2]
    return any(x in t for x in parts) or any(SequenceMatcher(None, p, o).ratio() >= 0.6 for o in own_items)


def pick(pool: list[str], correct: str, text: str, n: int = 3, same=None, own_items=None) -> list[str]:
    """Up to n distractors from pool: not in the article, not near the correct phrase or each other."""
    t = norm(text)
    out: list[str] = []
    for p in pool:
        if p in t or _similar(p, correct) or any(_similar(p, q) for q in out):
            continue
        if own_items is not None and _overlaps(p, t, own_items):
            continue
        if same and not same(p):
            continue
        out.append(p)
        if len(out) == n:
            break
    return out


def key_phrases(searcher, chunk: Chunk, context: list[Chunk] = ()) -> list[Phrase]:
    """Testable phrases of an article, those with 3 distractors first; distractors come from sibling provisions
    (parallel article, neighbouring articles, the course's other key provisions, then the rest of the law)."""
    cache = _cache(searcher)
    ck = ("kp", chunk.id, tuple(c.id for c in context))
    if ck in cache:
        return cache[ck]
    t = norm(chunk.text)
    own = extract(searcher, t)
    par = parallel(searcher, chunk)
    sib = ([par] if par else []) + neighbours(searcher, chunk) + [c for c in context if c.id != chunk.id]
    pools: dict[str, list[str]] = {k: [] for k in own}
    for c in sib:
        for k, v in extract(searcher, c.text).items():
            if k == "artref" and law_key(c.title) != law_key(chunk.title) and c is not par:
                continue  # another law's article numbers say nothing about this law's
            pools[k] += [x for x in v if x not in pools[k]]
    wide: dict[str, list[str]] | None = None

    def widen(kind: str) -> list[str]:
        """The law's other articles (nearest first) as a second pool for numbers, references and terms."""
        nonlocal wide
        if wide is None:
            wide = {"num": [], "term": [], "artref": []}
            for c in sorted(neighbours(searcher, chunk, WIDE), key=lambda c: _distance(c, chunk)):
                ex = extract(searcher, c.text)
                for k in wide:
                    wide[k] += [x for x in ex[k] if x not in wide[k]]
            if par:  # a parallel law is numbered alike (法官法第46条 <-> 检察官法第47条)
                for c in sorted(neighbours(searcher, par, NEIGHBOURS), key=lambda c: _distance(c, par)):
                    wide["artref"] += [x for x in ARTREF_RE.findall(norm(c.text)) if x not in wide["artref"]]
        return pools[kind] + [x for x in wide[kind] if x not in pools[kind]]

    out: list[Phrase] = []
    if par:
        mine = [x for k in ("num", "artref", "term") for x in own[k]]
        for pa, pb in parallel_pairs(searcher, chunk, par, mine):
            kind = next((k for k, v in own.items() if pa in v), "term")
            same = {"num": lambda p, u=_unit(pa): _unit(p) == u, "artref": lambda p: bool(ARTREF_RE.fullmatch(p)),
                    "term": lambda p, c=_category(pa): _category(p) == c}[kind]
            extra = pick([pb] + pools[kind], pa, t, same=same)
            if len(extra) < 3 and kind in ("num", "artref", "term"):
                extra = pick([pb] + widen(kind), pa, t, same=same)
            if extra and extra[0] == pb:
                out.append(Phrase(pa, "parallel", extra, par.heading, 5))
    for p in own["num"]:
        same = lambda x, u=_unit(p): _unit(x) == u  # noqa: E731
        d = pick(pools["num"], p, t, same=same)
        d = d if len(d) == 3 else pick(widen("num"), p, t, same=same)
        out.append(Phrase(p, "num", d, rank=4))
    for p in own["item"]:
        out.append(Phrase(p, "item", pick(pools["item"], p, t, own_items=own["item"]), rank=3))
    for p in own["artref"]:
        d = pick(pools["artref"], p, t)
        out.append(Phrase(p, "artref", d if len(d) == 3 else pick(widen("artref"), p, t), rank=2))
    for p in own["term"]:
        same = lambda x, c=_category(p): _category(x) == c  # noqa: E731
        d = pick(pools["term"], p, t, same=same)
        d = d if len(d) == 3 else pick(widen("term"), p, t, same=same)
        out.append(Phrase(p, "term", d, rank=2))
    for p in own["modal"]:
        out.append(Phrase(p, "modal", pick([m for m in MODALS if m != p], p, t), rank=1))
    seen: set[str] = set()
    ranked = []
    for ph in sorted(out, key=lambda x: (len(x.distractors) < 3, -x.rank, -len(x.distractors), t.find(x.text))):
        if ph.text not in seen:
            ph.distractors = ph.distractors[:3]
            if par and not ph.source:  # say so when a distractor is the parallel article's wording
                pt = norm(par.text)
                hit = [d for d in ph.distractors if d in pt]
                if hit:
                    ph.source = par.heading
                    ph.distractors = hit + [d for d in ph.distractors if d not in hit]
            seen.add(ph.text)
            ranked.append(ph)
    cache[ck] = ranked
    return ranked
