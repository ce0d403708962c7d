"""Record the AMI event stream of a real run, for ``python -m bench ami`` to replay without Asterisk.

Re-record with ``python -m bench.ami_capture`` (about three minutes once the machine's PBX root
is provisioned), then commit both files. It runs the whole stack with the real Asterisk,
logs in to AMI with a raw TCP client as the queue manager's user (so the stream carries exactly
the events the queue manager's event filter lets through), staffs every queue with simulated
operators and places ``CALLS`` calls through the IVR into the queues, in waves of ``WAVE`` at
once with fewer operators than callers, so callers wait. The last caller of each wave hangs up
a few seconds after reaching the queue (an abandon when nobody answered by then); the others
talk and answer the survey, as in ``bench/calls.py``.

Every byte AMI sent is written unchanged to ``STREAM_FILE`` (gzip). After each wave, once
Asterisk has no channel left, the length of the stream so far is noted in ``INDEX_FILE``: a
point where nobody waits and no operator is busy (the quick benchmark replays the stream up to
the first one), with the run's facts.
"""

from __future__ import annotations

import gzip
import json
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alo185.core import procs
from alo185.core.settings import Settings
from bench.calls import PATHS
from harness import simulate
from harness.instance import Stack, isolated_settings, running_stack

STREAM_FILE = Path(__file__).parent / "data" / "ami_stream.txt.gz"
INDEX_FILE = STREAM_FILE.with_name("ami_stream.json")
CALLS, WAVE, OPERATORS, TALK_S = 40, 10, 3, 2
EOL = b"\r\n"


class RawAmiClient:
    """A plain socket logged in to AMI that keeps every byte it is sent, as the wire carried it."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.create_connection((settings.ami_host, settings.ami_port), timeout=10)
        self.sock.settimeout(None)
        self.data = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name="ami-recorder", daemon=True)
        self._reader.start()
        login = {"Action": "Login", "Username": settings.ami_user, "Secret": settings.secrets()["ami_secret"]}
        self.sock.sendall(EOL.join(f"{k}: {v}".encode() for k, v in login.items()) + EOL + EOL)
        if not procs.wait_until(lambda: b"Authentication accepted" in self.received(), 10):
            raise RuntimeError(f"AMI login failed: {self.received()[:300]!r}")

    def _read(self) -> None:
        while chunk := self.sock.recv(65536):
            with self._lock:
                self.data += chunk

    def received(self) -> bytes:
        with self._lock:
            return bytes(self.data)

    def close(self) -> bytes:
        """Everything received, once the connection is shut."""
        self.sock.shutdown(socket.SHUT_RDWR)
        self._reader.join(10)
        self.sock.close()
        return self.received()


def _call(stack: Stack, i: int) -> None:
    """One citizen's call, until its record is complete; the wave's last caller gives up early."""
    gives_up = i % WAVE == WAVE - 1
    keys = stack.after_notice(PATHS[i % len(PATHS)])
    uniqueid = stack.call(
        keys=keys + "W" * 6 if gives_up else simulate.then_survey(keys),
        caller=f"+90533{2000000 + i}",
        hang_up=gives_up,
    )
    stack.wait_record(uniqueid, timeout=120)


def _wait_quiet(stack: Stack) -> None:
    """No channel left in Asterisk, and a moment for the last member state changes to arrive."""
    if not procs.wait_until(lambda: "0 active channels" in stack.pbx.cli("core show channels count"), 60, 0.5):
        raise RuntimeError("channels still up after the wave")
    time.sleep(1.5)


def record() -> tuple[bytes, list[int]]:
    """The raw AMI stream of ``CALLS`` calls through the real stack, and its quiet points (offsets)."""
    quiet = []
    with tempfile.TemporaryDirectory(prefix="alo185-bench-") as tmp, running_stack(isolated_settings(Path(tmp))) as st:
        client = RawAmiClient(st.settings)
        try:
            st.add_sim_operators(talk_s=TALK_S, count=OPERATORS)
            for start in range(0, CALLS, WAVE):
                with ThreadPoolExecutor(WAVE) as pool:
                    list(pool.map(lambda i: _call(st, i), range(start, min(CALLS, start + WAVE))))
                _wait_quiet(st)
                quiet.append(_message_end(client.received()))
        finally:
            data = client.close()
    return data, quiet


def _message_end(data: bytes) -> int:
    """The length of ``data`` if it ends with a whole message (it does once AMI has gone quiet)."""
    if not data.endswith(EOL + EOL):
        raise RuntimeError(f"the stream stops inside a message: {data[-200:]!r}")
    return len(data)


def main() -> int:
    data, quiet = record()
    STREAM_FILE.parent.mkdir(parents=True, exist_ok=True)
    STREAM_FILE.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    index = {"calls": CALLS, "wave": WAVE, "operators": OPERATORS, "talk_s": TALK_S, "quiet_offsets": quiet}
    INDEX_FILE.write_text(json.dumps(index, indent=2) + "\n")
    print(f"{len(data)} bytes, {data.count(EOL + EOL)} messages -> {STREAM_FILE} ({STREAM_FILE.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
