"""One FastAGI session on the event loop: the opening block, then one command at a time.

The grammar (reply codes, ``key=value (data)`` pairs) and the errors are pyst2's
(``agi.interpret``); only the transport is asyncio, so thousands of sessions share one thread
instead of a thread each fighting for the interpreter lock.

A session guards the loop it shares: a line longer than the limit, an opening block that is not
Asterisk's, or a peer gone silent (``deadline``, watched by the server) ends it alone.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol, cast

from asterisk.agi import AGIError

from agi_scripts.agi import (
    AGIAppError,
    AGIHangup,
    AGIUnknownError,
    add_env_line,
    env_value,
    interpret,
    quote,
)

__all__ = ["AGIHangup", "AGISessionError", "AsyncAGI", "Host", "Limits"]

log = logging.getLogger(__name__)
NEVER = float("inf")
# What Asterisk's opening block always holds; a block without them is not Asterisk's.
REQUIRED_ENV = ("agi_request", "agi_channel", "agi_uniqueid")
MAX_ENV_LINES = 256  # Asterisk sends about twenty, and one per AGI() argument (at most 128)
# Commands that wait on the caller for a time of their own: the index of that argument (milliseconds).
OWN_WAIT_ARG = {"WAIT FOR DIGIT": 0, "RECORD FILE": 3, "GET DATA": 1}


class AGISessionError(AGIError):
    """The peer broke the protocol or stopped answering: the session ends, the dialplan's fallback stands."""


@dataclass(frozen=True)
class Limits:
    """What one session may take (settings ``agi_max_line_bytes``, ``agi_*_timeout_s``)."""

    max_line: int
    header_timeout_s: float
    command_timeout_s: float


class Host(Protocol):
    """The server a session belongs to."""

    def admit(self, agi: AsyncAGI, peer: str) -> bool:
        """A new connection from address ``peer``: False refuses it."""

    def ready(self, agi: AsyncAGI) -> None:
        """A valid opening block has been read: run the script."""

    def lost(self, agi: AsyncAGI) -> None:
        """The connection is gone."""


