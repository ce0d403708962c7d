"""Reference FastAGI server for bench/ivr.py: panoramisk's bare Application with a trivial handler.

The handler replays a fixed AGI command sequence (the one a real IVR call sends) and does no
other work, so it measures the framework alone.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from panoramisk.fast_agi import Application


def main(port: int, commands: list[str]) -> None:
    async def handler(request: Any) -> None:  # panoramisk 1.4 wants async def
        for command in commands:
            await request.send_command(command)

    async def serve() -> None:
        app = Application(loop=asyncio.get_running_loop())
        app.add_route("ivr", handler)
        server = await asyncio.start_server(app.handler, "127.0.0.1", port, backlog=512)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main(int(sys.argv[1]), json.loads(sys.argv[2]))
