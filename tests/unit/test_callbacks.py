"""A callback's state machine against a fake Asterisk: placing, stages, retries, restarts, and its call record."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from alo185.callbacks import machine, store
from alo185.callbacks.machine import Callbacks, Config
from alo185.callbacks.models import Callback, CallbackState
from alo185.calls.models import CallRecord
from alo185.core import ami, db
from queue_manager.callbacks import CallbackService
from workers.recorder import apply_event

CALLER = "+905321234567"
T0 = 1_795_256_920.0


@dataclass
class FakePbx:
    """Asterisk as the machine sees it: originated placeholders, live channels, AstDB stages."""

    originated: list[dict[str, Any]] = field(default_factory=list)
    alive: set[str] = field(default_factory=set)
    stages: dict[str, str] = field(default_factory=dict)
    hung_up: list[str] = field(default_factory=list)
    refuse: bool = False

    async def originate(self, fields: dict[str, Any]) -> None:
        if self.refuse:
            raise ami.AmiError("Originate failed: Extension does not exist.")
        self.originated.append(fields)
        self.alive |= {fields["ChannelId"], fields["OtherChannelId"]}

    async def stage(self, placeholder: str) -> str:
        return self.stages.get(placeholder, "")

    async def forget(self, placeholder: str) -> None:
        self.stages.pop(placeholder, None)

    async def channels(self) -> set[str]:
        return set(self.alive)

    async def hang_up(self, uniqueid: str) -> None:
        self.hung_up.append(uniqueid)
        self.gone(uniqueid)

    # what the dialplan does
    def reach(self, placeholder: str, stage: str) -> None:
        self.stages[placeholder] = stage

    def gone(self, placeholder: str) -> None:
        self.alive -= {placeholder, placeholder + machine.QUEUE_HALF}

    @property
    def placeholders(self) -> list[str]:
        return [f["ChannelId"] for f in self.originated]


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@dataclass
class World:
    sessions: Any
    pbx: FakePbx
    clock: Clock
    events: list[dict[str, Any]]
    config: Config

    def machine(self) -> Callbacks:
        """A queue manager's machine; calling it again is a restarted queue manager (same database, same PBX)."""
        return Callbacks(self.sessions, self.pbx, self.config, self.events.append, self.clock)

    def request(self, uniqueid: str = "1795256900.7", queue: str = "temizlik", priority: int = 0) -> int:
        with self.sessions.begin() as s:
            row = store.request(
                s,
                call_uniqueid=uniqueid,
                caller=CALLER,
                queue=queue,
                priority=priority,
                lang="en",
                now=Callbacks(self.sessions, self.pbx, self.config, print, self.clock).now(),
            )
            return row.id

    def row(self, callback_id: int) -> Callback:
        with self.sessions() as s:
            row = s.get(Callback, callback_id)
            assert row is not None
            s.expunge(row)
            return row

    def states(self) -> list[str]:
        return [e["state"] for e in self.events]


@pytest.fixture
def world(database_url: str) -> World:
    config = Config(attempts=3, retry_s=120, ring_s=20, hold_s=3600, dial="Local/{digits}@alo185-sim-citizen")
    config = Config(**{**config.__dict__, "sound": lambda lang, prompt: f"/sounds/{lang}/{prompt}"})
    return World(db.session_factory(database_url), FakePbx(), Clock(), [], config)


def run(coro):
    return asyncio.run(coro)


