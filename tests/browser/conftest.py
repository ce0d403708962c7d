"""Real-browser fixtures: Debian's chromium driven by Playwright, against a running instance's admin.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (the ``chromium``
package). Screenshots go to ``test-artifacts/`` at the top of the checkout, kept after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

from alo185.core import db
from alo185.org import accounts
from alo185.org.models import Role
from alo185.voicemail.model_files import packaged_model
from harness.instance import Stack, isolated_settings, running_stack
from tests.staff import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: while Playwright's sync API runs, its event loop is this thread's, and the tests that
    follow (``asyncio.run`` in ``Stack``) need the thread back."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def admin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Asterisk, Redis, the database and every alo185 process, the admin included, served over HTTP."""
    settings = isolated_settings(tmp_path_factory.mktemp("browser"), vosk_model=packaged_model())
    with running_stack(settings, with_admin=True) as stack:
        yield stack


def base_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.settings.admin_port}"


def add_staff(stack: Stack, username: str, role: Role | str, directorate_code: str | None = None) -> None:
    with db.session_factory(stack.settings.database_url).begin() as session:
        accounts.create_user(session, username, role=role, password=PASSWORD, directorate_code=directorate_code)


def log_in(page: Page, stack: Stack, username: str, password: str = PASSWORD) -> None:
    """Through the real login form, as a person would."""
    page.goto(base_url(stack) + "/login")
    page.get_by_label("Kullanıcı adı").fill(username)
    page.get_by_label("Parola").fill(password)
    page.get_by_role("button", name="Giriş").click()
    page.wait_for_load_state()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    viewport: ViewportSize = {"width": 1366, "height": 900}
    context = browser.new_context(locale="tr-TR", timezone_id="Europe/Istanbul", viewport=viewport)
    try:
        yield context.new_page()
    finally:
        context.close()
