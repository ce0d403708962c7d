"""Classic AGI entry point: ``AGI(/path/to/python -m agi_scripts.classic)``, one process per call.

The same IVR as the FastAGI server, over stdin/stdout with pyst2. It pays the interpreter start
and the imports on every call (see bench/ivr.py); it exists for sites that cannot run the server.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from agi_scripts import ivr
from agi_scripts.agi import AGIHangup, SocketAGI
from agi_scripts.main import build_deps
from alo185.core import bus
from alo185.core.settings import load_settings


class BlockingChannel:
    """pyst2's blocking AGI behind the IVR's ``Channel`` interface (one call per process: blocking is fine)."""

    def __init__(self, agi: SocketAGI) -> None:
        self.agi = agi
        self.env = agi.env

    def env_get(self, name: str, default: str = "") -> str:
        return self.agi.env_get(name, default)

    async def stream_file(self, filename: str, escape_digits: str = "") -> str:
        return self.agi.stream_file(filename, escape_digits)

    async def wait_for_digit(self, timeout_ms: int) -> str:
        return self.agi.wait_for_digit(timeout_ms)

    async def get_full_variable(self, name: str) -> str:
        return self.agi.get_full_variable(name)

    async def set_variable(self, name: str, value: object) -> None:
        self.agi.set_variable(name, value)

    async def execute(self, command: str, *args: object) -> dict:
        return self.agi.execute(command, *args)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    agi = SocketAGI(sys.stdin, sys.stdout)
    settings = load_settings()
    publisher = bus.BackgroundPublisher(bus.connect(settings.redis_connection_url))
    deps = build_deps(settings, publisher.publish, render_prompts=False)
    try:
        asyncio.run(ivr.run(BlockingChannel(agi), deps))
    except AGIHangup:
        pass
    except Exception:
        logging.exception("IVR failed; the dialplan falls back to the operators")
    finally:
        publisher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
