"""The FastAGI server against a scripted Asterisk peer speaking the AGI protocol over a socket."""

from __future__ import annotations

import asyncio
import functools
import io
import socket
import threading
from collections.abc import Iterator

import pytest
import uvloop

from agi_scripts.server import FastAGIServer, Guards
from agi_scripts.session import AGIHangup, AsyncAGI
from alo185.core.procs import wait_until
from alo185.core.settings import Settings

ENV = [
    "agi_network: yes",
    "agi_network_script: ivr",
    "agi_request: agi://127.0.0.1:4573/ivr",
    "agi_channel: Local/k1@alo185-sim-caller-00000001;1",
    "agi_uniqueid: 1700000000.42",
    "agi_callerid: +905321234567",
    "agi_calleridname: Gülşen Çağlar",
]


class Peer:
    """Asterisk's side of one AGI session."""

    def __init__(self, port: int, env: list[str] = ENV, source: str | None = None) -> None:
        """``source``: the address it connects from (any of 127.0.0.0/8 on Linux)."""
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0) if source else None
        )
        self.r = self.sock.makefile("r", encoding="utf-8", newline="\n")
        self.w = self.sock.makefile("w", encoding="utf-8", newline="\n")
        self.w.write("\n".join(env) + "\n\n")
        self.w.flush()

    def command(self) -> str:
        return self.r.readline().rstrip("\n")

    def reply(self, line: str) -> None:
        self.w.write(line + "\n")
        self.w.flush()

    def closed(self) -> bool:
        return self.r.readline() == ""


