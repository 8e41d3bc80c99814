"""Case understanding: split a judgment into sections and extract its elements (court, charges, articles ...)."""
from __future__ import annotations

import re

from .text import NUM_CHARS, cn2int, normalize_article

# section markers, in document order; the first marker found starts that section
SECTION_MARKERS = [
    ("claims", re.compile(r"(?:指控|诉称|诉讼请求|上诉请求|申请再审称|起诉称|请求判令|上诉称)")),
    ("facts", re.compile(r"(?:经审理查明|本院经审理认定|经审理认定|本院查明|经本院审理查明|审理查明|本院经审理查明|经审查查明|本院认定事实如下|本院对.{0,10}事实认定如下)")),
    ("reasoning", re.compile(r"^\s*本院认为|^\s*本院经审查认为")),
    ("judgment", re.compile(r"(?:判决如下|裁定如下|决定如下|调解协议如下)")),
    ("tail", re.compile(r"^\s*(?:审\s*判\s*长|审\s*判\s*员|人民陪审员|书\s*记\s*员)")),
]
SECTION_ORDER = ["header", "parties", "claims", "facts", "reasoning", "judgment", "tail"]

_CASE_NO = re.compile(r"[（(〔\[]\s*(\d{4})\s*[）)〕\]]\s*([\u4e00-\u9fff\d]{1,12}?\d+号)")
_DATE_CN = re.compile(r"([二〇○零一三四五六七八九十]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日")
_DATE_AR = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_COURT = re.compile(r"([\u4e00-\u9fff]{2,30}?人民法院)")
_CITE = re.compile(rf"《([^《》]{{2,60}}(?:《[^》]*》[^《》]*)?)》\s*((?:第[{NUM_CHARS}]+条(?:之[{NUM_CHARS}]+)?(?:第[{NUM_CHARS}]+[款项])*[、，,和及与\s]*)+)")
_ART_IN = re.compile(rf"第[{NUM_CHARS}]+条(?:之[{NUM_CHARS}]+)?")
_CHARGE = re.compile(r"(?:犯|构成|以)([\u4e00-\u9fff、]{2,30}?罪)")
_CAUSE = re.compile(r"([\u4e00-\u9fff]{2,20}?(?:纠纷|争议))")
_AMOUNT = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*(万)?元")
_PRISON = re.compile(rf"有期徒刑([{NUM_CHARS}]+)年(?:零?([{NUM_CHARS}]+)个月)?|有期徒刑([{NUM_CHARS}]+)个月")
_DETENTION = re.compile(rf"拘役([{NUM_CHARS}]+)个月")
_PROBATION = re.compile(rf"缓刑([{NUM_CHARS}]+)年(?:([{NUM_CHARS}]+)个月)?|缓刑([{NUM_CHARS}]+)个月")
_FINE = re.compile(r"(?:并处|判处)?罚金(?:人民币)?([\d,，.]+)\s*(万)?元")
_FINE_CN = re.compile(rf"罚金(?:人民币)?([{NUM_CHARS}]+)\s*(万)?元")
_LAW_ALIASES = {"刑法": "中华人民共和国刑法", "刑事诉讼法": "中华人民共和国刑事诉讼法", "民法典": "中华人民共和国民法典"}
_BAD_CHARGE_PREFIX = ("不", "无", "未", "已", "本", "该", "其", "被告人", "犯罪")