def test_a_request_is_placed_once_where_the_caller_would_wait(world: World) -> None:
    cb = world.request(priority=10, queue="muhtar")
    m = world.machine()
    assert run(m.place_due()) == ["alo185cb-1-1"]
    assert run(m.place_due()) == [] and run(m.reconcile()) == []  # nothing twice
    [fields] = world.pbx.originated
    assert fields["Channel"] == "Local/s@alo185-callback-hold/n" and fields["Context"] == "alo185-callback-dial"
    assert (fields["ChannelId"], fields["OtherChannelId"]) == ("alo185cb-1-1", "alo185cb-1-1-q")
    variables = dict(v.split("=", 1) for v in fields["Variable"])
    assert variables["ALO185_CB_QUEUE"] == "muhtar" and variables["ALO185_CB_PRIORITY"] == "10"
    assert variables["ALO185_CB_DIAL"] == "Local/905321234567@alo185-sim-citizen"
    assert variables["ALO185_CB_NUMBER"] == CALLER and variables["ALO185_CB_RING_S"] == "20"
    assert variables["ALO185_CB_NOTICE"] == "/sounds/tr/callback_notice"  # the operator's language
    assert variables["ALO185_CB_GREETING"] == "/sounds/en/callback_greeting"  # the citizen's
    assert variables["ALO185_CALLBACK"] == "1" and int(fields["Timeout"]) >= 3600 * 1000
    row = world.row(cb)
    assert (row.state, row.placeholder, row.placements, row.attempts) == ("queued", "alo185cb-1-1", 1, 0)
    assert world.events[-1]["uniqueid"] == "1795256900.7" and world.events[-1]["type"] == "callback"


def test_operator_first_then_the_citizen_answers(world: World) -> None:
    cb = world.request()
    m = world.machine()
    [pid] = run(m.place_due())
    run(m.on_operator(pid, "Ayşe Operatör"))
    world.pbx.reach(pid, "operator")
    run(m.on_stage(pid, "operator"))
    world.pbx.reach(pid, "dialing")
    run(m.on_stage(pid, "dialing"))
    assert (world.row(cb).state, world.row(cb).attempts) == ("dialing", 1)
    world.pbx.reach(pid, "connected")
    run(m.on_stage(pid, "connected"))
    world.pbx.gone(pid)
    assert run(m.on_end(pid)) is None  # already settled: nothing more
    row = world.row(cb)
    assert (row.state, row.outcome, row.attempts, row.operator) == ("connected", "connected", 1, "Ayşe Operatör")
    assert row.ended_at is not None and pid not in world.pbx.stages
    assert world.states() == ["queued", "operator_connected", "dialing", "connected"]
    assert len(world.pbx.originated) == 1


def test_no_answer_is_retried_then_failed_after_the_last_attempt(world: World) -> None:
    world.config = Config(**{**world.config.__dict__, "attempts": 2})
    cb = world.request()
    m = world.machine()
    for attempt in (1, 2):
        [pid] = run(m.place_due())
        assert pid == f"alo185cb-1-{attempt}"
        run(m.on_stage(pid, "operator"))
        run(m.on_stage(pid, "dialing"))
        world.pbx.reach(pid, "noanswer:NOANSWER")
        world.pbx.gone(pid)
        run(m.on_end(pid))
        row = world.row(cb)
        if attempt == 1:
            assert (row.state, row.attempts, row.outcome) == ("requested", 1, None)
            assert row.next_attempt_at is not None and row.next_attempt_at.timestamp() == T0 + 120
            assert run(m.place_due()) == []  # not before the retry time
            world.clock.t += 120
    row = world.row(cb)
    assert (row.state, row.attempts, row.outcome, row.placements) == ("failed", 2, "no_answer", 2)
    assert run(m.place_due()) == [] and len(world.pbx.originated) == 2


def test_busy_is_the_outcome_named_when_the_last_attempt_found_the_line_busy(world: World) -> None:
    world.config = Config(**{**world.config.__dict__, "attempts": 1})
    cb = world.request()
    m = world.machine()
    [pid] = run(m.place_due())
    world.pbx.reach(pid, "noanswer:BUSY")  # the dialing stage never reached us
    world.pbx.gone(pid)
    run(m.on_end(pid))
    row = world.row(cb)
    assert (row.state, row.outcome, row.attempts) == ("failed", "busy", 1)  # the missed attempt still counts


