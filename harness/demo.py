"""``alo185 demo``: the stack up, a few real calls through the IVR, their records in the admin."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from sqlalchemy import select

from alo185 import services
from alo185.calls.models import CallRecord
from alo185.core import ami, db
from alo185.core.settings import Settings
from alo185.org import accounts
from alo185.org.models import Role, User
from alo185.pbx.control import Pbx
from alo185.queues.names import pbx_queues
from harness import simulate
from harness.instance import Stack

# Keys after the recording notice (queues open around the clock): language, then topic.
DEMO_USER = "demo"
DEMO_CALLS = (
    ("1w1w1", "+905321110001"),  # Türkçe, water and sewer, water fault
    ("1w3", "+905321110002"),  # Türkçe, cleaning and waste
    ("2w4", "+905321110003"),  # English, roads
    ("3w7", "+905321110004"),  # Arabic, cemetery and funeral services
)


async def _place_calls(settings: Settings, run_id: str, count: int) -> list[str]:
    stack = Stack(settings, Pbx.locate(settings))
    ids: list[str] = []
    async with ami.session(settings) as manager:
        # An operator of its own per queue: the demo's calls go to different queues and are answered together.
        members = [
            (q, await simulate.add_operator(manager, q, "Demo operatör", ident=i))
            for i, q in enumerate(pbx_queues(), start=1)
        ]
        try:
            for i in range(count):
                keys, caller = DEMO_CALLS[i % len(DEMO_CALLS)]
                ids.append(f"demo-{run_id}-{i + 1}")
                # The demo citizens answer the post-call survey ("2": memnunum) and hang up after it.
                await simulate.call_185(manager, ids[-1], caller, simulate.then_survey(stack.after_notice(keys)))
                await asyncio.sleep(0.5)
            await asyncio.sleep(1)
        finally:
            # Leave the simulated operators in place until the calls are done, then remove them.
            await asyncio.to_thread(_wait_records, stack, ids)
            for queue, interface in members:
                await simulate.remove_operator(manager, queue, interface)
    return ids


def _wait_records(stack: Stack, ids: list[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    for uniqueid in ids:
        with contextlib.suppress(AssertionError):  # the summary below says what is missing
            stack.wait_record(uniqueid, timeout=max(0.1, deadline - time.monotonic()))


def run(settings: Settings, count: int = 4, log: Callable[[str], None] = print) -> list[CallRecord]:
    # The development server: the demo is one person on one machine (``alo185 up`` runs gunicorn).
    settings = settings.replace(admin_server="dev")
    services.up(settings, log)
    run_id = time.strftime("%H%M%S")
    log(f"placing {count} demo calls through 185 (Local channels keying the menu)…")
    ids = asyncio.run(_place_calls(settings, run_id, count))
    with db.session_factory(settings.database_url)() as s:
        records = list(s.scalars(select(CallRecord).where(CallRecord.uniqueid.in_(ids)).order_by(CallRecord.uniqueid)))
    for r in records:
        log(f"  {r.uniqueid}: {r.ivr_path} ({r.lang}) -> {r.queue}, wait {r.wait_s}s, {r.outcome}, {r.duration_s}s")
    missing = len(ids) - sum(1 for r in records if r.ended_at)
    if missing:
        log(f"{missing} call(s) not recorded yet; see {settings.log_dir}")
    log(f"\nCalls: {settings.admin_url}/calls ({_demo_login(settings)})")
    return records


def _demo_login(settings: Settings) -> str:
    """A supervisor account to look at the calls with; its password is shown only when it is made."""
    with db.session_factory(settings.database_url).begin() as s:
        if s.scalar(select(User).where(User.username == DEMO_USER)) is not None:
            return f"log in as {DEMO_USER}; a new password: alo185 user password {DEMO_USER}"
        password = accounts.new_password()
        accounts.create_user(s, DEMO_USER, role=Role.SUPERVISOR, password=password, full_name="Demo süpervizör")
    return f"log in as {DEMO_USER} / {password}"
