"""One FastAGI session on the event loop: the opening block, then one command at a time.

The grammar (reply codes, ``key=value (data)`` pairs) and the errors are pyst2's
(``agi.interpret``); only the transport is asyncio, so thousands of sessions share one thread
instead of a thread each fighting for the interpreter lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from agi_scripts.agi import (
    AGIAppError,
    AGIHangup,
    AGIUnknownError,
    add_env_line,
    env_value,
    interpret,
    quote,
)

__all__ = ["AGIHangup", "AsyncAGI"]


class AsyncAGI(asyncio.Protocol):
    """Asterisk's side is the peer; ``on_ready`` is called once its environment block is read."""

    def __init__(self, on_ready: Callable[[AsyncAGI], None], loop: asyncio.AbstractEventLoop) -> None:
        self.env: dict[str, str] = {}
        self.hung_up = False
        self._on_ready = on_ready
        self._ready = False
        self._closed = False
        self._buffer = b""
        self._reply: list[str] = []
        self._waiter: asyncio.Future[list[str]] | None = None
        self._transport: asyncio.Transport | None = None
        self._loop = loop  # not asyncio.get_running_loop() per command: on 3.11 each is a getpid() system call

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP server's: a full Transport

    def data_received(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for raw in lines:
            self._line(raw.decode("utf-8", "replace").rstrip("\r"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(AGIHangup("connection closed by Asterisk"))

    def _line(self, line: str) -> None:
        if not self._ready:
            if line:
                add_env_line(self.env, line)
            else:
                self._ready = True
                self._on_ready(self)
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
        self._waiter.set_result(self._reply)
        self._reply = []

    # -- commands ------------------------------------------------------------------------------
    async def execute(self, command: str, *args: object) -> dict:
        """Send one command and read its reply; a dead channel or closed socket is ``AGIHangup``."""
        try:
            return interpret(await self._send(" ".join([command, *map(str, args)])))
        except AGIHangup:
            raise
        except AGIAppError as exc:
            # "result=-1" means failure *or* hangup, and the HANGUP notice may come later.
            if self.hung_up or await self._channel_gone():
                raise AGIHangup(str(exc)) from exc
            raise

    async def _send(self, line: str) -> list[str]:
        if self._closed or self._transport is None or self._transport.is_closing():
            raise AGIHangup("connection closed by Asterisk")
        self._waiter = self._loop.create_future()
        self._transport.write(line.encode() + b"\n")
        return await self._waiter

    async def _channel_gone(self) -> bool:
        try:
            status = interpret(await self._send("CHANNEL STATUS"))["result"][0]
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


def _digit(result: dict) -> str:
    value = result["result"][0]
    return "" if value in ("0", "") else chr(int(value))
