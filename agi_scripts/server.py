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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from agi_scripts.agi import AGIHangup, SocketAGI

log = logging.getLogger(__name__)

Script = Callable[[SocketAGI, Any], None]
LISTEN_BACKLOG = 512


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
    daemon_threads = True
    block_on_close = False
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], registry: Registry) -> None:
        self.registry = registry
        super().__init__(address, _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


def serve_forever(server: FastAGIServer) -> None:
    """Serve until SIGTERM/SIGINT, then stop accepting and let running calls finish briefly."""
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: shutting down FastAGI", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=server.serve_forever, name="fastagi", daemon=True)
    thread.start()
    log.info("FastAGI listening on %s:%s", *server.server_address)
    stop.wait()
    server.shutdown()
    server.server_close()
