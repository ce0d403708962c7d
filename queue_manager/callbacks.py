"""Callbacks: the caller keeps their place in the queue and is called back (``docs/queues.md``).

The IVR stores the request (``request``, state ``requested``). The queue manager does the rest:

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
``PbxActions`` (AMI, a fake in the unit tests); ``CallbackService`` feeds it AMI events, one at a time.
On every start and AMI login the service reconciles: a placeholder still among Asterisk's channels is
left alone, one that is gone is settled from AstDB, once (a settled row no longer names it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from panoramisk import Manager
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from alo185 import ami
from alo185.models import Callback, CallbackState
from alo185.models.callbacks import OPEN_STATES, PLACED_STATES, PLACEHOLDER_PREFIX
from alo185.settings import Settings
from queue_manager.events import header

log = logging.getLogger(__name__)

USER_EVENT = "Alo185Callback"
STAGE_FAMILY = "alo185cb"  # AstDB family: how far each placeholder got
HOLD_CONTEXT = "alo185-callback-hold"
DIAL_CONTEXT = "alo185-callback-dial"
QUEUE_HALF = "-q"  # the placeholder's ;2 half (the one in the queue) has its ;1 half's uniqueid + this
SWEEP_S = 2.0  # requested callbacks are placed at least this often (at once when the IVR says so)
RECONCILE_S = 30.0  # placeholders checked against Asterisk's channels at least this often
PLACE_GRACE_S = 5.0  # a placeholder originated less than this ago may not be listed yet
REFUSED_RETRY_S = 10.0  # after Asterisk refused an Originate
MAX_PLACEMENTS = 20  # placeholders for one callback before it is given up ("unplaceable")
DIAL_OUTCOMES = {"NOANSWER": "no_answer", "BUSY": "busy", "CHANUNAVAIL": "unavailable", "CONGESTION": "unavailable"}


def request(
    session: Session, *, call_uniqueid: str, caller: str, queue: str, priority: int, lang: str, now: datetime
) -> Callback:
    """The IVR's request (once per call: asking again returns the same row)."""
    found = session.scalars(select(Callback).where(Callback.call_uniqueid == call_uniqueid)).one_or_none()
    if found is not None:
        return found
    row = Callback(
        call_uniqueid=call_uniqueid,
        caller=caller,
        queue=queue,
        priority=priority,
        lang=lang,
        state=CallbackState.REQUESTED,
        requested_at=now,
        attempts=0,
        placements=0,
    )
    session.add(row)
    session.flush()
    return row


def placeholder_id(callback_id: int, placement: int) -> str:
    return f"{PLACEHOLDER_PREFIX}{callback_id}-{placement}"


# --- what the machine asks of Asterisk --------------------------------------------------------


class PbxActions(Protocol):
    async def originate(self, fields: dict[str, Any]) -> None: ...
    async def stage(self, placeholder: str) -> str: ...  # from AstDB; '' when the placeholder left none
    async def forget(self, placeholder: str) -> None: ...
    async def channels(self) -> set[str]: ...  # uniqueids of every channel
    async def hang_up(self, uniqueid: str) -> None: ...


class AmiPbx:
    """``PbxActions`` over the queue manager's AMI connection."""

    def __init__(self, manager: Manager) -> None:
        self.manager = manager
        self._names: dict[str, str] = {}  # uniqueid -> channel name, from the last channel list

    async def originate(self, fields: dict[str, Any]) -> None:
        await ami.action(self.manager, fields)

    async def stage(self, placeholder: str) -> str:
        action = {"Action": "DBGet", "Family": STAGE_FAMILY, "Key": placeholder}
        reply = await asyncio.wait_for(self.manager.send_action(action), 15)  # a list when found
        for message in reply if isinstance(reply, list) else [reply]:
            if header(message, "Event") == "DBGetResponse":
                return header(message, "Val")
        if not isinstance(reply, list) and "not found" in header(reply, "Message").lower():
            return ""
        raise ami.AmiError(f"DBGet {placeholder} failed: {reply!r}")

    async def forget(self, placeholder: str) -> None:
        with contextlib.suppress(ami.AmiError):  # nothing there
            await ami.action(self.manager, {"Action": "DBDel", "Family": STAGE_FAMILY, "Key": placeholder})

    async def channels(self) -> set[str]:
        replies = await ami.list_action(self.manager, {"Action": "CoreShowChannels"})
        listed = [c for c in replies if header(c, "Event") == "CoreShowChannel"]
        self._names = {header(c, "Uniqueid"): header(c, "Channel") for c in listed}
        return set(self._names)

    async def hang_up(self, uniqueid: str) -> None:
        await self.channels()
        name = self._names.get(uniqueid)
        if name:
            with contextlib.suppress(ami.AmiError):  # gone meanwhile
                await ami.action(self.manager, {"Action": "Hangup", "Channel": name})


