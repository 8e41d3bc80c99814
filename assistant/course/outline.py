"""Course outline: retrieve the topic's provisions, check them, group them into modules by sub-topic (facet)
and law/chapter, and write objectives and discussion questions for each module."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..answer.citations import check_one
from ..answer.roles import ROLES, role_index, role_provisions, roles_in
from ..documents import ACTIVE_STATUSES, Chunk
from ..retrieval.search import Filters
from ..text import book as full_book, law_key, short_title, truncate
from .model import CourseError, Module, Provision
from .topic import ROLE_TERM, TopicModel

LAW_KINDS = ["statute", "regulation", "local"]
PRIMARY, SECONDARY = 0.6, 0.3  # topic coverage of a key provision / of a chapter neighbour of one
MAX_UNIT_ARTICLES = 40  # a chapterless instrument longer than this is not a teaching unit
MIN_PROVISIONS = 3  # fewer on-topic provisions than this: the corpus does not cover the topic
RRF_K = 60

# sub-topics: (key, label, chapter cues, text cues). Order = teaching order.
FACETS = [
    ("principles", "基本原则与职责分工", ("总则", "一般规定", "职责", "任务", "原则", "机构", "人员", "组织"),
     ("原则", "职责", "负责", "为了", "目的", "任务", "适用本", "遵循", "坚持")),
    ("situations", "适用情形与认定标准", ("范围", "情形", "条件", "认定", "适用对象", "义务和纪律", "纪律"),
     ("下列情形之一", "下列行为之一", "下列情形", "情形之一", "条件", "认定", "是指", "属于", "必须做到", "不得有下列")),
    ("procedure", "办理程序与时限", ("程序", "管辖", "受理", "审理", "调查", "决定", "接收", "执行", "审议", "申请",
                              "立案", "侦查", "起诉", "审判", "解除", "终止", "处理"),
     ("程序", "受理", "申请", "提请", "报请", "审议", "调查", "决定", "日内", "日以内", "期限", "送达", "通知", "审查")),
    ("sanctions", "惩戒、处分与法律责任", ("惩戒", "处分", "法律责任", "罚则", "奖惩", "责任追究", "渎职"),
     ("处分", "惩戒", "撤职", "开除", "刑事责任", "处罚", "降级", "追究", "承担司法责任", "追偿")),
    ("safeguards", "免责、异议与权利保障", ("保障", "权利", "救济", "申诉", "免责", "保护"),
     ("不承担", "不予追究", "不得追究", "免予", "免责", "申诉", "复核", "异议", "有权", "保障", "受法律保护", "陈述")),
    ("supervision", "监督、纠错与赔偿", ("监督", "赔偿", "追偿", "检查", "督察", "纠正"),
     ("监督", "检举", "控告", "赔偿", "纠正", "督察", "撤销", "变更")),
]
FACET_LABEL = {k: label for k, label, _, _ in FACETS}
FACET_ORDER = [k for k, *_ in FACETS]
# what a trainee should be able to do per facet (objective verbs) and what to discuss
OBJECTIVE = {
    "principles": "理解{law}{art}确立的基本原则与职责分工：{gist}",
    "situations": "准确识别{law}{art}规定的情形：{gist}",
    "procedure": "熟悉{law}{art}规定的办理程序与时限：{gist}",
    "sanctions": "掌握{law}{art}规定的责任后果：{gist}",
    "safeguards": "了解{law}{art}规定的免责事由与权利保障：{gist}",
    "supervision": "了解{law}{art}规定的监督与纠错机制：{gist}",
}
DISCUSS = {
    "principles": "结合{cite}，讨论{role}在{topic}中的职责边界：哪些决定由{role}本人负责，哪些需要集体讨论或报请决定？",
    "situations": "{cite}规定的情形应当如何准确认定？请举出一个{role}实务中容易混淆或有争议的例子，说明判断要点。",
    "procedure": "按照{cite}，梳理{topic}从启动到作出决定的步骤、主体和期限，并指出{role}在各环节享有的程序权利。",
    "sanctions": "比较{cite}规定的不同责任形式（处分、惩戒、刑事责任等）的适用条件，讨论如何做到责任与过错相当。",
    "safeguards": "{cite}规定的免责或异议、申诉途径在实务中如何运用？讨论如何在依法追责与保护{role}依法履职之间取得平衡。",
    "supervision": "结合{cite}，讨论监督、纠错与赔偿机制如何与{topic}衔接，发现问题后应当由谁、按什么程序处理。",
}


@dataclass
class Cand:
    row: int
    chunk: Chunk
    score: float
    cov: float
    role_match: bool = False
    other_role: bool = False  # about another role only (e.g. 检察官 for a course for 法官)
    facet: str = ""


def _gather(searcher, tm: TopicModel, roles: list[str]) -> dict[int, float]:
    """RRF over the topic, role + topic and synonym queries, plus the roles' own provisions."""
    f = Filters.make(LAW_KINDS)
    queries = [tm.topic] + [ROLE_TERM.get(r, r) + tm.topic for r in roles]
    queries += [f"{t} {tm.topic}" for t in tm.query_terms if t not in tm.topic]
    fused: dict[int, float] = {}
    for q in dict.fromkeys(queries):
        for r, h in enumerate(searcher.search(q, k=50, filters=f)):
            row = searcher.store.row_of[h.chunk.id]
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + r + 1)
    for role in roles:
        for r, h in enumerate(role_provisions(searcher, role, k=40, query=" ".join(tm.query_terms))):
            row = searcher.store.row_of[h.chunk.id]
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + r + 1)
    return fused