class AsyncAGI(asyncio.Protocol):
    """Asterisk's side is the peer; ``host.ready`` is called once its environment block is read and valid."""

    def __init__(self, host: Host, loop: asyncio.AbstractEventLoop, limits: Limits) -> None:
        self.env: dict[str, str] = {}
        self.hung_up = False
        self.peer = ""
        # loop.time() by which the peer must have sent its block, or answered the command; the server's
        # sweep ends the session past it.
        self.deadline = NEVER
        self._host = host
        self._limits = limits
        self._max_line = limits.max_line
        self._command_s = limits.command_timeout_s
        self._ready = False
        self._closed = False
        self._failed: str | None = None  # why this side ended the session
        self._buffer = bytearray()  # an incomplete line, at most ``limits.max_line`` bytes
        self._reply: list[str] = []
        self._command = ""
        self._waiter: asyncio.Future[list[str]] | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = loop  # not asyncio.get_running_loop() per command: on 3.11 each is a getpid() system call

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP server's: a full Transport
        peername = transport.get_extra_info("peername")
        self.peer = str(peername[0]) if peername else ""
        if not self._host.admit(self, self.peer):
            self._failed = "refused"
            self._transport.abort()
            return
        self.deadline = self._loop.time() + self._limits.header_timeout_s

    def data_received(self, data: bytes) -> None:
        # A partial line is kept in a capped buffer and joined once, when its end comes: no copy of
        # what came before per chunk.
        *lines, rest = data.split(b"\n")
        if not lines:
            self._keep_partial(rest)
            return
        if self._buffer:
            lines[0] = bytes(self._buffer) + lines[0]
            self._buffer.clear()
            if len(lines[0]) > self._max_line:
                self.fail(f"a line longer than {self._max_line} bytes")
                return
        # Any other line over the limit came in this chunk: none can when the chunk is shorter.
        if len(data) > self._max_line and max(map(len, lines)) > self._max_line:
            self.fail(f"a line longer than {self._max_line} bytes")
            return
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").rstrip("\r"))
        if rest:
            self._keep_partial(rest)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self.deadline = NEVER
        self._host.lost(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(AGIHangup("connection closed by Asterisk"))

    def _keep_partial(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > self._max_line:
            self.fail(f"a line longer than {self._max_line} bytes")

    def _line(self, line: str) -> None:
        if not self._ready:
            self._env_line(line)
            return
        line = line.strip()
        if line == "HANGUP":  # asynchronous notice; the reply to the pending command still follows
            self.hung_up = True
            return
        if self._waiter is None or self._waiter.done():
            return  # nothing asked: a stray line
        self._reply.append(line)
        if self._reply[0].startswith("520-") and not line.startswith("520 "):
            return  # a usage block runs until its "520 " line
        self.deadline = NEVER
        self._waiter.set_result(self._reply)
        self._reply = []

    def _env_line(self, line: str) -> None:
        """One line of the opening block: ``agi_name: value``, or the empty line that ends it."""
        if line:
            if line.startswith("agi_") and len(self.env) < MAX_ENV_LINES and self._failed is None:
                add_env_line(self.env, line)
            else:
                self.fail("not an AGI environment block")
            return
        env = self.env
        if self._failed is not None:
            return  # the rest of a chunk after a bad line
        if not (env.get("agi_request") and env.get("agi_channel") and env.get("agi_uniqueid")):
            missing = [name for name in REQUIRED_ENV if not env.get(name)]
            self.fail(f"an AGI environment block without {', '.join(missing)}")
            return
        self._ready = True
        self.deadline = NEVER
        self._host.ready(self)

    # -- ending it from this side -----------------------------------------------------------------
    def fail(self, reason: str) -> None:
        """End the session: the pending command raises ``AGISessionError``, the connection is dropped."""
        if self._failed is not None:
            return
        self._failed = reason
        self.deadline = NEVER
        self._buffer = bytearray()
        if self._ready:
            log.warning(
                "call %s (Asterisk at %s): %s; the session ends", self.env.get("agi_uniqueid", "?"), self.peer, reason
            )
        else:
            log.warning("FastAGI connection from %s dropped: %s", self.peer, reason)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(AGISessionError(reason))
        if self._transport is not None:
            self._transport.abort()

    def expire(self) -> None:
        """The deadline has passed: the opening block or the reply did not come in time."""
        if not self._ready:
            self.fail(f"no environment block within {self._limits.header_timeout_s} s")
        else:
            self.fail(f"no reply to {self._command!r} within its timeout")

    # -- commands ------------------------------------------------------------------------------
    async def execute(self, command: str, *args: object) -> dict:
        """Send one command and read its reply; a dead channel or closed socket is ``AGIHangup``."""
        timeout_s = self._command_s if command not in OWN_WAIT_ARG else self._command_s + _own_wait_s(command, args)
        try:
            return interpret(await self._send(" ".join([command, *map(str, args)]), timeout_s))
        except AGIHangup:
            raise
        except AGIAppError as exc:
            # "result=-1" means failure *or* hangup, and the HANGUP notice may come later.
            if self.hung_up or await self._channel_gone():
                raise AGIHangup(str(exc)) from exc
            raise

    async def _send(self, line: str, timeout_s: float) -> list[str]:
        if self._failed is not None:
            raise AGISessionError(self._failed)
        if self._closed or self._transport is None or self._transport.is_closing():
            raise AGIHangup("connection closed by Asterisk")
        self._waiter = self._loop.create_future()
        self._command = line
        self.deadline = self._loop.time() + timeout_s
        self._transport.write(line.encode() + b"\n")
        return await self._waiter

    async def _channel_gone(self) -> bool:
        try:
            status = interpret(await self._send("CHANNEL STATUS", self._command_s))["result"][0]
        except (AGIHangup, AGIAppError, AGIUnknownError):
            return True
        return self.hung_up or status in ("-1", "")

    async def stream_file(self, filename: str, escape_digits: str = "") -> str:
        """Play a file (no extension); the key that interrupted it, or ``""``."""
        return _digit(await self.execute("STREAM FILE", filename, quote(escape_digits), 0))

    async def wait_for_digit(self, timeout_ms: int) -> str:
        return _digit(await self.execute("WAIT FOR DIGIT", timeout_ms))

    async def get_full_variable(self, name: str) -> str:
        return (await self.execute("GET FULL VARIABLE", quote(name)))["result"][1]

    async def set_variable(self, name: str, value: object) -> None:
        await self.execute("SET VARIABLE", quote(name), quote(value))

    def env_get(self, name: str, default: str = "") -> str:
        return env_value(self.env, name, default)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _own_wait_s(command: str, args: tuple[object, ...]) -> float:
    """Seconds the command may take by itself (its timeout argument), beyond the reply timeout."""
    index = OWN_WAIT_ARG[command]
    if len(args) <= index:
        return 0.0
    try:
        return max(0.0, int(str(args[index])) / 1000)
    except ValueError:
        return 0.0


def _digit(result: dict) -> str:
    value = result["result"][0]
    return "" if value in ("0", "") else chr(int(value))
