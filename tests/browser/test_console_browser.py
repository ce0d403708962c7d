"""The operator console in a real browser: a real call through Asterisk rings the operator's real SIP phone,
the screen-pop appears in the page, and the operator records the ticket from it with one keystroke.

The screen-pop latency is measured from Asterisk's AgentCalled (``ami_ts`` in the pop) to the frame in
which the page shows it (``Date.now()`` in the page, the same machine's clock) and printed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from alo185.calls.models import CallRecord
from alo185.core import bus, db
from alo185.operators import phones
from alo185.org import accounts
from alo185.org.models import Role
from alo185.pbx import control
from alo185.tickets.models import Citizen, Ticket
from alo185.tickets.queries import create_ticket
from harness.instance import Stack
from harness.softphone import Softphone
from tests.browser.conftest import base_url, log_in
from tests.staff import PASSWORD

QUEUE, CATEGORY = "fen", "yol-cukur"  # main menu 4: roads, open around the clock


@dataclass
class Operator:
    username: str
    extension: str
    phone: Softphone


def add_operator(stack: Stack, username: str, skills: dict[str, int]) -> str:
    """An operator user with the next free extension and ``skills``; the PBX renders their endpoint."""
    with db.session_factory(stack.settings.database_url).begin() as session:
        user = accounts.create_user(session, username, role=Role.OPERATOR, password=PASSWORD, full_name="Ayşe Yılmaz")
        phones.set_skills(session, user, skills)
        extension = user.extension
    assert extension and control.reload_phones(stack.settings)
    return extension


@pytest.fixture
def operator(admin_stack: Stack) -> Iterator[Operator]:
    username = f"op{time.time_ns() % 10**8}"
    extension = add_operator(admin_stack, username, {QUEUE: 0})
    phone = Softphone(admin_stack.settings, extension, admin_stack.settings.sip_password(extension))
    phone.start()
    try:
        yield Operator(username, extension, phone)
    finally:
        phone.stop()


def place_call(stack: Stack, keys: str, caller: str) -> str:
    """``Stack.call`` in a thread: Playwright's sync API keeps an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(stack.call, keys, caller).result()


def go_ready(page: Page) -> None:
    """The console shows the phone registered and the stream open; the operator joins their queues."""
    expect(page.locator("#registration")).to_have_text("kayıtlı", timeout=20_000)
    expect(page.locator("#console")).to_have_attribute("data-stream", "open", timeout=10_000)
    page.get_by_role("button", name="Hazırım").click()
    expect(page.locator("#agent-state")).to_have_text("hazır", timeout=15_000)


def pop_latency_ms(page: Page) -> tuple[float, float]:
    """(AgentCalled -> rendered, AgentCalled -> painted) of the pop on screen, in ms."""
    pop = page.locator("#screenpop")
    expect(pop).to_have_attribute("data-painted-ms", re.compile(r"\d+"), timeout=5_000)
    ami_ms = float(pop.get_attribute("data-ami-ts") or 0) * 1000
    return float(pop.get_attribute("data-rendered-ms") or 0) - ami_ms, float(
        pop.get_attribute("data-painted-ms") or 0
    ) - ami_ms


def test_a_real_call_pops_on_the_console_and_the_operator_records_the_ticket_with_one_key(
    page: Page, admin_stack: Stack, operator: Operator, artifacts: Path
) -> None:
    stack, caller = admin_stack, "+905328880042"
    with db.session_factory(stack.settings.database_url).begin() as s:
        s.add(Citizen(phone=caller, full_name="Hatice Arslan"))
        s.flush()
        earlier = create_ticket(s, phone=caller, category_code="cop-toplama", description="Çöp", channel="web").number

    log_in(page, stack, operator.username)
    assert page.url == base_url(stack) + "/console"  # the operator's home
    expect(page.get_by_role("heading", name="Operatör konsolu")).to_be_visible()
    expect(page.locator("#extension")).to_have_text(operator.extension)
    go_ready(page)

    # Türkçe; the IVR offers the open ticket first: 2 for the menu, then 4 (roads).
    uniqueid = place_call(stack, stack.after_notice("1w2w4"), caller)
    pop = page.locator("#screenpop")
    try:
        expect(pop).to_have_attribute("data-uniqueid", uniqueid, timeout=60_000)
    except AssertionError:
        live = cast(str | None, bus.connect(stack.settings.redis_connection_url).get(bus.LIVE_QUEUES))  # decoded
        raise AssertionError(f"no pop for {uniqueid}: {stack.events(uniqueid)}; live: {live}") from None
    expect(pop).to_be_visible()
    rendered_ms, painted_ms = pop_latency_ms(page)
    print(f"\nscreen-pop in the browser: AgentCalled -> rendered {rendered_ms:.1f} ms, -> painted {painted_ms:.1f} ms")
    assert 0 <= rendered_ms <= painted_ms < 5_000
    expect(page.locator("#pop-caller")).to_have_text("+90 532 888 00 42")  # operators see the full number
    expect(page.locator("#pop-who")).to_have_text("Hatice Arslan")
    expect(page.locator("#pop-open")).to_contain_text(earlier)
    expect(page.locator("#pop-category")).to_have_text("Yolda çukur / bozulma")
    expect(page.locator("#pop-path")).to_have_text("kvkk › language:1 › open_ticket:2 › main:4")
    expect(page.locator("#pop-lang")).to_have_text("Türkçe")
    expect(page.locator("#pop-callback")).to_have_text("hayır")

    # One keystroke: the new-ticket form, pre-filled with the caller and the IVR's topic.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    form = page.locator("#new-ticket")
    expect(form).to_be_visible()
    expect(page.get_by_label("Telefon", exact=True)).to_have_value(caller)
    expect(page.get_by_label("Kategori")).to_have_value(CATEGORY)
    expect(page.get_by_label("Açıklama")).to_be_focused()
    page.keyboard.type("Mahallede yol çöktü, araçlar geçemiyor.")
    loaded = page.evaluate("performance.timeOrigin")
    page.get_by_role("button", name="Başvuruyu kaydet").click()
    result = page.locator("#ticket-result")
    expect(result).to_contain_text("Başvuru kaydedildi:")
    number = result.get_attribute("data-number")
    assert number and page.evaluate("performance.timeOrigin") == loaded  # no page reload

    with db.session_factory(stack.settings.database_url)() as s:
        ticket = s.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None and ticket.citizen is not None
        assert (ticket.citizen.phone, ticket.category.code, ticket.channel.value) == (caller, CATEGORY, "phone")
        assert ticket.call_uniqueid == uniqueid and ticket.description.startswith("Mahallede yol")

    # The wrap-up code (pre-chosen once the ticket is recorded) is stored on the call the operator answered.
    expect(page.get_by_label("Çağrı sonucu")).to_have_value("basvuru-kaydedildi")
    stack.wait_record(uniqueid, done=lambda r: r.answered_by == operator.username, timeout=15)
    page.get_by_role("button", name="Sonucu kaydet").click()
    expect(page.locator("#wrap-up-result")).to_have_text("Çağrı sonucu kaydedildi.")
    with db.session_factory(stack.settings.database_url)() as s:
        record = s.scalar(select(CallRecord).where(CallRecord.uniqueid == uniqueid))
        assert record is not None and record.wrap_up_code == "basvuru-kaydedildi"

    page.screenshot(path=str(artifacts / "console.png"), full_page=True)
    operator.phone.hangup()
    page.get_by_role("button", name="Kuyruklardan çık").click()
    expect(page.locator("#agent-state")).to_have_text("kuyrukta değil", timeout=15_000)
