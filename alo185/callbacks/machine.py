"""Callbacks' state machine: the caller keeps their place in the queue and is called back (``docs/queues.md``).

The IVR stores the request (``store.request``, state ``requested``). The queue manager runs this machine:

1. It originates a placeholder at once: a Local channel whose ``;2`` half runs ``Queue()`` for the
   caller's queue with their priority (``[alo185-callback-hold]``), so it waits where the caller would
   have (``queued``).
2. An operator takes it: the ``;1`` half is answered and runs ``[alo185-callback-dial]``: the operator
   hears a notice (``operator_connected``), then the citizen is dialled (``dialing``, one attempt) and
   on answering is bridged to the operator (``connected``, final).
3. The dialplan writes each stage to AstDB (``alo185cb/<placeholder>``: ``operator``, ``dialing``,
   ``connected``, ``noanswer:<DIALSTATUS>``, ``hold:<QUEUESTATUS>``) and sends it as
   ``UserEvent(Alo185Callback)``. AstDB outlives this process (and Asterisk itself).
4. When a placeholder is gone (its ``Hangup``, or missing from Asterisk's channels at a reconcile),
   AstDB says how far it got: answered → done; dialled, not answered → ``requested`` again after
   ``retry_s``, ``failed`` after the last attempt; never dialled (Asterisk restarted, the operator hung
   up during the notice) → placed again at once.

The database row is the truth between steps. ``Callbacks`` is the state machine over the rows and a
``PbxActions``: AMI in the queue manager (``queue_manager.callbacks``, which feeds it AMI events one at
a time), a fake in the unit tests. On every start and AMI login it reconciles: a placeholder still
among Asterisk's channels is left alone, one that is gone is settled from AstDB, once (a settled row
no longer names it).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from alo185.callbacks import store
from alo185.callbacks.models import CallbackState
from alo185.callbacks.store import View
from alo185.core import ami
from alo185.core.asterisk import Asterisk
from alo185.core.settings import Settings
from alo185.menu.prompt_files import PromptFiles

log = logging.getLogger(__name__)

USER_EVENT = "Alo185Callback"
STAGE_FAMILY = "alo185cb"  # AstDB family: how far each placeholder got
HOLD_CONTEXT = "alo185-callback-hold"
DIAL_CONTEXT = "alo185-callback-dial"
QUEUE_HALF = "-q"  # the placeholder's ;2 half (the one in the queue) has its ;1 half's uniqueid + this
PLACE_GRACE_S = 5.0  # a placeholder originated less than this ago may not be listed yet
REFUSED_RETRY_S = 10.0  # after Asterisk refused an Originate


class PbxActions(Protocol):
    """What the machine asks of Asterisk."""

    async def originate(self, fields: dict[str, Any]) -> None: ...
    async def stage(self, placeholder: str) -> str: ...  # from AstDB; '' when the placeholder left none
    async def forget(self, placeholder: str) -> None: ...
    async def channels(self) -> set[str]: ...  # uniqueids of every channel
    async def hang_up(self, uniqueid: str) -> None: ...


@dataclass(frozen=True)
class Config:
    attempts: int = 3
    retry_s: float = 300.0
    ring_s: int = 30
    hold_s: int = 14400
    dial: str = "Local/{digits}@alo185-callback-out"
    # The PBX path (without extension) of a prompt's audio in a language; '' when there is none.
    sound: Callable[[str, str], str] = field(default=lambda _lang, _prompt: "")

    @classmethod
    def from_settings(cls, settings: Settings) -> Config:
        return cls(
            attempts=max(1, settings.callback_attempts),
            retry_s=float(settings.callback_retry_s),
            ring_s=settings.callback_ring_s,
            hold_s=settings.callback_hold_s,
            dial=settings.callback_dial,
            sound=prompt_sounds(settings),
        )


def prompt_sounds(settings: Settings) -> Callable[[str, str], str]:
    """Prompt audio as the IVR renders it (an uploaded recording first), as Asterisk opens it."""
    try:
        pbx = Asterisk.locate(settings)
    except Exception as exc:  # no PBX here: the calls go on without the notices
        log.warning("no PBX to take callback prompts from: %s", exc)
        return lambda _lang, _prompt: ""
    files = PromptFiles(pbx.instance_dir / "sounds")

    def sound(lang: str, prompt_id: str) -> str:
        path = files.file(lang, prompt_id)
        return os.path.splitext(pbx.pbx_path(path))[0] if path.exists() else ""

    return sound


class Callbacks:
    """Callbacks' state machine: rows in the database, placeholders in Asterisk.

    Its methods are called one at a time (``CallbackService`` serialises them); each reads and
    changes rows in a transaction of its own, in a worker thread.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        pbx: PbxActions,
        config: Config,
        publish: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions, self.pbx, self.config, self.publish, self.clock = sessions, pbx, config, publish, clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def _tx(self, fn: Callable[..., Any], *args: Any) -> Any:
        def run() -> Any:
            with self.sessions.begin() as session:
                return fn(session, *args)

        return await asyncio.to_thread(run)

    def announce(self, view: View) -> None:
        """Every change on the event stream (the recorder gives the call the outcome ``callback``)."""
        self.publish(
            {
                "type": "callback",
                "uniqueid": view.call_uniqueid,
                "callback_id": view.id,
                "state": str(view.state),
                "queue": view.queue,
                "attempts": view.attempts,
                "outcome": view.outcome,
                "operator": view.operator,
                "placeholder": view.placeholder,
                "ts": self.clock(),
            }
        )

    # -- placing ---------------------------------------------------------------------------------

    async def place_due(self) -> list[str]:
        """Place every requested callback that is due; returns the placeholders originated."""
        placed = []
        for callback_id in await self._tx(store.due, self.now()):
            placeholder = await self.place(callback_id)
            if placeholder:
                placed.append(placeholder)
        return placed

    async def place(self, callback_id: int) -> str | None:
        """A placeholder into the queue for a due callback (claimed in the database first)."""
        view: View | None = await self._tx(store.claim, callback_id, self.now())
        if view is None:
            return None
        if view.state != CallbackState.QUEUED:  # given up
            self.announce(view)
            return None
        await self.pbx.forget(view.placeholder)  # a stage left by an older database's placeholder of that name
        try:
            await self.pbx.originate(self.originate_fields(view))
        except ami.AmiError as exc:
            log.warning(
                "callback %s: Asterisk refused the placeholder (%s); again in %.0f s", view.id, exc, REFUSED_RETRY_S
            )
            retry_at = self.now() + timedelta(seconds=REFUSED_RETRY_S)
            view = await self._tx(store.unclaim, view.placeholder, retry_at)
            if view is not None:
                self.announce(view)
            return None
        except TimeoutError:
            # Perhaps placed, perhaps not: the reconcile finds out from Asterisk's channels.
            log.warning("callback %s: no answer to the Originate; the reconcile settles it", view.id)
        self.announce(view)
        return view.placeholder

    def originate_fields(self, view: View) -> dict[str, Any]:
        config = self.config
        variables = {
            "ALO185_CB_ID": view.placeholder,
            "ALO185_CB_QUEUE": view.queue,
            "ALO185_CB_PRIORITY": view.priority,
            "ALO185_CB_NUMBER": view.caller,
            "ALO185_CB_HOLD_S": config.hold_s,
            "ALO185_CB_DIAL": config.dial.format(digits=view.caller.lstrip("+"), number=view.caller),
            "ALO185_CB_RING_S": config.ring_s,
            "ALO185_CB_NOTICE": config.sound("tr", "callback_notice"),  # for the operator
            "ALO185_CB_GREETING": config.sound(view.lang, "callback_greeting"),  # for the citizen
            "ALO185_LANG": view.lang,  # with ALO185_CALLBACK, on the operator's screen-pop
            "ALO185_CALLBACK": 1,
        }
        return {
            "Action": "Originate",
            "Channel": f"Local/s@{HOLD_CONTEXT}/n",
            "Context": DIAL_CONTEXT,
            "Exten": "s",
            "Priority": "1",
            "CallerID": f'"Geri arama" <{view.caller}>',
            "ChannelId": view.placeholder,
            "OtherChannelId": view.placeholder + QUEUE_HALF,
            "Timeout": str((config.hold_s + 60) * 1000),  # the placeholder is answered only by an operator
            "Async": "true",
            "Variable": [f"{name}={value}" for name, value in variables.items()],
        }

    # -- what Asterisk tells -----------------------------------------------------------------

    async def on_stage(self, placeholder: str, stage: str) -> View | None:
        """A stage as it happens (the end is settled by ``on_end``)."""
        view: View | None = await self._tx(store.stage, placeholder, stage, self.now())
        if view is not None:
            self.announce(view)
            if view.state == CallbackState.CONNECTED:  # settled: the placeholder's end changes nothing
                await self.pbx.forget(placeholder)
        return view

    async def on_operator(self, placeholder: str, member: str) -> None:
        await self._tx(store.operator, placeholder, member)

    async def on_end(self, placeholder: str) -> View | None:
        """The placeholder is gone: settle the callback from the stage AstDB kept (once: then no row names it)."""
        if await self._tx(store.placed_view, placeholder) is None:
            return None
        stage = await self.pbx.stage(placeholder)
        view: View | None = await self._tx(
            store.settle, placeholder, stage, self.now(), self.config.attempts, self.config.retry_s
        )
        if view is not None:
            self.announce(view)
        await self.pbx.forget(placeholder)
        return view

    async def reconcile(self) -> list[View]:
        """After a (re)start or login: settle the placeholders Asterisk no longer has, then place what is due."""
        alive = await self.pbx.channels()
        now = self.now()
        settled, waiting = [], 0
        for view in await self._tx(store.placed_views):
            if view.placeholder in alive or view.placeholder + QUEUE_HALF in alive:
                waiting += 1
                continue
            if view.placed_at is not None and (now - view.placed_at).total_seconds() < PLACE_GRACE_S:
                continue  # just originated: the next reconcile looks again
            done = await self.on_end(view.placeholder)
            if done is not None:
                settled.append(done)
        placed = await self.place_due()
        if waiting or settled or placed:
            log.info(
                "callbacks reconciled: %d waiting in Asterisk, %d settled, %d placed",
                waiting,
                len(settled),
                len(placed),
            )
        return settled

    async def cancel(self, callback_id: int) -> View | None:
        """No callback after all: the row is closed first, then its placeholder (if any) hung up."""
        view: View | None = await self._tx(store.cancel, callback_id, self.now())
        if view is None:
            return None
        self.announce(view)
        if view.placeholder:
            await self.pbx.hang_up(view.placeholder)
        return view
