"""Free loopback ports for throw-away instances.

Parallel test workers each start instances of their own; a port the kernel hands one of them
(``bind`` to port 0) may be handed to another before the first instance binds it. So a process
that is given a range of its own (``ALO185_PORT_RANGE=20100-20699``, one per test worker) takes
its ports from it, in turn, each checked free for TCP and UDP (SIP is UDP); otherwise the kernel
chooses. A port from the range comes with the one after it free too: some programs take the next one
themselves (baresip listens for SIP over TLS on its SIP port + 1).
"""

from __future__ import annotations

import functools
import itertools
import os
import socket
from collections.abc import Iterator

RANGE_VARIABLE = "ALO185_PORT_RANGE"


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@functools.cache
def _own_range(text: str) -> Iterator[int]:
    first, _, last = text.partition("-")
    return itertools.cycle(range(int(first), int(last), 2))


def free_port() -> int:
    text = os.environ.get(RANGE_VARIABLE, "")
    if not text:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    ports = _own_range(text)
    for _ in range(10_000):
        port = next(ports)
        if _bindable(port) and _bindable(port + 1):
            return port
    raise RuntimeError(f"no free port left in {RANGE_VARIABLE}={text}")
