"""The FastAGI server: one event loop, a task per call, scripts chosen by the request path (``agi://host/ivr``).

Any failure ends the AGI session without touching the dialplan's fallback variables, so
the dialplan queues the caller to the general operators.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from agi_scripts.session import AGIHangup, AsyncAGI

log = logging.getLogger(__name__)

Script = Callable[[AsyncAGI], Awaitable[None]]  # what it needs is bound in (functools.partial)
LISTEN_BACKLOG = 512
DRAIN_SECONDS = 60.0


def script_name(env: dict[str, str]) -> str:
    """The script asked for: ``ivr`` for ``agi://host:port/ivr?x=1``."""
    request = env.get("agi_network_script") or urlsplit(env.get("agi_request", "")).path
    return request.strip("/").split("?")[0]


class FastAGIServer:
    def __init__(self, address: tuple[str, int], scripts: dict[str, Script]) -> None:
        self.address = address
        self.scripts = scripts
        self._sessions: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        # reuse_port: a new server can bind beside a draining old one, so a restart refuses no call.
        loop = self._loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: AsyncAGI(self._begin, loop), *self.address, backlog=LISTEN_BACKLOG, reuse_port=True
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    def _begin(self, agi: AsyncAGI) -> None:
        assert self._loop is not None  # started
        task = self._loop.create_task(self._session(agi))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _session(self, agi: AsyncAGI) -> None:
        uniqueid = agi.env.get("agi_uniqueid", "?")
        try:
            name = script_name(agi.env)
            script = self.scripts.get(name)
            if script is None:
                log.error("call %s asked for unknown AGI script %r", uniqueid, name)
                return
            await script(agi)
        except AGIHangup:
            log.debug("call %s hung up during the IVR", uniqueid)
        except Exception:
            log.exception("AGI script failed for call %s; the dialplan falls back to the operators", uniqueid)
        finally:
            agi.close()

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def drain(self, timeout: float) -> bool:
        """Wait for running calls to finish their IVR; True if all did within ``timeout``."""
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=timeout)
        return not self._sessions


async def serve(
    server: FastAGIServer, on_reload: Callable[[], None] | None = None, drain_s: float = DRAIN_SECONDS
) -> None:
    """Serve until SIGTERM/SIGINT; then stop accepting and let the calls in the IVR finish.

    SIGHUP calls ``on_reload`` (re-read what may have changed) in a worker thread, dropping nothing.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if on_reload is not None:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, on_reload))
    await server.start()
    log.info("FastAGI listening on %s:%s", server.address[0], server.port)
    await stop.wait()
    log.info("FastAGI stops accepting and drains")
    server.stop_accepting()
    if not await server.drain(drain_s):
        log.warning(
            "%d calls still in the IVR after %.0f s; their callers fall back to the operators",
            server.active_sessions,
            drain_s,
        )
