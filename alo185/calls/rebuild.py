"""A call's facts rebuilt from Asterisk's ``queue_log``, for the calls whose AMI events were missed.

The queue manager turns AMI events into call events; while it is down (or its AMI connection is), those
events are gone. Asterisk keeps a durable record of the same facts in ``queue_log``: its own lines for
queued calls (``ENTERQUEUE``, ``CONNECT``, ``COMPLETE*``, ``*TRANSFER``, ``ABANDON``) and alo185's, which
the dialplan writes with ``QueueLog()`` next to each ``UserEvent`` (``ALO185START``, ``ALO185IVRDONE``,
``ALO185VOICEMAIL``, ``ALO185RECORDING``, and ``ALO185END`` from the caller's hang-up handler). On every
AMI (re)login the queue manager reads the lines of the gap (``read_since``) and publishes one
``call.rebuilt`` event per call (``events``, pure). The recorder folds it (``records._on_rebuilt``): it
fills in only what a record lacks and corrects only what the missing events made wrong, so a record that
has the facts stays as it is, and a damaged one becomes the record of an undisturbed run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

REBUILT = "call.rebuilt"


class LogLine(Protocol):
    """A parsed ``queue_log`` line (``alo185.queues.service_level.Entry``)."""

    @property
    def time(self) -> float: ...
    @property
    def callid(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def agent(self) -> str: ...
    @property
    def event(self) -> str: ...
    @property
    def data(self) -> tuple[str, ...]: ...


def _number(data: tuple[str, ...], index: int) -> float | None:
    if index < 0:
        return None
    try:
        return float(data[index])
    except (IndexError, ValueError):
        return None


def _text(data: tuple[str, ...], index: int) -> str:
    return data[index] if index < len(data) else ""


def _start(facts: dict[str, Any], line: LogLine) -> None:
    # ALO185START: <time with microseconds>|<linkedid>|<caller> (the caller last: it is the carrier's text)
    facts["ts"] = _number(line.data, 0) or line.time
    facts["linkedid"] = _text(line.data, 1)
    facts["caller"] = "|".join(line.data[2:])


def _end(facts: dict[str, Any], line: LogLine) -> None:
    # ALO185END: <time with microseconds>|<hang-up cause>
    facts["ended_ts"] = _number(line.data, 0) or line.time
    facts["cause"] = _text(line.data, 1)


def _connect(facts: dict[str, Any], line: LogLine) -> None:
    # CONNECT: holdtime|bridged channel|ringtime; the agent is the member's name (log_membername_as_agent)
    facts.update(queue=line.queue, member=line.agent, answered_ts=line.time, wait_s=_number(line.data, 0))


def _complete(facts: dict[str, Any], line: LogLine) -> None:
    # COMPLETECALLER / COMPLETEAGENT: holdtime|calltime|origposition
    facts.update(queue=line.queue, answered=True, talk_s=_number(line.data, 1))


def _transfer(facts: dict[str, Any], line: LogLine) -> None:
    # BLINDTRANSFER / ATTENDEDTRANSFER: their first fields vary with the kind; they end holdtime|calltime|origposition
    facts.update(queue=line.queue, answered=True, talk_s=_number(line.data, len(line.data) - 2))


def _abandon(facts: dict[str, Any], line: LogLine) -> None:
    # ABANDON: position|origposition|waittime
    facts.update(queue=line.queue, abandoned=True, wait_s=_number(line.data, 2))


def _read(name: str) -> Any:
    def _apply(facts: dict[str, Any], line: LogLine) -> None:
        facts[name] = "|".join(line.data)

    return _apply


FACTS = {
    "ALO185START": _start,
    "ALO185END": _end,
    "ALO185IVRDONE": _read("agi_status"),
    "ALO185VOICEMAIL": _read("voicemail_reason"),
    "ALO185RECORDING": _read("recording"),
    "ENTERQUEUE": lambda facts, line: facts.update(queue=line.queue),
    "CONNECT": _connect,
    "COMPLETECALLER": _complete,
    "COMPLETEAGENT": _complete,
    "BLINDTRANSFER": _transfer,
    "ATTENDEDTRANSFER": _transfer,
    "ABANDON": _abandon,
}


def events(lines: Iterable[LogLine]) -> list[dict[str, Any]]:
    """One ``call.rebuilt`` event per call named in ``lines`` (in the order first seen), with its facts.

    A fact missing from the lines (outside the window read) is missing from the event: the record keeps
    what it has.
    """
    calls: dict[str, dict[str, Any]] = {}
    for line in lines:
        apply = FACTS.get(line.event)
        if apply is None or not line.callid or line.callid == "NONE":
            continue
        apply(calls.setdefault(line.callid, {"type": REBUILT, "uniqueid": line.callid}), line)
    return list(calls.values())


def read_since(path: Path, since: float, chunk: int = 64 * 1024) -> list[str]:
    """The lines of ``path`` (``queue_log``: in time order) from the first whose time is at or after ``since``.

    Found by bisecting the file's bytes, so a log of years costs a few reads; none when it does not exist.
    """
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            low, high = 0, size
            while high - low > chunk:  # the first line at or after ``since`` starts after ``low``
                middle = (low + high) // 2
                file.seek(middle)
                file.readline()  # the rest of a line cut in the middle
                line = file.readline()
                when = _time(line)
                if when is not None and when < since:
                    low = middle
                else:
                    high = middle
            file.seek(low)
            if low:
                file.readline()
            lines = file.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if (_time(line.encode()) or since) >= since]


def _time(line: bytes) -> float | None:
    head = line.split(b"|", 1)[0]
    return float(head) if head.isdigit() else None
