"""Responsibility by role: which provisions define the duties, powers and liabilities of whom.

Rule-based tagging: a provision belongs to a role when a role term occurs in its text (or, failing that,
in its law's title) and the text carries a duty/power/liability cue. Computed lazily, cached per Searcher.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..documents import ACTIVE_STATUSES, IN_FORCE
from ..retrieval.memo import per_searcher
from ..retrieval.search import Hit, QueryError

# role -> terms. Matching is longest-term-first across all roles, so 法官助理 never counts as 法官.
ROLES: dict[str, tuple[str, ...]] = {
    "法官": ("法官", "审判人员", "审判员", "审判长", "合议庭", "独任法官", "员额法官", "主审法官", "承办法官"),
    "检察官": ("检察官", "检察人员", "承办检察官", "员额检察官"),
    "法官助理/检察官助理": ("法官助理", "检察官助理"),
    "书记员": ("书记员",),
    "院长/庭长": ("院长", "副院长", "庭长", "副庭长", "院庭长", "检察长", "副检察长"),
    "审判委员会/检察委员会": ("审判委员会", "检察委员会", "审委会", "检委会"),
    "人民警察": ("人民警察", "警察", "民警", "公安民警", "侦查人员", "侦查员"),
    "辅警": ("辅警", "警务辅助人员"),
    "监狱/社区矫正": ("监狱人民警察", "监狱警察", "狱警", "监狱", "社区矫正机构", "社区矫正工作人员", "社区矫正",
                  "看守所", "监管人员"),
}
GROUPS = ("职责", "权力", "责任")
LIABILITY = ("处分", "追究", "责任", "惩戒", "处罚", "撤职", "开除", "免职", "赔偿", "追偿", "承担")
POWER = ("有权", "职权", "权力", "权限", "行使", "决定", "批准")
DUTY = ("职责", "应当", "负责", "履行", "义务", "不得", "禁止", "严禁")
WEAK_POWER = ("可以",)
# question words asking "who is responsible / what may X do"
ROLE_QUESTION = re.compile(r"谁|责任|担责|追责|负责|职责|权责|职权|权限|权力|能不能|可不可以|能否|哪些事|处分|惩戒|义务")

_TERMS = sorted(((t, r) for r, ts in ROLES.items() for t in ts), key=lambda x: -len(x[0]))
_TERM_RE = re.compile("|".join(re.escape(t) for t, _ in _TERMS))
_ROLE_OF = dict(_TERMS)


def roles_in(text: str) -> list[str]:
    """Roles named in text, in order of first mention (longest term wins at each position)."""
    out: list[str] = []
    for m in _TERM_RE.finditer(text or ""):
        r = _ROLE_OF[m.group(0)]
        if r not in out:
            out.append(r)
    return out


def role_terms(text: str) -> list[tuple[str, str, int, int]]:
    """(term, role, start, end) for every role term in text."""
    return [(m.group(0), _ROLE_OF[m.group(0)], m.start(), m.end()) for m in _TERM_RE.finditer(text or "")]


def group_of(text: str) -> str | None:
    """职责 / 权力 / 责任 for a provision's text, or None without any cue."""
    if any(c in text for c in LIABILITY):
        return "责任"
    if any(c in text for c in POWER):
        return "权力"
    if any(c in text for c in DUTY):
        return "职责"
    if any(c in text for c in WEAK_POWER):
        return "权力"
    return None


@dataclass
class RoleIndex:
    rows: dict[str, np.ndarray]  # role -> chunk rows, ordered by strength (best first)
    groups: dict[int, str]  # row -> 职责/权力/责任
    mentions: dict[tuple[str, int], int]  # (role, row) -> number of term mentions

    def mask(self, role: str, n: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[self.rows.get(role, np.zeros(0, dtype=int))] = True
        return m


def _build(searcher) -> RoleIndex:
    st = searcher.store
    per_role: dict[str, list[tuple[tuple, int]]] = {r: [] for r in ROLES}
    groups: dict[int, str] = {}
    mentions: dict[tuple[str, int], int] = {}
    title_roles: dict[str, list[str]] = {}
    for row in range(len(st)):
        if st.kinds[row] not in ("statute", "regulation") or not st.article_keys[row]:
            continue
        c = st.get(row)
        g = group_of(c.text)
        if g is None:
            continue
        counts: dict[str, int] = {}
        for _, r, _, _ in role_terms(c.text):
            counts[r] = counts.get(r, 0) + 1
        if not counts:
            if c.title not in title_roles:
                title_roles[c.title] = roles_in(c.title)
            counts = {r: 0 for r in title_roles[c.title][:1]}
        if not counts:
            continue
        groups[row] = g
        key_status = 0 if c.status == IN_FORCE else (1 if c.status in ACTIVE_STATUSES else 2)
        for r, n in counts.items():
            mentions[(r, row)] = n
            strength = (key_status, 0 if c.kind == "statute" else 1, -min(n, 3), row)
            per_role[r].append((strength, row))
    rows = {r: np.array([row for _, row in sorted(v)], dtype=int) for r, v in per_role.items()}
    return RoleIndex(rows, groups, mentions)


role_index = per_searcher(_build)  # tags every statute/regulation article: ≈2 s on the full corpus


def check_role(role: str) -> str:
    if role in ROLES:
        return role
    found = roles_in(role)
    if len(found) == 1:
        return found[0]
    raise QueryError(f"未知角色 unknown role: {role}; choose from {', '.join(ROLES)}")


def role_provisions(searcher, role: str, k: int = 10, query: str | None = None, active_only: bool = True) -> list[Hit]:
    """The role's provisions: ranked by BM25 relevance to `query` when given, else by strength."""
    role = check_role(role)
    idx = role_index(searcher)
    rows = idx.rows.get(role, np.zeros(0, dtype=int))
    st = searcher.store
    if active_only and len(rows):
        rows = rows[np.isin(st.statuses[rows], list(ACTIVE_STATUSES))]
    if query:
        toks = searcher.tokenizer.tokens(query)
        # the role's own terms carry no information inside the role's rows
        toks = [t for t in toks if not roles_in(t)] or toks
        scores = searcher.bm25.scores(toks)[rows] if len(rows) else np.zeros(0)
        order = np.argsort(-scores, kind="stable")[:k]
        picked = [(int(rows[i]), float(scores[i])) for i in order if scores[i] > 0]
        via = "role+bm25"
    else:
        picked = [(int(r), 1.0 / (i + 1)) for i, r in enumerate(rows[:k])]
        via = "role"
    return [Hit(st.get(r), s, [via, f"group:{idx.groups[r]}"]) for r, s in picked]


def role_listing(searcher, role: str, per_group: int = 8, query: str | None = None) -> dict[str, list[Hit]]:
    """权责清单: the role's provisions grouped by 职责 / 权力 / 责任."""
    hits = role_provisions(searcher, role, k=per_group * 12, query=query)
    out: dict[str, list[Hit]] = {g: [] for g in GROUPS}
    idx = role_index(searcher)
    for h in hits:
        g = idx.groups[searcher.store.row_of[h.chunk.id]]
        if len(out[g]) < per_group:
            out[g].append(h)
    return out


def group_of_hit(searcher, hit: Hit) -> str | None:
    row = searcher.store.row_of.get(hit.chunk.id)
    return role_index(searcher).groups.get(row) if row is not None else None
