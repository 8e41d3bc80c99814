"""Similar-case push while drafting: rank guiding cases and case records for a text and explain each match.

`SimilarCases(searcher).find(text, k=10, filters=None) -> list[dict]`; each result carries doc_id (link target
for GET /v1/documents/{id}), a similarity in [0, 1], reasons (shared 罪名/案由 and cited articles), the
best-matching sentence pairs of both texts and an element-by-element comparison. Guiding cases (应当参照)
relevant enough are shown first.
"""
from __future__ import annotations

import math
import re
from collections import Counter

from ..elements import amounts_in, extract, sentence_of
from ..retrieval.cases import WEIGHTS, CaseRanker, case_index
from ..retrieval.search import Searcher
from ..text import law_key, short_title

ELEMENT_WEIGHT = 0.2  # element overlap added to the retrieval score: neutral on both measurements, a tie-breaker
GUIDING_MIN_REL = 0.65  # a guiding case goes first when its score >= this share of the best score
POOL = 40  # candidates re-scored with elements
HIGHLIGHT_PARTS = ("裁判要点", "基本案情", "裁判理由", "审理查明", "本院认为", "诉辩意见", "裁判结果")
_SENT = re.compile(r"[^。；！？\n]{8,300}[。；！？]?")
_STOP_BIGRAMS = frozenset(
    "本院 被告 原告 告人 上诉 诉人 认为 法院 人民 民法 的规 规定 审理 查明 事实 证据 判决 依照 予以 一审 二审 本案 应当 "
    "没有 可以 已经 以上 以下 其中 并且 根据 按照 之间 对于 关于 由于 因此 但是 所以 如果 不予 支持 请求 诉讼 法律".split()
)


def _bigrams(s: str) -> set[str]:
    s = re.sub(r"[^\u4e00-\u9fffA-Za-z0-9]", "", s)
    return {s[i : i + 2] for i in range(len(s) - 1)} - _STOP_BIGRAMS


def sentences(text: str, limit: int = 400) -> list[str]:
    return [m.group(0).strip() for m in _SENT.finditer(text)][:limit]


def best_pairs(q_sents: list[str], d_sents: list[str], n: int = 2, q_grams: list[set[str]] | None = None) -> list[dict]:
    """The n most similar (query sentence, document sentence) pairs: IDF-weighted shared bigrams over
    sqrt(|a|·|b|). Pure Python sets (BLAS threads stall on a busy machine); the 12 query sentences that
    share most with the document are compared with at most 80 of its sentences."""
    qb = q_grams if q_grams is not None else [_bigrams(x) for x in q_sents]
    db = [_bigrams(x) for x in d_sents[:80]]
    if not qb or not db:
        return []
    df = Counter(g for b in db for g in b)
    idf = {g: math.log1p(len(db) / c) for g, c in df.items()}
    pool = set(df)
    qi = sorted(range(len(qb)), key=lambda i: -len(qb[i] & pool))[:12]
    scored = []
    for i in qi:
        a = qb[i] & pool
        if len(a) < 3:
            continue
        for j, b in enumerate(db):
            common = a & b
            if len(common) >= 3:
                scored.append((sum(idf[g] for g in common) / math.sqrt(len(qb[i]) * len(b)), i, j))
    scored.sort(reverse=True)
    out, used_q, used_d = [], set(), set()
    for sim, i, j in scored:
        if i in used_q or j in used_d:
            continue
        used_q.add(i)
        used_d.add(j)
        out.append({"draft": q_sents[i], "case": d_sents[j], "similarity": round(sim, 3)})
        if len(out) >= n:
            break
    return out


def _arts(cited) -> dict[tuple[str, str], str]:
    out = {}
    for c in cited or []:
        key = (law_key(c.get("law", "")), c.get("article_key", ""))
        if key[1]:
            out[key] = f"《{short_title(c.get('law', ''))}》{c.get('article', '')}"
    return out


def compare(q: dict, d: dict) -> dict:
    """Element comparison of the draft/question q (extract() output) and a case's metadata d."""
    q_labels, d_labels = q.get("labels", []), d.get("labels", [])
    shared_labels = [x for x in q_labels if x in d_labels]
    qa, da = _arts(q.get("cited_articles")), _arts(d.get("cited"))
    shared_arts = [qa[k] for k in qa if k in da]
    qs, ds = q.get("sentence") or {}, d.get("sentence") or {}
    sent = {"draft_prison_months": qs.get("prison_months"), "case_prison_months": ds.get("prison_months"),
            "draft_fine_yuan": qs.get("fine_yuan"), "case_fine_yuan": ds.get("fine_yuan"),
            "draft_probation_months": qs.get("probation_months"), "case_probation_months": ds.get("probation_months")}
    sent_sim = None
    if qs.get("prison_months") and ds.get("prison_months"):
        a, b = qs["prison_months"], ds["prison_months"]
        sent_sim = round(min(a, b) / max(a, b), 3)
    qam, dam = [x for x in q.get("amounts_yuan") or [] if x], [x for x in d.get("amounts_yuan") or [] if x]
    amount_sim = None
    if qam and dam:
        amount_sim = round(max(1 / (1 + abs(math.log10(a / b))) for a in qam for b in dam), 3)
    q_facts, d_facts = set(q.get("key_facts") or []), set(d.get("key_facts") or [])
    return {
        "labels": {"draft": q_labels, "case": d_labels, "shared": shared_labels},
        "cited_articles": {"draft": list(qa.values()), "case": list(da.values())[:20], "shared": shared_arts},
        "sentence": {**sent, "similarity": sent_sim},
        "amounts_yuan": {"draft": qam[:5], "case": dam[:5], "similarity": amount_sim},
        "court_level": {"draft": q.get("court_level", ""), "case": d.get("court_level", ""),
                        "same": bool(q.get("court_level")) and q.get("court_level") == d.get("court_level")},
        "case_type": {"draft": q.get("case_type", ""), "case": d.get("case_type", "")},
        "key_facts": {"shared": sorted(q_facts & d_facts)},
    }