# --- the state machine --------------------------------------------------------------------------


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
    from alo185.pbx import Pbx
    from ivr.prompt_files import PromptFiles

    try:
        pbx = Pbx.locate(settings)
    except Exception as exc:  # no PBX here: the calls go on without the notices
        log.warning("no PBX to take callback prompts from: %s", exc)
        return lambda _lang, _prompt: ""
    files = PromptFiles(pbx.instance_dir / "sounds")

    def sound(lang: str, prompt_id: str) -> str:
        path = files.file(lang, prompt_id)
        return os.path.splitext(pbx.pbx_path(path))[0] if path.exists() else ""

    return sound


@dataclass(frozen=True)
class View:
    """A row as the machine sees it, outside any session."""

    id: int
    call_uniqueid: str
    caller: str
    queue: str
    priority: int
    lang: str
    state: CallbackState
    attempts: int
    placements: int
    placeholder: str
    placed_at: datetime | None
    operator: str
    outcome: str

    @classmethod
    def of(cls, row: Callback) -> View:
        return cls(
            id=row.id,
            call_uniqueid=row.call_uniqueid,
            caller=row.caller,
            queue=row.queue,
            priority=row.priority,
            lang=row.lang,
            state=CallbackState(row.state),
            attempts=row.attempts,
            placements=row.placements,
            placeholder=row.placeholder or "",
            placed_at=row.placed_at,
            operator=row.operator or "",
            outcome=row.outcome or "",
        )


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
        for callback_id in await self._tx(_due, self.now()):
            placeholder = await self.place(callback_id)
            if placeholder:
                placed.append(placeholder)
        return placed

    async def place(self, callback_id: int) -> str | None:
        """A placeholder into the queue for a due callback (claimed in the database first)."""
        view: View | None = await self._tx(_claim, callback_id, self.now())
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
            view = await self._tx(_unclaim, view.placeholder, retry_at)
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
        view: View | None = await self._tx(_stage, placeholder, stage, self.now())
        if view is not None:
            self.announce(view)
            if view.state == CallbackState.CONNECTED:  # settled: the placeholder's end changes nothing
                await self.pbx.forget(placeholder)
        return view

    async def on_operator(self, placeholder: str, member: str) -> None:
        await self._tx(_operator, placeholder, member)

    async def on_end(self, placeholder: str) -> View | None:
        """The placeholder is gone: settle the callback from the stage AstDB kept (once: then no row names it)."""
        if await self._tx(_placed_view, placeholder) is None:
            return None
        stage = await self.pbx.stage(placeholder)
        view: View | None = await self._tx(_settle, placeholder, stage, self.now(), self.config)
        if view is not None:
            self.announce(view)
        await self.pbx.forget(placeholder)
        return view

    async def reconcile(self) -> list[View]:
        """After a (re)start or login: settle the placeholders Asterisk no longer has, then place what is due."""
        alive = await self.pbx.channels()
        now = self.now()
        settled, waiting = [], 0
        for view in await self._tx(_placed_views):
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
        view: View | None = await self._tx(_cancel, callback_id, self.now())
        if view is None:
            return None
        self.announce(view)
        if view.placeholder:
            await self.pbx.hang_up(view.placeholder)
        return view


# --- transactions (each runs in a worker thread with its own session) ---------------------------


def _finish(row: Callback, state: CallbackState, outcome: str, now: datetime) -> None:
    row.state, row.outcome, row.ended_at, row.next_attempt_at = state, outcome, now, None


