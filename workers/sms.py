"""``alo185 sms``: the SMS sender's process; what is due goes out through ``alo185.sms.sender``."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy.exc import OperationalError

from alo185.core.settings import Settings
from alo185.sms.sender import Sender

log = logging.getLogger(__name__)


def run(sender: Sender, stopping: threading.Event, idle_s: float = 1.0) -> None:
    while not stopping.is_set():
        try:
            if sender.run_once() == 0:
                stopping.wait(idle_s)
        except OperationalError as exc:
            log.warning("database unavailable: %s", exc)
            stopping.wait(2)


def main(settings: Settings) -> None:
    sender, stopping = Sender(settings), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    log.info("SMS sender ready (gateway %s)", settings.sms_gateway)
    run(sender, stopping)
