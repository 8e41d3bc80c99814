"""The unit everything is indexed as: a Chunk of a source document, with metadata."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field as dc_field

from .text import book

KINDS = ("statute", "regulation", "guiding", "case", "policy", "local")
CASE_KINDS = ("guiding", "case")

# normalised validity labels
IN_FORCE = "现行有效"
AMENDED = "已修改"
REPEALED = "已废止"
HISTORICAL = "历史版本"
UNKNOWN = "未知"
STATUSES = (IN_FORCE, AMENDED, REPEALED, HISTORICAL, UNKNOWN)
# statuses that count as "in force" for the default filter: an amended law is still the law
ACTIVE_STATUSES = (IN_FORCE, AMENDED, UNKNOWN)


@dataclass
class Chunk:
    id: str  # unique: "<doc_id>#<part>"
    doc_id: str
    kind: str  # one of KINDS
    title: str  # law or case title
    text: str  # the chunk body (no prefix)
    source: str = ""  # adapter name, e.g. "laws.db"
    article: str = ""  # 第四十六条 / 第三百九十九条之一
    article_key: str = ""  # "46" / "399-1"
    chapter: str = ""
    section: str = ""
    part: str = ""  # guiding/judgment part: gist, facts, reasoning, result, parties ...
    status: str = IN_FORCE
    issuer: str = ""
    date: str = ""  # publish date, ISO yyyy-mm-dd when known
    effective_date: str = ""
    meta: dict = dc_field(default_factory=dict)  # court, case_no, charges, cited, keywords ...

    @property
    def heading(self) -> str:
        """Human citation label: 《title》第X条 or title·field."""
        if self.article:
            return f"{book(self.title)}{self.article}"
        return f"{self.title}·{self.part}" if self.part else self.title

    def index_text(self) -> str:
        """Text fed to the indexes: prefixed with title, chapter and article so they are searchable."""
        head = " ".join(x for x in (self.title, self.chapter, self.section, self.article) if x)
        return f"{head} {self.text}".strip()

    @property
    def hash(self) -> str:
        payload = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Chunk":
        return cls(**d)


def normalize_status(raw: str | None) -> str:
    """Map the sources' many validity labels onto STATUSES."""
    s = (raw or "").strip()
    if not s:
        return UNKNOWN
    if "未标记失效" in s:
        return IN_FORCE
    if "历史" in s:
        return HISTORICAL
    if "废止" in s or "失效" in s or "取代" in s:
        return REPEALED
    if "修改" in s or "修正" in s:
        return AMENDED
    if "现行有效" in s or "未标记失效" in s:
        return IN_FORCE
    return UNKNOWN
