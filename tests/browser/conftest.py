"""Headless Chromium (Debian's package) driven by Playwright against the live server.

No test tool downloads a browser: Playwright is pointed at /usr/bin/chromium.
Without it these tests skip, unless REQUIRE_SYSTEM_TOOLS is set (CI), when
they fail.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.interfaces import interfaces_steady

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@pytest.fixture(autouse=True)
def _interfaces_steady() -> Iterator[None]:
    """No end-to-end lab of a suite run beside this one changes an interface while a browser test runs (tests/interfaces.py)."""
    with interfaces_steady(changing=False):
        yield


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_SYSTEM_TOOLS"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, so
    # Django would refuse the test's own (synchronous) database calls.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class PageProblems:
    """What went wrong in the browser: console errors (CSP violations among them), script errors and failed loads."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _request_failed(self, request: Any) -> None:
        # Leaving a page cancels what it was still loading (its icon, say): not a failure of the site.
        if "ERR_ABORTED" not in (request.failure or ""):
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message: Any) -> None:
        # Failed loads are reported with their URL by _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        # A form sent back with its errors answers 422 (429 when locked out): expected.
        if response.status >= 400 and response.status not in (422, 429):
            self.errors.append(f"{response.status} {response.url}")


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def browser_tab(chromium: Any, problems: PageProblems, **options: Any) -> Iterator[Any]:
    """Yield one tab in a fresh browser context (its own cookies) with `options`, watched by `problems`."""
    context = chromium.new_context(accept_downloads=True, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems.watch(page)
    yield page
    context.close()


@pytest.fixture
def page(chromium: Any, problems: PageProblems) -> Iterator[Any]:
    """A desktop-sized tab."""
    yield from browser_tab(chromium, problems, viewport={"width": 1280, "height": 860})


@pytest.fixture
def phone(chromium: Any, problems: PageProblems) -> Iterator[Any]:
    """A phone-sized tab."""
    phone_options = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    yield from browser_tab(chromium, problems, **phone_options)


def screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Save the page as artifacts/screenshots/<name>.png (not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