def _due(session: Session, now: datetime) -> list[int]:
    query = select(Callback.id).where(
        Callback.state == CallbackState.REQUESTED,
        or_(Callback.next_attempt_at.is_(None), Callback.next_attempt_at <= now),
    )
    return list(session.scalars(query.order_by(Callback.priority.desc(), Callback.requested_at)))


def _claim(session: Session, callback_id: int, now: datetime) -> View | None:
    row = session.get(Callback, callback_id, with_for_update=True)
    if row is None or row.state != CallbackState.REQUESTED:
        return None
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return None
    if row.placements >= MAX_PLACEMENTS:
        _finish(row, CallbackState.FAILED, "unplaceable", now)
        return View.of(row)
    row.placements += 1
    row.placeholder = placeholder_id(row.id, row.placements)
    row.state, row.placed_at, row.next_attempt_at = CallbackState.QUEUED, now, None
    return View.of(row)


def _placed(session: Session, placeholder: str) -> Callback | None:
    query = select(Callback).where(Callback.placeholder == placeholder, Callback.state.in_(PLACED_STATES))
    return session.scalars(query.with_for_update()).one_or_none()


def _placed_view(session: Session, placeholder: str) -> View | None:
    row = _placed(session, placeholder)
    return None if row is None else View.of(row)


def _placed_views(session: Session) -> list[View]:
    query = select(Callback).where(Callback.state.in_(PLACED_STATES)).order_by(Callback.id)
    return [View.of(row) for row in session.scalars(query)]


def _unclaim(session: Session, placeholder: str, retry_at: datetime) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    row.state, row.next_attempt_at = CallbackState.REQUESTED, retry_at
    return View.of(row)


def _stage(session: Session, placeholder: str, stage: str, now: datetime) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    if stage == "operator" and row.state == CallbackState.QUEUED:
        row.state = CallbackState.OPERATOR_CONNECTED
    elif stage == "dialing" and row.state in (CallbackState.QUEUED, CallbackState.OPERATOR_CONNECTED):
        row.state, row.attempts, row.last_attempt_at = CallbackState.DIALING, row.attempts + 1, now
    elif stage == "connected":
        if row.state != CallbackState.DIALING:  # the dialing stage was missed
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        _finish(row, CallbackState.CONNECTED, "connected", now)
    else:
        return None
    return View.of(row)


def _operator(session: Session, placeholder: str, member: str) -> None:
    row = _placed(session, placeholder)
    if row is not None and member:
        row.operator = member[:128]


def _settle(session: Session, placeholder: str, stage: str, now: datetime, config: Config) -> View | None:
    row = _placed(session, placeholder)
    if row is None:
        return None
    kind, _, detail = stage.partition(":")
    if kind == "connected":
        if row.state != CallbackState.DIALING:
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        _finish(row, CallbackState.CONNECTED, "connected", now)
    elif kind in ("dialing", "noanswer"):  # the citizen was dialled and did not answer
        if row.state != CallbackState.DIALING:  # the dialing stage was missed: the attempt counts now
            row.attempts, row.last_attempt_at = row.attempts + 1, now
        if row.attempts >= config.attempts:
            _finish(row, CallbackState.FAILED, DIAL_OUTCOMES.get(detail, "no_answer"), now)
        else:
            row.state, row.next_attempt_at = CallbackState.REQUESTED, now + timedelta(seconds=config.retry_s)
    elif kind == "hold":  # Queue() gave up on the placeholder
        _finish(row, CallbackState.FAILED, "expired" if detail == "TIMEOUT" else "unplaceable", now)
    else:  # never dialled ('' or "operator"): the place is taken again at once
        row.state, row.next_attempt_at = CallbackState.REQUESTED, now
    return View.of(row)


def _cancel(session: Session, callback_id: int, now: datetime) -> View | None:
    row = session.get(Callback, callback_id, with_for_update=True)
    if row is None or row.state not in OPEN_STATES:
        return None
    placed = row.state in PLACED_STATES
    _finish(row, CallbackState.CANCELLED, "cancelled", now)
    view = View.of(row)
    return view if placed else dataclasses.replace(view, placeholder="")  # nothing in Asterisk to hang up


