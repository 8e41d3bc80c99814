"""Shared fixtures: one small real index (lexical; statutes + regulations + guiding + policy) per test session."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.config import Settings, get_settings  # noqa: E402

SHARED = get_settings().resolved_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data not present")


@pytest.fixture(scope="session")
def small_settings(tmp_path_factory) -> Settings:
    if SHARED is None:
        pytest.skip("../shared/data not present")
    idx = tmp_path_factory.mktemp("index")
    s = Settings(index_dir=idx, sources="statutes,regulations,guiding,policy", dense=False, local_dir=idx / "no-local")
    from assistant.index.builder import build_lexical

    build_lexical(s, show=False)
    return s


@pytest.fixture(scope="session")
def small_searcher(small_settings):
    from assistant.retrieval.search import Searcher

    return Searcher.open(small_settings)