def _role_flags(searcher, chunk: Chunk, row: int, roles: list[str]) -> tuple[bool, bool]:
    if not roles:
        return False, False
    idx = role_index(searcher)
    named = set(roles_in(chunk.text)) | set(roles_in(chunk.title))
    match = any(r in named or (r, row) in idx.mentions for r in roles)
    other = bool(named) and not match and any(r in ROLES for r in named)
    return match, other


def candidates(searcher, tm: TopicModel, roles: list[str]) -> list[Cand]:
    """On-topic, citable provisions, best first (primary ones, then chapter neighbours of primary ones)."""
    st = searcher.store
    fused = _gather(searcher, tm, roles)
    seen: set[tuple[str, str]] = set()
    out: list[Cand] = []
    chapters: set[tuple[str, str]] = set()
    for row in sorted(fused, key=lambda r: (-fused[r], r)):
        c = st.get(row)
        key = (law_key(c.title), c.article_key)
        if not c.article_key or key in seen:
            continue
        cov = tm.coverage(f"{c.title} {c.text}")
        if cov < PRIMARY:
            continue
        seen.add(key)
        chapters.add((c.title, c.chapter))
        m, o = _role_flags(searcher, c, row, roles)
        out.append(Cand(row, c, fused[row] * (1 + cov), cov, m, o))
    if len(out) < MIN_PROVISIONS:
        return out
    # chapter neighbours: the rest of a chapter (or of a chapterless instrument) holding a primary provision,
    # with a weaker topic match (法官法第六章: 惩戒委员会 articles never say 错案)
    floor = min(x.score for x in out)
    units = {(x.chunk.doc_id, x.chunk.chapter) for x in out}
    for doc_id, chapter in sorted(units):
        rows = st.rows_of_doc.get(doc_id, [])
        if not chapter and sum(1 for r in rows if st.article_keys[r]) > MAX_UNIT_ARTICLES:
            continue  # a long instrument without chapters: no unit narrower than the whole
        for row in rows:
            if not st.article_keys[row] or st.statuses[row] not in ACTIVE_STATUSES:
                continue
            c = st.get(row)
            key = (law_key(c.title), c.article_key)
            if c.chapter != chapter or key in seen:
                continue
            cov = tm.coverage(c.text)
            if cov < SECONDARY:
                continue
            seen.add(key)
            m, o = _role_flags(searcher, c, row, roles)
            out.append(Cand(row, c, floor * 0.9 * cov / PRIMARY * (1.1 if row in fused else 1.0), cov, m, o))
    return out


