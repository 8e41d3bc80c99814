"""Split a regulation's plain text into article chunks, keeping 编/章/节."""
from __future__ import annotations

import re
from collections.abc import Iterator

from ..text import NUM_CHARS, article_key, article_label, cn2int

_HEAD_RE = re.compile(rf"^\s*(第[{NUM_CHARS}]+[编章节])\s*(.*)$")
_ART_RE = re.compile(rf"^\s*第\s*([{NUM_CHARS}]+)\s*条(?:之([{NUM_CHARS}]+))?[\s　:：]*(.*)$")
_ITEM_RE = re.compile(r"^\s*(?:[一二三四五六七八九十]+、|（[一二三四五六七八九十]+）)")
MAX_PARA_CHUNK = 900


def split_articles(text: str) -> Iterator[dict]:
    """Yield dicts {article, article_key, chapter, section, text} or {part, text} for text outside articles.

    Documents without 第X条 (意见, 通知) are split on numbered items/paragraphs into ~900-char parts.
    """
    chapter = section = ""
    cur: dict | None = None
    preamble: list[str] = []
    found = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        h = _HEAD_RE.match(line)
        if h and len(line) <= 40:
            name = f"{h.group(1)} {h.group(2)}".strip()
            level = h.group(1)[-1]
            if level in "编章":
                chapter, section = name, ""
            else:
                section = name
            continue
        a = _ART_RE.match(line)
        if a:
            num = cn2int(a.group(1))
            sub = cn2int(a.group(2)) if a.group(2) else None
            if num is not None:
                if cur:
                    yield cur
                found = True
                cur = {
                    "article": article_label(num, sub),
                    "article_key": article_key(num, sub),
                    "chapter": chapter,
                    "section": section,
                    "text": a.group(3),
                }
                continue
        if cur:
            cur["text"] += "\n" + line
        elif not found:
            preamble.append(line)
    if cur:
        yield cur
    if preamble and not found:
        yield from _paragraph_parts(preamble)
    elif preamble and len("".join(preamble)) > 60:
        yield {"part": "preamble", "text": "\n".join(preamble)}


def _paragraph_parts(lines: list[str]) -> Iterator[dict]:
    buf: list[str] = []
    n = 0
    for line in lines:
        starts_item = bool(_ITEM_RE.match(line))
        if buf and (sum(len(x) for x in buf) + len(line) > MAX_PARA_CHUNK or (starts_item and sum(len(x) for x in buf) > 200)):
            n += 1
            yield {"part": f"p{n}", "text": "\n".join(buf)}
            buf = []
        buf.append(line)
    if buf:
        n += 1
        yield {"part": f"p{n}", "text": "\n".join(buf)}
