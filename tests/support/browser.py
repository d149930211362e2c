"""What every browser test shares: Debian's Chromium driven by Playwright, the viewports, and
a watch on what a page must never do (open a dialog, throw a script error, break the CSP).

Browser tests skip cleanly where Chromium is not installed, except in CI, where a missing
browser is a failure: ``make test`` installs it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 8000


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def launch() -> Iterator:
    """A headless Chromium for a module's tests (the body of its ``browser`` fixture)."""
    if not CHROMIUM.exists():
        if in_ci():
            pytest.fail("CI is set but /usr/bin/chromium is missing: the browser tests must run "
                        "in CI (install Debian's chromium)")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class Watch:
    """What a page did that it must not: dialogs, script errors, CSP violations — and every
    request it made, to show nothing was loaded from anywhere but the service."""

    def __init__(self, page):
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.requests: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._console)
        page.on("request", lambda req: self.requests.append(req.url))

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, msg) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            self.csp.append(msg.text)

    def check(self) -> None:
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.errors == [], f"script errors: {self.errors}"
        assert self.csp == [], f"CSP violations: {self.csp}"


def desktop_context(browser, base: str, **options) -> Iterator:
    """A desktop browser context on the server at ``base`` for a module's JavaScript tests
    (the body of its ``desktop`` fixture; each test opens its own tab with
    :func:`watched_page`)."""
    context = browser.new_context(base_url=base, viewport=DESKTOP, service_workers="block",
                                  **options)
    yield context
    context.close()


def watched_page(context) -> Iterator:
    """A new tab whose :class:`Watch` is checked when the test is done (the body of a
    module's ``page`` fixture)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.watch = Watch(page)
    yield page
    try:
        page.watch.check()
    finally:
        page.close()