# --- the service in the queue manager -----------------------------------------------------------


class CallbackService:
    """Feeds AMI events to ``Callbacks`` one at a time, sweeps for due callbacks, reconciles on login."""

    def __init__(self, machine: Callbacks, ready: Callable[[], bool] = lambda: True) -> None:
        self.machine = machine
        self.ready = ready  # AMI logged in: no sweep or reconcile is tried without it
        self.inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def start(cls, qm: Any) -> CallbackService:
        """Attach to a started ``QueueManager``: its AMI routes, its event stream, its database."""
        assert qm.manager is not None
        manager = qm.manager
        machine = Callbacks(qm.sessions, AmiPbx(manager), Config.from_settings(qm.settings), qm.outbox.put_nowait)
        service = cls(machine, ready=lambda: bool(manager.authenticated))
        service.attach(qm.routes)
        service.run()
        return service

    def attach(self, routes: dict[str, tuple[Callable[[Any, Any], None], ...]]) -> None:
        for name, handler in (
            ("UserEvent", self.on_user_event),
            ("Hangup", self.on_hangup),
            ("AgentConnect", self.on_agent_connect),
            ("FullyBooted", self.on_login),
        ):
            routes[name] = (*routes.get(name, ()), handler)

    def run(self) -> None:
        self.inbox.put_nowait(("reconcile",))
        for job in (self.work_forever(), self.tick_forever()):
            task = asyncio.get_running_loop().create_task(job)
            self._tasks.add(task)

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    # AMI handlers: they never await, the work is queued.
    def on_user_event(self, _manager: Any, message: Mapping[str, Any]) -> None:
        if header(message, "UserEvent") != USER_EVENT:
            return
        stage = header(message, "Stage")
        if stage == "requested":  # from the IVR: place it now rather than at the next sweep
            self.inbox.put_nowait(("sweep",))
        elif header(message, "Placeholder").startswith(PLACEHOLDER_PREFIX):
            self.inbox.put_nowait(("stage", header(message, "Placeholder"), stage))

    def on_hangup(self, _manager: Any, message: Mapping[str, Any]) -> None:
        uniqueid = header(message, "Uniqueid")
        if uniqueid.startswith(PLACEHOLDER_PREFIX) and not uniqueid.endswith(QUEUE_HALF):
            self.inbox.put_nowait(("end", uniqueid))

    def on_agent_connect(self, _manager: Any, message: Mapping[str, Any]) -> None:
        uniqueid = header(message, "Uniqueid")
        if uniqueid.startswith(PLACEHOLDER_PREFIX) and uniqueid.endswith(QUEUE_HALF):
            member = header(message, "MemberName") or header(message, "Interface")
            self.inbox.put_nowait(("operator", uniqueid.removesuffix(QUEUE_HALF), member))

    def on_login(self, _manager: Any, _message: object) -> None:
        self.inbox.put_nowait(("reconcile",))

    async def handle(self, item: tuple[Any, ...]) -> None:
        kind, *args = item
        if kind == "stage":
            await self.machine.on_stage(*args)
        elif kind == "operator":
            await self.machine.on_operator(*args)
        elif kind == "end":
            await self.machine.on_end(*args)
        elif kind in ("sweep", "reconcile") and self.ready():
            await (self.machine.place_due() if kind == "sweep" else self.machine.reconcile())

    async def work_forever(self) -> None:
        while True:
            item = await self.inbox.get()
            try:
                await self.handle(item)
            except Exception:
                # The row keeps its state: the next reconcile (at the latest) takes it up again.
                log.exception("callback work %r failed", item)

    async def tick_forever(self) -> None:
        last_reconcile = time.monotonic()
        while True:
            await asyncio.sleep(SWEEP_S)
            if self.inbox.qsize() > 10:  # busy: what is queued covers it
                continue
            if time.monotonic() - last_reconcile >= RECONCILE_S:
                last_reconcile = time.monotonic()
                self.inbox.put_nowait(("reconcile",))
            else:
                self.inbox.put_nowait(("sweep",))
