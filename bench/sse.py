"""How many event streams one admin server holds with the staff pages still answering.

``alo185 admin`` under gunicorn with the default workers and threads, a private Redis and SQLite. The
clients step up (100, 200, 300, 400, 600, 800; quick: 10, 20), each step's streams held open beside the
earlier ones; at each step a logged-in staff member opens the ticket list and the live queue figures
``PAGES`` times. ``clients_held`` is the last step at which every stream opened and the pages' p95
stayed under ``P95_LIMIT_S``; the first step past it is where the threads ran out.
"""

from __future__ import annotations

import http.client
import re
import socket
import tempfile
from pathlib import Path
from typing import Any

from alo185 import services
from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import Settings
from alo185.org import accounts
from alo185.org.models import Role
from bench.common import summary_ms
from harness.instance import isolated_settings
from harness.web import Browser, open_stream

STEPS = (100, 200, 300, 400, 600, 800)
QUICK_STEPS = (10, 20)
PAGES = 20
P95_LIMIT_S = 1.0
WAIT_S = 5.0  # a page or stream that has no thread for this long counts as refused
PASSWORD = "parola-1234567"


def measure_step(settings: Settings, browser: Browser, streams: list[socket.socket], clients: int) -> dict[str, Any]:
    """Streams up to ``clients``, then the pages timed beside them."""
    refused = ""
    try:
        while len(streams) < clients:
            streams.append(
                open_stream(settings.admin_host, settings.admin_port, "/api/queues/stream", browser.cookie(), WAIT_S)
            )
    except (OSError, http.client.HTTPException) as error:
        refused = f"{type(error).__name__}: {error}"
    opened = len(streams) >= clients
    seconds, failures = [], 0
    for i in range(PAGES):
        status, _body, took = browser.get("/tickets" if i % 2 else "/api/queues/live", timeout=WAIT_S)
        seconds.append(took)
        failures += status != 200
    pages = summary_ms(seconds)
    p95 = pages["p95"]
    held = opened and failures == 0 and p95 is not None and p95 < P95_LIMIT_S * 1000
    figures = {"clients": clients, "streams_open": len(streams), "page_failures": failures, "pages_ms": pages}
    return {**figures, "stream_refused": refused, "server_error": last_error(settings), "held": held}


def last_error(settings: Settings) -> str:
    """The admin's last logged exception (``module.Error: message``): why a stream or page was refused."""
    text = procs.log_path(settings, "admin").read_text(errors="replace")
    found = re.findall(r"^[\w.]+(?:Error|Exception): .*$", text, re.MULTILINE)
    return found[-1] if found else ""


def run(quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="alo185-bench-sse-") as tmp:
        settings = isolated_settings(Path(tmp))
        redis_server.start(settings)
        streams: list[socket.socket] = []
        try:
            services.prepare_database(settings)
            with db.session_factory(settings.database_url).begin() as session:
                accounts.create_user(session, "yonetici", role=Role.ADMIN, password=PASSWORD)
            # A snapshot opens each stream at once (else its first bytes are the first keep-alive).
            bus.connect(settings.redis_connection_url).set(bus.LIVE_QUEUES, '{"genel": {}}')
            services.start_process(settings, services.process("admin"))
            browser = Browser(settings.admin_url).log_in("yonetici", PASSWORD)
            steps = []
            for clients in QUICK_STEPS if quick else STEPS:
                steps.append(measure_step(settings, browser, streams, clients))
                if not steps[-1]["held"]:
                    break
        finally:
            for sock in streams:
                sock.close()
            procs.stop(settings, "admin")
            redis_server.stop(settings)
    held = max((s["clients"] for s in steps if s["held"]), default=0)
    return {
        "clients_held": held,
        "console_p95_ms_at_held": next((s["pages_ms"]["p95"] for s in steps if s["clients"] == held), None),
        "server": {"workers": settings.admin_workers, "threads": settings.admin_threads, "worker_class": "gthread"},
        "p95_limit_ms": P95_LIMIT_S * 1000,
        "steps": steps,
    }
