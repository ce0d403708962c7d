"""The satisfaction scale every survey asks on (the one İnegöl publishes) and its keypad keys."""

from __future__ import annotations

ANSWERS = {"1": 1, "2": 2, "3": 3, "4": 4}
LABELS = {1: "çok memnunum", 2: "memnunum", 3: "memnun değilim", 4: "fikrim yok"}
NOT_SATISFIED = 3  # after it the caller may say why
