"""Queue figures from Asterisk's own ``queue_log``: service level, ASA, AHT, abandonment, answer rate.

The formulas (per queue, per 15-minute interval by the time the caller joined, and in total):

- offered: callers who entered the queue (``ENTERQUEUE``);
- answered: ``CONNECT``; the wait is its ``holdtime`` (data1);
- SL(T) = answered within T seconds / (offered - short abandons): a caller who left before
  ``short_abandon_s`` never had a real chance and is counted apart, not against the target;
- ASA = mean wait of the answered;
- AHT = mean talk time of completed calls (``COMPLETECALLER``/``COMPLETEAGENT`` data2);
- abandoned: ``ABANDON`` (wait = data3), short ones (< ``short_abandon_s``) shown apart;
- answer rate = answered / offered.

Calls that left with a timeout, an empty queue or a key (``EXITWITHTIMEOUT``, ``EXITEMPTY``,
``EXITWITHKEY``) are offered and neither answered nor abandoned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

INTERVAL_S = 15 * 60
COUNTED = frozenset({"ENTERQUEUE", "CONNECT", "COMPLETECALLER", "COMPLETEAGENT", "ABANDON"})


@dataclass
class QueueFigures:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    waits: list[float] = field(default_factory=list)  # of the answered
    talks: list[float] = field(default_factory=list)  # of the completed

    def service_level(self, target_s: float) -> float | None:
        """Share (0–1) answered within ``target_s`` of the offered, short abandons left out."""
        base = self.offered - self.short_abandoned
        return sum(1 for w in self.waits if w <= target_s) / base if base else None

    @property
    def asa_s(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def aht_s(self) -> float | None:
        return sum(self.talks) / len(self.talks) if self.talks else None

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    def as_dict(self, targets: tuple[float, ...] = (5.0, 20.0)) -> dict[str, float | int | None]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            **{f"sl_{int(t)}s": _round(self.service_level(t)) for t in targets},
            "asa_s": _round(self.asa_s),
            "aht_s": _round(self.aht_s),
            "answer_rate": _round(self.answer_rate),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Entry:
    time: float
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


def parse(lines: Iterable[str]) -> list[Entry]:
    """``time|callid|queue|agent|event|data1|data2|…`` lines; anything else is skipped."""
    entries = []
    for line in lines:
        parts = line.rstrip("\n").split("|")
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        entries.append(Entry(float(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:])))
    return entries


def _number(data: tuple[str, ...], index: int) -> float:
    try:
        return float(data[index])
    except (IndexError, ValueError):
        return 0.0


def figures(
    entries: Iterable[Entry], short_abandon_s: float = 5.0, callids: set[str] | None = None
) -> tuple[dict[str, QueueFigures], dict[tuple[str, datetime], QueueFigures]]:
    """Per queue, and per (queue, interval start); only ``callids`` if given."""
    totals: dict[str, QueueFigures] = defaultdict(QueueFigures)
    intervals: dict[tuple[str, datetime], QueueFigures] = defaultdict(QueueFigures)
    joined: dict[str, datetime] = {}
    for e in entries:
        if e.event not in COUNTED or (callids is not None and e.callid not in callids):
            continue
        if e.event == "ENTERQUEUE":
            joined[e.callid] = datetime.fromtimestamp(e.time - e.time % INTERVAL_S, UTC)
        bucket = intervals[(e.queue, joined.get(e.callid) or datetime.fromtimestamp(e.time - e.time % INTERVAL_S, UTC))]
        for fig in (totals[e.queue], bucket):
            _apply(fig, e, short_abandon_s)
    return dict(totals), dict(intervals)


def _apply(fig: QueueFigures, e: Entry, short_abandon_s: float) -> None:
    if e.event == "ENTERQUEUE":
        fig.offered += 1
    elif e.event == "CONNECT":
        fig.answered += 1
        fig.waits.append(_number(e.data, 0))
    elif e.event in ("COMPLETECALLER", "COMPLETEAGENT"):
        fig.talks.append(_number(e.data, 1))
    elif e.event == "ABANDON":
        fig.abandoned += 1
        if _number(e.data, 2) < short_abandon_s:
            fig.short_abandoned += 1


def figures_from_records(records: Iterable[Any], short_abandon_s: float = 5.0) -> dict[str, QueueFigures]:
    """The same figures from alo185's call records (``CallRecord``), for the calls that were queued."""
    totals: dict[str, QueueFigures] = defaultdict(QueueFigures)
    for r in records:
        if not r.queue or not (r.answered or r.abandoned):
            continue
        fig = totals[r.queue]
        fig.offered += 1
        if r.answered:
            fig.answered += 1
            fig.waits.append(float(r.wait_s or 0))
            if r.talk_s is not None:
                fig.talks.append(float(r.talk_s))
        elif r.abandoned:
            fig.abandoned += 1
            if (r.wait_s or 0) < short_abandon_s:
                fig.short_abandoned += 1
    return dict(totals)
