"""The FastAGI server: a thread per call, scripts chosen by the request path (``agi://host/ivr``).

Any failure ends the AGI session without touching the dialplan's fallback variables, so
the dialplan queues the caller to the general operators.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agi_scripts.agi import AGIHangup, SocketAGI

log = logging.getLogger(__name__)

Script = Callable[[SocketAGI, Any], None]
LISTEN_BACKLOG = 512
DRAIN_SECONDS = 60.0


@dataclass
class Registry:
    scripts: dict[str, Script]
    deps: Any  # what scripts need (event bus, prompt paths), passed to every script


def script_name(agi: SocketAGI) -> str:
    """The script asked for: ``ivr`` for ``agi://host:port/ivr?x=1``."""
    request = agi.env.get("agi_network_script") or urlsplit(agi.env.get("agi_request", "")).path
    return request.strip("/").split("?")[0]


class _Handler(socketserver.StreamRequestHandler):
    server: FastAGIServer

    def handle(self) -> None:
        with self.server.tracking():
            self._session()

    def _session(self) -> None:
        rfile = self.connection.makefile("r", encoding="utf-8", errors="replace", newline="\n")
        wfile = self.connection.makefile("w", encoding="utf-8", newline="\n")
        uniqueid = "?"
        try:
            agi = SocketAGI(rfile, wfile)
            uniqueid = agi.env.get("agi_uniqueid", "?")
            name = script_name(agi)
            script = self.server.registry.scripts.get(name)
            if script is None:
                log.error("call %s asked for unknown AGI script %r", uniqueid, name)
                return
            script(agi, self.server.registry.deps)
        except AGIHangup:
            log.debug("call %s hung up during the IVR", uniqueid)
        except Exception:
            log.exception("AGI script failed for call %s; the dialplan falls back to the operators", uniqueid)
        finally:
            for fh in (rfile, wfile):
                with contextlib.suppress(OSError):
                    fh.close()


class FastAGIServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    # A new server can bind beside a draining old one: restart without refusing a call.
    allow_reuse_port = True
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], registry: Registry) -> None:
        self.registry = registry
        self._active = 0
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def active_sessions(self) -> int:
        return self._active

    @contextlib.contextmanager
    def tracking(self) -> Iterator[None]:
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait for running calls to finish their IVR; True if all did within ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)


def serve_forever(
    server: FastAGIServer, on_reload: Callable[[], None] | None = None, drain_s: float = DRAIN_SECONDS
) -> None:
    """Serve until SIGTERM/SIGINT; then stop accepting and let the calls in the IVR finish.

    SIGHUP calls ``on_reload`` (re-read what may have changed) without dropping anything.
    """
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: FastAGI stops accepting and drains", signum)
        stop.set()

    def _reload(_signum: int, _frame: object) -> None:
        if on_reload is not None:
            threading.Thread(target=on_reload, name="fastagi-reload", daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGHUP, _reload)
    thread = threading.Thread(target=server.serve_forever, name="fastagi", daemon=True)
    thread.start()
    log.info("FastAGI listening on %s:%s", *server.server_address)
    stop.wait()
    server.shutdown()
    server.server_close()
    if not server.drain(drain_s):
        log.warning(
            "%d calls still in the IVR after %.0f s; their callers fall back to the operators",
            server.active_sessions,
            drain_s,
        )
