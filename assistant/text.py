"""Small text helpers: Chinese numerals, article numbers, law titles, cleaning."""
from __future__ import annotations

import re
from functools import lru_cache

CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}
_DIGIT_CHARS = "零一二三四五六七八九"
CN_NUM = "零〇一二两三四五六七八九十百千万"
NUM_CHARS = CN_NUM + "0-9０-９"

ARTICLE_RE = re.compile(rf"第\s*([{NUM_CHARS}]+)\s*条(?:\s*之\s*([{CN_NUM}0-9]+))?")


def cn2int(s: str) -> int | None:
    """'四十六' -> 46, '三百九十九' -> 399, '46' -> 46; None when not a number."""
    s = (s or "").strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not s:
        return None
    if s.isdigit():
        return int(s)
    total = section = num = 0
    for ch in s:
        if ch in CN_DIGITS:
            num = CN_DIGITS[ch]
        elif ch in CN_UNITS:
            unit = CN_UNITS[ch]
            if unit == 10000:
                total += (section + num) * unit
                section = 0
            else:
                section += (num or 1) * unit
            num = 0
        else:
            return None
    return total + section + num


def int2cn(n: int) -> str:
    """46 -> '四十六', 10 -> '十', 110 -> '一百一十', 1260 -> '一千二百六十'."""
    if n < 0:
        raise ValueError(n)
    if n < 10:
        return _DIGIT_CHARS[n]
    if n < 20:
        return "十" + (_DIGIT_CHARS[n - 10] if n % 10 else "")
    out = []
    units = [(1000, "千"), (100, "百"), (10, "十")]
    zero = False
    started = False
    for val, name in units:
        d = (n // val) % 10
        if d:
            if zero and started:
                out.append("零")
            out.append(_DIGIT_CHARS[d] + name)
            zero = False
            started = True
        elif started:
            zero = True
    last = n % 10
    if last:
        if zero:
            out.append("零")
        out.append(_DIGIT_CHARS[last])
    if n >= 10000:
        return int2cn(n // 10000) + "万" + ("零" if (n % 10000) < 1000 and n % 10000 else "") + (int2cn(n % 10000) if n % 10000 else "")
    return "".join(out)


def article_key(num: int, sub: int | None = None) -> str:
    return f"{num}-{sub}" if sub else str(num)


def article_label(num: int, sub: int | None = None) -> str:
    return f"第{int2cn(num)}条" + (f"之{int2cn(sub)}" if sub else "")


def parse_article(text: str) -> tuple[int, int | None] | None:
    """'第三百九十九条之一' -> (399, 1); '第46条' -> (46, None)."""
    m = ARTICLE_RE.search(text or "")
    if not m:
        return None
    num = cn2int(m.group(1))
    if num is None:
        return None
    sub = cn2int(m.group(2)) if m.group(2) else None
    return num, sub


def normalize_article(text: str) -> str:
    """Any article spelling -> canonical key ('399-1'); '' when unparsable."""
    p = parse_article(text)
    return article_key(*p) if p else ""


PRC = "中华人民共和国"
_VERSION_SUFFIX = re.compile(r"[（(][^）)]*(?:\d{4}|修订|修正|试行|年)[^）)]*[）)]\s*$")


@lru_cache(maxsize=20000)
def law_key(title: str) -> str:
    """Canonical law title for matching: no 《》, no 中华人民共和国, no (2024年修订) suffix, no spaces."""
    t = re.sub(r"\s+", "", (title or "")).strip("《》")
    t = t.replace("〈", "《").replace("〉", "》")
    if t.startswith(PRC) and len(t) > len(PRC) + 1:
        t = t[len(PRC):]
    while True:
        t2 = _VERSION_SUFFIX.sub("", t)
        if t2 == t:
            break
        t = t2
    return t


def book(title: str) -> str:
    """《title》 with a quoted law inside written 〈〉: 《最高人民法院关于适用〈中华人民共和国刑事诉讼法〉的解释》."""
    return f"《{title.strip('《》').replace('《', '〈').replace('》', '〉')}》"


def short_title(title: str) -> str:
    return title[len(PRC):] if title.startswith(PRC) and len(title) > len(PRC) + 1 else title


def truncate(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
