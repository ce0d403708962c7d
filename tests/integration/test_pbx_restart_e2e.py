"""Asterisk dies with callers waiting and comes back: the live state and the call records hold nothing stale.

Asterisk is killed (SIGKILL), so it sends no leave or hang-up events: only the queue manager's resync
on reconnecting (QueueStatus, CoreShowChannels) can clear the two waiting callers and close their records,
which end when Asterisk died (the queue manager lost AMI then), not at the resync after the downtime.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from alo185.core import ami, bus, procs
from alo185.core.settings import Settings
from harness import simulate
from harness.instance import isolated_settings, running_stack

DOWNTIME_S = 3  # Asterisk stays down a while, as after a crash


def _waiting(redis, queue: str) -> set[str]:
    live = json.loads(redis.get(bus.LIVE_QUEUES) or "{}")
    return {c["uniqueid"] for c in live.get(queue, {}).get("callers", [])}


def _paused_operator(settings: Settings, queue: str) -> None:
    """One logged-in operator on a break: the IVR sends callers to the queue, and there they wait."""

    async def _go() -> None:
        async with ami.session(settings) as manager:
            interface = await simulate.add_operator(manager, queue, "Molada", talk_s=2, ident=7)
            pause = {"Action": "QueuePause", "Queue": queue, "Interface": interface, "Paused": "true", "Reason": "mola"}
            await ami.action(manager, pause)

    asyncio.run(_go())


def test_a_restart_with_callers_waiting_leaves_nothing_stale(tmp_path: Path) -> None:
    settings = isolated_settings(tmp_path)
    with running_stack(settings) as stack:
        redis = bus.connect(settings.redis_connection_url)
        _paused_operator(settings, "temizlik")
        callers = [stack.call(stack.after_notice("1w3"), caller=f"+90532777000{i}") for i in range(2)]
        assert procs.wait_until(lambda: _waiting(redis, "temizlik") == set(callers), 120), _waiting(redis, "temizlik")

        pid = procs.running_pid(settings, "asterisk")
        assert pid is not None
        killed = datetime.now(UTC)
        os.kill(pid, signal.SIGKILL)
        assert procs.wait_until(lambda: not procs.alive(pid), 10)
        assert _waiting(redis, "temizlik") == set(callers)  # nobody told the queue manager
        time.sleep(DOWNTIME_S)
        restarted = datetime.now(UTC)
        stack.pbx.start()

        assert procs.wait_until(lambda: not _waiting(redis, "temizlik"), 60), _waiting(redis, "temizlik")
        for uniqueid in callers:
            record = stack.wait_record(uniqueid, timeout=60)
            fields = (record.outcome, record.end_cause, record.started_at, record.ended_at, killed, restarted)
            assert record.ended_at is not None and record.outcome == "lost", fields
            assert record.end_cause == "pbx_lost" and record.queue == "temizlik" and not record.answered, fields
            # When Asterisk died, not at the resync (after the downtime and the boot): the duration has no downtime.
            assert killed <= record.ended_at < restarted, fields

        _paused_operator(settings, "temizlik")  # dynamic members do not outlive Asterisk
        after = stack.call(stack.after_notice("1w3"), caller="+905327770009")  # events flow again
        assert procs.wait_until(lambda: _waiting(redis, "temizlik") == {after}, 120), _waiting(redis, "temizlik")
