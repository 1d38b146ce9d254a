"""Headless Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) against a live server.

No browser is downloaded: Playwright is pointed at the system Chromium, and the tests skip, with
the reason shown in the summary, where it is not installed. Screenshots go to
``test-artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import LiveServer, make_home, start_server, stop_server

CHROMIUM = os.environ.get("APPLIANCE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home, tokens = make_home(tmp_path_factory.mktemp("web"))
    server = start_server(home)
    server.tokens = tokens
    yield server
    stop_server(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install -y "
                    "chromium) to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # launch() gives each run a fresh, temporary profile (--user-data-dir) of its own.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookie jar) per test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  accept_downloads=True, service_workers="block")
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, site: LiveServer, who: str) -> None:
    page.goto(f"{site.url}/")
    page.fill("#token", site.tokens[who])
    page.click("button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
