"""Fuzzing the HTTP API: schemathesis cases from the app's own OpenAPI schema (valid and invalid inputs) and
hypothesis over raw bodies and auth headers. The property: never a server error (5xx); the count is reported."""
from __future__ import annotations

import json
import string
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from api.app import create_app
from assistant.security.keys import KeyStore

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.generation import GenerationMode  # noqa: E402

EXAMPLES = 60  # per operation and mode
SLOW = {"/v1/chat", "/v1/chat/completions", "/v1/drafts/check"}  # seconds per long random text: fewer examples
STATS: Counter = Counter()
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzz_app(small_settings, small_searcher):
    s = small_settings.model_copy(update={"max_draft_chars": 6000})  # keeps random long texts cheap
    return create_app(settings=s, searcher=small_searcher, dense_background=False)


def _operations(app) -> list:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [r.ok() for r in schema.get_all_operations()]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda m: m.value)
def test_schema_cases_never_5xx(fuzz_app, mode):
    """Every operation of /openapi.json, with schemathesis-generated valid (positive) or invalid (negative) input."""
    ops = _operations(fuzz_app)
    assert len(ops) >= 9
    for op in ops:
        label = f"{op.method.upper()} {op.path}"
        n = EXAMPLES // 2 if op.path in SLOW else EXAMPLES

        @settings(FUZZ, max_examples=n)
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case):
            response = case.call()
            STATS["cases"] += 1
            STATS[label] += 1
            STATS[f"status {response.status_code // 100}xx"] += 1
            assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
            ctype = " ".join(response.headers.get("content-type") or [])  # schemathesis: header -> list of values
            if response.status_code >= 400 and "application/json" in ctype:
                err = response.json()["error"]  # every error carries both reasons
                assert err["message_zh"] and err["message_en"]

        try:
            run()
        except Unsatisfiable:  # nothing to negate (e.g. GET /healthz has no parameters)
            STATS[f"{label} (no {mode.value} cases)"] += 1


@pytest.fixture(scope="module")
def auth_client(small_settings, small_searcher, tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz-auth")
    s = small_settings.model_copy(update={"auth_enabled": True, "keys_db": d / "k.sqlite", "audit_db": d / "a.sqlite",
                                          "rate_limit_per_min": 0, "max_draft_chars": 6000})
    key = KeyStore(s.resolved_keys_db()).create("judge", "某某法院")[0]
    with TestClient(create_app(settings=s, searcher=small_searcher, dense_background=False),
                    raise_server_exceptions=False) as c:
        yield c, key


HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c") + "é", max_size=120)


@FUZZ
@given(auth=HEADER_TEXT, api_key=st.one_of(st.none(), HEADER_TEXT))
def test_random_credentials_are_401(auth_client, auth, api_key):
    c, _ = auth_client
    headers = {"Authorization": auth.encode("latin-1")} if auth.strip() else {}
    if api_key is not None:
        headers["X-API-Key"] = api_key.encode("latin-1")
    r = c.post("/v1/search", json={"query": "盗窃"}, headers=headers)
    STATS["cases"] += 1
    assert r.status_code == 401, r.text[:200]
    assert r.json()["error"]["code"] in ("missing_api_key", "invalid_api_key", "invalid_authorization")


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                       lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
                       max_leaves=12)


@FUZZ
@given(path=st.sampled_from(["/v1/search", "/v1/chat", "/v1/chat/completions", "/v1/similar-cases",
                             "/v1/citations/verify", "/v1/drafts/check"]),
       body=st.one_of(st.binary(max_size=300), JSONISH.map(lambda x: json.dumps(x).encode()),
                      st.fixed_dictionaries({"query": st.text(max_size=60), "k": st.integers(-5, 200)}).map(
                          lambda x: json.dumps(x, ensure_ascii=False).encode())))
def test_random_bodies_with_a_valid_key(auth_client, path, body):
    c, key = auth_client
    r = c.post(path, content=body, headers={"X-API-Key": key, "content-type": "application/json"})
    STATS["cases"] += 1
    assert r.status_code < 500, f"{path} {body[:100]!r}: {r.status_code} {r.text[:300]}"


def test_fuzz_summary(capsys):
    """Runs last in this module: the number of cases, by operation and status class."""
    assert STATS["cases"] >= 100, STATS
    with capsys.disabled():
        print(f"\nfuzz: {STATS['cases']} cases, 0 server errors; " +
              ", ".join(f"{k}: {v}" for k, v in sorted(STATS.items()) if k != "cases"))
