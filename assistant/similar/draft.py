"""Draft check: verify every citation, flag outdated provisions, compare the draft's outcome with similar cases,
and list guiding cases whose 裁判要点 bears on the draft. `check_draft(searcher, text) -> dict`, `to_markdown`."""
from __future__ import annotations

import re
import statistics

from ..retrieval.cases import CaseFilters
from ..retrieval.search import Searcher
from ..text import int2cn
from .push import SimilarCases, _bigrams

SIMILAR_K = 10
GUIDING_K = 3
GUIDING_MIN_SIMILARITY = 0.35
_BY_LAW = re.compile(r"据《([^》]+)》")


def months_cn(m: int | float | None) -> str:
    """14 -> 一年二个月; 10 -> 十个月; 24 -> 二年."""
    if m is None:
        return "—"
    m = int(round(m))
    y, r = divmod(m, 12)
    parts = ([f"{int2cn(y)}年"] if y else []) + ([f"{int2cn(r)}个月"] if r or not y else [])
    return "".join(parts)


def yuan_cn(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v / 10000:g}万元" if v >= 10000 else f"{v:g}元"


def _current_for(searcher: Searcher, old_chunk_id: str, by_law: str) -> dict | None:
    """The provision of the replacing law most similar in wording to a repealed one (a suggestion only)."""
    old = searcher.store.by_id(old_chunk_id) if old_chunk_id else None
    titles = searcher.laws.resolve(by_law) if by_law else []
    if old is None or not titles:
        return None
    rows = searcher.laws.title_rows.get(titles[0], [])
    if not rows:
        return None
    scores = searcher.bm25.scores(searcher.tokenizer.tokens(old.text[:500]))
    best = max(rows, key=lambda r: scores[r])
    if scores[best] <= 0:
        return None
    c = searcher.store.get(best)
    return {"law": c.title, "article": c.article, "heading": c.heading, "chunk_id": c.id, "status": c.status,
            "basis": "按条文相似度推荐，请核对 suggested by wording similarity"}


def check_citations(searcher: Searcher, text: str) -> tuple[list[dict], list[str]]:
    from ..answer.citations import check_text

    out, warnings = [], []
    for c in check_text(searcher, text):
        d = c.to_dict()
        d["ok"] = bool(c.exists and not c.repealed)
        d["current"] = None
        label = f"《{c.law}》{c.article}"
        if c.repealed:
            m = _BY_LAW.search(c.reason or "")
            d["current"] = _current_for(searcher, c.chunk_id, m.group(1) if m else "")
            tip = f"，现行可参照{d['current']['heading']}" if d["current"] else (f"，现行规定见《{m.group(1)}》" if m else "")
            warnings.append(f"{c.citation}：{label}已废止{tip}（{c.reason}）")
        elif not c.exists:
            warnings.append(f"{c.citation}：未能核实（{c.reason}）")
        if c.quote_match is False:
            warnings.append(f"{c.citation}：引文与条文不一致")
        out.append(d)
    return out, warnings


def outcome_comparison(draft: dict, similar: list[dict]) -> dict:
    """The draft's sentence (criminal) or amounts (civil) against the distribution over the similar cases."""
    labels = set(draft.get("labels") or [])
    same = [r for r in similar if labels & set(r.get("labels") or [])] if labels else []
    pool = same if len(same) >= 3 else similar
    scope = f"前 {len(pool)} 个" + ("同罪名/案由" if pool is same and same else "") + "类案"
    out: dict = {"scope": scope, "n_cases": len(pool)}
    ds = draft.get("sentence") or {}
    if draft.get("case_type") == "刑事" or ds.get("prison_months") is not None:
        months = [r["elements"]["sentence"]["case_prison_months"] for r in pool]
        months = [m for m in months if m is not None]
        probation = sum(1 for r in pool if r["elements"]["sentence"]["case_probation_months"])
        out.update(metric="prison_months", draft=ds.get("prison_months"), values=months)
        if months:
            med = statistics.median(months)
            out.update(min=min(months), max=max(months), median=med)
            kind = ds.get("penalty") or "有期徒刑"
            head = f"本稿拟判{kind}{months_cn(ds['prison_months'])}，" if ds.get("prison_months") else "本稿未见刑期，"
            out["text"] = (f"{head}{scope}中 {len(months)} 件可比，刑期为{months_cn(min(months))}至{months_cn(max(months))}，"
                           f"中位数{months_cn(med)}")
            if ds.get("prison_months"):
                rel = ds["prison_months"] / med if med else 1
                if rel >= 1.5 or rel <= 0.67:
                    out["flag"] = "明显高于类案" if rel > 1 else "明显低于类案"
                    out["text"] += f"（{out['flag']}）"
            if probation:
                out["text"] += f"；其中 {probation} 件适用缓刑"
        else:
            head = f"本稿拟判{ds.get('penalty') or '有期徒刑'}{months_cn(ds['prison_months'])}；" if ds.get("prison_months") else ""
            out["text"] = f"{head}{scope}中没有可比的刑期信息"
        return out
    amounts = [max(r["elements"]["amounts_yuan"]["case"]) for r in pool if r["elements"]["amounts_yuan"]["case"]]
    mine = max(draft.get("amounts_yuan") or [0]) or None
    out.update(metric="amount_yuan", draft=mine, values=amounts)
    if amounts:
        med = statistics.median(amounts)
        out.update(min=min(amounts), max=max(amounts), median=med)
        head = f"本稿涉及金额{yuan_cn(mine)}，" if mine else ""
        out["text"] = f"{head}{scope}中 {len(amounts)} 件载有金额，{yuan_cn(min(amounts))}至{yuan_cn(max(amounts))}，中位数{yuan_cn(med)}"
    else:
        out["text"] = f"{scope}中没有可比的金额信息"
    return out


