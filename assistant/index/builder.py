"""Build the index: sources -> chunks -> lexicon -> tokens (cached) -> BM25 + chunk store -> atomic publish.

Dense embeddings are synced separately (incrementally, by content hash) so lexical search is ready first.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import sources
from ..config import Settings
from ..documents import CASE_KINDS, Chunk
from ..lexicon import Lexicon
from .dense import make_embedder, open_dense
from .lexical import LexicalIndex, TokenCache, tokenize_all
from .lawdocs import LawRouter
from .ngram import NGRAM_KINDS, NgramIndex
from .store import ChunkStore, current_generation, new_generation, publish

INDEX_VERSION = "6"  # bump when chunking or tokenization changes
LEX_ROOT = "lexical"


class IndexBusy(RuntimeError):
    pass


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), disable=not show
    )


@contextmanager
def build_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    fh = open(index_dir / ".build.lock", "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise IndexBusy("另一个索引任务正在运行 another indexing run holds the lock") from exc
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


PKG = Path(__file__).resolve().parent.parent
# code whose change alters chunks or tokens: a change re-chunks (tokens stay cached by content hash)
CHUNKING_CODE = ("documents.py", "elements.py", "lexicon.py", "text.py", "sources/*.py")


def fingerprint(s: Settings, plan: sources.SourcePlan) -> str:
    h = hashlib.sha1(f"v{INDEX_VERSION}|{','.join(plan.names)}".encode())
    for pattern in CHUNKING_CODE:
        for p in sorted(PKG.glob(pattern)):
            h.update(p.read_bytes())
    for p in sorted(plan.files):
        st = p.stat()
        h.update(f"{p}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def build_lexical(s: Settings, requested: list[str] | None = None, show: bool = True, force: bool = False) -> dict:
    """Build (or skip, when nothing changed) the lexical generation. Returns a summary dict."""
    t0 = time.perf_counter()
    plan = sources.plan(s, requested)
    fp = fingerprint(s, plan)
    root = s.index_dir / LEX_ROOT
    cur = current_generation(root)
    if cur and not force:
        manifest = json.loads((cur / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("fingerprint") == fp and manifest.get("complete", True):
            return {**manifest, "changed": False, "seconds": round(time.perf_counter() - t0, 2)}
    with build_lock(s.index_dir), _progress(show) as prog:
        gen = new_generation(root)
        task = prog.add_task("读取语料 reading sources", total=None)
        chunks: list[Chunk] = []
        for c in sources.iter_chunks(s, plan):
            chunks.append(c)
            if len(chunks) % 2000 == 0:
                prog.update(task, completed=len(chunks))
        prog.update(task, completed=len(chunks), total=len(chunks))

        lexicon = Lexicon.build(chunks)
        lex_path = gen / "lexicon.json"
        lexicon.save(lex_path)
        lex_id = hashlib.sha1(lex_path.read_bytes()).hexdigest()[:12]

        cache = TokenCache(s.index_dir / "tokens.sqlite")
        hashes = [c.hash for c in chunks]
        cached = cache.get_many(hashes, lex_id)
        missing = [i for i, h in enumerate(hashes) if h not in cached]
        task = prog.add_task("分词 tokenizing", total=len(missing))
        new_toks = tokenize_all([chunks[i].index_text() for i in missing], lex_path, lambda n: prog.advance(task, n))
        cache.put_many({hashes[i]: t for i, t in zip(missing, new_toks)}, lex_id)
        for i, t in zip(missing, new_toks):
            cached[hashes[i]] = t
        tokens = [cached[h] for h in hashes]

        task = prog.add_task("建立BM25 building BM25", total=4)
        LexicalIndex.build(tokens).save(gen / "bm25_chunks")
        prog.advance(task)
        ng_rows = [i for i, c in enumerate(chunks) if c.kind in NGRAM_KINDS]
        NgramIndex.build([chunks[i].text for i in ng_rows], ng_rows, len(chunks)).save(gen / "ngram_chunks")
        prog.advance(task)
        LawRouter.build(chunks, tokens).save(gen / "law_route")
        prog.advance(task)
        ChunkStore.write(gen / "chunks.sqlite", chunks)
        (gen / "docs.json").write_text("[]", encoding="utf-8")
        prog.advance(task)

        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        manifest = {
            "fingerprint": fp,
            "sources": plan.names,
            "chunks": len(chunks),
            "documents": len({c.doc_id for c in chunks}),
            "by_kind": counts,
            "tokenized": len(missing),
            "errors": plan.errors,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        docs, doc_texts = case_doc_texts(chunks)
        # stage 1: article/chunk search is published now; whole-case ranking follows in stage 2
        _write_manifest(gen, {**manifest, "complete": not docs})
        stage1 = publish(root, gen)
        manifest["ready_after_s"] = round(time.perf_counter() - t0, 2)
        if docs:
            gen = new_generation(root)
            for item in stage1.iterdir():
                _link_tree(item, gen / item.name)
            lex_path = gen / "lexicon.json"
            doc_hashes = [hashlib.sha1(("doc:" + t).encode()).hexdigest() for t in doc_texts]
            cached_docs = cache.get_many(doc_hashes, lex_id)
            miss = [i for i, h in enumerate(doc_hashes) if h not in cached_docs]
            task = prog.add_task("案例分词 tokenizing cases", total=len(miss))
            got = tokenize_all([doc_texts[i] for i in miss], lex_path, lambda n: prog.advance(task, n), mode="doc")
            cache.put_many({doc_hashes[i]: t for i, t in zip(miss, got)}, lex_id)
            cached_docs.update({doc_hashes[i]: t for i, t in zip(miss, got)})
            LexicalIndex.build([cached_docs[h] for h in doc_hashes]).save(gen / "bm25_docs")
            (gen / "docs.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
            _write_manifest(gen, {**manifest, "complete": True})
            publish(root, gen)
        cache.close()
    return {**manifest, "changed": True, "seconds": round(time.perf_counter() - t0, 2)}


def _write_manifest(gen: Path, manifest: dict) -> None:
    (gen / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link a published generation's files into the next one (they are never modified in place)."""
    if src.is_dir():
        dst.mkdir()
        for item in src.iterdir():
            _link_tree(item, dst / item.name)
    elif src.name != "manifest.json":
        os.link(src, dst)


