"""The chat window in a real headless browser (Debian chromium via Playwright)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EVIL = (
    "Quokka protocol notes\n\n"
    "The Quokka protocol sends one sensor reading every ninety seconds between farms. "
    "<script>window.__pwned=1</script>\n\n"
    "It was designed by Ada Brightwater in 2019. <img src=x onerror=\"window.__pwned=2\">\n\n"
    "Readings are **signed** and compressed before they leave the farm, see [the spec](javascript:window.__pwned=3) "
    "and ![logo](x).\n\n"
    "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%;background:red\">OVERLAY</div>\n\n"
    "A relay keeps the readings for one week before deleting them.\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _launch(engine_or_settings):
    from app.chat import create_app, launch

    app = create_app(engine_or_settings)
    _, url, _ = launch(app, "127.0.0.1", free_port(), prevent_thread_lock=True, quiet=True)
    return app, url


def _ask(page, question: str, timeout_ms: int = 300_000) -> dict:
    page.locator("#cq-question textarea").fill(question)
    page.locator("#cq-ask").click()
    saw_draft = False
    try:
        page.get_by_text("draft — being checked", exact=False).first.wait_for(timeout=20_000)
        saw_draft = True
    except Exception:  # noqa: BLE001 - a very fast answer may replace the draft before we look
        pass
    page.wait_for_function(
        "(q) => { const c = document.querySelector('#cq-chat'); const t = c ? c.innerText : '';"
        " const p = document.querySelector('#cq-sources')?.innerText || '';"
        " return t.includes(q) && !t.includes('being checked') && !p.includes('checking the answer'); }",
        arg=question[:20], timeout=timeout_ms,
    )
    return {"saw_draft": saw_draft, "chat": page.locator("#cq-chat").inner_text(),
            "sources": page.locator("#cq-sources").inner_text()}


@pytest.mark.slow
def test_browser_streams_answer_with_highlighted_citation(engine, browser, artifacts):
    app, url = _launch(engine)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.locator("#cq-question textarea").wait_for(timeout=60_000)
        got = _ask(page, "How quickly did Threads cross 10 million users?")
        page.locator("#cq-sources mark").first.wait_for(timeout=30_000)
        marks = page.locator("#cq-sources mark").all_inner_texts()
        assert any("seven hours" in m or "7 hours" in m or "10 million" in m for m in marks), marks
        assert "[1]" in got["chat"]
        assert "Searched for" in got["sources"] and "The Biggest Winner from Threads" in got["sources"]
        status = page.locator("#cq-status").inner_text()
        assert "llamacpp" in status and "retrieval" in status and "first token" in status and "chunks" in status
        assert page.locator("#cq-plain textarea").input_value().startswith(got["chat"].split("[1]")[0].split("\n")[-1][:10])
        page.screenshot(path=str(artifacts / "chat_answer.png"), full_page=True)
        # the whole article on demand
        page.locator("#cq-sources details.cq-article summary").first.click()
        page.locator("#cq-sources .cq-fulltext").first.wait_for(state="visible", timeout=10_000)
        page.screenshot(path=str(artifacts / "chat_whole_article.png"), full_page=True)
        # empty question: a message in the chat, not a trace
        page.locator("#cq-question textarea").fill("")
        page.locator("#cq-ask").click()
        page.get_by_text("the question is empty", exact=False).first.wait_for(timeout=60_000)
        assert "Traceback" not in page.locator("#cq-chat").inner_text()
        page.close()
    finally:
        app.close()


@pytest.mark.slow
def test_browser_uploads_and_inert_document(engine, browser, artifacts, tmp_path):
    """Upload a hostile article (plus a binary and an oversized file) in the Documents tab, then ask about it:
    nothing in it runs, it shows literally, the bad files say why and the good one is indexed."""
    from app.engine import Engine

    # top_k 2: the hostile index has 2 chunks (core bug: BM25 raises when top_k > chunks, see report)
    s = engine.settings.model_copy(update={"data_dir": tmp_path / "data", "max_upload_mb": 0.01, "top_k": 2,
                                           "docs_path": tmp_path / "none"})
    (tmp_path / "up").mkdir()
    evil = tmp_path / "up" / "quokka.txt"
    evil.write_text(EVIL, "utf-8")
    binary = tmp_path / "up" / "photo.txt"
    binary.write_bytes(b"\x00\x01\x02PNG\x00" * 200)
    big = tmp_path / "up" / "huge.txt"
    big.write_text("Sensors on farms send many readings each day. " * 400, "utf-8")  # ~18 KB > 10 KB
    app, url = _launch(Engine(s))
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="Documents").click()
        page.locator("#cq-upload input[type=file]").set_input_files([str(evil), str(binary), str(big)])
        page.wait_for_timeout(1500)
        page.locator("#cq-add").click()
        page.wait_for_function(
            "() => { const t = document.querySelector('#cq-upload-result')?.innerText || '';"
            " return t.includes('huge.txt') && t.includes('quokka.txt'); }", timeout=180_000)
        result = page.locator("#cq-upload-result").inner_text()
        assert "upload limit is 0.01 MB" in result, result
        assert "binary" in result, result
        assert "added" in result
        assert "quokka.txt" in page.locator("#cq-docs").inner_text()
        page.screenshot(path=str(artifacts / "documents_upload.png"), full_page=True)

        page.get_by_role("tab", name="Chat").click()
        _ask(page, "How often does the Quokka protocol send a sensor reading?")
        panel = page.locator("#cq-sources")
        details = panel.locator("details")
        for i in range(details.count()):
            details.nth(i).evaluate("d => d.open = true")
        page.wait_for_timeout(500)
        text = panel.inner_text()
        assert "<script>window.__pwned=1</script>" in text
        assert '<img src=x onerror="window.__pwned=2">' in text
        assert "**signed**" in text and "[the spec](javascript:window.__pwned=3)" in text
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
        assert page.locator("img[src='x']").count() == 0
        assert page.locator("#cq-sources script, #cq-chat script").count() == 0
        assert page.get_by_text("OVERLAY", exact=True).count() == 0  # the div is text, not an element
        page.screenshot(path=str(artifacts / "inert_document.png"), full_page=True)
        page.wait_for_timeout(500)
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
        page.close()
    finally:
        app.close()
