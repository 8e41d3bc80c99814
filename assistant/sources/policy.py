"""Policy articles and news (seed .txt pages): cleaned, one document a file, ~600-char paragraph chunks."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..documents import IN_FORCE, Chunk
from .cleaning import clean_policy_text, extract_title_date, fallback_title, pack_paragraphs

NAME = "policy"
CHUNK_CHARS = 600


def files(seeds_dir: Path) -> list[Path]:
    d = Path(seeds_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".md") and not p.name.startswith("."))


def _read(path: Path) -> str:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def document_chunks(name: str, raw: str) -> list[Chunk]:
    """Chunks of one seed page; `name` is its file name."""
    doc_id = f"policy-{Path(name).stem}"
    title, date = extract_title_date(raw)
    body = clean_policy_text(raw)
    lines = body.split("\n")
    if title and lines and lines[0].strip() == title:
        body = "\n".join(lines[1:]).strip() or body
    title = title or fallback_title(body) or Path(name).stem
    out = []
    for n, text in enumerate(pack_paragraphs(body, CHUNK_CHARS), 1):
        out.append(
            Chunk(
                id=f"{doc_id}#p{n}",
                doc_id=doc_id,
                kind="policy",
                title=title,
                text=text,
                source="seeds",
                part=f"p{n}",
                status=IN_FORCE,
                date=date,
                meta={"file": name},
            )
        )
    return out


def iter_chunks(seeds_dir: Path) -> Iterator[Chunk]:
    for path in files(seeds_dir):
        yield from document_chunks(path.name, _read(path))
