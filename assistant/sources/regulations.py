"""Regulations from ../shared/data/regulations/*.jsonl: judicial interpretations, admin regulations, rules, domain docs.

Laws that laws.db already holds (same title, any version) are skipped so they do not appear twice.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..documents import Chunk, normalize_status
from ..text import law_key
from .articles import split_articles

NAME = "regulations"
FILES = ("lawrefbook_regulations.jsonl", "domain_supplement.jsonl", "lawrefbook_laws.jsonl")


def files(data_dir: Path) -> list[Path]:
    return [data_dir / "regulations" / f for f in FILES if (data_dir / "regulations" / f).is_file()]


def iter_chunks(data_dir: Path, skip_titles: set[str] = frozenset()) -> Iterator[Chunk]:
    skip = {law_key(t) for t in skip_titles}
    for path in files(data_dir):
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path.name}:{lineno}: invalid JSON ({exc.msg})") from exc
                if _base_key(rec.get("title", "")) in skip:
                    continue
                yield from _record_chunks(rec)


def _base_key(title: str) -> str:
    """民法典（合同编） -> 民法典: a part of a law counts as that law for de-duplication."""
    return law_key(re.sub(r"[（(][^（(]*[）)]\s*$", "", title))


def _record_chunks(rec: dict) -> Iterator[Chunk]:
    doc_id = rec["id"]
    title = rec.get("title") or rec.get("short_title") or doc_id
    kind = "statute" if rec.get("doc_type") in ("法律", "宪法") else "regulation"
    meta = {
        "doc_type": rec.get("doc_type", ""),
        "short_title": rec.get("short_title", ""),
        "document_number": rec.get("document_number", ""),
        "domain_tags": rec.get("domain_tags", []),
        "url": (rec.get("source") or {}).get("url", ""),
    }
    common = dict(
        doc_id=doc_id,
        kind=kind,
        title=title,
        source=f"regulations/{(rec.get('source') or {}).get('repo', '')}",
        status=normalize_status(rec.get("status")),
        issuer=rec.get("issuing_body", "") if rec.get("issuing_body") != "unknown" else "",
        date=rec.get("publish_date", ""),
        effective_date=rec.get("effective_date", ""),
        meta=meta,
    )
    text = rec.get("text") or ""
    # drop the title line itself
    if text.startswith(title):
        text = text[len(title):]
    seen: dict[str, int] = {}
    for part in split_articles(text):
        if "article_key" in part:
            key = part["article_key"]
            seen[key] = seen.get(key, 0) + 1
            yield Chunk(
                id=f"{doc_id}#{key}" + (f"~{seen[key]}" if seen[key] > 1 else ""),
                article=part["article"],
                article_key=part["article_key"],
                chapter=part["chapter"],
                section=part["section"],
                text=part["text"].strip(),
                **common,
            )
        elif part["text"].strip():
            yield Chunk(id=f"{doc_id}#{part['part']}", part=part["part"], text=part["text"].strip(), **common)
