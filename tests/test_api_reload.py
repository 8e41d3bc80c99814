"""A re-index while the service runs: the new generation is swapped in, requests never fail meanwhile."""
from __future__ import annotations

import time

from fastapi.testclient import TestClient

import api.deps
from api.app import create_app
from assistant.config import Settings
from assistant.index.builder import build_lexical

RULE_A = "示范辅助人员规定\n第一条 辅助人员在民警带领下开展工作。\n第二条 辅助人员不得单独执法。\n"
RULE_B = RULE_A + "第三条 辅助人员不得保管涉案财物。\n"


def test_service_swaps_in_a_new_generation(tmp_path, monkeypatch):
    local = tmp_path / "local"
    local.mkdir()
    (local / "rule.txt").write_text(RULE_A, encoding="utf-8")
    s = Settings(index_dir=tmp_path / "idx", local_dir=local, sources="local", dense=False)
    build_lexical(s, show=False)
    monkeypatch.setattr(api.deps, "RELOAD_CHECK_S", 0.0)
    app = create_app(s, dense_background=False)
    with TestClient(app) as c:
        def articles(q: str) -> set[str]:
            r = c.post("/v1/search", json={"query": q, "k": 10})
            assert r.status_code == 200, r.text
            return {h["article"] for h in r.json()["hits"]}

        assert "第三条" not in articles("涉案财物")
        (local / "rule.txt").write_text(RULE_B, encoding="utf-8")
        build_lexical(s, show=False)  # publishes a new generation while the service runs
        deadline = time.monotonic() + 30
        found = set()
        while "第三条" not in found and time.monotonic() < deadline:
            found = articles("辅助人员 涉案财物")  # served by the old generation until the swap
            time.sleep(0.2)
        assert "第三条" in found
        assert app.state.mingze.reloads == 1
