"""The web page at `/` in a real headless Chromium (Debian's, driven by Playwright for Python)
against the real e2e server over HTTP: real OCR workers, PostgreSQL and model, and an LLM
router on the scripted OpenAI-protocol server, so answers stream token by token.

One tenant of its own, one document: the tests run in order, as a person would: give the
key, upload the scan and watch it become ready, look at it in the library, ask and follow up,
open the cited page, stop an answer, extract, read the usage, delete. Every view is checked
with axe-core (no serious or critical violation), the browser console must stay free of
errors, and each view is saved as a screenshot at 1280 and 360 px wide, in a temporary folder
(`LECTERN_SCREENSHOTS=docs/screenshots` writes them there instead).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from app.auth import create_key
from pipelines import llm
from tests.support import scripted_openai as so
from tests.support.api import Server
from tests.support.cer import SAMPLES
from tests.support.extract import llm_config
from tests.support.scripted_openai import ScriptedOpenAI

MISSING = "playwright or axe-playwright-python is missing: pip install -e '.[dev]' installs them"
sync_api = pytest.importorskip("playwright.sync_api", reason=MISSING)
browser = pytest.importorskip("tests.support.browser", reason=MISSING)
expect = sync_api.expect

SCAN = SAMPLES / "scanned-report.pdf"
ANSWER = "Total revenue rose to $48.2 million in 2024, up 12.5% from 2023 [1]."
STATE: dict[str, Any] = {}
Page = Any  # playwright.sync_api.Page


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """The browser, or a skip saying why there is none."""
    with browser.chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    chosen = os.environ.get("LECTERN_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path_factory.mktemp("web-screenshots")


def router_of(server: Server, config: llm.LLMConfig) -> llm.Router:
    """A router with `config`'s models, on the server's ledger and budget tables."""
    providers, _ = llm.build_providers(config, {})
    ledger = llm.Ledger(server.container.engine)
    budget = llm.Budget(server.container.engine, config.budgets, ledger)
    return llm.Router(config, providers, budget=budget, ledger=ledger,
                      metrics=llm.LLMMetrics(CollectorRegistry()))


@pytest.fixture(scope="module")
def site(server: Server, scripted_openai_session: ScriptedOpenAI) -> Iterator[dict[str, str]]:
    """A tenant of its own with a key, and the server's router replaced by one on the scripted
    server for this module."""
    original = server.container.llm_router
    server.container.llm_router = router_of(server, llm_config(scripted_openai_session))
    with server.container.session_factory() as session:
        key = create_key(session, f"web-{uuid.uuid4().hex[:8]}", "web-e2e")
    yield {"url": server.url, "key": key, "collection": f"web-{uuid.uuid4().hex[:6]}"}
    server.container.llm_router = original


@pytest.fixture
def browse(chromium: Any, site: dict[str, str]) -> Iterator[Any]:
    """`browse(key=True)` opens a fresh tab on the page, the key already kept unless not asked
    for; no tab may log a console error the test did not provoke and forget."""
    tabs = browser.Tabs(chromium)

    def open_tab(key: bool = True) -> Page:
        tab = tabs.open(site["url"] + "/", storage={"lectern.apiKey": site["key"]} if key else {})
        tab.wait_for_selector("body[data-ready=true]" if key else "#key-dialog[open]")
        return tab

    yield open_tab
    assert tabs.close() == [], "console errors"


@pytest.fixture
def page(browse: Any) -> Page:
    """A tab on the page with the key kept."""
    tab: Page = browse()
    return tab


def view(tab: Page, name: str) -> None:
    """Go to a view by its navigation link, as a person would."""
    tab.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    tab.wait_for_selector(f"#view-{name.lower()}:not([hidden])")


def test_key_then_upload_shows_progress_until_ready(browse: Any, site: dict[str, str],
                                                    shots: Path) -> None:
    page = browse(key=False)
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    page.fill("#key-input", "lk_not_a_key")
    page.click("#key-save")
    expect(page.locator("#key-error")).to_contain_text("does not accept this key")
    page.fill("#key-input", site["key"])
    page.click("#key-save")
    expect(dialog).to_be_hidden()
    browser.without(page, "status of 401")  # the refused key

    page.fill("#upload-collection", site["collection"])
    page.fill("#upload-metadata", '{"source": "browser test"}')
    page.evaluate("""() => { window.seen = []; new MutationObserver(() => {
        for (const d of document.querySelectorAll('.job .detail')) window.seen.push(d.textContent);
      }).observe(document.getElementById('upload-list'),
                 {subtree: true, childList: true, characterData: true}); }""")
    page.set_input_files("#upload-files", str(SCAN))
    row = page.locator(".job").first
    expect(row).to_have_attribute("data-state", "ready", timeout=180_000)
    expect(row).to_contain_text("3 page(s)")
    seen = page.evaluate("window.seen")
    assert any("Running OCR · page" in s and "of 3" in s for s in seen), seen

    browser.drop_file(page, "#drop", SCAN, "application/pdf")  # the same file again
    again = page.locator(".job").first
    expect(again).to_have_attribute("data-state", "duplicate")
    expect(again).to_contain_text("already in collection")
    STATE["uploaded"] = True
    browser.check(page, shots, "upload")


def test_library_shows_the_pages_and_chunks(page: Page, site: dict[str, str],
                                            shots: Path) -> None:
    assert STATE.get("uploaded"), "the upload test did not pass"
    view(page, "Library")
    page.select_option("#library-collection", site["collection"])
    page.select_option("#library-status", "ready")
    row = page.locator("#library-table tbody tr", has_text=SCAN.name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Ready")
    browser.check(page, shots, "library")
    row.get_by_role("button", name=SCAN.name, exact=True).click()
    detail = page.locator("#library-detail")
    expect(detail.locator(".page-card")).to_have_count(3)
    expect(detail.locator(".page-card").first).to_contain_text("OCR confidence")
    expect(detail.get_by_text("Raw text, as read").first).to_be_visible()
    detail.get_by_role("button", name="Chunks").click()
    revenue = detail.locator(".chunk-card", has_text="2 Results › 2.1 Revenue")
    expect(revenue).not_to_have_count(0)
    browser.check(page, shots, "document")


def ask(page: Page, question: str) -> Any:
    page.fill("#ask-question", question)
    page.press("#ask-question", "Enter")
    return page.locator(".turn").last


def test_ask_streams_a_cited_answer_and_opens_its_page(
    page: Page, shots: Path, scripted_openai: ScriptedOpenAI
) -> None:
    assert STATE.get("uploaded"), "the upload test did not pass"
    scripted_openai.script(so.text(ANSWER, chunk_delay_s=0.15))
    view(page, "Ask")
    turn = ask(page, "What was total revenue in 2024?")
    page.wait_for_function("""() => { const t = [...document.querySelectorAll('.turn')].pop();
        return t.dataset.state === 'streaming' && t.querySelector('.answer').textContent; }""")
    partial = turn.locator(".answer").text_content() or ""
    assert 0 < len(partial) < len(ANSWER), "tokens are shown before the stream ends"
    expect(turn).to_have_attribute("data-state", "done")
    expect(turn.locator(".answer")).to_have_text(ANSWER)
    small = turn.locator(".smallprint")
    expect(small).to_contain_text("answered by primary-model (primary, mid tier)")
    expect(small).to_contain_text("tokens in")
    source = turn.locator(".sources > .source").first
    expect(source).to_have_attribute("data-page", "2")
    expect(source).to_contain_text(f"[1] {SCAN.name} · p. 2")
    turn.locator("a.cite").first.click()
    expect(source).to_be_focused()

    source.get_by_role("button", name="Open p. 2").click()
    expect(page.locator("#page-title")).to_have_text(f"{SCAN.name} · page 2 of 3")
    page.wait_for_function("document.getElementById('page-image').naturalWidth > 0")
    expect(page.locator("#page-text mark").first).to_contain_text("48.2 million")
    browser.check(page, shots, "page")
    page.click("#page-close")

    # the follow-up goes with the thread: the model condenses it, then answers
    scripted_openai.script(so.text("What was total revenue in 2023?"),
                           so.text("In 2023 it was $42.8 million [1]."))
    follow_up = ask(page, "And in 2023?")
    expect(follow_up).to_have_attribute("data-state", "done")
    expect(page.locator(".turn")).to_have_count(2)
    expect(follow_up.locator(".smallprint")).to_contain_text(
        'searched for: "What was total revenue in 2023?"')
    condensing = json.dumps(scripted_openai.requests[-2].body)
    assert "What was total revenue in 2024?" in condensing and "48.2 million" in condensing
    browser.check(page, shots, "ask")


def test_stop_insufficient_evidence_and_budget_are_shown_as_such(
    page: Page, site: dict[str, str], server: Server, scripted_openai: ScriptedOpenAI
) -> None:
    scripted_openai.script(so.text("word " * 80, chunk_delay_s=0.2))
    view(page, "Ask")
    turn = ask(page, "What was total revenue in 2024?")
    page.wait_for_function("document.querySelector('.turn .answer').textContent.length > 0")
    page.click("#ask-stop")
    expect(turn).to_have_attribute("data-state", "stopped")
    expect(turn.locator(".notice")).to_contain_text("Stopped")

    page.fill("#ask-collection", "nothing-here")
    empty = ask(page, "What was total revenue in 2024?")
    expect(empty).to_have_attribute("data-state", "insufficient")
    expect(empty.locator(".notice")).to_contain_text("Insufficient evidence")
    page.fill("#ask-collection", "")

    original = server.container.llm_router
    server.container.llm_router = router_of(server, llm_config(
        scripted_openai, budgets={"daily_usd": 1e-9, "allow_downgrade": False}))
    try:
        broke = ask(page, "What was total revenue in 2024?")
        expect(broke).to_have_attribute("data-state", "error")
        expect(broke.locator(".notice")).to_contain_text("Over budget")
    finally:
        server.container.llm_router = original
    browser.without(page, "status of 402")


def test_extraction_shows_evidence_and_flags_invented_values(
    page: Page, site: dict[str, str], server: Server, shots: Path,
    scripted_openai: ScriptedOpenAI
) -> None:
    assert STATE.get("uploaded"), "the upload test did not pass"
    view(page, "Extract")
    page.select_option("#extract-document", label=f"{SCAN.name} ({site['collection']})")
    original = server.container.llm_router
    server.container.llm_router = router_of(server, llm.parse_config({}, {}))  # extractive only
    try:
        page.click("#extract-run")
        expect(page.locator("#extract-error")).to_contain_text("No model can extract")
    finally:
        server.container.llm_router = original
    browser.without(page, "status of 503")

    scripted_openai.script(so.structured({"company": "Northwind Outfitters",
                                          "total_revenue_2024": "$48.2 million",
                                          "chief_executive": "Jane Smith"}))
    page.select_option("#extract-schema", label="Custom JSON Schema…")
    page.fill("#extract-custom", json.dumps({"type": "object", "properties": {
        "company": {"type": "string"}, "total_revenue_2024": {"type": "string"},
        "chief_executive": {"type": "string"}}}))
    page.click("#extract-run")
    result = page.locator("#extract-result")
    revenue = result.locator('.field[data-path="total_revenue_2024"]')
    expect(revenue).to_contain_text("page 2")
    expect(revenue.locator("q")).to_contain_text("48.2")
    expect(result.locator('.field[data-path="company"]')).to_contain_text("page 1")
    invented = result.locator('.field[data-path="chief_executive"]')
    expect(invented).to_have_class("field flagged")
    expect(invented).to_contain_text("Not found in the document")
    expect(result).to_contain_text("1 value(s) not found in the document")
    browser.check(page, shots, "extract")


def test_usage_shows_spend_against_the_budget(page: Page, shots: Path) -> None:
    view(page, "Usage")
    body = page.locator("#usage-body")
    expect(body).to_contain_text("of $5.00 today")
    expect(body.locator("table").first).to_contain_text("primary-model (primary)")
    expect(body.locator("table").nth(1)).to_contain_text("extract")
    browser.check(page, shots, "usage")


def test_delete_asks_first_then_removes_the_document(page: Page) -> None:
    assert STATE.get("uploaded"), "the upload test did not pass"
    view(page, "Library")
    row = page.locator("#library-table tbody tr", has_text=SCAN.name)
    row.get_by_role("button", name=f"Delete {SCAN.name}").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Cancel").click()
    expect(row).to_have_count(1)
    row.get_by_role("button", name=f"Delete {SCAN.name}").click()
    expect(page.locator("#confirm-title")).to_have_text(f"Delete {SCAN.name}?")
    page.click("#confirm-ok")
    expect(row).to_have_count(0)
    expect(page.locator("#library-count")).to_contain_text("No documents yet")
