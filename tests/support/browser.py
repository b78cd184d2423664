"""A real browser for tests of the web page: Debian's Chromium driven by Playwright for
Python (Playwright's own browser download is not used), tabs that record console errors, and
the checks every view gets: axe-core (as shipped by axe-playwright-python) and screenshots at
a desktop and a phone width.

Import it after `pytest.importorskip("playwright.sync_api")`: Playwright is a dev extra.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path(os.environ.get("LECTERN_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": (1280, 900), "narrow": (360, 780)}
SERIOUS = ("serious", "critical")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium, or a skip saying why there is none."""
    if not CHROMIUM.exists():
        pytest.skip("chromium not installed: make installs it with apt when root")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def viewport(size: str = "desktop") -> dict[str, int]:
    width, height = SIZES[size]
    return {"width": width, "height": height}


class Tabs:
    """Opens tabs, each in a fresh context (its own localStorage), and keeps every console
    error and uncaught exception they log in `tab.errors` until `close`."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.opened: list[tuple[Any, list[str]]] = []

    def open(self, url: str, *, storage: dict[str, str] | None = None) -> Page:
        """A tab on `url` with `storage` put in its localStorage before the page runs."""
        context = self.browser.new_context(viewport=viewport())
        for name, value in (storage or {}).items():
            context.add_init_script(f"localStorage.setItem({json.dumps(name)}, "
                                    f"{json.dumps(value)})")
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.errors = errors
        self.opened.append((context, errors))
        tab.goto(url)
        return tab

    def close(self) -> list[str]:
        """Close every tab; the errors they logged (tests remove the ones they provoked)."""
        for context, _ in self.opened:
            context.close()
        return [error for _, errors in self.opened for error in errors]


def without(tab: Page, fragment: str) -> None:
    """Forget the console errors containing `fragment` (a response a test asked for)."""
    errors: list[str] = tab.errors
    errors[:] = [e for e in errors if fragment not in e]


def check(tab: Page, shots: Path, name: str) -> None:
    """No serious or critical axe-core violation on what the tab shows, then a full-page
    screenshot at each of `SIZES` (`shots/{name}-{size}.png`)."""
    results = Axe().run(tab)
    bad = [v for v in results.response["violations"] if v["impact"] in SERIOUS]
    assert bad == [], json.dumps([{k: v[k] for k in ("id", "help", "nodes")} for v in bad])[:4000]
    for size in SIZES:
        tab.set_viewport_size(viewport(size))
        tab.wait_for_timeout(150)
        tab.screenshot(path=str(shots / f"{name}-{size}.png"), full_page=True)
    tab.set_viewport_size(viewport())


def drop_file(tab: Page, selector: str, path: Path, mime: str) -> None:
    """Drop the file at `path` on the element `selector`, as dragging it there would."""
    tab.evaluate("""([selector, b64, name, mime]) => {
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        const files = new DataTransfer();
        files.items.add(new File([bytes], name, {type: mime}));
        document.querySelector(selector).dispatchEvent(
          new DragEvent("drop", {dataTransfer: files, bubbles: true, cancelable: true})); }""",
                 [selector, base64.b64encode(path.read_bytes()).decode(), path.name, mime])
