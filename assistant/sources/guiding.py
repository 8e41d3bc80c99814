"""SPC guiding cases: one chunk per field (裁判要点, 基本案情, 裁判理由, 裁判结果)."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..documents import Chunk
from ..elements import cited_articles, court_level

NAME = "guiding"
FIELDS = (("gist", "裁判要点"), ("facts", "基本案情"), ("reasoning", "裁判理由"), ("result", "裁判结果"))
_COURT = re.compile(r"([\u4e00-\u9fff]{2,30}?人民法院)")


def files(data_dir: Path) -> list[Path]:
    d = data_dir / "guiding_cases" / "raw"
    return sorted(d.glob("guiding-*.json"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)) if d.is_dir() else []


def _paras(v) -> str:
    if isinstance(v, list):
        return "\n".join(str(x).strip() for x in v if str(x).strip())
    return str(v or "").strip()


def iter_chunks(data_dir: Path) -> Iterator[Chunk]:
    for path in files(data_dir):
        try:
            rec = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path.name}: unreadable guiding case ({exc})") from exc
        yield from case_chunks(rec)


def case_chunks(rec: dict) -> Iterator[Chunk]:
    doc_id = rec.get("id") or f"guiding-{rec.get('number')}"
    keywords = [str(k) for k in rec.get("keywords") or []]
    related = [str(x) for x in rec.get("relatedLaws") or []]
    result = _paras(rec.get("result"))
    court_m = _COURT.search(result)
    court = court_m.group(1) if court_m else ""
    area = keywords[0] if keywords else ""
    case_type = next((t for t in ("刑事", "民事", "行政", "执行", "国家赔偿") if t in area), area)
    charges = [k for k in keywords if k.endswith("罪")]
    meta = {
        "number": str(rec.get("number", "")),
        "keywords": keywords,
        "related_laws": related,
        "cited": cited_articles("\n".join(related)),
        "case_type": case_type,
        "charges": charges,
        "court": court,
        "court_level": court_level(court),
        "issued": rec.get("issuedLine", ""),
        "url": rec.get("sourceUrl", ""),
        "binding": "应当参照",
    }
    title = f"指导性案例{rec.get('number')}号：{rec.get('title', '')}"
    for key, label in FIELDS:
        body = _paras(rec.get(key))
        if not body:
            continue
        if key == "gist":
            body = f"关键词：{' '.join(keywords)}\n{body}\n相关法条：{'；'.join(related)}"
        yield Chunk(
            id=f"{doc_id}#{key}",
            doc_id=doc_id,
            kind="guiding",
            title=title,
            text=body,
            source="guiding_cases",
            part=label,
            issuer="最高人民法院",
            date=rec.get("publishedAt", "") or "",
            meta=meta,
        )