def bearing_guiding(sc: SimilarCases, text: str, draft: dict, similar: list[dict]) -> list[dict]:
    """Guiding cases whose 裁判要点 bears on the draft: best guiding matches that share a 罪名/案由 or an
    article with the draft, or whose 裁判要点 shares enough wording with it."""
    cands = {r["doc_id"]: r for r in similar if r["kind"] == "guiding"}
    for r in sc.find(text, k=GUIDING_K + 2, filters=CaseFilters(kinds=["guiding"]), highlights=False):
        cands.setdefault(r["doc_id"], r)
    grams = _bigrams(text)
    out = []
    for r in cands.values():
        g = _bigrams(r.get("gist") or "")
        overlap = len(g & grams) / max(1, len(g))
        shared = r["elements"]["labels"]["shared"] + r["elements"]["cited_articles"]["shared"]
        if shared or overlap >= 0.25 or r["similarity"] >= GUIDING_MIN_SIMILARITY:
            why = ("同为/均引用" + "、".join(shared[:4])) if shared else f"裁判要点用语重合 {overlap:.0%}"
            out.append({"doc_id": r["doc_id"], "link": r["link"], "title": r["title"], "case_no": r["case_no"],
                         "binding": "应当参照", "similarity": r["similarity"], "gist": r.get("gist", ""),
                         "why": why, "gist_overlap": round(overlap, 3)})
    out.sort(key=lambda x: (-x["similarity"], -x["gist_overlap"]))
    return out[:GUIDING_K]


def check_draft(searcher: Searcher, text: str, k: int = SIMILAR_K) -> dict:
    text = searcher.check_query(text, searcher.settings.max_draft_chars)
    sc = SimilarCases(searcher)
    draft = sc.elements(text)
    citations, warnings = check_citations(searcher, text)
    similar = sc.find(text, k=k)
    comparison = outcome_comparison(draft, similar)
    if comparison.get("flag"):
        warnings.append(comparison["text"])
    guiding = bearing_guiding(sc, text, draft, similar)
    summary = {
        "citations": len(citations), "verified": sum(c["ok"] for c in citations),
        "repealed": sum(bool(c["repealed"]) for c in citations),
        "unverified": sum(not c["exists"] for c in citations), "similar_cases": len(similar),
        "guiding_cases": len(guiding),
    }
    compact = [{key: r[key] for key in ("doc_id", "link", "title", "kind", "binding", "similarity", "court",
                                        "court_level", "date", "case_no", "labels", "reasons")}
               | {"sentence": r["elements"]["sentence"], "amounts_yuan": r["elements"]["amounts_yuan"]["case"]}
               for r in similar]
    return {"summary": summary, "warnings": warnings, "elements": draft, "citations": citations,
            "comparison": comparison, "guiding": guiding, "similar": compact}


def to_markdown(result: dict) -> str:
    s = result["summary"]
    md = ["# 文书核查报告 Draft check", "",
          f"引用 {s['citations']} 处，核实 {s['verified']} 处，已废止 {s['repealed']} 处，未能核实 {s['unverified']} 处；"
          f"类案 {s['similar_cases']} 件，相关指导性案例 {s['guiding_cases']} 件。", ""]
    if result["warnings"]:
        md += ["## 提示 Warnings", ""] + [f"- ⚠ {w}" for w in result["warnings"]] + [""]
    el = result["elements"]
    md += ["## 文书要素 Elements", "",
           f"- 案件类型：{el.get('case_type') or '—'}；罪名/案由：{'、'.join(el.get('labels') or []) or '—'}",
           f"- 法院：{el.get('court') or '—'}（{el.get('court_level') or '—'}）；案号：{el.get('case_no') or '—'}", ""]
    if result["citations"]:
        md += ["## 引用核查 Citations", "", "| 引用 | 结果 | 说明 |", "|---|---|---|"]
        for c in result["citations"]:
            state = "✅ 有效" if c["ok"] else ("❌ 已废止" if c["repealed"] else "⚠ 未核实")
            note = c["reason"] + (f"；现行可参照{c['current']['heading']}" if c.get("current") else "")
            md.append(f"| {c['citation']} | {state} | {note} |")
        md.append("")
    md += ["## 信息对比 Outcome vs similar cases", "", result["comparison"].get("text", ""), ""]
    if result["guiding"]:
        md += ["## 应当参照的指导性案例 Guiding cases", ""]
        for g in result["guiding"]:
            md += [f"- **[{g['title']}]({g['link']})**（{g['why']}）", f"  > {g['gist'][:300]}"]
        md.append("")
    if result["similar"]:
        md += ["## 类案 Similar cases", "", "| # | 案件 | 相似度 | 理由 |", "|---|---|---|---|"]
        for i, r in enumerate(result["similar"], 1):
            flag = "【应当参照】" if r["binding"] else ""
            md.append(f"| {i} | {flag}[{r['title'][:60]}]({r['link']}) {r['court']} {r['date']} | {r['similarity']:.2f} | "
                      f"{'；'.join(r['reasons'])} |")
    return "\n".join(md) + "\n"
