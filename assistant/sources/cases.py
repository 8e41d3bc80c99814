"""Case records: CLCR judgments, LawRefBook typical cases, CAIL2019-SCM texts; split by judgment section."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..documents import Chunk
from ..elements import extract, split_sections

NAME = "cases"
SECTION_LABELS = {
    "header": "首部", "parties": "当事人", "claims": "诉辩意见", "facts": "审理查明",
    "reasoning": "本院认为", "judgment": "裁判结果", "tail": "尾部",
}
INDEXED_SECTIONS = ("header", "parties", "claims", "facts", "reasoning", "judgment")
MAX_SECTION_CHARS = 3000


def files(data_dir: Path) -> list[Path]:
    cands = [
        data_dir / "clcr" / "cases.jsonl",
        data_dir / "cases" / "lawrefbook_cases.jsonl",
        data_dir / "cail2019_scm" / "scm_baseline_input_500.jsonl",
    ]
    return [p for p in cands if p.is_file()]


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path.name}:{lineno}: invalid JSON ({exc.msg})") from exc


def iter_chunks(data_dir: Path) -> Iterator[Chunk]:
    for path in files(data_dir):
        if path.parent.name == "clcr":
            for rec in _jsonl(path):
                yield from judgment_chunks(rec["case_file_id"], rec["text"], source="clcr")
        elif path.parent.name == "cases":
            for rec in _jsonl(path):
                yield from markdown_case_chunks(rec)
        else:
            seen: set[str] = set()
            for rec in _jsonl(path):
                for key in ("A", "B", "C"):
                    text = rec.get(key) or ""
                    h = hashlib.sha1(text.encode()).hexdigest()[:12]
                    if text and h not in seen:
                        seen.add(h)
                        yield from judgment_chunks(f"scm-{h}", text, source="cail2019_scm", title="民间借贷纠纷案")


def judgment_chunks(doc_id: str, text: str, source: str, title: str = "") -> Iterator[Chunk]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    title = title or (lines[0].strip() if lines else doc_id)
    el = extract(text, title=title)
    meta = {k: v for k, v in el.items() if k not in ("date",)}
    meta["cited"] = meta.pop("cited_articles")
    sections = split_sections(text)
    if not any(s in sections for s in INDEXED_SECTIONS):
        sections = {"facts": text}
    for name in INDEXED_SECTIONS:
        body = sections.get(name, "")
        if not body:
            continue
        for i in range(0, len(body), MAX_SECTION_CHARS):
            part = body[i : i + MAX_SECTION_CHARS]
            yield Chunk(
                id=f"{doc_id}#{name}" + (f"{i // MAX_SECTION_CHARS}" if i else ""),
                doc_id=doc_id,
                kind="case",
                title=title,
                text=part,
                source=source,
                part=SECTION_LABELS[name],
                issuer=el["court"],
                date=el["date"],
                meta=meta,
            )


def markdown_case_chunks(rec: dict) -> Iterator[Chunk]:
    doc_id = rec["id"]
    title = rec.get("title", doc_id)
    md = re.sub(r"<!--.*?-->", "", rec.get("text_markdown") or "", flags=re.S)
    parts = re.split(r"^##\s+", md, flags=re.M)
    meta = {"category": rec.get("category", ""), "case_type": "民事", "charges": [], "cited": []}
    for n, part in enumerate(parts):
        lines = part.strip().splitlines()
        if not lines:
            continue
        head = lines[0].lstrip("# ").strip()
        body = "\n".join(lines[1:]).strip()
        if not body:
            continue
        yield Chunk(
            id=f"{doc_id}#s{n}",
            doc_id=doc_id,
            kind="case",
            title=title,
            text=body,
            source="lawrefbook_cases",
            part=head,
            meta=meta,
        )
