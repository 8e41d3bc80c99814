"""Course input: validation, audience -> roles, and topic coverage (is a provision about the topic?)."""
from __future__ import annotations

import math
import re
import threading
import weakref
from dataclasses import dataclass, field

import numpy as np

from ..answer.roles import ROLES, roles_in
from .model import CourseError

MAX_TOPIC_CHARS = 40
MIN_HOURS, MAX_HOURS = 0.5, 40.0  # half a session .. a week-long full-time course
FORMATS = ("md", "docx", "json")

# audience words -> roles of answer/roles.py (tried before the role terms themselves)
AUDIENCE_ALIASES = {
    "新警": ("人民警察",), "警员": ("人民警察",), "公安": ("人民警察",),
    "司法辅助人员": ("法官助理/检察官助理", "书记员"), "审判辅助人员": ("法官助理/检察官助理", "书记员"),
    "检察辅助人员": ("法官助理/检察官助理", "书记员"),
    "通用": (), "全体": (), "政法干警": (), "司法工作人员": (),
}
AUDIENCE_PREFIX = re.compile(r"^(?:新任|初任|新入职|新录用|新晋|新进|新|入额|员额)")
# the term that names a role best in a query or a stem
ROLE_TERM = {"法官": "法官", "检察官": "检察官", "人民警察": "人民警察", "法官助理/检察官助理": "法官助理",
             "书记员": "书记员", "院长/庭长": "院长", "审判委员会/检察委员会": "审判委员会", "辅警": "辅警",
             "监狱/社区矫正": "社区矫正机构"}
SUPPORTED_AUDIENCES = "法官、检察官、人民警察（新警）、司法辅助人员（法官助理、检察官助理、书记员）、通用"

# domain synonyms: a topic word also counts as present when one of these is (the corpus rarely says 错案)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "错案": ("冤假错案", "裁判结果错误", "枉法裁判", "徇私枉法", "错误裁判", "违法审判", "错判", "案件质量"),
    "责任追究": ("追究责任", "司法责任", "问责", "追责", "惩戒", "处分", "追究刑事责任"),
    "追责": ("责任追究", "追究责任", "问责", "惩戒", "处分"),
    "惩戒": ("处分", "惩处"),
    "过错": ("违法", "违纪", "失职", "过失"),
    "执法过错": ("违法违纪", "执法过错", "违法行使职权"),
    "执法": ("执行职务", "执法活动"),
    "人民警察": ("警察", "民警"),
    "非法证据排除": ("非法证据", "非法方法收集", "予以排除", "刑讯逼供"),
    "司法责任": ("司法责任制", "办案责任", "责任追究"),
    "渎职": ("滥用职权", "玩忽职守", "徇私舞弊"),
}


@dataclass
class Concept:
    word: str
    weight: float
    alts: tuple[str, ...] = ()  # synonyms
    parts: tuple[str, ...] = ()  # sub-words for partial credit


@dataclass
class TopicModel:
    topic: str
    concepts: list[Concept]
    query_terms: list[str] = field(default_factory=list)  # topic words + synonyms for retrieval

    def coverage(self, text: str) -> float:
        """Share (idf-weighted) of the topic's words present in text (synonyms count; sub-words count 0.8)."""
        total = sum(c.weight for c in self.concepts) or 1.0
        got = 0.0
        for c in self.concepts:
            if c.word in text or any(a in text for a in c.alts):
                got += c.weight
            elif c.parts and all(p in text for p in c.parts):
                got += 0.8 * c.weight
        return got / total


