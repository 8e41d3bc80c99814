"""The chat page in a real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against a real
uvicorn server on a free loopback port serving the small test index."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from conftest import live_server

CHROMIUM = os.environ.get("MINGZE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
OUT = Path(__file__).resolve().parent.parent / "test-output"
Q = "法官故意违反法律法规办理案件的，应当承担什么责任？"

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(sync_playwright is None, reason="playwright not installed: pip install playwright"),
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)),
                       reason=f"chromium not found at {CHROMIUM}: apt-get install -y chromium"),
]


@pytest.fixture(scope="module")
def server(small_settings, small_searcher):
    pytest.importorskip("assistant.answer.chat", reason="assistant/answer/chat.py not written yet")
    from api.app import create_app

    with live_server(create_app(settings=small_settings, searcher=small_searcher, dense_background=False)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        yield pg
        browser.close()


def test_ask_stream_cite_and_open_article(server, page):
    page.goto(server + "/")
    expect(page.locator("#health")).to_have_class("badge ok", timeout=15000)
    expect(page.locator("#health")).to_contain_text("已就绪")

    page.fill("#input", Q)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat")) as resp_info:
        page.press("#input", "Enter")
    resp = resp_info.value
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")

    answer = page.locator(".msg.assistant").last
    expect(answer).to_have_attribute("data-final", "1", timeout=60000)
    expect(answer.locator("h3").first).to_have_text("结论")  # "## 结论"
    expect(answer).to_contain_text("第四十六条")
    assert page.locator(".msg.user").last.inner_text() == Q

    # the source panel lists the numbered sources
    sources = page.locator("#tab-sources .source")
    assert sources.count() >= 1
    expect(sources.first).to_contain_text("[1]")

    # click the first [n] citation: the article opens in the side panel
    cite = answer.locator("a.cite").first
    n = cite.get_attribute("data-n")
    heading = page.locator(f"#tab-sources .source:nth-child({n}) a.src-link").inner_text()
    cite.click()
    art = page.locator("#tab-article .doc")
    expect(art.locator("h2")).to_be_visible(timeout=10000)
    assert art.locator("h2").inner_text() in heading
    expect(art.locator(".chunk.focus .chunk-text")).not_to_be_empty()

    # click a 《法规》第X条 link: opens that article; "全文" shows the whole law with the article highlighted
    law = answer.locator("a.law", has_text="《中华人民共和国法官法》第四十六条").first
    law.click()
    expect(art.locator("h2")).to_have_text("《中华人民共和国法官法》第四十六条", timeout=10000)
    expect(art.locator(".chunk-text")).to_contain_text("应当给予处分")
    OUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT / "chat.png"), full_page=False)
    page.locator("#tab-article a.full-doc").click()
    expect(page.locator("#tab-article .chunk")).not_to_have_count(1, timeout=10000)
    expect(page.locator("#tab-article .chunk.focus")).to_contain_text("应当给予处分")
    assert not page.errors, page.errors


def test_error_is_shown_and_page_recovers(server, page):
    page.goto(server + "/")
    page.fill("#input", "法" * 5000)
    page.press("#input", "Enter")
    err = page.locator(".msg.assistant.error .error-text").last
    expect(err).to_contain_text("过长", timeout=15000)
    expect(err).to_contain_text("too long")
    # an expired session (e.g. after a restart) starts a new conversation instead of failing
    page.evaluate("state.sessionId = 'stale-session'")
    page.fill("#input", "《中华人民共和国法官法》第四十六条规定了什么？")
    page.press("#input", "Enter")
    answer = page.locator(".msg.assistant").last
    expect(answer).to_have_attribute("data-final", "1", timeout=60000)
    expect(answer).to_contain_text("第四十六条")
    assert page.evaluate("state.sessionId") not in (None, "stale-session")
    assert not page.errors, page.errors


def test_law_links_resolve_through_search(server, page):
    """《法规》第X条 not among the sources is looked up (POST /v1/search, direct hit); unknown ones say so."""
    page.goto(server + "/")
    page.evaluate("renderFinal(addMessage('assistant', ''), {answer: '参见《中华人民共和国刑事诉讼法》第三十条与"
                  "《中华人民共和国法官法》第九百条。', sources: []})")
    page.locator("a.law", has_text="第三十条").click()
    art = page.locator("#tab-article .doc")
    expect(art.locator("h2")).to_have_text("《中华人民共和国刑事诉讼法》第三十条", timeout=10000)
    expect(art).to_contain_text("回避")
    page.locator("a.law", has_text="第九百条").click()
    expect(page.locator("#tab-article .error-text")).to_contain_text("未在语料库中找到", timeout=10000)
    assert not page.errors, page.errors


def test_page_sends_the_api_key_when_the_service_requires_one(small_settings, small_searcher, page, tmp_path):
    from api.app import create_app
    from assistant.security.keys import KeyStore

    s = small_settings.model_copy(update={"auth_enabled": True, "keys_db": tmp_path / "keys.sqlite",
                                          "audit_db": tmp_path / "audit.sqlite"})
    key = KeyStore(s.resolved_keys_db()).create("judge", "本院", "browser")[0]
    with live_server(create_app(settings=s, searcher=small_searcher, dense_background=False)) as url:
        page.goto(url + "/")
        page.evaluate("localStorage.removeItem('mingze.apiKey')")
        page.fill("#input", "《中华人民共和国法官法》第四十六条规定了什么？")
        page.press("#input", "Enter")
        err = page.locator(".msg.assistant.error .error-text").last
        expect(err).to_contain_text("访问密钥", timeout=15000)  # 401 with guidance, not a silent failure
        page.fill("#api-key", key)
        page.dispatch_event("#api-key", "change")
        page.reload()  # the key survives a reload (this browser's storage only)
        assert page.input_value("#api-key") == key
        page.fill("#input", "《中华人民共和国法官法》第四十六条规定了什么？")
        page.press("#input", "Enter")
        answer = page.locator(".msg.assistant").last
        expect(answer).to_have_attribute("data-final", "1", timeout=60000)
        expect(answer).to_contain_text("第四十六条")
        page.evaluate("localStorage.removeItem('mingze.apiKey')")
    assert not page.errors, page.errors
