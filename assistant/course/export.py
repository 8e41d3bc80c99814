"""Course export: Markdown, Word (python-docx, with a TOC field and a written module list) and JSON.
Both documents end with the answer-key section."""
from __future__ import annotations

import json
from pathlib import Path

from .model import Course, CourseError, Question
from .topic import check_format

TYPE_TITLE = {"single_choice": "单项选择题", "true_false": "判断题", "case_analysis": "案例分析题"}
SECTION_NUM = "一二三四五六七八九十"


def _ordered(course: Course) -> list[tuple[str, list[Question]]]:
    return [(t, [q for q in course.quiz if q.type == t]) for t in TYPE_TITLE if any(q.type == t for q in course.quiz)]


def _numbering(course: Course) -> dict[str, int]:
    n, out = 0, {}
    for _, qs in _ordered(course):
        for q in qs:
            n += 1
            out[q.id] = n
    return out


def _meta_line(course: Course) -> str:
    roles = "、".join(course.roles) or "通用"
    who = course.audience if roles == course.audience else f"{course.audience}（{roles}）"
    return (f"培训对象：{who}｜学时：{course.hours:g} 小时｜模块：{len(course.modules)} 个｜"
            f"测验：{len(course.quiz)} 题｜生成方式：{course.generated_by}")


def _flat(text: str) -> str:
    return " ".join(x.strip() for x in text.splitlines() if x.strip())


def _quote_md(text: str) -> list[str]:
    return ["> " + line.strip() for line in text.strip().splitlines() if line.strip()]


