"""Stopping and restarting an instance cuts no call and writes every record as the call went.

``down`` stops the PBX first and gracefully: a call in talk and a queued one go on to their end,
which the queue manager and the recorder, still running, record; a new caller meanwhile is refused
(503, on which a carrier routes to its fallback); a call still up at the deadline is cut, and its
record says when and why. ``restart --python`` replaces alo185's processes with a caller waiting
and then talking, and the call goes on untouched.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alo185 import services
from alo185.core import ami, db, procs
from alo185.org import accounts
from alo185.pbx.control import CUT_CAUSE, STOPPING
from harness import simulate
from harness.instance import Stack, isolated_settings, running_stack
from harness.softphone import Softphone

QUEUE = "temizlik"  # main menu 3
OPERATOR = "Uzun Konuşan"


def _operator(stack: Stack, talk_s: int, paused: bool = False) -> str:
    """One simulated operator in ``QUEUE`` who talks ``talk_s`` s (longer than any caller here stays)."""

    async def _go() -> str:
        async with ami.session(stack.settings) as manager:
            interface = await simulate.add_operator(manager, QUEUE, OPERATOR, talk_s=talk_s, ident=5)
            pause = {"Action": "QueuePause", "Queue": QUEUE, "Interface": interface, "Paused": str(paused).lower()}
            await ami.action(manager, pause)
            return interface

    return asyncio.run(_go())


def _caller_leaving(stack: Stack, after_s: float, number: int = 0) -> str:
    """A caller for ``QUEUE`` who hangs up about ``after_s`` seconds after choosing it."""
    return stack.call(stack.after_notice("1w3", after_s), caller=f"+90532777001{number}", hang_up=True)


def _answered(stack: Stack, uniqueid: str) -> None:
    assert procs.wait_until(lambda: bool((r := stack.record(uniqueid)) and r.answered), 90), stack.events(uniqueid)


def _hotline_closed(stack: Stack) -> bool:
    return f"{STOPPING}=1" in stack.pbx.cli("dialplan show globals")


def _phone(stack: Stack) -> Softphone:
    """A registered SIP phone that may dial 185, as a citizen's call from a trunk would come in."""
    with db.session_factory(stack.settings.database_url).begin() as session:
        accounts.create_user(session, "ayse", role="operator", password="parola-1234567", extension="1001")
    stack.pbx.reload_phones()
    phone = Softphone(stack.settings, "1001", stack.settings.sip_password("1001"))
    phone.start()
    assert procs.wait_until(lambda: "1001/sip:" in stack.pbx.cli("pjsip show contacts"), 20), "no registration"
    return phone


def test_down_waits_for_the_calls_refuses_new_ones_and_records_each_end(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings) as stack:
        phone = _phone(stack)
        try:
            _operator(stack, talk_s=6)
            talking = _caller_leaving(stack, after_s=12, number=1)
            queued = _caller_leaving(stack, after_s=24, number=2)  # the operator's next call
            _answered(stack, talking)
            assert procs.wait_until(lambda: stack.channel_app(queued) == "Queue", 30), stack.events(queued)

            said: list[str] = []
            down = threading.Thread(target=services.down, args=(settings, said.append), kwargs={"deadline_s": 120})
            asked = datetime.now(UTC)
            down.start()
            assert procs.wait_until(lambda: _hotline_closed(stack), 10, interval=0.2), said
            assert phone.dial("185")["ok"]
            assert procs.wait_until(lambda: "CALL_CLOSED" in phone.event_types(), 15), phone.events
            closed = next(e for e in phone.events if e.get("type") == "CALL_CLOSED")
            assert "503" in str(closed.get("param")), closed  # refused: the carrier's fallback takes it
            down.join(timeout=150)
            stopped = datetime.now(UTC)
        finally:
            phone.stop()
        assert not down.is_alive(), said

        # Both calls ran their course during the stop, recorded by the processes stopped after Asterisk.
        assert said.index("stopped asterisk") < said.index("stopped queue") < said.index("stopped recorder"), said
        for uniqueid in (talking, queued):
            record = stack.record(uniqueid)
            assert record is not None and record.ended_at is not None, stack.events(uniqueid)
            assert record.end_cause == "16" and record.outcome == "answered", (record.end_cause, record.outcome)
            assert asked < record.ended_at < stopped, (asked, record.ended_at, stopped)
            assert record.talk_s is not None and record.talk_s >= 5, record.talk_s
            assert record.started_at is not None and record.duration_s is not None
            assert abs(record.duration_s - (record.ended_at - record.started_at).total_seconds()) < 0.01
        answered = stack.record(queued)
        assert answered is not None and answered.answered_at is not None and answered.answered_at > asked


def test_a_call_still_up_at_the_deadline_is_cut_and_its_record_says_when_and_why(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings) as stack:
        _operator(stack, talk_s=300)
        talking = stack.call(stack.after_notice("1w3"), caller="+905327770013")  # stays on the line
        _answered(stack, talking)
        asked = datetime.now(UTC)
        services.down(settings, log=lambda _msg: None, deadline_s=3)
        stopped = datetime.now(UTC)
        assert stopped - asked < timedelta(seconds=30)

        record = stack.record(talking)
        assert record is not None and record.ended_at is not None, stack.events(talking)
        assert record.end_cause == CUT_CAUSE and record.outcome == "answered", (record.end_cause, record.outcome)
        assert asked + timedelta(seconds=3) <= record.ended_at < asked + timedelta(seconds=10), (asked, record.ended_at)


def test_restarting_the_python_processes_touches_no_call(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings) as stack:
        interface = _operator(stack, talk_s=300, paused=True)
        caller = _caller_leaving(stack, after_s=40)
        assert procs.wait_until(lambda: stack.channel_app(caller) == "Queue", 60), stack.events(caller)
        # A second caller listens to the IVR's first prompts and hangs up there, during the restart.
        in_ivr = stack.call(stack.keys(8), caller="+905327770019", hang_up=True)
        assert procs.wait_until(lambda: stack.channel_app(in_ivr) == "AGI", 30), stack.events(in_ivr)
        before = services.status(settings)

        services.restart_processes(settings, log=lambda _msg: None)  # waiting in the queue; in the IVR
        after = services.status(settings)
        assert after["asterisk"] == before["asterisk"]
        assert all(after[s.name] not in (None, before[s.name]) for s in services.PROCESSES), (before, after)
        assert stack.channel_app(caller) == "Queue"
        # Its IVR session ran on to the hang-up: a session cut would have sent it on to the operators' queue.
        ivr_record = stack.wait_record(in_ivr, timeout=30)
        assert (ivr_record.agi_status, ivr_record.queue, ivr_record.end_cause, ivr_record.outcome) == (
            None,
            None,
            "16",
            "ended",
        ), stack.events(in_ivr)

        stack.ami({"Action": "QueuePause", "Queue": QUEUE, "Interface": interface, "Paused": "false"})
        _answered(stack, caller)
        services.restart_processes(settings, log=lambda _msg: None)  # talking
        assert stack.channel_app(caller) == "Queue"

        record = stack.wait_record(caller, timeout=60)
        assert record.end_cause == "16" and record.outcome == "answered", (record.end_cause, record.outcome)
        assert record.answered_by == OPERATOR and record.queue == QUEUE
        assert record.talk_s is not None and record.talk_s > 3 and record.wait_s is not None and record.wait_s > 3
