"""Case understanding: split a judgment into sections and extract its elements (court, charges, articles ...).

Works on full judgments, guiding cases and free-form drafts. Missing elements are empty, never guessed.
Optional vocabularies (罪名 from the corpus lexicon, 案由 learned from case titles) sharpen charge/cause detection.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from .text import NUM_CHARS, cn2int, normalize_article

# section markers, in document order; the first marker found starts that section
SECTION_MARKERS = [
    ("claims", re.compile(r"(?:指控|诉称|诉讼请求|上诉请求|申请再审称|起诉称|请求判令|上诉称)")),
    ("facts", re.compile(r"(?:经审理查明|本院经审理认定|经审理认定|本院查明|经本院审理查明|审理查明|本院经审理查明|经审查查明|本院认定事实如下|本院对.{0,10}事实认定如下)")),
    ("reasoning", re.compile(r"^\s*(?:本院认为|本院经审查认为|本院再审认为|本院二审认为)")),
    ("judgment", re.compile(r"(?:判决如下|裁定如下|决定如下|调解协议如下)")),
    ("tail", re.compile(r"^\s*(?:审\s*判\s*长|审\s*判\s*员|人民陪审员|代理审判员|书\s*记\s*员)")),
]
SECTION_ORDER = ["header", "parties", "claims", "facts", "reasoning", "judgment", "tail"]
_JUDGMENT_AT_END = re.compile(r"(?:判决|裁定|决定|调解协议)如下[：:]?\s*$")

_CASE_NO = re.compile(r"[（(〔\[]\s*(\d{4})\s*[）)〕\]]\s*([\u4e00-\u9fff\d]{1,12}?\d+号)")
_DATE_CN = re.compile(r"([二〇○零Ｏ０一三四五六七八九十]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日")
_DATE_AR = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_COURT = re.compile(r"([\u4e00-\u9fff]{2,30}?(?:人民法院|金融法院|海事法院|知识产权法院|铁路运输法院|互联网法院|军事法院))")
_COURT_LINE = re.compile(r"^\s*([\u4e00-\u9fff]{2,30}(?:法院))\s*$")

# citations: 《law》 followed by article/paragraph/item tokens
_NUM = f"[{NUM_CHARS}]+"
_ART_TOKEN = rf"(?:第{_NUM}条(?:之{_NUM})?|第?[{NUM_CHARS}、]+[款项]|第?[（(㈠-㈩]+[{NUM_CHARS}]*[）)]?项|[、，,和及与\s])"
_CITE = re.compile(rf"((?:最高人民法院|最高人民检察院|最高法|最高检|公安部|司法部|[、，]){{0,8}})《([^《》]{{2,80}}?(?:《[^》]*》[^《》]*)?)》\s*((?:{_ART_TOKEN})+)")
_ART_IN = re.compile(rf"第({_NUM})条(?:之({_NUM}))?")
_COMMON_LAWS = (
    "刑法 刑事诉讼法 民法典 民事诉讼法 行政诉讼法 合同法 物权法 担保法 婚姻法 继承法 收养法 侵权责任法 民法通则 民法总则"
    " 公司法 企业破产法 合伙企业法 劳动合同法 劳动法 保险法 票据法 证券法 道路交通安全法 消费者权益保护法 产品质量法"
    " 商标法 专利法 著作权法 反不正当竞争法 土地管理法 城市房地产管理法 农村土地承包法 行政处罚法 治安管理处罚法"
    " 国家赔偿法 仲裁法 商业银行法 食品安全法 环境保护法 未成年人保护法 妇女权益保障法 老年人权益保障法 电子商务法"
).split()
_BARE_CITE = re.compile(rf"(?<!《)(?:中华人民共和国)?({'|'.join(sorted(_COMMON_LAWS, key=len, reverse=True))})\s*((?:{_ART_TOKEN})+)")
_BARE_PREFIX_OK = re.compile(r"(?:依照|依据|根据|按照|适用|违反|符合|即|对照|参照|及|和|与|的|^|[^\u4e00-\u9fff])$")
_BOILERPLATE = re.compile(r"加倍支付迟延履行期间的债务利息|迟延履行期间的债务利息")
_ISSUER_ABBR = {"最高法": "最高人民法院", "最高检": "最高人民检察院"}

_CHARGE = re.compile(r"(?:(?<!侵)犯|构成|以|涉嫌)((?:[\u4e00-\u9fff、]{2,30}?罪、)*[\u4e00-\u9fff、]{2,30}?罪)(?![犯名行状责])")
_BAD_CHARGE_PREFIX = ("不", "无", "未", "已", "本", "该", "其", "被告人", "犯罪", "何", "此", "数罪", "一罪", "该罪", "上述", "前")
_BAD_CHARGE_PART = ("情节", "悔罪", "认罪", "事实", "性质", "罪名", "罪行", "犯罪", "之罪", "定罪", "量刑")
_CAUSE_END = r"(?:纠纷|之诉|争议)"
_CAUSE_IN_BODY = re.compile(rf"([^。；\n]{{2,160}}?{_CAUSE_END})(?:[一两二三四五六七八九十]案|上诉一案|再审一案|案件)")
_TITLE_TAIL = re.compile(r"(?:一审|二审|再审|重审|终审|申诉|审查与审判监督|其他|执行|特别程序)*(?:刑事|民事|行政|执行|赔偿)?(?:附带民事)?(?:判决书|裁定书|调解书|决定书|通知书)\s*$")
_ROLE_LINE = re.compile(
    r"^\s*(?:原审|一审|二审)?(?:原告|被告|上诉人|被上诉人|第三人|申请人|被申请人|再审申请人|申请再审人|申诉人|被申诉人|被告人|"
    r"罪犯|被执行人|申请执行人|异议人|案外人|公诉机关|附带民事诉讼原告人|被告单位)(?:（[^）]*）|\([^)]*\))?[：:]?\s*"
    r"([^，,。：:（(\s]{1,30})(?=[，,。（(\s]|$)"
)
_ROLE_WORDS = re.compile(r"(?:原审|一审|二审)?(?:原告|被告|上诉人|被上诉人|第三人|申请人|被申请人|申诉人|被申诉人|案外人)(?:[、]|$)")

_AMOUNT = re.compile(rf"(\d+(?:[,，]\d{{3}})*(?:\.\d+)?|[{NUM_CHARS}点]+?)\s*(万|亿)?余?元")
_FEE_CONTEXT = re.compile(r"受理费|诉讼费|保全费|鉴定费|公告费|执行费|申请费|邮寄费|减半收取|罚金|罚款|没收个人财产")
_PRISON = re.compile(rf"有期徒刑({_NUM})年(?:零?({_NUM})个月)?|有期徒刑({_NUM})个月")
_DETENTION = re.compile(rf"拘役({_NUM})个月")
_SURVEILLANCE = re.compile(rf"管制({_NUM})年(?:({_NUM})个月)?|管制({_NUM})个月")
_PROBATION = re.compile(rf"缓刑({_NUM})年(?:零?({_NUM})个月)?|缓刑({_NUM})个月")
_FINE = re.compile(rf"罚金(?:人民币)?(\d+(?:[,，]\d{{3}})*(?:\.\d+)?|{_NUM})\s*(万)?元")
_HEAVY = re.compile(r"死刑缓期[二两]年执行|死刑|无期徒刑")
_DEFENDANT = re.compile(r"(?:被告人|上诉人|原审被告人|被告单位|罪犯)(?:（[^）]*）)?([\u4e00-\u9fff×＊*\dA-Za-z]{1,12}?)(?:犯|无罪)")
_LAW_ALIASES = {
    "刑法": "中华人民共和国刑法", "刑事诉讼法": "中华人民共和国刑事诉讼法", "民法典": "中华人民共和国民法典",
    **{x: f"中华人民共和国{x}" for x in _COMMON_LAWS},
}

# sentencing circumstances and salient facts, for comparing cases (element "key_facts")
KEY_FACTS = tuple(
    "自首 坦白 立功 累犯 再犯 初犯 偶犯 未遂 中止 预备 从犯 主犯 胁从犯 教唆 认罪认罚 当庭自愿认罪 退赃 退赔 赔偿 取得谅解 谅解"
    " 刑事和解 未成年 醉酒 酒后 逃逸 致人死亡 死亡 重伤 轻伤 轻微伤 数额巨大 数额特别巨大 数额较大 情节严重 情节特别严重"
    " 情节较轻 携带凶器 入户 持刀 网络 共同犯罪 正当防卫 防卫过当 精神病 限制刑事责任能力 离婚 夫妻共同财产 夫妻共同债务"
    " 婚前 子女抚养 借条 欠条 担保 违约金 利息 定金 解除合同 交通事故 工伤 劳动关系 经济补偿 房屋买卖 租赁 股权 商品房"
    " 抵押 保证 名誉 隐私 医疗 产品质量 精神损害 不可抗力 诉讼时效".split()
)


def split_sections(text: str) -> dict[str, str]:
    """Return {section: text}; a marker line moves to the next section (never backwards).

    Only the last "判决如下" before the signatures opens the operative part (earlier ones recite the lower
    court's judgment); a line ending in "判决如下：" stays with the reasoning.
    """
    lines = [ln for ln in text.splitlines() if ln.strip()]
    tail_rx = dict(SECTION_MARKERS)["tail"]
    judg_rx = dict(SECTION_MARKERS)["judgment"]
    tail_at = next((i for i, ln in enumerate(lines) if i > 3 and tail_rx.search(ln)), len(lines))
    judg_at = max((i for i, ln in enumerate(lines[:tail_at]) if judg_rx.search(ln)), default=-1)
    out: dict[str, list[str]] = {s: [] for s in SECTION_ORDER}
    cur = 0
    judgment = SECTION_ORDER.index("judgment")
    for i, line in enumerate(lines):
        if i < 3 and cur == 0 and i != judg_at and not any(rx.search(line) for _, rx in SECTION_MARKERS):
            out["header"].append(line)
            continue
        if cur == 0:
            cur = 1
        for name, rx in SECTION_MARKERS:
            idx = SECTION_ORDER.index(name)
            if idx > cur and rx.search(line) and (name != "claims" or cur < 3):
                if name == "judgment" and (i != judg_at or _JUDGMENT_AT_END.search(line)):
                    continue
                cur = idx
                break
        if i == judg_at and cur < judgment:
            out[SECTION_ORDER[max(cur, SECTION_ORDER.index("reasoning"))]].append(line)
            cur = judgment
            continue
        out[SECTION_ORDER[cur]].append(line)
    return {k: "\n".join(v) for k, v in out.items() if v}


def _date(text: str) -> str:
    ms = list(_DATE_CN.finditer(text))
    if ms:
        m = ms[-1]
        y = "".join(str({"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "０": 0}.get(c, cn2int(c) or 0)) for c in m.group(1))
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
    if any(x in court for x in ("中级", "知识产权法院", "金融法院", "海事法院")):
        return "中级"
    return "基层"


def _law_name(prefix: str, name: str) -> str:
    name = name.replace("〈", "《").replace("〉", "》").strip()
    if (m := re.fullmatch(r"((?:最高人民法院|最高人民检察院|、)+)《(关于[^《》]+)》", name)):
        name = m.group(1) + m.group(2)
    issuers = [_ISSUER_ABBR.get(x, x) for x in re.findall(r"最高人民法院|最高人民检察院|最高法|最高检|公安部|司法部", prefix)]
    if issuers and name.startswith("关于"):
        name = "、".join(dict.fromkeys(issuers)) + name
    return _LAW_ALIASES.get(name, name).replace("《", "〈").replace("》", "〉")


def _articles(law: str, tokens: str, out: list[dict], seen: set) -> None:
    for a in _ART_IN.finditer(tokens):
        key = (law, normalize_article(a.group(0)))
        if key[1] and key not in seen:
            seen.add(key)
            out.append({"law": law, "article": a.group(0), "article_key": key[1]})


def cited_articles(text: str) -> list[dict]:
    """All 《law》第X条 citations (and bare 刑法第X条 for common laws), expanded for lists like
    第六十七条第一款、第七十二条; the boilerplate notice on late-payment interest is skipped."""
    out: list[dict] = []
    seen: set = set()
    for sent in re.split(r"(?<=[。；\n])", text):
        if _BOILERPLATE.search(sent):
            continue
        for m in _CITE.finditer(sent):
            _articles(_law_name(m.group(1), m.group(2)), m.group(3), out, seen)
        for m in _BARE_CITE.finditer(sent):
            if _BARE_PREFIX_OK.search(sent[max(0, m.start() - 4) : m.start()]):
                _articles(_LAW_ALIASES[m.group(1)], m.group(2), out, seen)
    return out


def _months(y: str | None, m: str | None, only_m: str | None) -> int | None:
    if only_m:
        return cn2int(only_m)
    if y:
        return (cn2int(y) or 0) * 12 + ((cn2int(m) or 0) if m else 0)
    return None


def _money(num: str, unit: str | None) -> float | None:
    num = num.replace(",", "").replace("，", "")
    try:
        v = float(num)
    except ValueError:
        if "点" in num:
            whole, _, frac = num.partition("点")
            w = cn2int(whole)
            if w is None or not all(c in "零〇一二三四五六七八九" for c in frac):
                return None
            v = float(f"{w}." + "".join(str(cn2int(c) or 0) for c in frac))
        else:
            v = cn2int(num)
            if v is None:
                return None
    return v * {"万": 1e4, "亿": 1e8}.get(unit or "", 1)


def _penalty(part: str) -> dict:
    prison, kind = None, ""
    if (m := _PRISON.search(part)):
        prison, kind = _months(m.group(1), m.group(2), m.group(3)), "有期徒刑"
    elif (d := _DETENTION.search(part)):
        prison, kind = cn2int(d.group(1)), "拘役"
    elif (s := _SURVEILLANCE.search(part)):
        prison, kind = _months(s.group(1), s.group(2), s.group(3)), "管制"
    prob = None
    if (p := _PROBATION.search(part)):
        prob = _months(p.group(1), p.group(2), p.group(3))
    fines = [_money(f.group(1), f.group(2)) for f in _FINE.finditer(part)]
    heavy = _HEAVY.search(part)
    return {"prison_months": prison, "probation_months": prob, "fines": [f for f in fines if f],
            "penalty": heavy.group(0) if heavy else kind}


def sentence_of(text: str) -> dict:
    """Sentence of the first defendant in a judgment's operative part (criminal): imprisonment/detention
    months, probation months, fine in yuan (the combined sentence when several charges are punished) and
    the penalty kind (有期徒刑/拘役/管制/无期徒刑/死刑...)."""
    first = None
    merged = {"prison_months": None, "probation_months": None, "fine_yuan": None, "penalty": ""}
    fines: list[float] = []
    for line in re.split(r"\n|(?<=。)", text):
        line = re.sub(r"（[^）]*）|\([^)]*\)", "", line)
        if "撤销" in line or not re.search(r"判处|决定执行|免予刑事处罚|拘役|有期徒刑|缓刑", line):
            continue
        who = _DEFENDANT.search(line)
        name = who.group(1) if who else None
        if first is None:
            first = name or ""
        elif name and name != first:
            continue
        combined = re.split(r"决定执行|数罪并罚", line, maxsplit=1)
        part = _penalty(line)
        if len(combined) == 2:
            tail = _penalty(combined[1])
            for k in ("prison_months", "probation_months"):
                part[k] = tail[k] if tail[k] is not None else part[k]
            part["penalty"] = tail["penalty"] or part["penalty"]
            if tail["fines"]:
                fines = tail["fines"][:1]
                part["fines"] = []
        for k in ("prison_months", "probation_months"):
            if part[k] is not None:
                merged[k] = part[k]
        merged["penalty"] = part["penalty"] or merged["penalty"]
        if part["fines"] and not (len(combined) == 2 and fines):
            fines.extend(part["fines"])
    merged["fine_yuan"] = sum(fines) if fines else None
    if not merged["penalty"]:
        merged.pop("penalty")
    return merged


def party_names(text: str) -> list[str]:
    """Party names from the lines introducing the parties (原告：X，… / 被告人X，…)."""
    names: list[str] = []
    for line in text.splitlines()[:40]:
        m = _ROLE_LINE.match(line)
        if m:
            n = re.sub(r"^(?:原审)?(?:原告|被告)", "", m.group(1))
            if len(n) >= 2 and n not in names and not re.search(r"因与|诉被告|与被告|委托|代理", n):
                names.append(n)
    return names


def _cut_parties(s: str, names: list[str]) -> str:
    """'A、B诉C婚姻家庭、继承纠纷' -> '婚姻家庭、继承纠纷' using the known party names and brackets."""
    cut = 0
    for n in names:
        i = s.rfind(n)
        if i >= 0:
            cut = max(cut, i + len(n))
    for m in re.finditer(r"[）)]|等(?=[\u4e00-\u9fff])|(?<=[A-Za-z0-9])", s):
        cut = max(cut, m.end())
    s = s[cut:].strip()
    s = re.sub(r"^(?:等|与|诉|及|和|、|因|为|关于|之间|《)+", "", s)
    return _ROLE_WORDS.sub("", s) if _ROLE_WORDS.match(s) else s


def civil_causes(text: str, title: str = "", vocab: Iterable[str] | None = None) -> list[str]:
    """案由 of a civil/administrative case: from 'A与B X纠纷一案' in the body, else the title, else the vocabulary."""
    names = party_names(text)
    vocab_set = set(vocab or ())
    cands: list[str] = []
    body = text[:2500]
    for m in _CAUSE_IN_BODY.finditer(body):
        seg = re.split(r"[，,：:]", m.group(1))[-1]
        c = _cut_parties(seg, names)
        if 3 <= len(c) <= 24:
            cands.append(c)
            break
    head = _TITLE_TAIL.sub("", title.strip())
    if not cands and re.search(rf"{_CAUSE_END}$", head):
        c = _cut_parties(head, names + _title_names(head))
        if not names and vocab_set and c not in vocab_set:
            c = _longest_suffix(c, vocab_set) or c
        if 3 <= len(c) <= 24 and c not in cands:
            cands.append(c)
    if not cands and vocab_set:
        found = [v for v in vocab_set if v in text]
        found.sort(key=lambda v: (-text.count(v + "一案"), -len(v), text.find(v)))
        cands = [v for v in found if not any(v != o and v in o for o in found)][:2]
    return cands[:2]


def _title_names(head: str) -> list[str]:
    """Names in 'A、B与C…纠纷' when the parties section is absent: pieces before the last separator."""
    parts = re.split(r"[、与诉]", head)
    return [p for p in parts[:-1] if 1 < len(p) <= 20]


def _longest_suffix(s: str, vocab: set[str]) -> str:
    for i in range(len(s)):
        if s[i:] in vocab:
            return s[i:]
    return ""


def charges_in(text: str, vocab: Iterable[str] | None = None) -> list[str]:
    """罪名 introduced by 犯/构成/以/涉嫌 (lists split at 罪、); with a vocabulary, mapped onto known 罪名."""
    vocab_set = set(vocab or ())
    out: list[str] = []
    for m in _CHARGE.finditer(text):
        for c in re.split(r"(?<=罪)、", m.group(1)):
            c = re.sub(r"^(?:被告人|犯|构成|以|了|涉嫌|是)", "", c)
            c = "以" + c if c.startswith("危险方法") else c
            if vocab_set and c not in vocab_set:
                c = _longest_suffix(c, vocab_set) or c
            if not c or c.startswith(_BAD_CHARGE_PREFIX) or any(b in c[:-1] for b in _BAD_CHARGE_PART):
                continue
            if 3 <= len(c) <= 30 and c not in out:
                out.append(c)
    return out


def _title_charges(head: str, vocab: Iterable[str] | None) -> list[str]:
    head = _TITLE_TAIL.sub("", head)
    if vocab:
        found = [v for v in vocab if v in head or (len(v) > 3 and v[:-1] in head)]
        return [v for v in found if not any(v != o and v[:-1] in o for o in found)]
    m = re.search(r"([\u4e00-\u9fff、]{2,40}?罪)$", head)
    if not m:
        return []
    return charges_in("犯" + re.sub(r"^.*?(?:犯|与)", "", m.group(1)))


def amounts_in(text: str, limit: int = 5) -> list[float]:
    """Salient money amounts (>= 100 yuan) in decisive text; court fees, fines and confiscation excluded."""
    out: list[float] = []
    for sent in re.split(r"[。；;\n]", text):
        for m in _AMOUNT.finditer(sent):
            ctx = sent[max(0, m.start() - 12) : m.start()]
            if _FEE_CONTEXT.search(ctx):
                continue
            v = _money(m.group(1), m.group(2))
            if v and v >= 100 and v not in out:
                out.append(v)
    return out[:limit]


def key_facts(text: str) -> list[str]:
    return [k for k in KEY_FACTS if k in text]


def case_type_of(text: str, head: str, case_no: str) -> str:
    code = re.sub(r"^（\d{4}）", "", case_no)
    if "刑" in code or re.search(r"刑事|罪", head):
        return "刑事"
    if "行" in code or "行政" in head:
        return "行政"
    if "赔" in code and "民" not in code:
        return "国家赔偿"
    if "执" in code:
        return "执行"
    if "民" in code or "民事" in head or re.search(_CAUSE_END, head):
        return "民事"
    return "刑事" if re.search(r"被告人.{0,30}犯|判处|有期徒刑|公诉机关", text[:3000]) else ""


def extract(text: str, title: str = "", charges_vocab: Iterable[str] | None = None,
            causes_vocab: Iterable[str] | None = None) -> dict:
    """Elements of a judgment or draft. Missing elements are empty, never guessed."""
    head = title or next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:120]
    sections = split_sections(text)
    lines = [ln for ln in text.splitlines() if ln.strip()][:4]
    first = text[:400]
    court = next((cm.group(1) for ln in lines if (cm := _COURT_LINE.match(ln))), "")
    if not court and (cm := _COURT.search("\n".join(lines[:3])) or _COURT.search(first)):
        court = re.sub(r"^(?:不服|向|经|由|在)", "", cm.group(1))
    case_no_m = _CASE_NO.search(first)
    case_no = f"（{case_no_m.group(1)}）{case_no_m.group(2)}" if case_no_m else ""
    case_type = case_type_of(text, head, case_no)
    code = case_no[6:]
    procedure = next((p for p, c, h in (("再审", "再", "再审"), ("再审", "再", "审判监督"), ("二审", "终", "二审"),
                                          ("一审", "初", "一审")) if c in code or h in head), "")
    judgment = sections.get("judgment", "")
    reasoning = sections.get("reasoning", "")
    structured = bool(judgment or reasoning)
    decisive = (reasoning + "\n" + judgment) if structured else text
    if case_type == "刑事":
        charges = charges_in(judgment, charges_vocab)
        acquitted = not charges and judgment and re.search(r"无罪|不构成犯罪", judgment)
        if not acquitted:
            charges = (charges or _title_charges(head, charges_vocab) or charges_in(reasoning, charges_vocab)
                       or charges_in(text, charges_vocab))
    else:
        charges = civil_causes(text, head if title or case_no else "", causes_vocab)
    sentence = {}
    if case_type == "刑事":
        sentence = sentence_of(judgment or decisive)
        if sentence["prison_months"] is None and sentence["fine_yuan"] is None and "维持" in judgment:
            sentence = sentence_of(sections.get("claims", "") + "\n" + sections.get("facts", ""))
    if case_type == "刑事" or not structured:
        amounts = amounts_in(decisive, 3)
    else:  # civil: what was claimed and what was awarded
        amounts = list(dict.fromkeys(amounts_in(sections.get("claims", ""), 2) + amounts_in(judgment or reasoning, 2)))
    facts_src = "\n".join(sections.get(k, "") for k in ("facts", "reasoning")) if structured else text
    return {
        "court": court,
        "court_level": court_level(court),
        "case_no": case_no,
        "date": _date(sections.get("tail", "") or text[-300:]),
        "procedure": procedure,
        "case_type": case_type,
        "charges": charges,
        "cited_articles": cited_articles(decisive if "tail" in sections else text),  # drafts: anywhere
        "sentence": sentence,
        "amounts_yuan": amounts,
        "key_facts": key_facts(facts_src),
    }
