"""Waiting out a fault that lasts: each retry waits twice as long, up to a ceiling; a success starts over.

A loop that meets the same fault again and again neither spins nor waits long once the fault is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Backoff:
    first_s: float = 1.0
    max_s: float = 30.0
    _next_s: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next_s = self.first_s

    def next(self) -> float:
        """Seconds to wait before the next try."""
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.max_s)
        return delay

    def reset(self) -> None:
        """The fault is over: the next one starts from ``first_s`` again."""
        self._next_s = self.first_s
