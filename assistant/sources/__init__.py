"""Corpus sources: each adapter yields Chunks with metadata. The registry picks what is available."""
from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..documents import Chunk

ALL = ("statutes", "regulations", "guiding", "cases", "policy", "local")


class SourceError(ValueError):
    """A source that was asked for cannot be read (missing dir, bad file): a user error, exit 2."""


@dataclass
class SourcePlan:
    names: list[str]
    files: list[Path]
    errors: list[dict] = field(default_factory=list)  # unreadable files, reported and skipped


def _root(name: str, s: Settings) -> Path | None:
    if name == "statutes":
        return s.resolved_laws_db()
    if name in ("regulations", "guiding", "cases"):
        return s.resolved_data_dir()
    if name == "policy":
        return s.resolved_seeds_dir()
    return s.local_dir


def _module(name: str):
    return importlib.import_module(f".{name}", __name__)


def plan(s: Settings, requested: list[str] | None = None) -> SourcePlan:
    """Which sources to index. Explicit requests must be readable; the default takes what exists."""
    explicit = bool(requested) or bool(s.sources)
    names = requested or [n.strip() for n in s.sources.split(",") if n.strip()] or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        raise SourceError(f"未知数据源 unknown source(s): {', '.join(unknown)}; choose from {', '.join(ALL)}")
    chosen, files = [], []
    for n in names:
        root = _root(n, s)
        ok = root is not None and root.exists()
        if not ok:
            if explicit and n != "local":
                raise SourceError(f"数据源 {n} 的目录不存在 source '{n}' not found: {root or '(data dir not set)'}")
            continue
        chosen.append(n)
        files.extend(_module(n).files(root))
    if not chosen:
        raise SourceError("没有可用的数据源 no source available")
    return SourcePlan(chosen, files)


def iter_chunks(s: Settings, p: SourcePlan) -> Iterator[Chunk]:
    from . import statutes

    skip_titles: set[str] = set()
    for n in p.names:
        root = _root(n, s)
        mod = _module(n)
        if n == "statutes":
            skip_titles = statutes.law_titles(root)
            yield from mod.iter_chunks(root)
        elif n == "regulations":
            yield from mod.iter_chunks(root, skip_titles)
        elif n == "local":
            yield from mod.iter_chunks(root, p.errors)
        else:
            yield from mod.iter_chunks(root)