def to_markdown(course: Course) -> str:
    num = _numbering(course)
    out = [f"# {course.title}", "", _meta_line(course), ""]
    out += [f"> ⚠ {w}" for w in course.warnings] + ([""] if course.warnings else [])
    out += ["## 目录", ""]
    for m in course.modules:
        out.append(f"{m.n}. 模块{m.n}：{m.title}（{m.minutes} 分钟）")
    out += [f"{len(course.modules) + 1}. 测验（{course.stats.get('quiz_minutes', 0)} 分钟）",
            f"{len(course.modules) + 2}. 答案与解析", ""]
    for m in course.modules:
        out += [f"## 模块{m.n}：{m.title}", "", f"时长：{m.minutes} 分钟｜涉及：{'、'.join(m.laws)}", ""]
        out += ["### 学习目标", ""] + [f"- {o}" for o in m.objectives] + [""]
        out += ["### 重点条文", ""]
        for p in m.provisions:
            mark = "（本岗位相关）" if p.role_match else ""
            out += [f"#### {p.heading}{mark}", "", f"效力核验：{p.status}（{p.check}）", ""] + _quote_md(p.text) + [""]
        if m.cases:
            out += ["### 指导性案例", ""]
            for c in m.cases:
                out += [f"**{c.title}**" + (f"（{c.court}）" if c.court else ""), "",
                        f"关键词：{'、'.join(c.keywords) or '—'}；关联理由：{c.why}", ""] + _quote_md("裁判要点：" + c.gist) + [""]
                if c.laws:
                    out += [f"相关法条（已核验）：{'、'.join(c.laws)}", ""]
        if m.similar:
            out += ["### 类案参考", ""]
            for c in m.similar:
                out += [f"**{c.title}**", ""] + _quote_md(c.gist) + [""]
        out += ["### 研讨题", ""] + [f"{i}. {d}" for i, d in enumerate(m.discussion, 1)] + [""]
    if course.readings:
        out += ["## 拓展阅读", ""] + [f"- {r['title']}" + (f"（{r['date']}）" if r.get("date") else "") for r in course.readings]
        out.append("")
    out += ["## 测验", ""]
    for i, (t, qs) in enumerate(_ordered(course)):
        out += [f"### {SECTION_NUM[i]}、{TYPE_TITLE[t]}", ""]
        for q in qs:
            out.append(f"{num[q.id]}. {q.stem}".replace("\n", "\n   "))
            if q.type == "single_choice":
                out += [f"   - {chr(65 + j)}. {o}" for j, o in enumerate(q.options)]
            elif q.type == "true_false":
                out.append("   - （　）正确　（　）错误")
            out.append("")
    out += ["## 答案与解析", ""]
    for _, qs in _ordered(course):
        for q in qs:
            ans = q.answer if q.type != "case_analysis" else "参考答案见下"
            out.append(f"{num[q.id]}. **答案：{ans}**　依据：{q.cite}")
            if q.type == "case_analysis":
                out.append(f"   - 参考答案：{_flat(q.answer)}")
            out.append(f"   - 解析：{_flat(q.explanation)}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# ---- Word ------------------------------------------------------------------------------------------
def _toc_field(doc) -> None:
    """A Word TOC field (updated when the document is opened/refreshed in Word)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    p = doc.add_paragraph()
    run = p.add_run()
    for kind, text in (("begin", None), (None, 'TOC \\o "1-2" \\h \\z \\u'), ("separate", None), (None, None), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
            if kind == "begin":
                el.set(qn("w:dirty"), "true")
            run._r.append(el)
        elif text:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        else:
            t = OxmlElement("w:t")
            t.text = "（在 Word 中右键“更新域”以生成目录）"
            run._r.append(t)


def _cjk_font(doc, name: str = "宋体") -> None:
    from docx.oxml.ns import qn

    for style in ("Normal", "Heading 1", "Heading 2", "Heading 3", "Title", "Quote", "List Bullet", "List Number"):
        try:
            st = doc.styles[style]
        except KeyError:
            continue
        rpr = st.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            from docx.oxml import OxmlElement

            rfonts = OxmlElement("w:rFonts")
            rpr.append(rfonts)
        rfonts.set(qn("w:eastAsia"), name)


def to_docx(course: Course, path) -> Path:
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.shared import Pt

    path = Path(path)
    if path.suffix.lower() != ".docx":
        raise CourseError(f"Word 文件须以 .docx 结尾 the output file must end in .docx: {path}")
    num = _numbering(course)
    doc = Document()
    _cjk_font(doc)
    doc.add_heading(course.title, level=0)
    doc.add_paragraph(_meta_line(course))
    for w in course.warnings:
        doc.add_paragraph(f"⚠ {w}")
    doc.add_heading("目录", level=1)
    _toc_field(doc)
    for m in course.modules:
        doc.add_paragraph(f"模块{m.n}：{m.title}（{m.minutes} 分钟）", style="List Number")
    doc.add_paragraph(f"测验（{course.stats.get('quiz_minutes', 0)} 分钟）；答案与解析", style="List Number")
    for m in course.modules:
        doc.add_page_break()
        doc.add_heading(f"模块{m.n}：{m.title}", level=1)
        doc.add_paragraph(f"时长：{m.minutes} 分钟｜涉及：{'、'.join(m.laws)}")
        doc.add_heading("学习目标", level=2)
        for o in m.objectives:
            doc.add_paragraph(o, style="List Bullet")
        doc.add_heading("重点条文", level=2)
        for p in m.provisions:
            head = doc.add_paragraph()
            head.add_run(p.heading + ("（本岗位相关）" if p.role_match else "")).bold = True
            doc.add_paragraph(f"效力核验：{p.status}（{p.check}）")
            q = doc.add_paragraph(p.text.strip(), style="Quote")
            q.paragraph_format.left_indent = Pt(18)
        if m.cases:
            doc.add_heading("指导性案例", level=2)
            for c in m.cases:
                para = doc.add_paragraph(style="List Bullet")
                para.add_run(c.title).bold = True
                doc.add_paragraph(f"关键词：{'、'.join(c.keywords) or '—'}；关联理由：{c.why}")
                doc.add_paragraph(f"裁判要点：{c.gist}")
                if c.laws:
                    doc.add_paragraph(f"相关法条（已核验）：{'、'.join(c.laws)}")
        if m.similar:
            doc.add_heading("类案参考", level=2)
            for c in m.similar:
                doc.add_paragraph(f"{c.title}：{c.gist}", style="List Bullet")
        doc.add_heading("研讨题", level=2)
        for d in m.discussion:
            doc.add_paragraph(d, style="List Number")
    if course.readings:
        doc.add_heading("拓展阅读", level=1)
        for r in course.readings:
            doc.add_paragraph(r["title"], style="List Bullet")
    doc.add_page_break()
    doc.add_heading("测验", level=1)
    for i, (t, qs) in enumerate(_ordered(course)):
        doc.add_heading(f"{SECTION_NUM[i]}、{TYPE_TITLE[t]}", level=2)
        for q in qs:
            para = doc.add_paragraph(f"{num[q.id]}. ")
            lines = q.stem.split("\n")
            for j, line in enumerate(lines):
                run = para.add_run(line)
                if j < len(lines) - 1:
                    run.add_break(WD_BREAK.LINE)
            if q.type == "single_choice":
                for j, o in enumerate(q.options):
                    doc.add_paragraph(f"{chr(65 + j)}. {o}").paragraph_format.left_indent = Pt(18)
            elif q.type == "true_false":
                doc.add_paragraph("（　）正确　（　）错误").paragraph_format.left_indent = Pt(18)
            else:
                doc.add_paragraph("答：" + "＿" * 30).paragraph_format.left_indent = Pt(18)
    doc.add_page_break()
    doc.add_heading("答案与解析", level=1)
    for _, qs in _ordered(course):
        for q in qs:
            para = doc.add_paragraph()
            ans = q.answer if q.type != "case_analysis" else "参考答案见下"
            para.add_run(f"{num[q.id]}. 答案：{ans}").bold = True
            para.add_run(f"　依据：{q.cite}")
            if q.type == "case_analysis":
                doc.add_paragraph(f"参考答案：{q.answer}")
            doc.add_paragraph(f"解析：{q.explanation}")
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def write(course: Course, fmt: str, path=None) -> str | Path:
    """Render in one format: md/json return the text (and write it when path is given); docx needs a path."""
    fmt = check_format(fmt)
    if fmt == "docx":
        if not path:
            raise CourseError("Word 格式需要指定输出文件 --out FILE.docx (docx needs an output file)")
        return to_docx(course, path)
    text = to_markdown(course) if fmt == "md" else json.dumps(course.to_dict(), ensure_ascii=False, indent=2)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
        return Path(path)
    return text