def case_doc_texts(chunks: list[Chunk]) -> tuple[list[str], list[str]]:
    """Whole-document texts (title + all parts) for case kinds: doc-level ranking of similar cases."""
    order: list[str] = []
    acc: dict[str, list[str]] = {}
    for c in chunks:
        if c.kind in CASE_KINDS:
            if c.doc_id not in acc:
                order.append(c.doc_id)
                acc[c.doc_id] = [c.title]
            acc[c.doc_id].append(c.text)
    return order, ["\n".join(acc[d]) for d in order]


def build_dense(s: Settings, show: bool = True, limit: int | None = None, kinds: list[str] | None = None) -> dict:
    """Embed new/changed chunks of the current generation into Chroma; deletes chunks that are gone."""
    embedder = make_embedder(s.embedding_backend)
    if embedder is None:
        return {"embedded": 0, "deleted": 0, "total": 0, "skipped": "embedding backend is 'none'"}
    gen = current_generation(s.index_dir / LEX_ROOT)
    if gen is None:
        raise FileNotFoundError("索引尚未建立 no index yet: run `assistant index` first")
    store = ChunkStore(gen / "chunks.sqlite")
    rows = [i for i in range(len(store)) if not kinds or store.kinds[i] in kinds]
    chunks = store.get_many(rows)
    with build_lock(s.index_dir / "dense-lock"), _progress(show) as prog:
        dense = open_dense(s, embedder)
        task = prog.add_task("向量化 embedding", total=None)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        return dense.sync(chunks, max_chars=s.embedding_max_chars, progress=cb, limit=limit, keep_ids=set(store.ids),
                          case_chars=s.embedding_case_chars)
