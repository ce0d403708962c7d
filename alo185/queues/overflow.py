"""Overflow: the wait a caller joining a queue now can expect, against the queue's target.

The prediction (pure, ``predict``) reads one queue of the live snapshot (``queue_manager.live``):

- ``ahead``: callers waiting in the queue (callback placeholders included: they hold a place);
- ``serving``: operators logged in and not paused (available, ringing, on a call or in wrap-up);
- ``free``: of them, available or ringing (a ringing operator is about to take a caller ahead);
- ``AHT``: the queue's mean talk time over the last two hours of persisted intervals
  (``queue_intervals``), or ``DEFAULT_AHT_S`` while fewer than ``MIN_TALKS`` calls were measured,
  plus the wrap-up every operator takes after a call (setting ``wrap_up_s``).

The new caller is number ``ahead + 1`` in line. The first ``free`` in line go to the free operators;
every other needs a call to end first. With ``serving`` operators on calls whose lengths are
exponential with mean AHT (the Erlang C assumption), calls end at a rate of ``serving / AHT``, so::

    wait = max(0, ahead + 1 - free) × AHT / serving

(the M/M/N wait of the k-th in line, k / (N μ)). ``serving == 0`` means nobody can answer: the wait
is infinite. The IVR offers a callback or voicemail when ``wait > target`` (the queue's answer-time
target, ``intervals.target_for``, 5 s by default) or nobody can answer. When nobody is logged in at all
(the PBX's ``QUEUE_MEMBER(queue,logged)`` is 0) the IVR offers a callback or voicemail without the
choice to wait (``ivr.engine._nobody_logged_in``); the callback's placeholder then waits in the queue
until an operator logs in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from alo185.queues import intervals

DEFAULT_AHT_S = 180.0  # a municipal hotline call, until the queue has figures of its own
MIN_TALKS = 3
RECENT = timedelta(hours=2)
SERVING_STATES = ("available", "ringing", "on_call", "wrap_up")
FREE_STATES = ("available", "ringing")


@dataclass(frozen=True)
class Prediction:
    wait_s: float  # math.inf when nobody can answer
    target_s: float
    ahead: int
    serving: int
    free: int
    aht_s: float

    @property
    def nobody(self) -> bool:
        """No logged-in operator who is not paused."""
        return self.serving == 0

    @property
    def overflows(self) -> bool:
        return self.nobody or self.wait_s > self.target_s

    @property
    def minutes(self) -> int:
        """The wait to tell the caller: whole minutes, rounded up, at least one."""
        return 0 if self.nobody else max(1, math.ceil(self.wait_s / 60))


def predict(queue: Mapping[str, Any], aht_s: float, target_s: float) -> Prediction:
    """The wait of a caller joining ``queue`` (one queue of the live snapshot) now."""
    states = [str(op.get("state", "")) for op in (queue.get("operators") or {}).values()]
    serving = sum(state in SERVING_STATES for state in states)
    free = sum(state in FREE_STATES for state in states)
    ahead = int(queue.get("waiting") or 0)
    wait = math.inf if serving == 0 else max(0, ahead + 1 - free) * aht_s / serving
    return Prediction(wait_s=wait, target_s=target_s, ahead=ahead, serving=serving, free=free, aht_s=aht_s)


def recent_aht(session: Session, queue: str, now: datetime) -> float:
    """The queue's AHT over the intervals of the last two hours, or the default."""
    figures = intervals.figures_for(session, queue, now - RECENT, now + intervals.INTERVAL)
    if figures.talk_count < MIN_TALKS or figures.aht_s is None:
        return DEFAULT_AHT_S
    return float(figures.aht_s)


def queue_figures(session: Session, queue: str, now: datetime, wrap_up_s: float = 0.0) -> tuple[float, float]:
    """(AHT with the wrap-up, target) of ``queue``: what ``predict`` needs besides the live snapshot."""
    return recent_aht(session, queue, now) + wrap_up_s, float(intervals.target_for(session, queue).target_s)
