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
from alo185.callbacks import machine, store
from alo185.core import bus
from alo185.core.phone import normalize
from alo185.menu.prompt_files import PromptFiles
from alo185.menu.versions import LiveTree
from alo185.tickets import caller_card
from ivr import engine
from ivr.tree import VOICEMAIL_PROMPTS

log = logging.getLogger(__name__)
ALL_KEYS = "0123456789*#"
# The longest the caller waits, after the IVR, for their card to be built: the ring should find it
# in Redis, but a slow database must not hold the call up (the card then comes late, or not at all).
CARD_WAIT_S = 0.25
# The longest the IVR waits for the overflow prediction: without it the caller is queued as ever.
PREDICT_TIMEOUT_S = 1.0
T = TypeVar("T")
_cards: set[asyncio.Task[None]] = set()  # cards still being built (a task needs a reference held)


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
    # SET key value for some seconds, sent by the publisher (``LoopPublisher.put``); None: no caller cards.
    put: Callable[[str, str, int], None] | None = None
    card_ttl_s: int = 0
    # Whether a number is a known citizen's (``DbServices.is_citizen``, the IVR's cached recognition):
    # only their card needs the database; everyone else's is built on the spot.
    is_citizen: Callable[[str], bool] = lambda _caller: True
    # The overflow prediction for a queue (``agi_scripts.overflow.LivePredictor``); None: no offer.
    predict: Callable[[str], Awaitable[Any]] | None = None


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
            return await self.agi.stream_file(self.sound(path), cmd.keys)
        if isinstance(cmd, engine.SayDigits):
            for digit in cmd.digits:
                await self.agi.stream_file(self.prompt(cmd.lang, f"digit_{digit}"), "")
            return None
        if isinstance(cmd, engine.OperatorsLoggedIn):
            t0 = time.perf_counter()
            value = await self.agi.get_full_variable(f"${{QUEUE_MEMBER({cmd.queue},logged)}}")
            self.cmd_ms.append((time.perf_counter() - t0) * 1000)
            return int(value) if str(value).isdigit() else 0
        if isinstance(cmd, engine.PredictWait):
            return await self.predict_wait(cmd.queue)
        if isinstance(cmd, engine.RequestCallback):
            return await self.request_callback(cmd)
        if isinstance(cmd, engine.Step):
            self.seq += 1
            self.publish({"type": "ivr.step", "seq": self.seq, "node": cmd.node, "key": cmd.key, "detail": cmd.detail})
            return None
        raise TypeError(f"unknown IVR command {cmd!r}")

    async def predict_wait(self, queue: str) -> Any:
        """The prediction; None (no offer, the caller is queued as ever) when it is off or late."""
        if self.deps.predict is None:
            return None
        try:
            return await asyncio.wait_for(self.deps.predict(queue), PREDICT_TIMEOUT_S)
        except Exception as exc:
            log.warning("no wait prediction for queue %s (%r): no overflow offer", queue, exc)
            return None

    async def request_callback(self, cmd: engine.RequestCallback) -> bool:
        """Store the callback (the queue manager takes it from the database), announce it, nudge the queue manager."""
        caller = normalize(self.agi.env_get("agi_callerid")) or ""
        if not caller or not self.uniqueid:
            return False
        try:
            callback_id = await asyncio.to_thread(self._store_callback, cmd, caller)
        except Exception:
            log.exception("could not store the callback of call %s", self.uniqueid)
            return False
        self.publish({"type": "callback", "callback_id": callback_id, "state": "requested", "queue": cmd.queue})
        try:  # the queue manager places it at once instead of at its next sweep
            await self.agi.execute("EXEC", "UserEvent", f'"{machine.USER_EVENT},Stage: requested"')
        except AGIHangup:
            raise
        except Exception as exc:
            log.warning("callback %s stored, the queue manager not told (%r): its sweep places it", callback_id, exc)
        return True

    def _store_callback(self, cmd: engine.RequestCallback, caller: str) -> int:
        with self.deps.sessions.begin() as session:
            row = store.request(
                session,
                call_uniqueid=self.uniqueid,
                caller=caller,
                queue=cmd.queue,
                priority=cmd.priority,
                lang=cmd.lang,
                now=self.deps.clock(),
            )
            return row.id

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
    card = _start_card(deps, uniqueid, caller) if outcome.action == "queue" else None
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
    if card is not None:
        await asyncio.wait({card}, timeout=CARD_WAIT_S)


def _start_card(deps: IvrDeps, uniqueid: str, caller: str) -> asyncio.Task[None] | None:
    """Build the caller card while the channel variables are being set (it overlaps those round trips).

    A caller the IVR did not recognise (most of them) gets theirs at once: nothing to look up.
    """
    if deps.put is None or not uniqueid:
        return None
    try:
        if not deps.is_citizen(caller):
            deps.put(bus.caller_card_key(uniqueid), caller_card.build_unknown(caller), deps.card_ttl_s)
            return None
    except Exception:
        log.exception("could not prepare the caller card for call %s", uniqueid)
        return None
    task = asyncio.get_running_loop().create_task(_keep_card(deps, uniqueid, caller))
    _cards.add(task)
    task.add_done_callback(_cards.discard)
    return task


async def _keep_card(deps: IvrDeps, uniqueid: str, caller: str) -> None:
    """The caller card into Redis for the screen-pop; a failure costs the queue manager a lookup, never the call."""
    assert deps.put is not None
    try:
        card = await asyncio.to_thread(caller_card.build, deps.sessions, caller)
        deps.put(bus.caller_card_key(uniqueid), card, deps.card_ttl_s)
    except Exception:
        log.exception("could not prepare the caller card for call %s", uniqueid)


def _connect_ms(agi: Channel) -> float | None:
    """From the dialplan's AGI() (its timestamp is the first argument) to the session being read."""
    try:
        return round((time.time() - float(agi.env.get("agi_arg_1", ""))) * 1000, 3)
    except ValueError:
        return None
