"""``agi://…/ivr``: runs ``ivr.engine`` over AGI. Thin: each engine command is one or a few AGI commands."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.session import AGIHangup
from alo185.phone import normalize
from ivr import engine
from ivr.prompt_files import PromptFiles
from ivr.tree import VOICEMAIL_PROMPTS
from ivr.versions import LiveTree

log = logging.getLogger(__name__)
ALL_KEYS = "0123456789*#"
T = TypeVar("T")


class Channel(Protocol):
    """The AGI commands the IVR uses (``session.AsyncAGI``; ``classic`` adapts pyst2's blocking AGI)."""

    env: dict[str, str]

    def env_get(self, name: str, default: str = "") -> str: ...
    async def stream_file(self, filename: str, escape_digits: str = "") -> str: ...
    async def wait_for_digit(self, timeout_ms: int) -> str: ...
    async def get_full_variable(self, name: str) -> str: ...
    async def set_variable(self, name: str, value: object) -> None: ...
    async def execute(self, command: str, *args: object) -> dict: ...


@dataclass
class IvrDeps:
    publish: Callable[[dict[str, Any]], None]
    sessions: sessionmaker[Session]
    services: engine.Services
    prompts: PromptFiles
    pbx_path: Callable[[Any], str]  # host path -> the path Asterisk opens
    trees: LiveTree
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


class Runner:
    """Executes engine commands on one AGI session."""

    def __init__(self, agi: Channel, deps: IvrDeps, uniqueid: str) -> None:
        self.agi, self.deps, self.uniqueid = agi, deps, uniqueid
        self.seq = 0
        self.cmd_ms: list[float] = []  # round trips of the non-media commands, for the benchmarks

    def sound(self, path: Any) -> str:
        return os.path.splitext(self.deps.pbx_path(path))[0]  # Asterisk picks the format

    def prompt(self, lang: str, prompt_id: str) -> str:
        return self.sound(self.deps.prompts.file(lang, prompt_id))

    async def play(self, cmd: engine.Play) -> str:
        for prompt_id in cmd.prompts:
            key = await self.agi.stream_file(self.prompt(cmd.lang, prompt_id), cmd.keys)
            if key:
                return key
        return ""

    async def collect(self, cmd: engine.Collect) -> str:
        digits = await self.play(engine.Play(cmd.prompts, ALL_KEYS, cmd.lang))
        while digits[-1:] != "#" and len(digits) < cmd.max_digits:
            key = await self.agi.wait_for_digit(cmd.timeout_ms)
            if not key:
                break
            digits += key
        return digits.rstrip("#").replace("*", "")

    async def execute(self, cmd: engine.Command) -> Any:
        if isinstance(cmd, engine.Play):
            return await self.play(cmd)
        if isinstance(cmd, engine.Collect):
            return await self.collect(cmd)
        if isinstance(cmd, engine.WaitKey):
            return await self.agi.wait_for_digit(cmd.timeout_ms)
        if isinstance(cmd, engine.Say):
            # A text not heard before is rendered by espeak-ng: off the loop, the other calls go on.
            path = await asyncio.to_thread(self.deps.prompts.dynamic, cmd.lang, cmd.text)
            return await self.agi.stream_file(self.sound(path), "")
        if isinstance(cmd, engine.SayDigits):
            for digit in cmd.digits:
                await self.agi.stream_file(self.prompt(cmd.lang, f"digit_{digit}"), "")
            return None
        if isinstance(cmd, engine.OperatorsLoggedIn):
            t0 = time.perf_counter()
            value = await self.agi.get_full_variable(f"${{QUEUE_MEMBER({cmd.queue},logged)}}")
            self.cmd_ms.append((time.perf_counter() - t0) * 1000)
            return int(value) if str(value).isdigit() else 0
        if isinstance(cmd, engine.Step):
            self.seq += 1
            self.publish({"type": "ivr.step", "seq": self.seq, "node": cmd.node, "key": cmd.key, "detail": cmd.detail})
            return None
        raise TypeError(f"unknown IVR command {cmd!r}")

    def publish(self, fields: dict[str, Any]) -> None:
        # The caller must reach an operator even when the event bus is down.
        try:
            self.deps.publish({"uniqueid": self.uniqueid, "ts": time.time(), **fields})
        except Exception:
            log.exception("could not publish %s for call %s", fields.get("type"), self.uniqueid)


async def drive(flow: Generator[Any, Any, T], execute: Callable[[Any], Awaitable[Any]]) -> T:
    """Run a call flow (a generator like ``engine.run_call``): execute each command it yields, answer it."""
    try:
        cmd = next(flow)
        while True:
            cmd = flow.send(await execute(cmd))
    except StopIteration as stop:
        return stop.value


async def run(agi: Channel, deps: IvrDeps) -> None:
    uniqueid = agi.env.get("agi_uniqueid", "")
    caller = normalize(agi.env_get("agi_callerid")) or ""
    runner = Runner(agi, deps, uniqueid)
    connect_ms = _connect_ms(agi)
    version, tree = deps.trees.get(deps.sessions.begin)
    flow = engine.run_call(tree, deps.services, caller, deps.clock())
    try:
        outcome: engine.Outcome = await drive(flow, runner.execute)
    except AGIHangup:
        runner.publish({"type": "ivr", "caller": caller, "hangup": True, "menu_version": version})
        raise
    for name, value in (
        ("ALO185_ACTION", outcome.action),
        ("ALO185_QUEUE", outcome.queue or tree.fallback_queue),
        ("ALO185_PRIORITY", outcome.priority),
        ("ALO185_LANG", outcome.lang),
        ("ALO185_CATEGORY", outcome.category),
        ("ALO185_REASON", outcome.reason),
        ("ALO185_IVR_PATH", ">".join(outcome.path)[:480]),
    ):
        t0 = time.perf_counter()
        await agi.set_variable(name, value)
        runner.cmd_ms.append((time.perf_counter() - t0) * 1000)
    if outcome.action == "voicemail":  # the dialplan's voicemail step speaks the caller's language
        for prompt_id in VOICEMAIL_PROMPTS:
            await agi.set_variable(
                f"ALO185_VM_{prompt_id.split('_', 1)[1].upper()}", runner.prompt(outcome.lang, prompt_id)
            )
    root_key = next((p.split(":", 1)[1] for p in outcome.path if p.startswith(f"{tree.root}:")), "")
    timing = {"agi_cmd_ms": [round(ms, 3) for ms in runner.cmd_ms], "agi_connect_ms": connect_ms}
    runner.publish(
        {"type": "ivr", "caller": caller, "menu_version": version, "digit": root_key, **vars(outcome), **timing}
    )


def _connect_ms(agi: Channel) -> float | None:
    """From the dialplan's AGI() (its timestamp is the first argument) to the session being read."""
    try:
        return round((time.time() - float(agi.env.get("agi_arg_1", ""))) * 1000, 3)
    except ValueError:
        return None