def facet_of(chunk: Chunk) -> str:
    chap = re.sub(r"^第[^章节]+[章节]\s*", "", chunk.chapter or "")
    best, best_score = "principles", 0.0
    for key, _, ch_cues, tx_cues in FACETS:
        score = 2.0 * sum(c in chap for c in ch_cues) + sum(c in chunk.text for c in tx_cues)
        if score > best_score:
            best, best_score = key, score
    return best


def module_count(hours: float) -> int:
    return max(2, min(10, round(hours)))


def _split_by_unit(items: list[Cand]) -> list[list[Cand]]:
    """Split one facet group in two, keeping each law/chapter unit whole and the halves balanced."""
    units: dict[tuple[str, str], list[Cand]] = {}
    for c in items:
        units.setdefault((c.chunk.title, c.chunk.chapter), []).append(c)
    a: list[Cand] = []
    b: list[Cand] = []
    for u in sorted(units.values(), key=lambda u: (-len(u), -sum(x.score for x in u))):
        (a if len(a) <= len(b) else b).extend(u)
    if len(a) < 2 or len(b) < 2:
        half = len(items) // 2
        a, b = items[:half], items[half:]
    key = lambda c: (not c.role_match, c.other_role, -c.score, c.row)  # noqa: E731
    return [sorted(a, key=key), sorted(b, key=key)]


def plan_modules(cands: list[Cand], n: int, per_module: int) -> list[tuple[str, list[Cand]]]:
    """Group candidates into about n modules: by facet, split by law/chapter when there are too few facets."""
    groups: dict[str, list[Cand]] = {}
    for c in cands:
        c.facet = c.facet or facet_of(c.chunk)
        groups.setdefault(c.facet, []).append(c)
    for g in groups.values():
        g.sort(key=lambda c: (not c.role_match, c.other_role, -c.score, c.row))
    plan = sorted(((k, g) for k, g in groups.items() if g), key=lambda kv: FACET_ORDER.index(kv[0]))
    while len(plan) > 2 and any(len(g) < 2 for _, g in plan):  # a one-provision facet joins its neighbour
        i = next(j for j, (_, g) in enumerate(plan) if len(g) < 2)
        j = i + 1 if i + 1 < len(plan) else i - 1
        plan[j] = (plan[j][0], sorted(plan[j][1] + plan[i][1], key=lambda c: (not c.role_match, c.other_role, -c.score)))
        del plan[i]
    best = sorted(plan, key=lambda kv: -sum(c.score for c in kv[1][:per_module]))[:n]
    plan = [kv for kv in plan if kv in best]
    while len(plan) < n:  # split the largest splittable group by law/chapter
        i = max(range(len(plan)), key=lambda j: len(plan[j][1]))
        if len(plan[i][1]) < 4:
            break
        parts = _split_by_unit(plan[i][1])
        if len(parts) < 2:
            break
        plan[i:i + 1] = [(plan[i][0], parts[0]), (plan[i][0], parts[1])]
    return [(k, g[:per_module]) for k, g in plan]


def check_provision(searcher, c: Cand) -> Provision | None:
    """A Provision when the citation checker confirms it exists and is not repealed; None otherwise."""
    ch = c.chunk
    cit = check_one(searcher, ch.title, ch.article_key)
    if not cit.exists or cit.repealed:
        return None
    return Provision(chunk_id=ch.id, law=ch.title, article=ch.article, article_key=ch.article_key, heading=ch.heading,
                     text=ch.text.strip(), kind=ch.kind, chapter=ch.chapter, status=cit.status, check=cit.reason,
                     facet=c.facet, role_match=c.role_match, score=round(c.score, 5))


