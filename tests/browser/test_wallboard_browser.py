"""The supervisor's wallboard in a real browser against a running instance: a real call through Asterisk
joins a queue and leaves it, and the page follows without a reload; pausing an operator from the board
goes through the queue manager and comes back as the operator's new state.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Page, expect

from alo185.core import ami, bus, db
from alo185.operators import phones, queue_commands
from alo185.org import accounts
from alo185.org.models import Role
from harness import simulate
from harness.instance import Stack
from tests.browser.conftest import add_staff, base_url, log_in
from tests.staff import PASSWORD

QUEUE = "temizlik"  # "1w3": Turkish, then 3 in the main menu
R = TypeVar("R")


def _off_loop(work: Callable[[], R]) -> R:
    """Playwright's sync API keeps an event loop running in this thread; AMI work runs in another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result()


def _operator_user(stack: Stack, username: str, full_name: str) -> str:
    """An operator user with a skill in QUEUE; returns the phone extension."""
    with db.session_factory(stack.settings.database_url).begin() as session:
        user = accounts.create_user(session, username, role=Role.OPERATOR, password=PASSWORD, full_name=full_name)
        phones.set_skills(session, user, {QUEUE: 0})
        assert user.extension
        return user.extension


def _paused_sim_operator(stack: Stack) -> None:
    """Someone logged in but on a break: the IVR sends callers to the queue, and there they wait."""

    async def _go() -> None:
        async with ami.session(stack.settings) as manager:
            interface = await simulate.add_operator(manager, QUEUE, "Molada", talk_s=2, ident=31)
            pause = {"Action": "QueuePause", "Queue": QUEUE, "Interface": interface, "Paused": "true", "Reason": "mola"}
            await ami.action(manager, pause)

    asyncio.run(_go())


def _hang_up(stack: Stack, uniqueid: str) -> None:
    """The caller gives up: the channel with this uniqueid is hung up."""
    for line in stack.pbx.cli("core show channels concise").splitlines():
        fields = line.split("!")
        if len(fields) > 13 and fields[13] == uniqueid:
            stack.pbx.cli(f"channel request hangup {fields[0]}")
            return
    raise AssertionError(f"no channel with uniqueid {uniqueid}")


def test_the_wallboard_follows_a_real_call_and_pauses_an_operator(
    page: Page, admin_stack: Stack, artifacts: Path
) -> None:
    stack = admin_stack
    add_staff(stack, "pano", Role.SUPERVISOR)
    extension = _operator_user(stack, "wbop", "Duvar Operatörü")
    _off_loop(lambda: _paused_sim_operator(stack))
    redis = bus.connect(stack.settings.redis_connection_url)
    login = queue_commands.run(redis, queue_commands.make("login", extension, by="test"), 10)
    assert login is not None and login["ok"], login

    log_in(page, stack, "pano")
    assert page.url == base_url(stack) + "/wallboard"  # the supervisor's home page
    expect(page.get_by_role("heading", name="Duvar panosu")).to_be_visible()
    expect(page.locator("#wb-conn")).to_have_text("Canlı")
    page.evaluate("window.__noReload = true")
    row = page.locator(f'#wb-queues tbody tr[data-queue="{QUEUE}"]')
    expect(page.locator("#wallboard[data-today-at]")).to_have_count(1)  # today's figures are in
    expect(row.locator("td.waiting")).to_have_text("0")
    abandoned_before = int(row.locator("td.c-abandoned").inner_text())

    # Pause from the board: the command goes to the queue manager, Asterisk pauses the member, and the
    # new state comes back over the live stream.
    operator = page.locator('#wb-operators tr[data-user="wbop"]')
    expect(operator.locator(".state")).to_have_text("Ulaşılamıyor")  # logged in, no phone registered
    operator.get_by_label("Mola nedeni").select_option("egitim")
    operator.get_by_role("button", name="Mola ver").click()
    expect(operator.locator(".state")).to_have_text("Molada (Eğitim)", timeout=10_000)
    expect(page.locator("#wb-message")).to_have_text("Mola verildi: wbop")
    expect(operator.get_by_role("button", name="Mola ver")).to_be_disabled()
    operator.get_by_role("button", name="Molayı bitir").click()
    expect(operator.locator(".state")).to_have_text("Ulaşılamıyor", timeout=10_000)

    # A real call through the IVR into a queue where nobody can answer: it waits.
    uniqueid = _off_loop(lambda: stack.call(stack.after_notice("1w3"), caller="+905327771234"))
    expect(row.locator("td.waiting")).to_have_text("1", timeout=60_000)
    expect(page.locator("#wb-queues tfoot td.waiting")).to_have_text("1")
    first = row.locator("td.longest").inner_text()
    page.wait_for_timeout(1500)
    assert row.locator("td.longest").inner_text() != first  # the wait ticks in the page
    page.screenshot(path=str(artifacts / "wallboard.png"), full_page=True)

    page.wait_for_timeout(6000)  # well past the 5-s short-abandon threshold: a real abandon
    _hang_up(stack, uniqueid)
    expect(row.locator("td.waiting")).to_have_text("0", timeout=15_000)
    expect(row.locator("td.c-abandoned")).to_have_text(str(abandoned_before + 1), timeout=20_000)
    record = stack.wait_record(uniqueid, timeout=20)
    assert record.queue == QUEUE and record.abandoned and not record.answered
    sl = row.locator("td.sl-target")  # nobody answered: SL 0, under the goal, said in words too
    expect(sl).to_have_class(re.compile(r"\bsl-bad\b"))
    expect(sl).to_contain_text("hedefin altında")
    expect(page.locator("#wb-chart rect")).not_to_have_count(0)  # today's call in the 15-minute chart

    # The wall screen: large type, no navigation, no actions.
    page.get_by_role("button", name="Büyük yazı").click()
    expect(page.get_by_role("button", name="Büyük yazı")).to_have_attribute("aria-pressed", "true")
    assert "large=1" in page.url
    expect(page.locator("body > header")).to_be_hidden()
    expect(operator.get_by_role("button", name="Kuyruk değiştir")).to_be_hidden()
    page.screenshot(path=str(artifacts / "wallboard-large.png"), full_page=True)

    # Move the operator to another queue: the skills change and the queue manager moves the phone now.
    page.get_by_role("button", name="Büyük yazı").click()
    operator.get_by_role("button", name="Kuyruk değiştir").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Çıkacağı kuyruk")).to_have_value(QUEUE)
    dialog.get_by_label("Gireceği kuyruk").select_option("genel")
    dialog.get_by_role("button", name="Taşı").click()
    expect(page.locator("#wb-message")).to_have_text("Kuyruk değişti ve hemen uygulandı: wbop → genel")
    expect(operator.locator(".queues")).to_have_text("genel", timeout=10_000)
    assert page.evaluate("window.__noReload") is True  # every change came without a reload
