"""AMI client helpers on panoramisk: connect with login, and single-response actions.

panoramisk 1.4 decides from the reply text whether an action has several responses and
then waits for more; QueueAdd ("Added interface to queue") and async Originate
("successfully queued") never send more, so those futures would hang. Actions here are
sent with ``as_list=False`` unless the caller asks for a list.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message

from alo185.core.ami_protocol import AmiProtocol
from alo185.core.settings import Settings


class AmiError(RuntimeError):
    pass


async def connect(settings: Settings, timeout: float = 10.0, **options: Any) -> Manager:
    """Connect and log in; raises AmiError if the login is not accepted in ``timeout``."""
    manager = Manager(
        loop=asyncio.get_running_loop(),
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_user,
        secret=settings.secrets()["ami_secret"],
        ping_delay=10,
        reconnect_timeout=1,
        protocol_factory=AmiProtocol,
        **options,
    )
    try:
        await asyncio.wait_for(manager.connect(), timeout)
    except (TimeoutError, OSError) as exc:
        disconnect(manager)
        raise AmiError(f"cannot reach AMI at {settings.ami_host}:{settings.ami_port}: {exc}") from exc
    deadline = asyncio.get_running_loop().time() + timeout
    while not manager.authenticated:
        if asyncio.get_running_loop().time() > deadline:
            disconnect(manager)
            raise AmiError("AMI login was not accepted")
        await asyncio.sleep(0.02)
    return manager


async def action(manager: Manager, fields: dict[str, Any], timeout: float = 15.0) -> Message:
    """Send one action and return its single response; raises AmiError on an error reply."""
    reply = await asyncio.wait_for(manager.send_action(fields, as_list=False), timeout)
    if reply.response != "Success":
        raise AmiError(f"{fields.get('Action')} failed: {reply.message}")
    return reply


async def list_action(manager: Manager, fields: dict[str, Any], timeout: float = 15.0) -> list[Message]:
    """Send an action whose reply is an event list (QueueStatus, CoreShowChannels)."""
    replies = await asyncio.wait_for(manager.send_action(fields, as_list=True), timeout)
    return list(replies)


@asynccontextmanager
async def session(settings: Settings) -> AsyncIterator[Manager]:
    """A logged-in manager for a few actions, closed for good afterwards."""
    manager = await connect(settings)
    try:
        yield manager
    finally:
        disconnect(manager)


def run(settings: Settings, *actions: dict[str, Any]) -> list[Message]:
    """Connect, send ``actions`` one after the other, disconnect. For the CLI and tests."""

    async def _go() -> list[Message]:
        async with session(settings) as manager:
            return [await action(manager, fields) for fields in actions]

    return asyncio.run(_go())


def disconnect(manager: Manager) -> None:
    """Close for good: panoramisk otherwise schedules a reconnect when the connection drops."""
    manager.connection_lost = lambda exc: None
    manager.close()