class Loop:
    """An event loop in a thread, as the server process runs one: uvloop's (``agi_scripts.main``)."""

    def __init__(self) -> None:
        self.loop = uvloop.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *args, timeout: float = 10):
        """Run a plain callable in the loop's thread: asyncio objects are not thread-safe."""

        async def _call():
            return fn(*args)

        return self.run(_call(), timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class Serve:
    """``serve(script, deps)`` starts a FastAGI server for ``script`` and returns its port; ``servers`` and
    ``loop`` for the tests that reach in."""

    def __init__(self) -> None:
        self.loop = Loop()
        self.servers: list[FastAGIServer] = []

    def __call__(self, script, deps=None, port: int = 0, settings: Settings | None = None) -> int:
        guards = Guards.from_settings(settings) if settings is not None else None
        server = FastAGIServer(("127.0.0.1", port), {"ivr": functools.partial(script, deps=deps)}, guards)
        self.loop.run(server.start())
        self.servers.append(server)
        return server.port


@pytest.fixture
def serve() -> Iterator[Serve]:
    serving = Serve()
    yield serving
    for server in serving.servers:
        serving.loop.call(server.stop_accepting)
    serving.loop.close()


def test_environment_and_utf8_quoting(serve) -> None:
    seen: dict = {}

    async def script(agi: AsyncAGI, deps: object) -> None:
        seen.update(agi.env)
        await agi.set_variable("GREETING", 'Merhaba "Gülşen" \\ İyi günler')

    peer = Peer(serve(script))
    assert peer.command() == 'SET VARIABLE "GREETING" "Merhaba \\"Gülşen\\" \\\\ İyi günler"'
    peer.reply("200 result=1")
    assert peer.closed()
    assert seen["agi_calleridname"] == "Gülşen Çağlar"
    assert seen["agi_request"] == "agi://127.0.0.1:4573/ivr"


def test_hangup_notice_mid_command_ends_the_script_quietly(serve, caplog) -> None:
    outcome: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        try:
            await agi.stream_file("/x/prompt", "1")
            await agi.stream_file("/x/prompt", "1")
        except AGIHangup:
            outcome.append("hangup")
            raise

    peer = Peer(serve(script))
    assert peer.command() == 'STREAM FILE /x/prompt "1" 0'
    peer.reply("HANGUP")
    peer.reply("200 result=-1")
    assert peer.closed()
    assert outcome == ["hangup"]
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("reply", ["511 Command Not Permitted on a dead channel or intercept routine", None])
def test_dead_channel_and_closed_socket_are_hangups(serve, reply) -> None:
    outcome: list[str] = []
    done = threading.Event()

    async def script(agi: AsyncAGI, deps: object) -> None:
        try:
            await agi.set_variable("A", "1")
        except AGIHangup:
            outcome.append("hangup")
        finally:
            done.set()

    peer = Peer(serve(script))
    peer.command()
    if reply:
        peer.reply(reply)
    else:
        peer.sock.shutdown(socket.SHUT_RDWR)
    assert done.wait(5) and outcome == ["hangup"]


def test_a_failing_script_closes_the_session_and_sets_nothing(serve, caplog) -> None:
    async def script(agi: AsyncAGI, deps: object) -> None:
        raise RuntimeError("database is down")

    peer = Peer(serve(script))
    assert peer.closed()  # no SET VARIABLE: the dialplan's fallback queue stands
    assert "falls back to the operators" in caplog.text


def test_unknown_script_is_refused(serve, caplog) -> None:
    async def nothing(_agi: AsyncAGI, deps: object) -> None:
        pass

    port = serve(nothing)
    peer = Peer(port, [line.replace("ivr", "nosuch") for line in ENV])
    assert peer.closed()
    assert "unknown AGI script 'nosuch'" in caplog.text


def test_many_concurrent_sessions(serve) -> None:
    async def script(agi: AsyncAGI, deps: object) -> None:
        await agi.set_variable("Q", agi.env["agi_uniqueid"])

    port = serve(script)
    peers = [Peer(port, [*ENV[:5], f"agi_uniqueid: call-{i}"]) for i in range(200)]
    for i, peer in enumerate(peers):
        assert peer.command() == f'SET VARIABLE "Q" "call-{i}"'
        peer.reply("200 result=1")
    assert all(peer.closed() for peer in peers)


def test_a_second_server_binds_beside_a_draining_one(serve) -> None:
    release = asyncio.Event()

    async def slow(agi: AsyncAGI, deps: object) -> None:
        await asyncio.wait_for(release.wait(), 5)
        await agi.set_variable("DONE", "1")

    port = serve(slow)
    server = serve.servers[-1]
    peer = Peer(port)
    assert peer.r.readable()
    assert serve(slow, port=port) == port  # a second server binds beside: a restart refuses no call
    assert wait_until(lambda: server.active_sessions == 1, 5), server.active_sessions
    serve.loop.call(server.stop_accepting)
    assert not serve.loop.run(server.drain(0.2))  # the call in the IVR keeps going
    serve.loop.loop.call_soon_threadsafe(release.set)
    assert peer.command() == 'SET VARIABLE "DONE" "1"'
    peer.reply("200 result=1")
    assert serve.loop.run(server.drain(5)) and server.active_sessions == 0


def test_errors_from_asterisk_are_raised_as_pyst2_errors(serve) -> None:
    from asterisk.agi import AGIInvalidCommand, AGIUsageError

    raised: list[type] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        for command in ("NO SUCH", "SET VARIABLE"):
            try:
                await agi.execute(command)
            except (AGIInvalidCommand, AGIUsageError) as exc:
                raised.append(type(exc))
        await agi.set_variable("OK", "1")

    peer = Peer(serve(script))
    assert peer.command() == "NO SUCH"
    peer.reply("510 Invalid or unknown command")
    assert peer.command() == "SET VARIABLE"
    peer.reply("520-Invalid command syntax.  Proper usage follows:")
    peer.reply("Usage: SET VARIABLE <variablename> <value>")
    peer.reply("520 End of proper usage.")
    assert peer.command() == 'SET VARIABLE "OK" "1"'
    peer.reply("200 result=1")
    assert peer.closed() and raised == [AGIInvalidCommand, AGIUsageError]


@pytest.mark.parametrize(
    "line",
    [
        "200 result=49 endpos=8000",
        "200 result=0",
        "200 result=1  endpos=5",
        "200 result=1 (3)",
        "200 result=0 endpos=12 (timeout)",
        "200 result=1 (hangup)",
        "200 result=-1",
        "200 result=-1 endpos=0",
        "200 result=",
        "200 result=1 x=y=z",
        "200 result=1 1x=2",
    ],
)
def test_replies_read_as_pyst2_reads_them(line: str) -> None:
    """The reply parser's shortcut for plain replies gives what pyst2's own regular expressions give."""
    from asterisk.agi import AGI, AGIAppError, AGIResultHangup

    from agi_scripts.agi import interpret

    class Pyst2(AGI):
        def __init__(self) -> None:  # pyst2's reading of one reply alone: no session, no signal handler
            self.stdin, self.stderr = io.StringIO(line + "\n"), io.StringIO()

    try:
        expected: object = Pyst2().get_result()
    except (AGIAppError, AGIResultHangup) as exc:
        expected = type(exc)
    try:
        got: object = interpret([line])
    except (AGIAppError, AGIResultHangup) as exc:
        got = type(exc)
    assert got == expected


def test_failure_on_a_channel_that_is_gone_is_a_hangup(serve, caplog) -> None:
    outcome: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        try:
            await agi.stream_file("/x/kvkk")
        except AGIHangup:
            outcome.append("hangup")

    peer = Peer(serve(script))
    assert peer.command() == 'STREAM FILE /x/kvkk "" 0'
    peer.reply("200 result=-1 endpos=0")  # no HANGUP notice (yet)
    assert peer.command() == "CHANNEL STATUS"
    peer.reply("511 Command Not Permitted on a dead channel or intercept routine")
    assert peer.closed() and outcome == ["hangup"]
    assert "Traceback" not in caplog.text
