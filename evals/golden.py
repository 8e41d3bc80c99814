"""Figures checked against evals/golden.json in CI (tests/test_golden.py). Run directly to print them."""
from __future__ import annotations

from pathlib import Path

from .harness import eval_cases, eval_statutes, read_jsonl, read_qrels

DATA = Path(__file__).resolve().parent / "datasets"


def measure(searcher) -> dict[str, float]:
    from assistant.retrieval.cases import CaseRanker

    def rank(q: str) -> list[tuple[str, str]]:
        return [(h.chunk.title, h.chunk.article_key) for h in searcher.search(q, k=10) if h.chunk.article_key]

    st = eval_statutes(read_jsonl(DATA / "statute_qa_dev.jsonl", ("question", "gold")), rank)
    held = eval_statutes(read_jsonl(DATA / "statute_qa_test.jsonl", ("question", "gold")), rank)
    ranker = CaseRanker(searcher)
    gd = eval_cases(read_jsonl(DATA / "guiding_drafts_queries.jsonl", ("qid", "text")),
                    read_qrels(DATA / "guiding_drafts_qrels.txt"), lambda t: ranker.rank(t, k=20))
    out = {"statutes.recall@1": st["recall@1"], "statutes.recall@5": st["recall@5"], "statutes.mrr@10": st["mrr@10"],
           "statutes_test.recall@1": held["recall@1"], "statutes_test.recall@5": held["recall@5"],
           "guiding_push.ndcg@10": gd["ndcg@10"], "guiding_push.recall@20": gd["recall@20"]}
    try:
        from assistant.answer.citations import check_text

        cites = read_jsonl(DATA / "citations_dev.jsonl", ("text", "expect"))
        ok = 0
        for c in cites:
            found = check_text(searcher, c["text"])
            ok += bool(found) and found[0].exists == c["expect"]["exists"] and found[0].repealed == c["expect"]["repealed"]
        out["citations.accuracy"] = round(ok / len(cites), 4)
    except ImportError:
        pass
    return out


if __name__ == "__main__":
    import json

    from assistant.config import Settings
    from assistant.index.builder import build_lexical
    from assistant.retrieval.search import Searcher

    import tempfile

    with tempfile.TemporaryDirectory() as d:
        s = Settings(index_dir=Path(d), sources="statutes,regulations,guiding,policy", dense=False, local_dir=Path(d) / "x")
        build_lexical(s, show=False)
        print(json.dumps(measure(Searcher.open(s)), ensure_ascii=False))
