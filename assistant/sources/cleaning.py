"""Clean scraped policy/news text: traditional -> simplified, pinyin glosses, web boilerplate."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ"
_SYL = rf"[a-z{_TONED}\u0300-\u036f]{{1,7}}"
# a pinyin gloss right after a Chinese char: 領(lǐng), 導（dǎo）, 執(zhí) ... one or more syllables
_PINYIN_RE = re.compile(rf"(?<=[{_CJK}])\s?[(（]\s*({_SYL}(?:[ '’]{_SYL}){{0,3}})\s*[)）]")
_NEUTRAL = {"de", "le", "me", "men", "ma", "ne", "ba", "zi", "zhe", "a", "ge", "tou"}

_DATE_RE = re.compile(r"((?:19|20)\d{2})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
# lines that are site chrome rather than article body (matched on the stripped, simplified line)
_DROP_RES = [
    re.compile(r"^[|｜/\s]*$"),  # separators
    re.compile(r"^(?=.{0,60}$).*(»|>>|＞＞|>$)"),  # breadcrumbs: 网站首页 » 中央声音, 法治网首页>>
    re.compile(r"首页\s*[>›»/]"),
    re.compile(r"^(当前位置|您的位置|所在位置)[:：]"),
    re.compile(r"^[(（]?\s*(责任编辑|责编|编辑|校对|审核|监制|值班编辑)\s*[:：]"),
    re.compile(r"责任编辑\s*[:：]"),
    re.compile(r"^(发布|发表|更新|录入)?(时间|日期)\s*[:：]"),
    re.compile(r"^(来源|稿源|作者|供稿|浏览|点击|阅读)(次数|量)?\s*[:：]"),
    re.compile(r"免责声明\s*[:：]"),
    re.compile(r"\.(jpe?g|png|gif|bmp|webp)\s*$", re.I),  # image file names: 长5.jpg
    re.compile(r"^(图片|图|视频|点击播放|相关报道|相关新闻|相关阅读|相关链接|延伸阅读|推荐阅读|热点推荐)\s*[:：]?$"),
    re.compile(r"(分享到|扫一扫|打印本页|打印文章|【打印】|\[打印\]|关闭窗口|【关闭】|返回顶部|字号\s*[:：]|收藏本页|加入收藏)"),
    re.compile(r"^(移动客户端|客户端|官方微信|官方微博|微信|微博|手机版|English|RSS)([|｜\s]+|$)", re.I),
    re.compile(r"(copyright|all rights reserved|©|版权所有|ICP\s*备|ICP证|公网安备|京公网)", re.I),
    re.compile(r"^[^，。；]{2,30}(主办|承办|技术支持|联系我们)$"),
]
_TS_LINE = re.compile(r"^\s*(?:19|20)\d{2}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?\s*\d{0,2}[:：]?\d{0,2}.{0,40}$")
_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_PUNCT_RE = re.compile(rf"(?<=[{_CJK}”」》）)])([,;:?!])(?=[^\d\s])|(?<=[{_CJK}])([,;?!])")


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def strip_pinyin(text: str) -> str:
    """Remove pinyin glosses after Chinese chars; keep （一）, (2021), (党委), (a) etc."""

    def repl(m: re.Match) -> str:
        body = m.group(1)
        toned = any(c in _TONED for c in body) or any("\u0300" <= c <= "\u036f" for c in body)
        return "" if toned or body in _NEUTRAL and len(body) > 1 else m.group(0)

    return _PINYIN_RE.sub(repl, text)


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u3000", " ").replace("\ufeff", "").replace("\u200b", "")
    return to_simplified(strip_pinyin(text))


def _fix_punct(line: str) -> str:
    """ASCII , ; : ? ! inside Chinese prose -> full-width (not in 07:44 or 1,575)."""
    return _PUNCT_RE.sub(lambda m: _PUNCT[m.group(1) or m.group(2)], line)


def _is_boilerplate(line: str) -> bool:
    if any(r.search(line) for r in _DROP_RES):
        return True
    # "2020年12月21日18:46  来源:人民网" / bare timestamps
    return bool(_TS_LINE.match(line)) and (len(line) < 25 or "来源" in line)


def clean_policy_text(text: str) -> str:
    """Simplified, pinyin-free article body: one paragraph a line, web chrome and repeated title dropped."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in _normalize(text).split("\n"):
        line = re.sub(r"[ \t]+", " ", raw).strip()
        if not line or _is_boilerplate(line):
            if out and out[-1]:
                out.append("")
            continue
        if len(line) <= 60 and line in seen:  # the title repeated by the page template
            continue
        seen.add(line)
        out.append(_fix_punct(line))
    return "\n".join(out).strip()


def extract_title_date(text: str) -> tuple[str, str]:
    """(title, ISO date) from a scraped page; either may be "" when not found."""
    lines = [re.sub(r"\s+", " ", x).strip() for x in _normalize(text).split("\n")]
    lines = [x for x in lines if x]
    date = ""
    for line in lines[:15]:  # header metadata: 发布时间:2021-07-26, 时间:..., 2020年12月21日18:46 来源:...
        m = _DATE_RE.search(line)
        if m and (re.search(r"(时间|日期|来源)", line) or _TS_LINE.match(line)):
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                date = f"{y:04d}-{mo:02d}-{d:02d}"
                break
    title = ""
    for line in lines[:10]:
        if _is_boilerplate(line):
            continue
        if len(line) <= 80 and not line.endswith(("。", "；", "，")):
            title = _fix_punct(line) if len(line) > 4 else ""
        break  # only the first real line can be the title
    return title, date


def fallback_title(body: str, limit: int = 30) -> str:
    """A title for a page without one: the first sentence, clipped."""
    first = next((x for x in body.split("\n") if x.strip()), "").strip()
    first = re.split(r"[。！？!?]", first)[0]
    return first if len(first) <= limit else first[:limit] + "…"


def pack_paragraphs(text: str, size: int = 600) -> list[str]:
    """Group paragraphs (lines) into chunks of about `size` chars; split over-long paragraphs at sentence ends."""
    paras: list[str] = []
    for p in (x.strip() for x in text.split("\n")):
        if len(p) <= size * 1.5:
            paras.extend([p] if p else [])
            continue
        buf = ""
        sents = re.findall(r"[^。！？；!?]*[。！？；!?]?[”」』]?", p)
        for sent in (s[i : i + size] for s in sents for i in range(0, len(s), size)):
            if buf and len(buf) + len(sent) > size:
                paras.append(buf)
                buf = ""
            buf += sent
        paras.extend([buf] if buf else [])
    chunks: list[list[str]] = [[]]
    for p in paras:
        cur = chunks[-1]
        if cur and sum(map(len, cur)) + len(p) > size and not all(map(_is_heading, cur)):
            carry = [cur.pop()] if len(cur) > 1 and _is_heading(cur[-1]) else []
            chunks.append(carry)
        chunks[-1].append(p)
    return ["\n".join(c) for c in chunks if c]


def _is_heading(line: str) -> bool:
    return len(line) <= 40 and not line.endswith(("。", "；", "：", ":", "”"))
