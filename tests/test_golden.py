"""Golden scores on a small real slice (lexical index of statutes + regulations + guiding + policy).

A retrieval regression below the floors in evals/golden.json fails the build. Refresh the floors only with a
measured improvement (python -m evals.golden prints the current figures)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.golden import measure

GOLDEN = json.loads((Path(__file__).resolve().parent.parent / "evals" / "golden.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def figures(small_searcher):
    return measure(small_searcher)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_not_below_golden(figures, name):
    assert figures[name] >= GOLDEN[name] - 1e-9, f"{name}: {figures[name]} < golden {GOLDEN[name]}"
