"""The case-weight fitter scores exactly as the live ranker ranks, and rejects bad input with exit 2."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.retrieval.cases import WEIGHTS, CaseFilters, CaseRanker
from evals import fit_cases
from evals.harness import ndcg, read_jsonl, read_qrels

DATA = Path(__file__).resolve().parent.parent / "evals" / "datasets"


def test_fitter_scores_as_the_ranker_ranks(small_searcher):
    qs = read_jsonl(DATA / "guiding_drafts_queries.jsonl", ("qid", "text"))[:6]
    qr = read_qrels(DATA / "guiding_drafts_qrels.txt")
    ranker = CaseRanker(small_searcher)
    f = CaseFilters.make(source="guiding_cases")
    data = fit_cases.collect(ranker, qs, qr, f)
    shipped = {n: WEIGHTS[n] for n in data[0][0]}
    live = [ndcg(ranker.rank(q["text"], k=10, filters=f), qr[q["qid"]], 10) for q in qs]
    assert np.allclose(fit_cases.score(data, shipped, ranker.ci.doc_ids), live)
    # a weight vector that ignores every feature but one ranks differently from the full one on some query
    only_name = {n: (1.0 if n == "name" else 0.0) for n in shipped}
    assert fit_cases.score(data, only_name, ranker.ci.doc_ids) != live


def test_bad_input_exits_2(tmp_path, capsys):
    assert fit_cases.main(["--qrels", str(tmp_path / "missing.txt")]) == 2
    assert "error:" in capsys.readouterr().err