def element_score(cmp: dict) -> float:
    """0..1: shared 罪名/案由 0.5, shared articles up to 0.3, similar sentence 0.1, similar amounts 0.1."""
    s = 0.5 if cmp["labels"]["shared"] else 0.0
    s += 0.3 * min(1.0, len(cmp["cited_articles"]["shared"]) / 3)
    s += 0.1 * (cmp["sentence"]["similarity"] or 0)
    s += 0.1 * (cmp["amounts_yuan"]["similarity"] or 0)
    return s


class SimilarCases:
    def __init__(self, searcher: Searcher, ranker: CaseRanker | None = None):
        self.s = searcher
        self.ranker = ranker or CaseRanker(searcher)
        self.ci = case_index(searcher)

    def elements(self, text: str) -> dict:
        el = extract(text, charges_vocab=self.ci.charges, causes_vocab=self.ci.causes)
        el["labels"] = self.ci.canon(el.get("charges") or [])
        return el

    def find(self, text: str, k: int = 10, filters=None, highlights: bool = True) -> list[dict]:
        text = self.s.check_query(text, self.s.settings.max_draft_chars)
        if not 1 <= int(k) <= 100:
            raise ValueError("k 应在 1-100 之间 k must be within 1..100")
        q_el = self.elements(text)
        cands = self.ranker.scored(text, k=max(POOL, k), filters=filters)
        if not cands:
            return []
        full = sum(WEIGHTS[n] for n in cands[0][2]) + ELEMENT_WEIGHT
        rows = []
        for doc_id, score, feats in cands:
            meta = self.ci.meta[self.ci.row[doc_id]]
            if meta["kind"] == "guiding" and "sentence" not in meta:
                self._guiding_outcome(doc_id, meta)
            cmp = compare(q_el, meta)
            total = score + ELEMENT_WEIGHT * element_score(cmp)
            rows.append((total, doc_id, feats, meta, cmp))
        rows.sort(key=lambda r: -r[0])
        best = rows[0][0]
        guiding = [r for r in rows if r[3]["kind"] == "guiding" and r[0] >= GUIDING_MIN_REL * best]
        rest = [r for r in rows if not any(r is g for g in guiding)]
        ordered = (guiding + rest)[:k]
        q_sents = sentences(text, 40) if highlights else []
        q_grams = [_bigrams(x) for x in q_sents]
        return [self._result(r, full, q_sents, q_grams) for r in ordered]

    def _guiding_outcome(self, doc_id: str, meta: dict) -> None:
        """Sentence and amounts of a guiding case, from its 裁判结果 (cached in the case table)."""
        result = "\n".join(c.text for c in self.s.store.doc_chunks(doc_id) if c.part == "裁判结果")
        meta["sentence"] = sentence_of(result) if meta.get("case_type") == "刑事" else {}
        meta.setdefault("amounts_yuan", amounts_in(result, 3))

    def _result(self, row, full: float, q_sents: list[str], q_grams: list[set[str]]) -> dict:
        total, doc_id, feats, meta, cmp = row
        binding = meta["kind"] == "guiding"
        reasons = []
        if cmp["labels"]["shared"]:
            reasons.append("同为" + "、".join(cmp["labels"]["shared"]))
        if cmp["cited_articles"]["shared"]:
            reasons.append("均引用" + "、".join(cmp["cited_articles"]["shared"][:5]))
        if cmp["key_facts"]["shared"]:
            reasons.append("相同情节：" + "、".join(cmp["key_facts"]["shared"][:6]))
        if cmp["sentence"]["similarity"] and cmp["sentence"]["similarity"] >= 0.7:
            reasons.append("刑期相近")
        if not cmp["labels"]["shared"] and meta.get("labels") and feats.get("vote", 0) >= 0.99:
            reasons.append(f"与最相近类案同为{meta['labels'][0]}（推断案由/罪名）")
        if not reasons:
            reasons.append("案情用语高度重合" if feats.get("doc", 0) >= 0.8 else "案情相关")
        if binding:
            reasons.insert(0, "指导性案例，应当参照")
        pairs = []
        if q_sents:
            chunks = [c for c in self.s.store.doc_chunks(doc_id) if c.part in HIGHLIGHT_PARTS] or \
                self.s.store.doc_chunks(doc_id)
            q_all = set().union(*q_grams)
            chunks.sort(key=lambda c: -len(_bigrams(c.text) & q_all) / math.sqrt(len(c.text) + 50))
            pairs = best_pairs(q_sents, [s for c in chunks[:2] for s in sentences(c.text)], q_grams=q_grams)
        gist = ""
        if binding:
            gist = next((c.text for c in self.s.store.doc_chunks(doc_id) if c.part == "裁判要点"), "")
        return {
            "doc_id": doc_id,
            "link": f"/v1/documents/{doc_id}",
            "title": meta["title"],
            "kind": meta["kind"],
            "source": meta.get("source", ""),
            "binding": "应当参照" if binding else "",
            "similarity": round(min(1.0, total / full), 3),
            "score": round(total, 4),
            "court": meta.get("court", ""),
            "court_level": meta.get("court_level", ""),
            "date": meta.get("date", ""),
            "case_no": meta.get("case_no", "") or (f"指导性案例{meta.get('number')}号" if binding else ""),
            "case_type": meta.get("case_type", ""),
            "labels": meta.get("labels", []),
            "reasons": reasons,
            "highlights": pairs,
            "elements": cmp,
            "gist": gist,
            "features": feats,
        }
