"""The mark of the last call event written, from which a queue manager's next login rebuilds what it missed."""

from __future__ import annotations

import asyncio

import pytest

from alo185.calls import rebuild
from alo185.core import bus
from alo185.core.settings import Settings
from alo185.queues.service_level import parse
from queue_manager import service
from queue_manager.service import GAP_MARGIN_S, REBUILD_LOOKBACK_S, QueueManager

T0 = 1_795_256_920
LOG = [
    f"{T0}|u1|NONE|NONE|ALO185START|{T0}.250000|u1|+905321234567",
    f"{T0 + 68}|u1|NONE|NONE|ALO185END|{T0 + 68}.750000|16",
    f"{T0 + 70}|u2|NONE|NONE|ALO185START|{T0 + 70}.100000|u2|+905321110002",
    f"{T0 + 82}|u2|NONE|NONE|ALO185END|{T0 + 82}.500000|16",
]


def _hangup(uniqueid: str, ts: float) -> dict[str, str]:
    return {"Event": "Hangup", "Timestamp": str(ts), "Uniqueid": uniqueid, "Linkedid": uniqueid, "Cause": "16"}


def test_the_mark_moves_only_once_the_rebuilt_gap_is_written(
    redis_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash at any point of a resync leaves the mark before the gap: the next login rebuilds it again."""
    monkeypatch.setattr(service, "PUBLISH_MAX_BATCH", 2)  # the gap's events go out over several writes
    now = T0 + 1000.0

    async def run() -> tuple[list[bytes | str | None], list[float]]:
        qm = QueueManager(redis_settings)
        marks: list[bytes | str | None] = []
        starts = [await qm.gap_start(now)]  # nothing written yet: an hour back

        async def write() -> None:
            assert await qm._write()
            marks.append(await qm.redis.get(bus.QUEUE_MANAGER_SEEN))

        qm.gap_opened()  # a login
        qm.on_ami_event(None, _hangup("u3", T0 + 90.5))  # seen before the resync has rebuilt the gap
        await write()
        qm.on_ami_event(None, _hangup("u4", T0 + 91))
        qm.gap_rebuilt(rebuild.events(parse(LOG)))
        await write()  # the u4 hang-up and u1: u2 is still to go
        await write()  # u2: the gap is out, but a rebuilt call's time is no AMI time to mark
        qm.on_ami_event(None, _hangup("u5", T0 + 92.25))
        await write()
        starts.append(await qm.gap_start(now))
        await qm.redis.aclose()
        return marks, starts

    marks, starts = asyncio.run(run())
    assert marks == [None, None, None, repr(T0 + 92.25)]
    assert starts == [now - REBUILD_LOOKBACK_S, T0 + 92.25 - GAP_MARGIN_S]