def check_inputs(topic, audience, hours) -> tuple[str, str, float]:
    if not isinstance(topic, str) or not topic.strip():
        raise CourseError("课程主题不能为空 topic is empty")
    topic = re.sub(r"\s+", "", topic.strip())
    if len(topic) > MAX_TOPIC_CHARS:
        raise CourseError(f"主题过长 topic too long: {len(topic)} chars > {MAX_TOPIC_CHARS}; give a short topic such as 错案责任追究")
    if not re.search(r"[\u4e00-\u9fff]", topic):
        raise CourseError(f"主题须为中文法律主题 topic must be a Chinese legal topic, got {topic!r}")
    if not isinstance(audience, str) or not audience.strip():
        raise CourseError(f"培训对象不能为空 audience is empty; choose from {SUPPORTED_AUDIENCES}")
    try:
        h = float(hours)
    except (TypeError, ValueError):
        raise CourseError(f"学时须为数字 hours must be a number, got {hours!r}") from None
    if not math.isfinite(h) or not MIN_HOURS <= h <= MAX_HOURS:
        raise CourseError(f"学时超出范围 hours must be between {MIN_HOURS:g} and {MAX_HOURS:g}, got {hours!r}")
    return topic, audience.strip(), h


def check_format(fmt: str) -> str:
    f = (fmt or "").strip().lower().lstrip(".")
    f = {"markdown": "md", "word": "docx"}.get(f, f)
    if f not in FORMATS:
        raise CourseError(f"未知格式 unknown format: {fmt!r}; choose from {', '.join(FORMATS)}")
    return f


def audience_roles(audience: str) -> list[str]:
    """Roles (answer/roles.py names) an audience stands for; [] for a general audience."""
    a = re.sub(r"\s+", "", audience)
    parts = [p for p in re.split(r"[、,，/和及与]", a) if p]
    out: list[str] = []
    for p in parts:
        base = AUDIENCE_PREFIX.sub("", p) or p
        if p in AUDIENCE_ALIASES or base in AUDIENCE_ALIASES:
            found = list(AUDIENCE_ALIASES.get(p, AUDIENCE_ALIASES.get(base, ())))
        elif base in ROLES:
            found = [base]
        else:
            found = roles_in(base)
            if not found:
                raise CourseError(f"无法识别的培训对象 unknown audience: {audience!r}; choose from {SUPPORTED_AUDIENCES}")
        out += [r for r in found if r not in out]
    return out


def role_label(audience: str, roles: list[str]) -> str:
    """How the course names its trainees: 法官 / 人民警察 / 司法辅助人员 / 办案人员."""
    if len(roles) == 1:
        return ROLE_TERM.get(roles[0], roles[0])
    if roles:
        return AUDIENCE_PREFIX.sub("", re.sub(r"\s+", "", audience)) or audience
    return "办案人员"


_IDF: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def idf(searcher, word: str) -> float:
    """log((N+1)/(df+1)) over chunks; cached per Searcher."""
    with _LOCK:
        cache = _IDF.setdefault(searcher, {})
        if word in cache:
            return cache[word]
    n = len(searcher.store)
    sc = searcher.bm25.scores([word])
    df = int(np.count_nonzero(sc))
    if df == 0 and word not in searcher.bm25.bm25.vocab_dict:
        df = len(searcher.store.rows_containing(word)) if len(word) >= 2 else n
    val = math.log((n + 1) / (df + 1)) + 1.0
    with _LOCK:
        cache[word] = val
    return val


def topic_model(searcher, topic: str) -> TopicModel:
    tk = searcher.tokenizer
    words = [w for w in dict.fromkeys(tk.doc_tokens(topic)) if len(w) >= 2 or re.search(r"[\u4e00-\u9fff]", w)]
    words = [w for w in words if w not in ("制度", "问题", "工作", "规定", "有关", "相关")] or words
    sub = tk.tokens(topic)
    concepts = []
    for w in words:
        parts = tuple(t for t in dict.fromkeys(sub) if t != w and t in w and len(t) >= 2)
        alts = SYNONYMS.get(w, ())
        weight = idf(searcher, w)
        if parts:  # a compound the index does not know well: weigh it like its parts
            weight = max(weight, sum(idf(searcher, p) for p in parts) / len(parts))
        concepts.append(Concept(w, weight, alts, parts))
    terms = list(dict.fromkeys([*words, *(a for c in concepts for a in c.alts[:3])]))
    return TopicModel(topic, concepts, terms)
