"""Quiz: single-choice (cloze and list-membership), true/false and case-analysis questions with answer keys.
Every answer is a phrase of a cited provision (or a guiding case's 裁判要点); distractors come from sibling
provisions (phrases.py) and never occur in the cited text."""
from __future__ import annotations

import hashlib
import re
from difflib import SequenceMatcher

from ..documents import Chunk
from ..text import int2cn, truncate
from .model import Module, Question
from .outline import book
from .phrases import Phrase, items, key_phrases, lead, norm

BLANK = "（　　）"
LETTERS = "ABCD"
SC_PER_MODULE = 2
CONTEXT_CHARS = 110
_SENT = re.compile(r"(?<=[。；])|(?<=[：:])(?=[（(][一二三四五六七八九十]+[）)])")
_ITEM_START = re.compile(r"[（(][一二三四五六七八九十]+[）)]")
# "<person>[在…过程中，][故意实施/有]下列行为/情形之一的" at the start of a list's lead-in
_SCENARIO_LEAD = re.compile(
    r"^(?P<subj>[^，。；：]{0,28}?(?:法官|检察官|人员|委员|警察|民警|书记员|助理|成员))"
    r"(?:在[^，。；：]{2,30}?(?:中|时)，?)?[^，。；：]{0,12}?下列(?:行为|情形)之一的")
_BAD_SUBJ = ("拒绝", "阻碍", "对", "向", "经", "由", "依照", "根据", "对于", "妨害")


def _slot(seed: str, n: int = 4) -> int:
    return int(hashlib.md5(seed.encode("utf-8")).hexdigest(), 16) % n


def _heading(chunk: Chunk) -> str:
    return book(chunk.title) + chunk.article


def _cn(n: int) -> str:
    return "一二三四五六七八九十"[n - 1] if 1 <= n <= 10 else int2cn(n)


def _context(text: str, phrase: str, literal: bool = False) -> str:
    """The sentence holding phrase (with the list's lead-in when the phrase sits in an item), trimmed.
    literal=True: the sentence exactly as in the text, or '' when it is an item or too long to quote whole."""
    t = norm(text)
    pos = t.find(phrase)
    start, sent = 0, t
    for s in (x for x in _SENT.split(t) if x):
        if start <= pos < start + len(s):
            sent = s
            break
        start += len(s)
    sent = sent.rstrip("；。：")
    is_item = bool(_ITEM_START.match(sent))
    if literal:
        return sent if not is_item and 10 <= len(sent) <= CONTEXT_CHARS and phrase in sent else ""
    ld = lead(t)
    if ld and is_item:
        head = _trim(ld, ld[-1], 40, keep_end=True)
        return f"{head}：……{_trim(sent, phrase, CONTEXT_CHARS - len(head) - 3)}"
    return _trim(sent, phrase, CONTEXT_CHARS)