def test_a_restarted_queue_manager_leaves_a_waiting_placeholder_alone(world: World) -> None:
    cb = world.request()
    [pid] = run(world.machine().place_due())
    world.clock.t += 60
    restarted = world.machine()
    assert run(restarted.reconcile()) == [] and run(restarted.reconcile()) == []
    assert world.pbx.placeholders == [pid] and world.row(cb).state == "queued"


def test_a_placeholder_lost_with_asterisk_is_placed_again_once(world: World) -> None:
    cb = world.request()
    [first] = run(world.machine().place_due())
    world.clock.t += 60
    world.pbx.gone(first)  # Asterisk restarted: no stage, no hang-up seen
    restarted = world.machine()
    settled = run(restarted.reconcile())
    assert [v.state for v in settled] == ["requested"]
    assert world.pbx.placeholders == [first, "alo185cb-1-2"]
    assert run(restarted.reconcile()) == [] and len(world.pbx.originated) == 2
    row = world.row(cb)
    assert (row.state, row.placeholder, row.attempts) == ("queued", "alo185cb-1-2", 0)


def test_a_call_finished_while_the_queue_manager_was_down_is_not_made_again(world: World) -> None:
    cb = world.request()
    [pid] = run(world.machine().place_due())
    world.pbx.reach(pid, "connected")  # operator, dialing, answered and hung up: all while it was dead
    world.pbx.gone(pid)
    world.clock.t += 60
    run(world.machine().reconcile())
    row = world.row(cb)
    assert (row.state, row.outcome, row.attempts) == ("connected", "connected", 1)
    assert len(world.pbx.originated) == 1


def test_a_just_originated_placeholder_is_given_time_to_show_up(world: World) -> None:
    cb = world.request()
    [pid] = run(world.machine().place_due())
    world.pbx.gone(pid)  # not listed (yet)
    assert run(world.machine().reconcile()) == [] and world.row(cb).state == "queued"
    world.clock.t += machine.PLACE_GRACE_S
    run(world.machine().reconcile())
    assert world.row(cb).placeholder == "alo185cb-1-2"


def test_an_operator_who_hangs_up_during_the_notice_costs_no_attempt(world: World) -> None:
    cb = world.request()
    m = world.machine()
    [pid] = run(m.place_due())
    world.pbx.reach(pid, "operator")
    run(m.on_stage(pid, "operator"))
    world.pbx.gone(pid)
    run(m.on_end(pid))
    row = world.row(cb)
    assert (row.state, row.attempts) == ("requested", 0)
    assert run(m.place_due()) == ["alo185cb-1-2"]  # at once


def test_a_refused_placeholder_is_tried_again_later(world: World) -> None:
    cb = world.request()
    m = world.machine()
    world.pbx.refuse = True
    assert run(m.place_due()) == []
    row = world.row(cb)
    assert row.state == "requested" and row.next_attempt_at is not None
    world.pbx.refuse = False
    assert run(m.place_due()) == []
    world.clock.t += machine.REFUSED_RETRY_S
    assert run(m.place_due()) == ["alo185cb-1-2"]


def test_a_hold_that_times_out_fails_the_callback(world: World) -> None:
    cb = world.request()
    m = world.machine()
    [pid] = run(m.place_due())
    world.pbx.reach(pid, "hold:TIMEOUT")
    world.pbx.gone(pid)
    run(m.on_end(pid))
    assert (world.row(cb).state, world.row(cb).outcome) == ("failed", "expired")


def test_too_many_placements_give_up(world: World) -> None:
    cb = world.request()
    m = world.machine()
    for _ in range(store.MAX_PLACEMENTS):
        [pid] = run(m.place_due())
        world.pbx.gone(pid)
        run(m.on_end(pid))
    assert run(m.place_due()) == []
    assert (world.row(cb).state, world.row(cb).outcome) == ("failed", "unplaceable")


def test_a_cancelled_callback_hangs_up_its_placeholder(world: World) -> None:
    cb = world.request()
    m = world.machine()
    [pid] = run(m.place_due())
    view = run(m.cancel(cb))
    assert view is not None and view.state == CallbackState.CANCELLED and world.pbx.hung_up == [pid]
    assert run(m.on_end(pid)) is None and run(m.cancel(cb)) is None
    assert (world.row(cb).state, world.row(cb).outcome) == ("cancelled", "cancelled")


