"""The admin under gunicorn: threaded workers, timeouts for a proxy in front, a log without secrets.

An event stream (the console's pops, the wallboard) holds its connection, and with gunicorn's
``gthread`` workers one thread, for as long as it is open; the thread sleeps in Redis' ``get_message``
and writes a keep-alive every ``admin.sse.KEEPALIVE_S``, where a gone client is noticed. So the
threads, ``admin_workers`` × ``admin_threads``, bound the streams open at once with the pages still
served (docs/operations.md, "Behind nginx", gives the measured figure).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from admin.app import create_app
from alo185.core.settings import Settings

# The link tokens of the citizens' pages (/takip/<token>, /anket/<token>, Open311's /v2/tokens/<token>)
# open a ticket to whoever holds them: the log keeps the page, not the token. No query string is logged.
TOKEN_PATH = re.compile(r"^(/takip/|/anket/|/open311/v2/tokens/)[^/]+")
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'


class RedactingLogger(Logger):
    """gunicorn's logger, with link tokens cut out of the logged path."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        atoms["U"] = TOKEN_PATH.sub(r"\1…", atoms["U"])
        return atoms


def options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings for ``settings``' admin."""
    host = f"[{settings.admin_host}]" if ":" in settings.admin_host else settings.admin_host
    return {
        "bind": f"{host}:{settings.admin_port}",
        "worker_class": "gthread",
        "workers": settings.admin_workers,
        "threads": settings.admin_threads,
        # A worker whose threads are all taken (by open streams) accepts no more, so the other workers take
        # the next connections; more would wait in a full worker while another has threads free.
        "worker_connections": settings.admin_threads,
        # The workers' heartbeat (a gthread worker beats between requests, not per request: a long stream
        # does not trip it); a stuck worker is replaced after this long.
        "timeout": 30,
        # At a stop, requests in progress get this long; open streams are cut then (the browser reconnects
        # to the successor). Shorter than the process table's drain time, so nothing is killed.
        "graceful_timeout": 5,
        # nginx keeps connections to the upstream open (docs/nginx-alo185.conf: keepalive_timeout 4 s there).
        "keepalive": 5,
        "forwarded_allow_ips": ",".join(settings.proxy_addresses),
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        "logger_class": RedactingLogger,
        "proc_name": f"alo185-admin-{settings.instance}",
    }


class AdminServer(BaseApplication):  # gunicorn ships no type hints: its base is Any to mypy
    """gunicorn in this process (the process table's pid is its master); each worker builds its own app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in options(self.settings).items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return create_app(self.settings)


def serve(settings: Settings) -> None:
    AdminServer(settings).run()
