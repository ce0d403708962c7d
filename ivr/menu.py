"""The minimal 185 menu of the walking skeleton: one prompt, one digit, one queue.

Pure logic: no sockets, no Asterisk. The full menu tree as data replaces this later.
"""

from __future__ import annotations

from dataclasses import dataclass

FALLBACK_QUEUE = "genel"

# Queue name -> what operators see. Names are Asterisk queue names (ASCII, no spaces).
QUEUES: dict[str, str] = {
    "genel": "Genel operatörler",
    "su": "Su ve kanalizasyon",
    "ulasim": "Ulaşım",
}

WELCOME_PROMPT = "alo185-hosgeldiniz"
WELCOME_TEXT = (
    "Alo 185 çağrı merkezine hoş geldiniz. Su ve kanalizasyon için 1, ulaşım için 2, diğer konular için 0'a basınız."
)

KEY_TO_QUEUE = {"1": "su", "2": "ulasim", "0": "genel"}
DIGIT_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class MenuChoice:
    digit: str
    queue: str


def choose(digit: str) -> MenuChoice:
    """Map the key the caller pressed (``""`` for none) to a queue; unknown keys go to operators."""
    digit = (digit or "")[:1]
    return MenuChoice(digit=digit, queue=KEY_TO_QUEUE.get(digit, FALLBACK_QUEUE))
