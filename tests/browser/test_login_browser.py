"""The login page in a real browser: a wrong password is refused, the right one lands on the role's home."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from alo185.org.models import Role
from harness.instance import Stack
from tests.browser.conftest import add_staff, base_url, log_in


def test_staff_log_in_through_the_form(page: Page, admin_stack: Stack) -> None:
    add_staff(admin_stack, "sema", Role.SUPERVISOR)
    log_in(page, admin_stack, "sema", "yanlış-parola")
    assert page.url.startswith(base_url(admin_stack) + "/login")
    log_in(page, admin_stack, "sema")
    expect(page.get_by_role("button", name="Çıkış")).to_be_visible()
    assert not page.url.startswith(base_url(admin_stack) + "/login")
