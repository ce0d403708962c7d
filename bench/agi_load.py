"""A protocol-level FastAGI/AGI load client: it plays Asterisk's side of many sessions at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import cast

# Keys a caller presses during these prompts: Türkçe, then cleaning and waste (queue temizlik).
PATH_KEYS = {"language_tr": "1", "main_menu": "3"}


def env_block(i: int) -> bytes:
    lines = [
        "agi_network: yes",
        "agi_network_script: ivr",
        "agi_request: agi://127.0.0.1/ivr",
        f"agi_channel: Local/k13@alo185-sim-caller-{i:08x};1",
        f"agi_uniqueid: bench-{time.time_ns()}-{i}",
        f"agi_callerid: +90532{2000000 + i % 1000000}",
        f"agi_arg_1: {time.time():.6f}",
    ]
    return ("\n".join(lines) + "\n\n").encode()


def answer(line: str) -> str:
    """What Asterisk would answer, with the caller pressing PATH_KEYS at their prompts."""
    if line.startswith("STREAM FILE"):
        key = PATH_KEYS.get(PurePosixPath(line.split()[2]).name, "")
        return f"200 result={ord(key) if key else 0} endpos=8000\n"
    if line.startswith("GET FULL VARIABLE"):
        return "200 result=1 (3)\n"
    if line.startswith("WAIT FOR DIGIT"):
        return "200 result=0\n"
    return "200 result=1\n"


@dataclass
class LoadResult:
    sessions: int
    failed: int
    wall_s: float
    session_s: list[float] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # the first session's commands

    @property
    def per_s(self) -> float:
        return (self.sessions - self.failed) / self.wall_s if self.wall_s else 0.0


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def _converse(
    reader: asyncio.StreamReader,
    write: Callable[[bytes], None],
    drain: Callable[[], Awaitable[None]],
    i: int,
    record: list[str] | None,
) -> int:
    write(env_block(i))
    await drain()
    count = 0
    while True:
        raw = await reader.readline()
        if not raw:
            return count
        line = raw.decode().strip()
        if record is not None:
            record.append(line)
        write(answer(line).encode())
        await drain()
        count += 1


class _AsteriskSide(asyncio.Protocol):
    """One FastAGI session as Asterisk plays it: the environment block, then a reply per command line.

    A bare protocol rather than streams: Asterisk answers from C, and a load client heavier than the
    servers it drives would cap them all at its own speed and hide their differences.
    """

    def __init__(self, i: int, record: list[str] | None, done: asyncio.Future[int]) -> None:
        self.i, self.record, self.done = i, record, done
        self.count = 0
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP connection's: a full Transport
        self._transport.write(env_block(self.i))

    def data_received(self, data: bytes) -> None:
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        replies = []
        for raw in lines:
            line = raw.decode().strip()
            if self.record is not None:
                self.record.append(line)
            replies.append(answer(line))
        self.count += len(replies)
        if replies and self._transport is not None:
            self._transport.write("".join(replies).encode())

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.count)


async def _tcp_session(port: int, i: int, record: list[str] | None) -> int:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    transport, _ = await loop.create_connection(lambda: _AsteriskSide(i, record, done), "127.0.0.1", port)
    try:
        return await done
    finally:
        transport.close()


async def _process_session(argv: list[str], env: dict[str, str], i: int, record: list[str] | None) -> int:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        return await _converse(proc.stdout, proc.stdin.write, proc.stdin.drain, i, record)
    finally:
        await proc.wait()


async def _run(
    start: Callable[[int, list[str] | None], Awaitable[int]], sessions: int, concurrency: int, min_commands: int
) -> LoadResult:
    gate = asyncio.Semaphore(concurrency)
    result = LoadResult(sessions=sessions, failed=0, wall_s=0.0)

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            try:
                n = await start(i, result.commands if i == 0 else None)
            except OSError:
                n = -1
            if n < min_commands:
                result.failed += 1
            else:
                result.session_s.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(sessions)))
    result.wall_s = time.perf_counter() - t0
    return result


def load_tcp(port: int, sessions: int, concurrency: int, min_commands: int = 1) -> LoadResult:
    return asyncio.run(_run(lambda i, rec: _tcp_session(port, i, rec), sessions, concurrency, min_commands))


def load_processes(
    argv: list[str], env: dict[str, str], sessions: int, concurrency: int, min_commands: int = 1
) -> LoadResult:
    return asyncio.run(_run(lambda i, rec: _process_session(argv, env, i, rec), sessions, concurrency, min_commands))
