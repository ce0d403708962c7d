"""The queue manager killed during calls: every call record, and the 15-minute figures, as without the crash.

The same three calls run three times on one instance: undisturbed; with the queue manager SIGKILLed before
they start and brought back after they ended (it sees none of their AMI events); and killed while the
first caller talks to the operator. At its return it rebuilds what it missed from Asterisk's queue_log
(``alo185.calls.rebuild``). Each disturbed record is compared field by field with its undisturbed twin,
in a normalised form (the runs' own uniqueids and clock times aside), and so are the intervals' counts.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alo185 import services
from alo185.calls.models import CallRecord
from alo185.core import bus, db, procs
from alo185.queues.intervals import SUMMED
from alo185.queues.models import QueueInterval
from harness import simulate
from harness.instance import Stack, isolated_settings, running_stack

ANSWERED_QUEUE, WAITING_QUEUE = "su", "temizlik"
# Seconds two runs of the same scripted call may differ by, whoever recorded them: the waits, talk times and
# durations are Asterisk's whole seconds (AgentConnect/queue_log) or the caller's hang-up, and each run's IVR
# and ring take their own fraction of a second longer or shorter on a loaded machine. A record left damaged is
# far off (no duration or wait at all, an end at the queue manager's return, "lost").
TOLERANCE_S = 2.0
EXACT = (
    "caller",
    "digit",
    "queue",
    "agi_status",
    "lang",
    "ivr_path",
    "kvkk_version",
    "category",
    "caller_kind",
    "ivr_action",
    "ivr_reason",
    "talk_source",
    "answered",
    "answered_by",
    "abandoned",
    "outcome",
    "end_cause",
    "hold_s",
    "wrap_up_code",
)
TIMED = ("wait_s", "talk_s", "duration_s")
PRESENT = ("linkedid", "started_at", "ended_at", "answered_at", "recording_ref")


def _staff(stack: Stack) -> None:
    """One operator who talks longer than any caller stays (the caller hangs up: no survey), and one on a break."""
    talker, resting = simulate.SIM_OPERATOR.format(talk=60, ident=1), simulate.SIM_OPERATOR.format(talk=2, ident=2)
    stack.ami(
        {"Action": "QueueAdd", "Queue": ANSWERED_QUEUE, "Interface": talker, "MemberName": "Sabırlı"},
        {"Action": "QueueAdd", "Queue": WAITING_QUEUE, "Interface": resting, "MemberName": "Molada"},
        {"Action": "QueuePause", "Queue": WAITING_QUEUE, "Interface": resting, "Paused": "true", "Reason": "mola"},
    )


def _calls(stack: Stack) -> dict[str, str]:
    """The run's calls, by what each is: answered and talking ~5 s; waiting ~6 s and
    abandoning (not a short abandon: 5 s); gone during the recording notice."""
    return {
        "answered": stack.call(stack.after_notice("1w1w1WW"), caller="+905321110001", hang_up=True),
        "abandoned": stack.call(stack.after_notice("1w3WW"), caller="+905321110002", hang_up=True),
        "ivr": stack.call("WW", caller="+905321110003", hang_up=True),
    }


def _normal(record: CallRecord) -> dict[str, Any]:
    """The record's facts without the run's identity: ids and clock times only present or not."""
    fields: dict[str, Any] = {name: getattr(record, name) for name in EXACT + TIMED}
    fields |= {f"has_{name}": getattr(record, name) is not None for name in PRESENT}
    fields["linkedid_is_uniqueid"] = record.linkedid == record.uniqueid
    return fields


def _differences(undisturbed: dict[str, Any], other: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    def _same(name: str) -> bool:
        a, b = undisturbed[name], other[name]
        if name in TIMED and a is not None and b is not None:
            return abs(a - b) <= TOLERANCE_S
        return bool(a == b)

    return {name: (undisturbed[name], other[name]) for name in undisturbed if not _same(name)}


def _interval_totals(stack: Stack) -> dict[str, dict[str, float]]:
    with db.session_factory(stack.settings.database_url)() as session:
        rows = session.scalars(select(QueueInterval)).all()
        totals: dict[str, dict[str, float]] = {}
        for row in rows:
            queue = totals.setdefault(row.queue, dict.fromkeys(SUMMED, 0.0))
            for name in SUMMED:
                queue[name] += getattr(row, name)
        return totals


def _run(stack: Stack, disturb: Callable[[dict[str, str]], None] | None = None) -> tuple[dict, dict]:
    """The calls, disturbed or not; their normalised records and what the run added to the intervals."""
    before = _interval_totals(stack)
    calls = _calls(stack)
    if disturb is not None:
        disturb(calls)
    for uniqueid in calls.values():
        stack.wait_until_gone(uniqueid, timeout=90)
    for uniqueid in calls.values():
        stack.wait_record(uniqueid, timeout=60)
    stack.wait_recorded()
    records = {kind: stack.record(uniqueid) for kind, uniqueid in calls.items()}  # once everything is folded
    after = _interval_totals(stack)
    added = {
        queue: {name: round(value - before.get(queue, {}).get(name, 0.0), 3) for name, value in totals.items()}
        for queue, totals in after.items()
    }
    return {kind: _normal(r) for kind, r in records.items() if r is not None}, added


def _kill_queue_manager(stack: Stack) -> None:
    pid = procs.running_pid(stack.settings, "queue")
    assert pid is not None, "the queue manager should be running"
    os.kill(pid, signal.SIGKILL)
    assert procs.wait_until(lambda: not procs.alive(pid), 10)
    bus.connect(stack.settings.redis_connection_url).delete(bus.QUEUE_MANAGER_ALIVE)  # as its TTL would, later


def _restart_queue_manager(stack: Stack) -> None:
    services.start_process(stack.settings, services.process("queue"))  # ready: logged in and resynchronised


def test_records_and_figures_after_a_queue_manager_crash_equal_the_undisturbed(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings) as stack:
        _staff(stack)
        undisturbed, undisturbed_added = _run(stack)
        print(f"\nundisturbed: {undisturbed}\nintervals: {undisturbed_added}")
        assert undisturbed["answered"]["outcome"] == "answered", undisturbed
        assert undisturbed["abandoned"]["outcome"] == "abandoned", undisturbed
        assert undisturbed["ivr"]["outcome"] == "ended", undisturbed

        def _down_throughout(calls: dict[str, str]) -> None:
            _kill_queue_manager(stack)  # the calls' AMI events are all missed: before they reach the queue, to the end
            for uniqueid in calls.values():
                stack.wait_until_gone(uniqueid, timeout=90)
            _restart_queue_manager(stack)

        def _down_mid_talk(calls: dict[str, str]) -> None:
            talking = calls["answered"]
            assert procs.wait_until(lambda: bool((r := stack.record(talking)) and r.answered), 60), stack.events(
                talking
            )
            _kill_queue_manager(stack)
            for uniqueid in calls.values():
                stack.wait_until_gone(uniqueid, timeout=90)
            _restart_queue_manager(stack)

        compared, differing = 0, []
        for name, disturb in (("down throughout", _down_throughout), ("down mid-talk", _down_mid_talk)):
            records, added = _run(stack, disturb)
            for kind, facts in undisturbed.items():
                compared += 1
                diff = _differences(facts, records.get(kind, dict.fromkeys(facts)))
                if diff:
                    differing.append((name, kind, diff))
            for queue, totals in undisturbed_added.items():
                for field, value in totals.items():
                    got = added.get(queue, {}).get(field, 0.0)
                    timed = field.endswith("_sum_s")
                    if abs(got - value) > (TOLERANCE_S if timed else 0):
                        differing.append((name, f"interval {queue}", {field: (value, got)}))
        records_differing = sum(1 for _name, kind, _diff in differing if not kind.startswith("interval"))
        print(f"\n{compared} records compared with their undisturbed twins: {records_differing} differ;", end=" ")
        print(f"{len(differing) - records_differing} interval figures differ")
        assert not differing, differing