def _trim(sent: str, phrase: str, limit: int, keep_end: bool = False) -> str:
    """sent cut at clause boundaries (，、) around phrase to about limit characters, '……' marking the cuts."""
    if len(sent) <= limit:
        return sent
    parts = re.split(r"(?<=[，、])", sent)
    if keep_end:
        i = len(parts) - 1
    else:
        pos, acc, i = sent.find(phrase), 0, 0
        for i, x in enumerate(parts):
            if acc + len(x) > pos:
                break
            acc += len(x)
    a = b = i
    while True:
        grown = False
        if b + 1 < len(parts) and sum(map(len, parts[a:b + 2])) <= limit and not keep_end:
            b, grown = b + 1, True
        if a > 0 and sum(map(len, parts[a - 1:b + 1])) <= limit:
            a, grown = a - 1, True
        if not grown:
            break
    out = "".join(parts[a:b + 1]).rstrip("，、")
    if len(out) > limit + 20:  # one very long clause: a character window
        j = max(0, out.find(phrase) - limit // 2)
        out = out[j:j + limit]
        return ("……" if j else "") + out + "……"
    return ("……" if a else "") + out + ("……" if b < len(parts) - 1 else "")


def _options(correct: str, distractors: list[str], seed: str) -> tuple[list[str], str]:
    opts = list(distractors[:3])
    k = _slot(seed, len(opts) + 1)
    opts.insert(k, correct)
    return opts, LETTERS[k]


def cloze(chunk: Chunk, ph: Phrase, module: int) -> Question:
    ctx = _context(chunk.text, ph.text)
    stem = f"根据{_heading(chunk)}的规定：“{ctx.replace(ph.text, BLANK)}”。括号中应填入的是："
    opts, ans = _options(ph.text, ph.distractors, chunk.id + ph.text)
    src = f"（干扰项取自{ph.source}等相关条文）" if ph.source else "（干扰项取自相邻或相关条文）"
    return Question(id="", type="single_choice", module=module, stem=stem, options=opts, answer=ans, key=ph.text,
                    distractors=list(ph.distractors[:3]), distractor_from=ph.source, cite=chunk.heading,
                    cite_chunk=chunk.id, quote=ctx, explanation=f"{_heading(chunk)}规定：“{ctx}”。正确答案为“{ph.text}”{src}。")


def membership(chunk: Chunk, ph: Phrase, module: int) -> Question:
    ld = lead(chunk.text)
    stem = f"根据{_heading(chunk)}的规定：“{ld}”。下列哪一项是该条所列举的内容？"
    opts, ans = _options(ph.text, ph.distractors, chunk.id + ph.text)
    return Question(id="", type="single_choice", module=module, stem=stem, options=opts, answer=ans, key=ph.text,
                    distractors=list(ph.distractors[:3]), cite=chunk.heading, cite_chunk=chunk.id,
                    quote=truncate(norm(chunk.text), 300),
                    explanation=f"“{ph.text}”为{_heading(chunk)}所列举的内容；其余选项取自其他条文所列事项，不属于该条规定。")


def true_false(chunk: Chunk, ph: Phrase, module: int, false: bool) -> Question | None:
    ctx = _context(chunk.text, ph.text, literal=True)
    if not ctx or ph.text in chunk.title:
        return None
    stmt = ctx.replace(ph.text, ph.distractors[0]) if false else ctx
    q = Question(id="", type="true_false", module=module, stem=f"判断正误：根据{_heading(chunk)}，“{stmt}”。",
                 options=["正确", "错误"], answer="错误" if false else "正确", key=ph.text, cite=chunk.heading,
                 cite_chunk=chunk.id, quote=ctx)
    if false:
        q.distractors = [ph.distractors[0]]
        q.distractor_from = ph.source
        q.explanation = f"错误。{_heading(chunk)}原文为“{ctx}”，应为“{ph.text}”而非“{ph.distractors[0]}”。"
    else:
        q.explanation = f"正确。{_heading(chunk)}原文为“{ctx}”。"
    return q


def scenario(chunk: Chunk, module: int) -> Question | None:
    """A case-analysis scenario: one item of a list of acts or circumstances of a person, and the consequence
    the article attaches (法官有下列行为之一的，应当给予处分 …). Only when the list's subject is that person."""
    t = norm(chunk.text)
    ld = lead(t)
    its = items(t)
    m = _SCENARIO_LEAD.match(ld) if ld else None
    if not m or not its or m.group("subj").startswith(_BAD_SUBJ):
        return None
    subject = m.group("subj").split("、")[0]
    consequence = ld[m.end():].lstrip("，,")
    if len(consequence) < 4:
        return None
    pick = its[_slot(chunk.id + "sc", len(its))]
    if pick.startswith("有其他") or pick.startswith("其他") or len(pick) > 40:
        pick = its[0]
    n = its.index(pick) + 1
    stem = (f"【情景】经查，某{subject}存在以下情况：{pick}。\n"
            f"问题：依照相关规定，对此应当如何处理？请说明依据和理由。")
    answer = f"{consequence}。依据：{_heading(chunk)}第（{_cn(n)}）项。"
    return Question(id="", type="case_analysis", module=module, stem=stem, answer=answer, key=consequence,
                    cite=chunk.heading, cite_chunk=chunk.id, quote=truncate(t, 300),
                    explanation=f"{_heading(chunk)}规定：“{ld}：……{pick}……”。本情景属于该条第（{_cn(n)}）项所列情形。")


def guiding_case(case, module: int) -> Question | None:
    if not case.facts or not case.gist:
        return None
    key = re.split(r"(?<=[。；])", norm(case.gist))[0].rstrip("。；")
    key = truncate(key, 60).rstrip("…") if len(key) > 60 else key
    stem = f"【案例】{case.facts}\n问题：结合本模块所学规定，本案应当如何处理？请说明理由。"
    laws = "；相关法条：" + "、".join(case.laws) if case.laws else ""
    cite = f"指导性案例{case.number}号·裁判要点" if case.number else f"{case.title}·裁判要点"
    return Question(id="", type="case_analysis", module=module, stem=stem, answer=case.gist, key=key,
                    cite=cite, cite_chunk=case.gist_chunk, source_kind="guiding", quote=case.gist,
                    explanation=f"参见{case.title}（{cite}）{laws}。")


def build_quiz(searcher, modules: list[Module]) -> list[Question]:
    st = searcher.store
    chunks = {p.chunk_id: st.by_id(p.chunk_id) for m in modules for p in m.provisions}
    context = [c for c in chunks.values() if c is not None]
    out: list[Question] = []
    case_budget = max(2, len(modules))
    n_tf = 0
    for m in modules:
        used: set[str] = set()
        sc = tf = 0
        for p in m.provisions:
            c = chunks.get(p.chunk_id)
            if c is None:
                continue
            phrases = key_phrases(searcher, c, context)
            if sc < SC_PER_MODULE:
                for ph in phrases:
                    if ph.text in used or ph.text in c.title or len(ph.distractors) < 3:  # title: gives it away
                        continue
                    if ph.kind == "item" and not lead(c.text):
                        continue
                    q = membership(c, ph, m.n) if ph.kind == "item" else cloze(c, ph, m.n)
                    out.append(q)
                    used.add(ph.text)
                    sc += 1
                    break
            elif tf < 1:
                for ph in sorted(phrases, key=lambda x: x.kind != "parallel"):  # parallel wording first
                    if ph.text in used or ph.kind == "item" or (n_tf % 2 == 1 and not ph.distractors):
                        continue
                    q = true_false(c, ph, m.n, false=n_tf % 2 == 1)
                    if q:
                        out.append(q)
                        used.add(ph.text)
                        tf += 1
                        n_tf += 1
                        break
        if tf == 0:  # a provision already used for a cloze, with another phrase
            for p in m.provisions:
                c = chunks.get(p.chunk_id)
                false = n_tf % 2 == 1
                cands = [x for x in key_phrases(searcher, c, context) if x.text not in used and x.kind != "item"
                         and (x.distractors or not false)] if c else []
                q = next((y for y in (true_false(c, x, m.n, false) for x in cands) if y), None)
                if q:
                    out.append(q)
                    n_tf += 1
                    break
        if case_budget > 0:
            q = next((x for x in (guiding_case(cs, m.n) for cs in m.cases) if x), None)
            if q is None:
                q = next((x for x in (scenario(chunks[p.chunk_id], m.n) for p in m.provisions
                                      if chunks.get(p.chunk_id)) if x), None)
            if q:
                out.append(q)
                case_budget -= 1
    return dedupe(out)


def dedupe(questions: list[Question]) -> list[Question]:
    """Drop repeated stems, repeated (cited text, key) pairs and near-identical keys of the same type
    (the same list item in 刑诉法解释 and 高检规则); number the rest q01, q02 ..."""
    out: list[Question] = []
    for q in questions:
        if any(is_duplicate(q, o) for o in out):
            continue
        out.append(q)
    for i, q in enumerate(out, 1):
        q.id = f"q{i:02d}"
    return out


def is_duplicate(a: Question, b: Question) -> bool:
    if norm(a.stem) == norm(b.stem) or (a.type, a.cite_chunk, a.key) == (b.type, b.cite_chunk, b.key):
        return True
    ka, kb = norm(a.key), norm(b.key)
    return a.type == b.type and min(len(ka), len(kb)) >= 8 and SequenceMatcher(None, ka, kb).ratio() >= 0.85
