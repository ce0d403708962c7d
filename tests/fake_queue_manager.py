"""A stand-in for the queue manager's command loop: answers each command on the stream as told."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from alo185.core import bus
from alo185.core.settings import Settings
from alo185.operators import queue_commands

Answer = Callable[[dict[str, Any]], dict[str, Any]]


class FakeQueueManager(threading.Thread):
    """Answers every command on the stream as ``answer`` says; keeps what it saw."""

    def __init__(self, settings: Settings, answer: Answer) -> None:
        super().__init__(daemon=True)
        self.client, self.answer = bus.connect(settings.redis_connection_url), answer
        self.seen: list[dict[str, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        last = "0"
        while not self.stopping.is_set():
            replies = cast(bus.ReadReply, self.client.xread({bus.QUEUE_COMMANDS: last}, block=100))
            for _stream, entries in replies or []:
                for msg_id, fields in entries:
                    last = msg_id
                    command = queue_commands.decode(fields)
                    assert command is not None
                    self.seen.append(command)
                    result = {"id": command["id"], "action": command["action"], **self.answer(command)}
                    self.client.rpush(queue_commands.result_key(command["id"]), json.dumps(result))


@contextmanager
def running(settings: Settings, answer: Answer) -> Iterator[FakeQueueManager]:
    fake = FakeQueueManager(settings, answer)
    fake.start()
    try:
        yield fake
    finally:
        fake.stopping.set()
        fake.join(2)
