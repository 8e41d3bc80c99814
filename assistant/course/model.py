"""Course data model: Course > Module > Provision / CaseRef / discussion, plus the Quiz questions."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


class CourseError(ValueError):
    """Bad course input (empty/uncovered topic, absurd hours, unknown audience or format): HTTP 400 / exit 2."""


@dataclass
class Provision:
    """A key provision: cited, quoted and status-checked."""

    chunk_id: str
    law: str  # full title
    article: str  # 第X条
    article_key: str
    heading: str  # 《title》第X条
    text: str  # the article text (quoted in full)
    kind: str = "statute"
    chapter: str = ""
    status: str = ""  # from the citation checker
    check: str = ""  # the checker's reason
    facet: str = ""
    role_match: bool = False
    score: float = 0.0


@dataclass
class CaseRef:
    """A guiding case (or a similar case record) attached to a module."""

    doc_id: str
    title: str
    kind: str  # guiding | case
    number: str = ""  # 指导性案例 number
    keywords: list[str] = field(default_factory=list)
    gist: str = ""  # 裁判要点 (guiding) or the holding excerpt (case)
    gist_chunk: str = ""  # chunk id the gist is quoted from
    facts: str = ""  # 基本案情 excerpt
    facts_chunk: str = ""
    laws: list[str] = field(default_factory=list)  # related provisions that pass the citation checker
    court: str = ""
    why: str = ""  # why it is attached: cites a key provision / matches the topic


@dataclass
class Module:
    n: int
    title: str
    facet: str
    minutes: int
    objectives: list[str] = field(default_factory=list)
    provisions: list[Provision] = field(default_factory=list)
    cases: list[CaseRef] = field(default_factory=list)  # guiding cases
    similar: list[CaseRef] = field(default_factory=list)  # similar case records
    discussion: list[str] = field(default_factory=list)
    laws: list[str] = field(default_factory=list)  # 《short titles》 of the laws covered


@dataclass
class Question:
    id: str
    type: str  # single_choice | true_false | case_analysis
    module: int  # module number (1-based)
    stem: str
    options: list[str] = field(default_factory=list)  # 4 for single choice, 正确/错误 for true/false, [] for open
    answer: str = ""  # A-D | 正确/错误 | the reference answer (case analysis)
    key: str = ""  # the phrase that must occur in the cited text
    distractors: list[str] = field(default_factory=list)  # phrases that must NOT occur in the cited text
    distractor_from: str = ""  # the parallel provision the first distractor comes from, when there is one
    explanation: str = ""
    cite: str = ""  # 《title》第X条 or 指导性案例N号·裁判要点
    cite_chunk: str = ""  # chunk id of the cited text
    source_kind: str = "provision"  # provision | guiding
    quote: str = ""  # the cited passage (excerpt)
    stem_original: str = ""  # set when the LLM rephrased the stem


@dataclass
class Course:
    title: str
    topic: str
    audience: str
    roles: list[str]
    hours: float
    modules: list[Module]
    quiz: list[Question]
    readings: list[dict] = field(default_factory=list)  # policy documents for further reading
    warnings: list[str] = field(default_factory=list)
    generated_by: str = "deterministic"
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Course":
        mods = []
        for m in d.get("modules", []):
            m = dict(m)
            m["provisions"] = [Provision(**p) for p in m.get("provisions", [])]
            m["cases"] = [CaseRef(**c) for c in m.get("cases", [])]
            m["similar"] = [CaseRef(**c) for c in m.get("similar", [])]
            mods.append(Module(**m))
        rest = {k: v for k, v in d.items() if k not in ("modules", "quiz")}
        return cls(modules=mods, quiz=[Question(**q) for q in d.get("quiz", [])], **rest)

    def provision(self, chunk_id: str) -> Provision | None:
        for m in self.modules:
            for p in m.provisions:
                if p.chunk_id == chunk_id:
                    return p
        return None
