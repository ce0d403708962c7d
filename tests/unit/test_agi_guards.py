"""The FastAGI server's guards: one client cannot stall the loop, silence ends a session, only Asterisk connects."""

from __future__ import annotations

import logging
import socket
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select

from agi_scripts import ivr
from agi_scripts.server import Guards, Peers
from agi_scripts.session import AsyncAGI
from alo185.calls.models import CallRecord
from alo185.core.procs import wait_until
from alo185.core.settings import Settings, load_settings
from tests.unit.test_agi_protocol import ENV, Peer
from tests.unit.test_agi_protocol import serve as serve  # the fixture
from tests.unit.test_ivr_script import answer
from tests.unit.test_ivr_script import deps as deps  # the fixture
from workers.recorder import apply_event

SHORT = Settings(agi_header_timeout_s=0.5, agi_command_timeout_s=0.5)


async def set_q(agi: AsyncAGI, deps: object) -> None:
    await agi.set_variable("Q", agi.env["agi_uniqueid"])


def closed_by_the_server(sock: socket.socket, within_s: float = 5.0) -> bool:
    """True when the server closes the connection (end of file or reset) within ``within_s``."""
    sock.settimeout(within_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


class Flood:
    """A client sending a 64 MB line without a newline, in 1 MB writes, in a thread of its own."""

    SIZE, CHUNK = 64 << 20, b"x" * (1 << 20)

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sent = 0
        self.cut_off = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        try:
            while self.sent < self.SIZE:
                self.sent += self.sock.send(self.CHUNK)
        except OSError:
            self.cut_off.set()


def test_a_64_mb_line_is_cut_off_and_stalls_no_other_call(serve) -> None:
    port = serve(set_q, settings=Settings(agi_max_line_bytes=16384))
    tracemalloc.start()
    try:
        flood = Flood(port)
        time.sleep(0.2)  # the flood is under way
        waited = []
        for i in range(20):
            t0 = time.monotonic()
            peer = Peer(port, [*ENV[:5], f"agi_uniqueid: call-{i}"])
            assert peer.command() == f'SET VARIABLE "Q" "call-{i}"'
            waited.append(time.monotonic() - t0)
            peer.reply("200 result=1")
            assert peer.closed()
        assert flood.cut_off.wait(5) or closed_by_the_server(flood.sock)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert max(waited) < 1.0, waited
    assert flood.sent < Flood.SIZE  # the server stopped reading, and dropped it
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MB allocated while the line came"


def test_lines_that_come_in_pieces_are_read_whole(serve) -> None:
    """What the buffer joins: a block and a reply cut anywhere, one reply ending in the next one's chunk."""
    got: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        got.append(agi.env["agi_calleridname"])
        got.append(await agi.get_full_variable("A"))
        got.append(await agi.get_full_variable("B"))

    sock = socket.create_connection(("127.0.0.1", serve(script)), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    block = ("\n".join(ENV) + "\n\n").encode()
    for i in range(0, len(block), 7):  # through the middle of the UTF-8 of "Gülşen Çağlar" too
        sock.sendall(block[i : i + 7])
        time.sleep(0.002)
    lines = sock.makefile("r", encoding="utf-8")
    assert lines.readline() == 'GET FULL VARIABLE "A"\n'
    for piece in (b"200 res", b"ult=1 (B\xc3", b"\xbcy\xc3\xbck)\r\n"):
        sock.sendall(piece)
        time.sleep(0.01)
    assert lines.readline() == 'GET FULL VARIABLE "B"\n'
    sock.sendall(b"200 result=1 (x)\n")
    assert closed_by_the_server(sock)
    assert got == ["Gülşen Çağlar", "Büyük", "x"]


@pytest.mark.parametrize("pieces", [1, 2], ids=["one-chunk", "joined"])
def test_a_line_over_the_limit_during_a_call_ends_the_session(serve, caplog, pieces: int) -> None:
    port = serve(set_q, settings=Settings(agi_max_line_bytes=1024))
    peer = Peer(port)
    assert peer.command().startswith("SET VARIABLE")
    line = ("200 result=1 (" + "x" * 1500 + ")\n").encode()
    for i in range(pieces):  # two: each piece under the limit, the line they make over it
        peer.sock.sendall(line[i * len(line) // pieces : (i + 1) * len(line) // pieces])
        time.sleep(0.05)
    assert closed_by_the_server(peer.sock)
    assert "a line longer than 1024 bytes" in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("sent", [b"", b"agi_network: yes\nagi_network_script: ivr\n"], ids=["silent", "half"])
def test_a_connection_without_its_environment_is_closed(serve, sent: bytes) -> None:
    ran: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        ran.append(agi.env.get("agi_uniqueid", ""))

    server_port = serve(script, settings=SHORT)
    sock = socket.create_connection(("127.0.0.1", server_port))
    sock.sendall(sent)
    t0 = time.monotonic()
    assert closed_by_the_server(sock)
    assert time.monotonic() - t0 >= 0.4  # after the timeout, not at once
    assert wait_until(lambda: serve.servers[-1].connections == 0, 5) and ran == []


def test_an_unanswered_command_ends_the_call_by_the_fail_path(serve, deps, caplog) -> None:
    caplog.set_level(logging.INFO)
    the_deps, events = deps
    port = serve(ivr.run, the_deps, settings=SHORT)
    silent = Peer(port)
    assert silent.command().startswith("STREAM FILE")  # never answered
    t0 = time.monotonic()
    assert closed_by_the_server(silent.sock)  # no SET VARIABLE: the dialplan's fallback queue stands
    assert wait_until(lambda: serve.servers[-1].active_sessions == 0, 5)
    assert time.monotonic() - t0 < 5
    assert "the dialplan falls back to the operators" in caplog.text and "Traceback" not in caplog.text
    assert not [e for e in events if e["type"] == "ivr"]  # the caller did not hang up: no IVR outcome
    answered = Peer(port, [line.replace("1700000000.42", "1700000000.43") for line in ENV])
    assert answer(answered, {"language_tr": "1", "main_menu": "3"})["ALO185_QUEUE"] == "temizlik"


def test_a_command_that_waits_by_itself_gets_its_own_time(serve) -> None:
    """WAIT FOR DIGIT waits its own timeout for the caller: the reply timeout comes on top."""
    got: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        got.append(await agi.wait_for_digit(1500))

    peer = Peer(serve(script, settings=SHORT))
    assert peer.command() == "WAIT FOR DIGIT 1500"
    time.sleep(1.0)  # longer than the 0.5 s reply timeout, within the digit's own wait
    peer.reply("200 result=0")
    assert peer.closed() and got == [""]


def test_connections_over_the_limit_are_refused_and_the_others_go_on(serve) -> None:
    port = serve(set_q, settings=Settings(agi_max_sessions=3))
    peers = [Peer(port, [*ENV[:5], f"agi_uniqueid: call-{i}"]) for i in range(3)]
    commands = [peer.command() for peer in peers]  # all three in their IVR
    excess = Peer(port, [*ENV[:5], "agi_uniqueid: call-3"])
    assert closed_by_the_server(excess.sock)
    for i, (peer, command) in enumerate(zip(peers, commands, strict=True)):
        assert command == f'SET VARIABLE "Q" "call-{i}"'
        peer.reply("200 result=1")
        assert peer.closed()
    assert wait_until(lambda: serve.servers[-1].connections == 0, 5)
    again = Peer(port)  # the places are free again
    assert again.command().startswith("SET VARIABLE")


def test_a_peer_not_allowed_is_refused(serve, caplog) -> None:
    ran: list[str] = []

    async def script(agi: AsyncAGI, deps: object) -> None:
        ran.append(agi.env["agi_uniqueid"])

    port = serve(script, settings=Settings(agi_allowed_peers=("127.0.0.1",), ami_host="127.0.0.1"))
    assert closed_by_the_server(Peer(port, source="127.0.0.2").sock)
    assert "127.0.0.2 refused" in caplog.text
    assert Peer(port, source="127.0.0.1").closed()
    assert ran == ["1700000000.42"]  # only the allowed peer's session ran


def test_allowed_peers_are_addresses_and_networks() -> None:
    peers = Peers(["127.0.0.1", "10.20.0.0/16", "::1"])
    assert peers.allows("127.0.0.1") and peers.allows("::1") and peers.allows("10.20.3.4")
    assert peers.allows("::ffff:10.20.3.4")  # an IPv4 peer on a dual-stack socket
    assert not peers.allows("127.0.0.2") and not peers.allows("10.21.0.1") and not peers.allows("")
    with pytest.raises(ValueError, match="agi_allowed_peers"):
        Settings(agi_allowed_peers=("asterisk.example",))


def test_the_guards_come_from_the_settings_with_asterisks_address(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ALO185_VAR_DIR": str(tmp_path),
            "ALO185_AGI_ALLOWED_PEERS": "10.0.0.5, 10.1.0.0/16",
            "ALO185_AMI_HOST": "192.0.2.7",
            "ALO185_AGI_COMMAND_TIMEOUT_S": "30",
        }
    )
    guards = Guards.from_settings(settings)
    assert guards.peers == ("10.0.0.5", "10.1.0.0/16", "192.0.2.7")
    assert guards.session.command_timeout_s == 30.0 and guards.max_sessions == 1000
    assert Guards.from_settings(Settings()).peers == ("127.0.0.1", "::1")  # loopback, Asterisk's among it
    with pytest.raises(ValueError, match="agi_command_timeout_s"):
        Settings(agi_command_timeout_s=0)


@pytest.mark.parametrize(
    ("source", "env"),
    [
        ("127.0.0.2", ENV),  # Asterisk's block, from an address that is not Asterisk's
        ("127.0.0.1", ["GET / HTTP/1.1", *ENV]),  # garbage before it
        ("127.0.0.1", [line for line in ENV if not line.startswith(("agi_channel", "agi_request"))]),  # incomplete
    ],
    ids=["other-address", "garbage", "incomplete"],
)
def test_a_fake_session_makes_no_call_record(serve, deps, source: str, env: list[str]) -> None:
    the_deps, events = deps
    port = serve(ivr.run, the_deps, settings=Settings(agi_allowed_peers=("127.0.0.1",), ami_host="127.0.0.1"))
    fake = Peer(port, env, source=source)
    assert closed_by_the_server(fake.sock)  # not one AGI command
    fake.sock.close()
    assert wait_until(lambda: serve.servers[-1].connections == 0, 5)
    time.sleep(0.2)  # what a script would publish on its way out
    with the_deps.sessions.begin() as session:
        for event in events:
            apply_event(session, event)
    with the_deps.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(CallRecord)) == 0
    assert events == []
