"""``agi://…/ivr``: the 185 menu. Thin: the AGI calls around ``ivr.menu``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agi_scripts.agi import AGIHangup, SocketAGI
from ivr import menu

log = logging.getLogger(__name__)


@dataclass
class IvrDeps:
    publish: Callable[[dict[str, Any]], None]
    prompt: Callable[[str, str], str]  # (lang, name) -> path Asterisk plays, without extension


def run(agi: SocketAGI, deps: IvrDeps) -> None:
    uniqueid = agi.env.get("agi_uniqueid", "")
    caller = agi.env_get("agi_callerid")
    event: dict[str, Any] = {"type": "ivr", "uniqueid": uniqueid, "caller": caller, "ts": time.time()}
    try:
        digits = agi.get_data(deps.prompt("tr", menu.WELCOME_PROMPT), timeout=menu.DIGIT_TIMEOUT_MS, max_digits=1)
    except AGIHangup:
        _publish(deps, {**event, "hangup": True})
        raise
    choice = menu.choose(digits)
    agi.set_variable("ALO185_DIGIT", choice.digit)
    agi.set_variable("ALO185_QUEUE", choice.queue)
    _publish(deps, {**event, "digit": choice.digit, "queue": choice.queue})


def _publish(deps: IvrDeps, event: dict[str, Any]) -> None:
    # The caller must reach an operator even when the event bus is down.
    try:
        deps.publish(event)
    except Exception:
        log.exception("could not publish IVR event for call %s", event.get("uniqueid"))
