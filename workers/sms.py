"""``alo185 sms``: the SMS sender's process; what is due goes out through ``alo185.sms.sender``."""

from __future__ import annotations

import logging
import signal
import threading

from sqlalchemy.exc import OperationalError

from alo185.core import disk
from alo185.core.backoff import Backoff
from alo185.core.settings import Settings
from alo185.sms.sender import Sender

log = logging.getLogger(__name__)


def run(sender: Sender, stopping: threading.Event, idle_s: float = 1.0, max_backoff_s: float = 30.0) -> None:
    """Until stopped. A fault that lasts (the database away, a full disk) is waited out, each retry later
    than the one before; what is due stays due in the outbox meanwhile."""
    backoff = Backoff(first_s=2.0, max_s=max_backoff_s)
    while not stopping.is_set():
        try:
            sent = sender.run_once()
            backoff.reset()
            if sent == 0:
                stopping.wait(idle_s)
        except OperationalError as exc:  # the database away, or its disk full
            delay = backoff.next()
            log.error("SMS sender cannot use the database (%s); what is due stays due, retrying in %.0f s", exc, delay)
            stopping.wait(delay)
        except OSError as exc:
            delay = backoff.next()
            log.error("SMS sender failed: %s; retrying in %.0f s", disk.describe(exc), delay)
            stopping.wait(delay)
        except Exception:
            delay = backoff.next()
            log.exception("SMS sender failed; retrying in %.0f s", delay)
            stopping.wait(delay)


def main(settings: Settings) -> None:
    sender, stopping = Sender(settings), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    log.info("SMS sender ready (gateway %s)", settings.sms_gateway)
    run(sender, stopping)
