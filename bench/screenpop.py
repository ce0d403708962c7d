"""Screen-pop latency in a real browser: from Asterisk's AgentCalled to the pop shown in the operator's console.

A whole instance (real Asterisk, IVR, queue manager, recorder, the admin over HTTP) with one operator
user on a real SIP phone (baresip, auto-answer) logged into the console in Debian's Chromium
(Playwright, headless) and ready in the roads queue. Citizens call 185 one after another a few seconds
apart, walk the real menu (recording notice, language, topic: several are in the IVR at once), ring
the operator, talk a moment and hang up. For each call the page notes ``Date.now()`` when the pop is
rendered and in the next animation frame (painted); the latency is that minus the pop's ``ami_ts``
(Asterisk's event time, the same machine's clock). ``published`` is the queue manager's share:
AgentCalled to the pop on Redis.

Quick mode: 5 calls (40 in a full run).
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect, sync_playwright

from alo185.core import db
from alo185.operators import phones
from alo185.org import accounts
from alo185.org.models import Role
from alo185.pbx import control
from bench.common import percentile
from harness.instance import Stack, isolated_settings, running_stack
from harness.softphone import Softphone

CHROMIUM = "/usr/bin/chromium"
QUEUE = "fen"  # main menu 4: roads, open around the clock
SPACING_S = 6.0  # between calls: the previous caller has talked and hung up when the next one rings
TALK_KEYS = "W" * 2  # the caller stays about 5 s after choosing the topic (hang_up: 4 s after the last key)
POP_TIMEOUT_S = 60.0
GOAL_P95_MS = 100.0


def _operator(stack: Stack) -> tuple[str, str, str]:
    """(username, password, extension) of a new operator in ``QUEUE``; the PBX renders their endpoint."""
    password = accounts.new_password()
    with db.session_factory(stack.settings.database_url).begin() as session:
        user = accounts.create_user(session, "bench-operator", role=Role.OPERATOR, password=password)
        phones.set_skills(session, user, {QUEUE: 0})
        extension = user.extension
    if not extension or not control.reload_phones(stack.settings):
        raise RuntimeError("the operator's SIP endpoint was not rendered")
    return "bench-operator", password, extension


def _console(page: Page, base: str, username: str, password: str) -> None:
    """Log in through the form, wait for the phone and the pop stream, and go ready."""
    page.goto(base + "/login")
    page.get_by_label("Kullanıcı adı").fill(username)
    page.get_by_label("Parola").fill(password)
    page.get_by_role("button", name="Giriş").click()
    page.wait_for_url(base + "/console")
    expect(page.locator("#registration")).to_have_text("kayıtlı", timeout=20_000)
    expect(page.locator("#console")).to_have_attribute("data-stream", "open", timeout=10_000)
    page.get_by_role("button", name="Hazırım").click()
    expect(page.locator("#agent-state")).to_have_text(re.compile("hazır"), timeout=15_000)


def _place_calls(stack: Stack, count: int, placed: list[str], failures: list[str]) -> None:
    """The callers, ``SPACING_S`` apart (a thread: Playwright's sync API holds an event loop in the main one)."""
    keys = stack.after_notice("1w4", TALK_KEYS)
    start = time.monotonic()
    for i in range(count):
        time.sleep(max(0.0, start + i * SPACING_S - time.monotonic()))
        try:
            placed.append(stack.call(keys, caller=f"+90532{4400000 + i}", hang_up=True))
        except Exception as exc:  # reported in the figures; the run goes on
            failures.append(repr(exc))


def _ms(values: list[float], pct: float) -> float | None:
    found = percentile(values, pct)
    return None if found is None else round(found, 1)


def run(quick: bool = False) -> dict[str, Any]:
    calls = 5 if quick else 40
    with (
        tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp,
        running_stack(isolated_settings(Path(tmp)), with_admin=True) as stack,
    ):
        username, password, extension = _operator(stack)
        phone = Softphone(stack.settings, extension, stack.settings.sip_password(extension))
        phone.start()
        try:
            pops, placed, failures = _measure(stack, calls, username, password)
        finally:
            phone.stop()
    shown = {p["uniqueid"]: p for p in pops if p.get("painted_ms") is not None}
    measured = [shown[u] for u in placed if u in shown]
    painted = [p["painted_ms"] - p["ami_ts"] * 1000 for p in measured]
    rendered = [p["rendered_ms"] - p["ami_ts"] * 1000 for p in measured]
    published = [(p["published_ts"] - p["ami_ts"]) * 1000 for p in measured if p.get("published_ts")]
    p95 = _ms(painted, 95)
    return {
        "calls": calls,
        "popped": len(measured),
        "missed": calls - len(measured),
        "call_failures": failures,
        "screenpop_p50_ms": _ms(painted, 50),
        "screenpop_p95_ms": p95,
        "screenpop_max_ms": _ms(painted, 100),
        "rendered_p50_ms": _ms(rendered, 50),
        "rendered_p95_ms": _ms(rendered, 95),
        "published_p50_ms": _ms(published, 50),
        "published_p95_ms": _ms(published, 95),
        "goal_p95_ms": GOAL_P95_MS,
        "goal_met": p95 is not None and p95 <= GOAL_P95_MS,
        "spacing_s": SPACING_S,
        "measured_to": "the animation frame after the pop is rendered (Date.now() in the page)",
    }


def _measure(stack: Stack, calls: int, username: str, password: str) -> tuple[list[dict], list[str], list[str]]:
    base = f"http://127.0.0.1:{stack.settings.admin_port}"
    placed: list[str] = []
    failures: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(locale="tr-TR", viewport={"width": 1366, "height": 900}).new_page()
            _console(page, base, username, password)
            caller = threading.Thread(target=_place_calls, args=(stack, calls, placed, failures), daemon=True)
            caller.start()
            deadline = time.monotonic() + calls * SPACING_S + POP_TIMEOUT_S
            while time.monotonic() < deadline:
                done = page.evaluate("window.alo185Console.pops.filter((p) => p.painted_ms).map((p) => p.uniqueid)")
                if not caller.is_alive() and set(placed) <= set(done):
                    break
                page.wait_for_timeout(500)
            caller.join(5)
            pops: list[dict] = page.evaluate("window.alo185Console.pops")
        finally:
            browser.close()
    return pops, placed, failures
