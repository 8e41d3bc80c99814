"""Legal vocabulary learned from the corpus (law names, aliases, 罪名, headings) and the jieba tokenizer using it."""
from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from .documents import Chunk
from .text import law_key, short_title

_CJK_WORD = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
_CHARGE_IN_LIST = re.compile(r"(?:^|[\s．.、，；（]|\d)([\u4e00-\u9fff、]{2,30}?罪)(?=（第|\s|$|；)")
STOPWORDS = frozenset(
    "的 了 是 在 和 与 对 于 由 从 被 把 及 或 并 等 请问 我 你 他 她 它 我们 这 那 个 之 其 什么 怎么 怎样 如何 吗 呢 吧 啊"
    " 咨询 一下 有关 关于 应该 可以 是否 有没有 如果 因为 所以 但是 然后 因此 进行 予以 上 下 中 该 本 此 都 也 还 就 会 要"
    " 能 能不能 会不会 哪些 哪个 什么样 多少 多久 几 谁 为什么 这种 那种 这个 那个 一个 情况 时候 问题 规定 规定了 说 讲"
    " 吗？ ， 。 、 ； ： ？ ！ “ ” 《 》 （ ） ( )".split()
)


def law_aliases(title: str) -> set[str]:
    """Short names a user may type for a law: 刑事诉讼法 -> 刑诉法; 最高法刑诉解释 -> 刑诉法解释."""
    out: set[str] = set()
    key = law_key(title)
    out.add(key)
    m = re.fullmatch(r"(.{1,6})诉讼法", key)
    if m:
        out.add(m.group(1)[0] + "诉法")
    inner = re.search(r"适用《(?:中华人民共和国)?([^》]+)》(?:若干问题)?的解释", title)
    if inner and ("最高人民法院" in title or "最高人民检察院" in title):
        base = inner.group(1)
        for a in {base} | {x for x in law_aliases(base) if x != base}:
            out.add(a + "解释")
            if a.endswith("法"):
                out.add(a[:-1] + "解释")
    return {a for a in out if len(a) >= 3}


class Lexicon:
    """Words to teach jieba, plus alias -> full titles and the 罪名 list."""

    def __init__(self, words: Iterable[str] = (), aliases: dict[str, list[str]] | None = None, charges: Iterable[str] = ()):
        self.words = sorted(set(words))
        self.aliases = aliases or {}
        self.charges = sorted(set(charges))

    @classmethod
    def build(cls, chunks: Iterable[Chunk]) -> "Lexicon":
        words: set[str] = set()
        aliases: dict[str, set[str]] = {}
        charges: set[str] = set()
        seen_titles: set[str] = set()
        for c in chunks:
            if c.kind in ("statute", "regulation") and c.title not in seen_titles:
                seen_titles.add(c.title)
                for a in law_aliases(c.title):
                    aliases.setdefault(a, set()).add(c.title)
                    if len(a) <= 12:
                        words.add(a)
                words.add(short_title(c.title)) if len(short_title(c.title)) <= 12 else None
            if "罪名" in c.title and c.kind == "regulation":
                for m in _CHARGE_IN_LIST.finditer(c.text):
                    if 3 <= len(m.group(1)) <= 30:
                        charges.add(m.group(1))
            for head in (c.chapter, c.section):
                name = head.split(" ", 1)[-1].replace(" ", "") if head else ""
                if 2 <= len(name) <= 10:
                    words.add(name)
            for kw in c.meta.get("keywords", []) if c.kind == "guiding" else ():
                if 2 <= len(kw) <= 10:
                    words.add(kw)
        words |= charges
        return cls(words, {k: sorted(v) for k, v in aliases.items()}, charges)

    def save(self, path: Path) -> None:
        path.write_text(
            json.dumps({"words": self.words, "aliases": self.aliases, "charges": self.charges}, ensure_ascii=False, sort_keys=True),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, path: Path) -> "Lexicon":
        d = json.loads(path.read_text(encoding="utf-8"))
        return cls(d["words"], d["aliases"], d["charges"])


class Tokenizer:
    """jieba with the legal lexicon; thread-safe, one instance per lexicon."""

    def __init__(self, lexicon: Lexicon | None = None):
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        self._lock = threading.Lock()
        for w in (lexicon.words if lexicon else ()):
            self._tk.add_word(w, freq=2000)

    def tokens(self, text: str) -> list[str]:
        """Search-mode segmentation: whole words plus their dictionary sub-words (法官法 -> 法官, 法官法)."""
        with self._lock:
            raw = list(self._tk.cut_for_search(text, HMM=False))
        return [t for t in (w.strip() for w in raw) if t and t not in STOPWORDS and _CJK_WORD.search(t)]

    def doc_tokens(self, text: str) -> list[str]:
        """Plain segmentation (with HMM for unseen words): better than search mode for long case texts."""
        with self._lock:
            raw = self._tk.lcut(text, HMM=True)
        return [t for t in (w.strip() for w in raw) if t and t not in STOPWORDS and _CJK_WORD.search(t)]