def split_sections(text: str) -> dict[str, str]:
    """Return {section: text}; a marker line moves to the next section (never backwards)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out: dict[str, list[str]] = {s: [] for s in SECTION_ORDER}
    cur = 0  # index into SECTION_ORDER
    for i, line in enumerate(lines):
        if i < 3 and cur == 0:
            out["header"].append(line)
            continue
        if cur == 0:
            cur = 1
        for name, rx in SECTION_MARKERS:
            idx = SECTION_ORDER.index(name)
            if idx > cur and rx.search(line) and (name != "claims" or cur < 3):
                cur = idx
                break
        out[SECTION_ORDER[cur]].append(line)
    return {k: "\n".join(v) for k, v in out.items() if v}


def _date(text: str) -> str:
    ms = list(_DATE_CN.finditer(text))
    if ms:
        m = ms[-1]
        y = "".join(str({"〇": 0, "○": 0, "零": 0}.get(c, cn2int(c) or 0)) for c in m.group(1))
        return f"{y}-{cn2int(m.group(2)):02d}-{cn2int(m.group(3)):02d}"
    ms = list(_DATE_AR.finditer(text))
    if ms:
        m = ms[-1]
        return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
    return ""


def court_level(court: str) -> str:
    if not court:
        return ""
    if "最高人民法院" in court:
        return "最高"
    if "高级" in court:
        return "高级"
    if "中级" in court or "知识产权法院" in court or "金融法院" in court or "海事法院" in court:
        return "中级"
    return "基层"


def cited_articles(text: str) -> list[dict]:
    """All 《law》第X条 citations, expanded for lists like 第六十七条第一款、第七十二条."""
    out, seen = [], set()
    for m in _CITE.finditer(text):
        law = m.group(1).replace("〈", "《").replace("〉", "》")
        law = _LAW_ALIASES.get(law, law)
        for a in _ART_IN.finditer(m.group(2)):
            key = (law, normalize_article(a.group(0)))
            if key[1] and key not in seen:
                seen.add(key)
                out.append({"law": law, "article": a.group(0), "article_key": key[1]})
    return out


def _months(y: str | None, m: str | None, only_m: str | None) -> int | None:
    if only_m:
        return cn2int(only_m)
    if y:
        return (cn2int(y) or 0) * 12 + (cn2int(m) or 0 if m else 0)
    return None


def _money(num: str, wan: str | None) -> float | None:
    try:
        v = float(num.replace(",", "").replace("，", ""))
    except ValueError:
        v = cn2int(num)
        if v is None:
            return None
    return v * 10000 if wan else v


def sentence_of(text: str) -> dict:
    """Imprisonment/probation months and fine in yuan found in a judgment part (criminal)."""
    prison = None
    m = _PRISON.search(text)
    if m:
        prison = _months(m.group(1), m.group(2), m.group(3))
    elif (d := _DETENTION.search(text)):
        prison = cn2int(d.group(1))
    prob = None
    if (p := _PROBATION.search(text)):
        prob = _months(p.group(1), p.group(2), p.group(3))
    fine = None
    if (f := _FINE.search(text)) or (f := _FINE_CN.search(text)):
        fine = _money(f.group(1), f.group(2))
    return {"prison_months": prison, "probation_months": prob, "fine_yuan": fine}


def extract(text: str, title: str = "") -> dict:
    """Elements of a judgment or draft. Missing elements are empty, never guessed."""
    head = title or text[:200]
    sections = split_sections(text)
    first = text[:400]
    court_m = _COURT.search("\n".join(text.splitlines()[:3])) or _COURT.search(first)
    court = court_m.group(1) if court_m else ""
    case_no_m = _CASE_NO.search(first)
    case_no = f"（{case_no_m.group(1)}）{case_no_m.group(2)}" if case_no_m else ""
    marker = (case_no or "") + head
    if "刑" in marker:
        case_type = "刑事"
    elif "行" in (case_no_m.group(2) if case_no_m else "") or "行政" in head:
        case_type = "行政"
    elif "执" in (case_no_m.group(2) if case_no_m else ""):
        case_type = "执行"
    elif "民" in marker or "纠纷" in head:
        case_type = "民事"
    else:
        case_type = ""
    if "再" in case_no or "再审" in head:
        procedure = "再审"
    elif "终" in case_no or "二审" in head:
        procedure = "二审"
    elif "初" in case_no or "一审" in head:
        procedure = "一审"
    else:
        procedure = ""
    decisive = sections.get("judgment", "") or sections.get("reasoning", "") or text
    if case_type == "刑事" or "罪" in head:
        charges = _charges(head + "\n" + decisive) or _charges(text)
    else:
        charges = []
        for m in _CAUSE.finditer(head):
            c = re.sub(r"^.*?(?:与|诉|和)", "", m.group(1))
            if len(c) >= 4 and c not in charges:
                charges.append(c)
    judgment = sections.get("judgment", "")
    amounts = []
    for m in _AMOUNT.finditer(judgment or decisive):
        v = _money(m.group(1), m.group(2))
        if v and v >= 100 and v not in amounts:
            amounts.append(v)
    return {
        "court": court,
        "court_level": court_level(court),
        "case_no": case_no,
        "date": _date(sections.get("tail", "") or text[-300:]),
        "procedure": procedure,
        "case_type": case_type,
        "charges": charges,
        "cited_articles": cited_articles(sections.get("reasoning", "") + "\n" + judgment or text),
        "sentence": sentence_of(judgment) if case_type == "刑事" else {},
        "amounts_yuan": amounts[:5],
    }


def _charges(text: str) -> list[str]:
    out: list[str] = []
    for m in _CHARGE.finditer(text):
        for c in m.group(1).split("、"):
            c = c if c.endswith("罪") else c + "罪"
            c = re.sub(r"^(?:被告人|犯|构成|以|了)", "", c)
            if 3 <= len(c) <= 16 and not c.startswith(_BAD_CHARGE_PREFIX) and c not in out:
                out.append(c)
    return out
