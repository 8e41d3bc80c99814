"""The user's own folder: .txt .md .docx .pdf .json .jsonl; unreadable files are reported, never fatal."""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ..documents import IN_FORCE, REPEALED, Chunk, normalize_status
from .articles import split_articles
from .cleaning import pack_paragraphs

NAME = "local"
EXTS = (".txt", ".md", ".docx", ".pdf", ".json", ".jsonl")
CHUNK_CHARS = 600
_REPEALED_RE = re.compile(
    r"已(?:被)?废止|已失效|[（(【\[]\s*(?:失效|废止)\s*[)）】\]]|(?:时效性|效力(?:状态)?|状态)\s*[:：]\s*已?(?:失效|废止)"
)


class Unreadable(Exception):
    """A file we skip; the message is the short bilingual reason."""


def files(local_dir: Path) -> list[Path]:
    root = Path(local_dir)
    if not root.is_dir():
        return []
    out = []
    for p in root.rglob("*"):
        rel = p.relative_to(root)
        if any(part.startswith((".", "~$")) for part in rel.parts) or not p.is_file():
            continue
        if p.suffix.lower() in EXTS and rel.as_posix().lower() != "readme.md":
            out.append(p)
    return sorted(out)


def _decode(data: bytes) -> str:
    if not data.strip():
        raise Unreadable("empty file / 文件为空")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encs = ("utf-16",)
    elif b"\x00" in data:
        raise Unreadable("binary content, not text / 非文本文件（二进制内容）")
    else:
        encs = ("utf-8-sig", "gb18030")
    for enc in encs:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        bad = sum(1 for c in text if unicodedata.category(c) in ("Cc", "Co", "Cn") and c not in "\n\r\t\f")
        if bad <= len(text) * 0.01:
            return text
    raise Unreadable("unknown text encoding (not UTF-8/GB18030) / 无法识别的文本编码")


def _markdown(text: str) -> str:
    text = re.sub(r"(?m)^\s{0,3}#{1,6}\s*", "", text)
    text = re.sub(r"(?m)^\s{0,3}>\s?", "", text)
    return re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)


def _docx(path: Path) -> tuple[str, str]:
    """(text, first heading) from paragraphs and tables, in document order."""
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        doc = docx.Document(str(path))
    except Exception as exc:  # python-docx raises zipfile/KeyError/ValueError variants
        raise Unreadable(f"corrupt or not a .docx file / 文件损坏或不是有效的 docx（{type(exc).__name__}）") from exc
    lines, heading = [], ""
    for el in doc.element.body.iterchildren():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            p = Paragraph(el, doc)
            t = p.text.strip()
            style = (p.style.name if p.style is not None else "") or ""
            if t and not heading and style.startswith(("Heading", "Title", "标题")):
                heading = t
            lines.append(t)
        elif tag == "tbl":
            for row in Table(el, doc).rows:
                cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
                lines.append(" | ".join(cells))
    return "\n".join(lines), heading


def _pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            reader.decrypt("")
        return "\n".join((page.extract_text() or "") for page in reader.pages)
    except Exception as exc:  # pypdf raises many types for damaged/encrypted files
        raise Unreadable(f"corrupt or encrypted PDF / PDF 文件损坏或已加密（{type(exc).__name__}）") from exc


def _records(path: Path, ext: str, errors: list | None, rel: str) -> list[dict]:
    """JSON object / list of objects, or JSONL lines, each with title and text (or content)."""
    raw = _decode(path.read_bytes())
    try:
        if ext == ".json":
            items = json.loads(raw)
            items = items if isinstance(items, list) else [items]
        else:
            items = []
            for n, line in enumerate(raw.splitlines(), 1):
                if line.strip():
                    try:
                        items.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        _err(errors, rel, f"line {n}: bad JSON ({exc.msg}) / 第{n}行 JSON 格式错误")
    except json.JSONDecodeError as exc:
        raise Unreadable(f"bad JSON ({exc.msg}, line {exc.lineno}) / JSON 格式错误") from exc
    out = []
    for rec in (x for x in items if isinstance(x, dict)):
        body = rec.get("text") or rec.get("content") or ""
        body = "\n".join(map(str, body)) if isinstance(body, list) else str(body)
        out += [{**rec, "text": body}] if body.strip() else []
    if not out:
        raise Unreadable('no object with a "text"/"content" field / 没有含 text/content 字段的条目')
    return out