def test_the_service_routes_ami_events_to_the_machine(world: World) -> None:
    cb = world.request()

    async def scenario() -> None:
        ready = [False]
        service = CallbackService(world.machine(), ready=lambda: ready[0])
        routes: dict[str, tuple] = {"Hangup": (print,)}
        service.attach(routes)
        assert len(routes["Hangup"]) == 2 and {"UserEvent", "AgentConnect", "FullyBooted"} <= set(routes)
        service.on_user_event(None, {"Event": "UserEvent", "UserEvent": "Alo185Callback", "Stage": "requested"})
        await service.handle(service.inbox.get_nowait())
        assert world.pbx.originated == []  # not logged in to AMI: nothing is tried
        ready[0] = True
        service.on_user_event(None, {"Event": "UserEvent", "UserEvent": "Alo185Callback", "Stage": "requested"})
        service.on_user_event(None, {"Event": "UserEvent", "UserEvent": "Alo185Call", "Stage": "start"})
        service.on_agent_connect(None, {"Uniqueid": "alo185cb-1-1-q", "MemberName": "Ayşe"})
        service.on_agent_connect(None, {"Uniqueid": "1795256900.9", "MemberName": "Ayşe"})  # a citizen's call
        stage = {"Event": "UserEvent", "UserEvent": "Alo185Callback", "Placeholder": "alo185cb-1-1"}
        service.on_user_event(None, {**stage, "Stage": "operator"})
        service.on_hangup(None, {"Uniqueid": "alo185cb-1-1-q"})  # the queue half: its ;1 half settles it
        service.on_hangup(None, {"Uniqueid": "alo185cb-1-1"})
        items = []
        while not service.inbox.empty():
            items.append(service.inbox.get_nowait())
        assert [i[0] for i in items] == ["sweep", "operator", "stage", "end"]
        for item in items:
            if item[0] == "end":
                world.pbx.reach("alo185cb-1-1", "connected")  # dialled and answered meanwhile
            await service.handle(item)

    run(scenario())
    row = world.row(cb)
    assert (row.state, row.operator, row.outcome) == ("connected", "Ayşe", "connected")


# --- the call record -------------------------------------------------------------------------


def test_the_call_that_asked_gets_the_outcome_callback_and_placeholders_get_no_record(database_url: str) -> None:
    sessions = db.session_factory(database_url)
    uid, pid = "1795256900.7", "alo185cb-1-1"
    events = [
        {"type": "call.start", "uniqueid": uid, "ts": T0, "linkedid": uid, "caller": CALLER},
        {"type": "callback", "uniqueid": uid, "ts": T0 + 30, "callback_id": 1, "state": "requested"},
        {"type": "ivr", "uniqueid": uid, "ts": T0 + 35, "caller": CALLER, "action": "callback", "queue": "su"},
        {"type": "call.end", "uniqueid": uid, "ts": T0 + 40, "cause": "16"},
        {"type": "queue.join", "uniqueid": pid + "-q", "ts": T0 + 31, "queue": "su", "position": 1},
        {"type": "queue.connect", "uniqueid": pid + "-q", "ts": T0 + 90, "queue": "su", "member": "A", "wait_s": 59},
        {"type": "call.end", "uniqueid": pid, "ts": T0 + 120, "cause": "16"},
        {"type": "callback", "uniqueid": uid, "ts": T0 + 120, "callback_id": 1, "state": "connected"},
    ]
    for order in (events, events[::-1]):
        with sessions.begin() as s:
            for e in order:
                apply_event(s, e)
        with sessions() as s:
            [record] = s.scalars(select(CallRecord)).all()
            assert (record.uniqueid, record.outcome, record.ivr_action, record.queue) == (
                uid,
                "callback",
                "callback",
                "su",
            )
            assert not record.answered
