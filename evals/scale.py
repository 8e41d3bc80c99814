"""Lexical scale benchmark (`make scale`): BM25 query time and memory at 10k, 100k and 1M chunks.

Synthetic corpora are perturbed copies of the real chunks (their cached jieba tokens): each synthetic chunk is a
random real chunk with ~10% of its distinct terms dropped, so term statistics and posting lengths grow the way a
bigger corpus of the same kind would. The BM25 matrix is built with numpy using bm25s's Lucene formula (checked
against bm25s's own indexing at 10k) and queried with bm25s's get_scores + top-10, the same calls the product's
lexical path makes, for the 188 statute QA questions. Each size runs in its own process (peak RSS per size).

    python -m evals.scale [--sizes 10000,100000,300000,1000000] [--index-dir DIR]
Writes evals/reports/scale.json and scale.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .harness import REPORTS, pct, read_jsonl

ROOT = Path(__file__).resolve().parent
DROP = 0.10
K = 10


def export_real(index_dir: Path, out: Path) -> dict:
    """The real chunks' token ids (flat + offsets), vocab and tokenized queries, as .npy/.json in `out`."""
    from assistant.config import Settings
    from assistant.index.builder import LEX_ROOT
    from assistant.index.store import current_generation
    from assistant.lexicon import Lexicon, Tokenizer

    gen = current_generation(index_dir / LEX_ROOT)
    if gen is None:
        raise SystemExit(f"错误 error: no index in {index_dir}: run `assistant index` first")
    lex_id = hashlib.sha1((gen / "lexicon.json").read_bytes()).hexdigest()[:12]
    conn = sqlite3.connect(f"file:{gen}/chunks.sqlite?mode=ro", uri=True)
    hashes = [r[0] for r in conn.execute("SELECT hash FROM chunks ORDER BY rowid")]
    cache = sqlite3.connect(f"file:{index_dir / 'tokens.sqlite'}?mode=ro", uri=True)
    vocab: dict[str, int] = {}
    flat: list[int] = []
    offsets = [0]
    for i in range(0, len(hashes), 900):
        part = hashes[i : i + 900]
        got = dict(cache.execute(f"SELECT h, toks FROM tokens WHERE lex = ? AND h IN ({','.join('?' * len(part))})",
                                 (lex_id, *part)))
        for h in part:
            if h in got:
                flat.extend(vocab.setdefault(t, len(vocab)) for t in (got[h] or "").split(" ") if t)
                offsets.append(len(flat))
    if len(offsets) - 1 < 0.9 * len(hashes):
        raise SystemExit(f"错误 error: token cache covers {len(offsets) - 1}/{len(hashes)} chunks; re-run `assistant index`")
    tk = Tokenizer(Lexicon.load(gen / "lexicon.json"))
    qs = [r["question"] for r in read_jsonl(ROOT / "datasets" / "statute_qa_dev.jsonl", ("question", "gold"))]
    queries = [[vocab[t] for t in tk.tokens(q) if t in vocab] for q in qs]
    np.save(out / "flat.npy", np.asarray(flat, dtype=np.int32))
    np.save(out / "offsets.npy", np.asarray(offsets, dtype=np.int64))
    (out / "meta.json").write_text(json.dumps({"vocab": len(vocab), "real_chunks": len(offsets) - 1,
                                               "queries": [q for q in queries if q]}), encoding="utf-8")
    return {"real_chunks": len(offsets) - 1, "vocab": len(vocab), "tokens": len(flat)}


def real_pairs(flat: np.ndarray, offsets: np.ndarray, vocab: int):
    """Per real chunk: its distinct terms and their term frequencies (pair arrays + per-chunk offsets)."""
    n = len(offsets) - 1
    doc = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    keys = np.sort(doc * vocab + flat)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    tf = np.diff(np.r_[starts, len(keys)]).astype(np.float32)
    uk = keys[starts]
    pdoc, ptok = uk // vocab, (uk % vocab).astype(np.int32)
    poff = np.searchsorted(pdoc, np.arange(n + 1))
    return ptok, tf, poff


