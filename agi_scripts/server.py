"""The FastAGI server: one event loop, a task per call, scripts chosen by the request path (``agi://host/ivr``).

Any failure ends the AGI session without touching the dialplan's fallback variables, so
the dialplan queues the caller to the general operators.

One loop serves every call, so no client may hold it: only Asterisk's addresses may connect, the
connections are counted, and a sweep ends the sessions whose peer went silent (``Guards``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from agi_scripts.session import AGIHangup, AGISessionError, AsyncAGI, Limits
from alo185.core import bus
from alo185.core.settings import Settings

log = logging.getLogger(__name__)

Script = Callable[[AsyncAGI], Awaitable[None]]  # what it needs is bound in (functools.partial)
LISTEN_BACKLOG = 512
DRAIN_SECONDS = 60.0


@dataclass(frozen=True)
class Guards:
    """Who may open sessions, how many at once, and what each may take."""

    session: Limits
    max_sessions: int
    peers: tuple[str, ...]  # addresses and networks

    @classmethod
    def from_settings(cls, settings: Settings) -> Guards:
        """The settings' limits; the peers are ``agi_allowed_peers`` and Asterisk's address (``ami_host``)."""
        limits = Limits(settings.agi_max_line_bytes, settings.agi_header_timeout_s, settings.agi_command_timeout_s)
        peers = (*settings.agi_allowed_peers, *_addresses(settings.ami_host))
        return cls(limits, settings.agi_max_sessions, tuple(dict.fromkeys(peers)))

    @property
    def sweep_s(self) -> float:
        """How often deadlines are checked: a fraction of the shortest timeout, at most a second."""
        shortest = min(self.session.header_timeout_s, self.session.command_timeout_s)
        return min(1.0, max(0.05, shortest / 4))


def _addresses(host: str) -> tuple[str, ...]:
    """The addresses of a host name (an address is itself); none if it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        log.warning("ami_host %r does not resolve (%s): only agi_allowed_peers may open FastAGI sessions", host, exc)
        return ()
    return tuple(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in infos))


class Peers:
    """The addresses allowed to connect: single addresses (a set lookup, the common case) and networks."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
        self._exact = frozenset(str(net.network_address) for net in networks if net.num_addresses == 1)
        self._networks = tuple(net for net in networks if net.num_addresses > 1)

    def allows(self, host: str) -> bool:
        if host in self._exact:
            return True
        try:
            address = ipaddress.ip_address(host.partition("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # an IPv4 peer on a dual-stack socket
        return str(address) in self._exact or any(address in net for net in self._networks)


def script_name(env: dict[str, str]) -> str:
    """The script asked for: ``ivr`` for ``agi://host:port/ivr?x=1``."""
    request = env.get("agi_network_script") or urlsplit(env.get("agi_request", "")).path
    return request.strip("/").split("?")[0]


class FastAGIServer:
    def __init__(
        self,
        address: tuple[str, int],
        scripts: dict[str, Script],
        guards: Guards | None = None,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self.address = address
        # Sessions ended and failed, for the metrics (``bus.AGI_SESSIONS``, ``bus.AGI_FAILURES``).
        self.count = count or (lambda _key: None)
        self.scripts = scripts
        self.guards = guards or Guards.from_settings(Settings())
        self._peers = Peers(self.guards.peers)
        self._connections: set[AsyncAGI] = set()  # admitted, with or without their opening block
        self._sessions: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        # reuse_port: a new server can bind beside a draining old one, so a restart refuses no call.
        loop = self._loop = asyncio.get_running_loop()
        limits = self.guards.session
        self._server = await loop.create_server(
            lambda: AsyncAGI(self, loop, limits), *self.address, backlog=LISTEN_BACKLOG, reuse_port=True
        )
        self._sweeper = loop.call_later(self.guards.sweep_s, self._sweep)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    @property
    def connections(self) -> int:
        return len(self._connections)

    # -- what the sessions ask (session.Host) ----------------------------------------------------
    def admit(self, agi: AsyncAGI, peer: str) -> bool:
        if not self._peers.allows(peer):
            log.warning("FastAGI connection from %s refused: not Asterisk's address (agi_allowed_peers)", peer)
            return False
        if len(self._connections) >= self.guards.max_sessions:
            log.warning(
                "FastAGI connection from %s refused: %d sessions open (agi_max_sessions)",
                peer,
                self.guards.max_sessions,
            )
            return False
        self._connections.add(agi)
        return True

    def ready(self, agi: AsyncAGI) -> None:
        assert self._loop is not None  # started
        task = self._loop.create_task(self._session(agi))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    def lost(self, agi: AsyncAGI) -> None:
        self._connections.discard(agi)

    def _sweep(self) -> None:
        """End the sessions past their deadline; one timer for all, none per command on the hot path."""
        assert self._loop is not None  # started
        now = self._loop.time()
        for agi in [agi for agi in self._connections if agi.deadline < now]:
            agi.expire()
        self._sweeper = self._loop.call_later(self.guards.sweep_s, self._sweep)

    async def _session(self, agi: AsyncAGI) -> None:
        uniqueid = agi.env.get("agi_uniqueid", "?")
        try:
            name = script_name(agi.env)
            script = self.scripts.get(name)
            if script is None:
                log.error("call %s asked for unknown AGI script %r", uniqueid, name)
                self.count(bus.AGI_FAILURES)
                return
            await script(agi)
        except AGIHangup:
            log.debug("call %s hung up during the IVR", uniqueid)
        except AGISessionError:
            log.info("call %s: the session was ended; the dialplan falls back to the operators", uniqueid)
        except Exception:
            log.exception("AGI script failed for call %s; the dialplan falls back to the operators", uniqueid)
            self.count(bus.AGI_FAILURES)
        finally:
            agi.close()
            self.count(bus.AGI_SESSIONS)

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def drain(self, timeout: float) -> bool:
        """Wait for running calls to finish their IVR; True if all did within ``timeout``."""
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=timeout)
        return not self._sessions

    def close(self) -> None:
        """Stop the sweep (after the drain: the calls still in the IVR need their deadlines kept)."""
        if self._sweeper is not None:
            self._sweeper.cancel()


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
    server.close()