def gist(text: str, n: int = 48) -> str:
    """The first sentence (or list lead-in) of an article, for objectives."""
    t = re.sub(r"\s+", "", text)
    first = re.split(r"[。；：:]", t, maxsplit=1)[0]
    return truncate(first.rstrip("，"), n)


def book(title: str) -> str:
    """《short title》 with inner 《》 turned into 〈〉 (《最高人民法院关于适用〈…〉的解释》)."""
    return full_book(short_title(title))


def _module_title(topic: str, facet: str, provs: list[Provision], split: bool) -> str:
    title = f"{topic}：{FACET_LABEL[facet]}"
    if split and provs:
        title += f"（{book(provs[0].law)}）"
    return title


def build_modules(searcher, tm: TopicModel, roles: list[str], hours: float, warnings: list[str],
                  label: str = "办案人员") -> list[Module]:
    cands = candidates(searcher, tm, roles)
    if len(cands) < MIN_PROVISIONS:
        raise CourseError(
            f"语料库未覆盖该主题 the corpus does not cover the topic {tm.topic!r}: only {len(cands)} on-topic provision(s) "
            f"found (need {MIN_PROVISIONS}); try a more specific legal topic such as 错案责任追究、回避制度、国家赔偿")
    n = module_count(hours)
    teach = hours * 60 * 0.85  # the rest is the quiz and its review
    per_module = max(2, min(8, round(teach / n / 12)))
    plan = plan_modules(cands, n, per_module + 2)  # spares replace provisions the checker rejects
    if len(plan) < n:
        warnings.append(f"语料仅支持 {len(plan)} 个模块（目标 {n} 个）only {len(plan)} modules could be formed for {hours:g} h")
    minutes = int(teach // max(1, len(plan)) // 5 * 5)
    facet_count: dict[str, int] = {}
    for facet, _ in plan:
        facet_count[facet] = facet_count.get(facet, 0) + 1
    modules: list[Module] = []
    rejected = 0
    for i, (facet, group) in enumerate(plan, 1):
        provs = []
        for c in group:
            p = check_provision(searcher, c)
            if p is None:
                rejected += 1
            elif len(provs) < per_module:
                provs.append(p)
        if not provs:
            continue
        m = Module(n=len(modules) + 1, title=_module_title(tm.topic, facet, provs, facet_count[facet] > 1), facet=facet,
                   minutes=minutes, provisions=provs)
        m.laws = list(dict.fromkeys(book(p.law) for p in provs))
        m.objectives = objectives(facet, provs)
        m.discussion = discussion(facet, provs, tm.topic, label)
        modules.append(m)
    if roles and modules and not any(p.role_match for m in modules for p in m.provisions):
        warnings.append(f"语料中未找到专门规定{label}职责的相关条文，课程按主题选取 no provision on this topic names the audience's role")
    if rejected:
        warnings.append(f"{rejected} 条候选条文未通过引用核验（不存在或已废止），已排除 provisions failing the citation check were dropped")
    return modules


def objectives(facet: str, provs: list[Provision], n: int = 3) -> list[str]:
    out = []
    for p in provs[:n]:
        out.append(OBJECTIVE[facet].format(law=book(p.law), art=p.article, gist=gist(p.text)))
    return out


def discussion(facet: str, provs: list[Provision], topic: str, role: str) -> list[str]:
    cites = "、".join(f"{book(p.law)}{p.article}" for p in provs[:2])
    out = [DISCUSS[facet].format(cite=cites, topic=topic, role=role)]
    laws = list(dict.fromkeys(p.law for p in provs))
    if len(laws) > 1:
        a, b = (book(x) for x in laws[:2])
        out.append(f"对照{a}与{b}的相关规定，二者在适用对象、条件和后果上有何异同？对{role}办案有何提示？")
    else:
        p = provs[-1]
        out.append(f"请以一个{role}办案中的具体场景，说明{book(p.law)}{p.article}的适用要点。")
    return out
