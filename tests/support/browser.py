"""Headless Debian Chromium driven by Playwright, for the page tests and the page benchmark.

Playwright never downloads a browser here (`playwright install` is not used): it drives the system
Chromium (`make setup-browser` installs Debian's package when /usr/bin/chromium is missing).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = os.environ.get("CHATLENS_CHROMIUM", "/usr/bin/chromium")
# --no-sandbox: CI runs as root; the background-networking flags keep Chromium off a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@contextmanager
def chromium():
    """A started Playwright with a launched Chromium; yields the browser."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make setup-browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base_url: str, bot_id: str, api_key: str, path: str = "/ui/") -> None:
    """Opens the page and signs in as a person would: bot id, key, the button."""
    page.goto(base_url + path)
    page.fill("#signin-bot", bot_id)
    page.fill("#signin-key", api_key)
    page.click("#signin-form button[type=submit]")