def _err(errors: list | None, rel: str, reason: str) -> None:
    if errors is not None:
        errors.append({"file": rel, "reason": reason})


def _first_line_title(text: str, fallback: str) -> str:
    first = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return first.strip("《》 ") if first and len(first) <= 60 and not first.startswith("第") else fallback


def document_chunks(doc_id: str, title: str, text: str, meta: dict, status: str = "", date: str = "") -> list[Chunk]:
    lines = text.splitlines()
    head = "\n".join(x for x in lines[:6] if x.strip())
    status = status or (REPEALED if _REPEALED_RE.search(head) else IN_FORCE)
    common = dict(doc_id=doc_id, kind="local", title=title, source="local", status=status, date=date, meta=meta)
    parts = list(split_articles(text))
    out: list[Chunk] = []
    if any("article_key" in p for p in parts):
        seen: dict[str, int] = {}
        for p in parts:
            key = p.get("article_key") or p.get("part", "")
            seen[key] = seen.get(key, 0) + 1
            cid = f"{doc_id}#{key}" + (f"~{seen[key]}" if seen[key] > 1 else "")
            keep = ("article", "article_key", "chapter", "section")
            fields = {k: p[k] for k in keep} if "article_key" in p else {"part": key}
            out.append(Chunk(id=cid, text=p["text"], **fields, **common))
        return out
    body = "\n".join(x for x in lines if x.strip())
    if body.split("\n", 1)[0].strip().strip("《》 ") == title and "\n" in body:
        body = body.split("\n", 1)[1]
    for n, chunk in enumerate(pack_paragraphs(body, CHUNK_CHARS), 1):
        out.append(Chunk(id=f"{doc_id}#p{n}", text=chunk, part=f"p{n}", **common))
    return out


def _file_chunks(path: Path, rel: str, errors: list | None) -> list[Chunk]:
    ext = path.suffix.lower()
    doc_id = f"local-{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:12]}"
    meta = {"file": rel, "ext": ext.lstrip(".")}
    if ext in (".json", ".jsonl"):
        recs = _records(path, ext, errors, rel)
        out = []
        for i, rec in enumerate(recs, 1):
            text = unicodedata.normalize("NFC", rec["text"])
            title = str(rec.get("title") or "").strip() or _first_line_title(text, path.stem)
            did = doc_id if len(recs) == 1 else f"{doc_id}-{i}"
            m = {**meta, "item": i} if len(recs) > 1 else meta
            status = normalize_status(str(rec["status"])) if rec.get("status") else ""
            out += document_chunks(did, title, text, m, status, str(rec.get("date") or ""))
        return out
    heading = ""
    if ext in (".docx", ".pdf"):
        text, heading = _docx(path) if ext == ".docx" else (_pdf(path), "")
    else:
        text = _decode(path.read_bytes())
        if ext == ".md":
            m = re.search(r"(?m)^\s{0,3}#{1,6}\s+(.+)$", text)
            heading, text = (m.group(1).strip() if m else ""), _markdown(text)
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\u3000", " ")
    if not text.strip():
        reason = "no extractable text (scanned PDF?) / 无可提取文字（可能是扫描件）" if ext == ".pdf" else "no text / 没有文字内容"
        raise Unreadable(reason)
    title = heading.strip("《》 ") or _first_line_title(text, path.stem)
    return document_chunks(doc_id, title, text, meta)


def iter_chunks(local_dir: Path, errors: list | None = None) -> Iterator[Chunk]:
    root = Path(local_dir)
    for path in files(root):
        rel = path.relative_to(root).as_posix()
        try:
            chunks = _file_chunks(path, rel, errors)
        except Unreadable as exc:
            _err(errors, rel, str(exc))
            continue
        except Exception as exc:  # one bad file must never stop indexing
            _err(errors, rel, f"cannot read ({type(exc).__name__}: {exc}) / 无法读取"[:200])
            continue
        yield from chunks
