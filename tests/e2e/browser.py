"""Debian's Chromium driven by Playwright, for every browser test: the flags, the rule that a
missing browser fails under CI (or DSAR_REQUIRE_BROWSER) and skips elsewhere, and one page
that leaves a screenshot of how it ended."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(condition: bool, message: str) -> None:
    """A missing piece of the browser set-up fails in CI and skips on a developer's machine."""
    if condition:
        return
    if os.environ.get("CI") or os.environ.get("DSAR_REQUIRE_BROWSER"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def browser_page(screenshot: Path | None = None, width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A page in a fresh headless Chromium; ``screenshot`` receives the last view when it closes."""
    require(CHROMIUM.exists(), "Chromium is not installed (scripts/ensure-chromium installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        try:
            yield page
        finally:
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            browser.close()