def build_matrix(ptok, ptf, poff, n_docs: int, vocab: int, seed: int = 0, k1: float = 1.5, b: float = 0.75):
    """CSC BM25 (Lucene) scores for n_docs synthetic chunks drawn from the real ones."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, len(poff) - 1, n_docs)
    lens = (poff[base + 1] - poff[base]).astype(np.int64)
    idx = np.repeat(poff[base] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(int(lens.sum()))
    doc = np.repeat(np.arange(n_docs, dtype=np.int32), lens)
    keep = rng.random(len(idx)) >= DROP
    idx, doc = idx[keep], doc[keep]
    tok, tf = ptok[idx], ptf[idx]
    del idx, keep
    dl = np.bincount(doc, weights=tf, minlength=n_docs).astype(np.float32)
    avgdl = float(dl.mean())
    df = np.bincount(tok, minlength=vocab).astype(np.float64)
    idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    data = idf[tok] * tf / (tf + k1 * (1 - b + b * dl[doc] / avgdl))
    order = np.argsort(tok, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(tok, minlength=vocab))].astype(np.int64)
    return {"data": data[order].astype(np.float32), "indices": doc[order].astype(np.int32), "indptr": indptr,
            "num_docs": n_docs}


def bm25s_with(scores: dict, vocab: int):
    """A bm25s.BM25 object holding these scores (the library's own query code runs on them)."""
    import bm25s

    bm = bm25s.BM25(k1=1.5, b=0.75)
    bm.index([["a", "b"], ["b", "c"]], show_progress=False)
    bm.scores = scores
    bm.vocab_dict = {str(i): i for i in range(vocab)}
    return bm


def timed_queries(bm, queries: list[list[int]], n_docs: int) -> dict:
    prior = np.ones(n_docs, dtype=np.float32)
    mask = np.ones(n_docs, dtype=bool)
    bm.get_scores(queries[0])
    raw, full = [], []
    for q in queries:
        t = time.perf_counter()
        sc = bm.get_scores(q)
        top = np.argpartition(-sc, K)[:K]
        t1 = time.perf_counter()
        sc = np.where(mask, sc * prior, -np.inf)  # the search path's authority prior and filter mask
        top = np.argpartition(-sc, K)[:K]
        t2 = time.perf_counter()
        raw.append((t1 - t) * 1000)
        full.append((t2 - t) * 1000)
    assert len(top) == K
    return {"bm25_top10_ms_p50": round(pct(raw, 50), 2), "bm25_top10_ms_p95": round(pct(raw, 95), 2),
            "with_prior_mask_ms_p50": round(pct(full, 50), 2), "with_prior_mask_ms_p95": round(pct(full, 95), 2)}


def one(size: int, data_dir: Path, check: bool) -> dict:
    meta = json.loads((data_dir / "meta.json").read_text(encoding="utf-8"))
    flat, offsets = np.load(data_dir / "flat.npy"), np.load(data_dir / "offsets.npy")
    ptok, ptf, poff = real_pairs(flat, offsets, meta["vocab"])
    del flat
    t = time.perf_counter()
    scores = build_matrix(ptok, ptf, poff, size, meta["vocab"])
    build_s = time.perf_counter() - t
    bm = bm25s_with(scores, meta["vocab"])
    res = {"chunks": size, "postings": int(len(scores["data"])), "build_s": round(build_s, 1),
           "matrix_mb": round((scores["data"].nbytes + scores["indices"].nbytes + scores["indptr"].nbytes) / 2**20),
           **timed_queries(bm, meta["queries"], size)}
    if check:  # the numpy matrix equals bm25s's own indexing of the same synthetic chunks
        import bm25s

        # rebuild the token lists (each distinct term repeated tf times) from the same random draw
        rng = np.random.default_rng(0)
        base = rng.integers(0, len(poff) - 1, size)
        lens = (poff[base + 1] - poff[base]).astype(np.int64)
        idx = np.repeat(poff[base] - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(int(lens.sum()))
        keep = rng.random(len(idx)) >= DROP
        idx, doc = idx[keep], np.repeat(np.arange(size), lens)[keep]
        docs: list[list[str]] = [[] for _ in range(size)]
        for d, tkn, f in zip(doc.tolist(), ptok[idx].tolist(), ptf[idx].astype(int).tolist()):
            docs[d].extend([str(tkn)] * f)
        t = time.perf_counter()
        ref = bm25s.BM25(k1=1.5, b=0.75)
        ref.index(docs, show_progress=False)
        res["bm25s_index_s"] = round(time.perf_counter() - t, 1)
        worst = 0.0
        for q in meta["queries"][:30]:
            a = bm.get_scores(q)
            qs = [str(x) for x in q if str(x) in ref.vocab_dict]
            b_ = ref.get_scores(qs) if qs else np.zeros(size, dtype=np.float32)
            worst = max(worst, float(np.abs(a - b_).max()))
        res["max_abs_diff_vs_bm25s"] = worst
        assert worst < 1e-3, f"numpy BM25 differs from bm25s by {worst}"
    res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return res


def write_report(res: dict) -> Path:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "scale.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    rows = [f"| {r['chunks']:,} | {r['postings']:,} | {r['build_s']} | {r['matrix_mb']} | {r['bm25_top10_ms_p50']} | "
            f"{r['bm25_top10_ms_p95']} | {r['with_prior_mask_ms_p50']} | {r['peak_rss_mb']:,} |" for r in res["sizes"]]
    md = ["# Lexical scale (BM25, bm25s)", "", f"Generated {time.strftime('%Y-%m-%d %H:%M')} on {os.cpu_count()} cores "
          "(shared with other jobs: figures are upper bounds). Synthetic chunks are real chunks with ~10% of their "
          f"terms dropped; source: {res['real']['real_chunks']:,} real chunks, vocabulary {res['real']['vocab']:,}; "
          f"{res['queries']} statute QA questions, top-{K}.", "",
          "| chunks | postings | build s | matrix MB | query p50 ms | query p95 ms | + prior & mask p50 ms | peak RSS MB |",
          "|---|---|---|---|---|---|---|---|", *rows, ""]
    check = next((r for r in res["sizes"] if "max_abs_diff_vs_bm25s" in r), None)
    if check:
        md.append(f"Check at {check['chunks']:,}: numpy build equals bm25s's own index (max |Δscore| "
                  f"{check['max_abs_diff_vs_bm25s']:.1e}); bm25s itself took {check['bm25s_index_s']} s to index.")
    path = REPORTS / "scale.md"
    path.write_text("\n".join(md) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,300000,1000000")
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--check", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        print(json.dumps(one(a.one, a.data, a.check)))
        return 0
    from assistant.config import get_settings

    sizes = [int(x) for x in a.sizes.split(",") if x.strip()]
    with tempfile.TemporaryDirectory(prefix="mingze-scale-") as tmp:
        real = export_real(Path(a.index_dir or get_settings().index_dir), Path(tmp))
        out = {"real": real, "queries": len(json.loads((Path(tmp) / "meta.json").read_text())["queries"]), "sizes": []}
        print(f"real corpus: {real}", flush=True)
        for i, n in enumerate(sizes):
            cmd = [sys.executable, "-m", "evals.scale", "--one", str(n), "--data", tmp] + (["--check"] if i == 0 else [])
            t = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent, timeout=1800)
            if r.returncode != 0:
                print(f"{n:>9,} chunks: failed: {r.stderr[-800:]}", file=sys.stderr)
                return 1
            row = json.loads(r.stdout.strip().splitlines()[-1])
            row["wall_s"] = round(time.perf_counter() - t, 1)
            out["sizes"].append(row)
            print(f"{n:>9,} chunks: query p50 {row['bm25_top10_ms_p50']} ms, p95 {row['bm25_top10_ms_p95']} ms "
                  f"(+prior/mask p50 {row['with_prior_mask_ms_p50']} ms); build {row['build_s']} s; "
                  f"peak RSS {row['peak_rss_mb']:,} MB", flush=True)
    print(f"report: {write_report(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
