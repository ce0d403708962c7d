"""A category suggested from a transcript by Turkish keyword stems (``rules.yaml``, editable)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from alo185.tickets.queries import tr_ascii

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")


@dataclass(frozen=True)
class Rules:
    fallback: str
    stems: dict[str, tuple[str, ...]]  # category code -> folded stems, in file order

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> Rules:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        categories = raw.get("categories") or {}
        if not isinstance(categories, dict) or not raw.get("fallback"):
            raise ValueError(f"{path}: needs 'fallback' and a 'categories' mapping")
        return cls(
            fallback=str(raw["fallback"]),
            stems={str(code): tuple(tr_ascii(str(s)) for s in stems or ()) for code, stems in categories.items()},
        )

    def suggest(self, transcript: str) -> str | None:
        """The best-matching category code, or None when no stem is heard."""
        text = " " + " ".join(re.findall(r"\w+", tr_ascii(transcript))) + " "
        best, best_hits = None, 0
        for code, stems in self.stems.items():
            hits = sum(1 for stem in stems if f" {stem}" in text)
            if hits > best_hits:
                best, best_hits = code, hits
        return best


class RulesFile:
    """The rules in a file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime = -1.0
        self._rules: Rules | None = None

    def get(self) -> Rules:
        mtime = self.path.stat().st_mtime
        if self._rules is None or mtime != self._mtime:
            self._rules, self._mtime = Rules.load(self.path), mtime
        return self._rules
