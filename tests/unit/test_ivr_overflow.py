"""The overflow offer without a PBX: the prediction, the engine's offer, and the AGI side storing a callback."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import select

from agi_scripts import ivr
from agi_scripts.overflow import LivePredictor
from alo185.callbacks.models import Callback, CallbackState
from alo185.core import bus, db
from alo185.queues import overflow
from alo185.queues.models import QueueInterval
from ivr import engine
from ivr.default import default_tree
from ivr.tree import validate
from tests.unit.test_agi_protocol import Peer
from tests.unit.test_agi_protocol import serve as serve  # the fixture
from tests.unit.test_ivr_engine import CALLER, WEEKDAY_10AM, FakeServices
from tests.unit.test_ivr_script import answer
from tests.unit.test_ivr_script import deps as deps  # the fixture


def _queue(waiting: int = 0, **states: int) -> dict:
    """One queue of the live snapshot: ``waiting`` callers and operators by state (available=2, …)."""
    ops = {f"op{state}{i}": {"state": state} for state, n in states.items() for i in range(n)}
    return {"waiting": waiting, "operators": ops}


# --- the prediction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "wait_s"),
    [
        (_queue(0, available=1), 0.0),  # someone free: at once
        (_queue(1, available=2), 0.0),  # two free, one ahead
        (_queue(1, ringing=1), 120.0),  # the ringing one takes the caller ahead: the next call to end
        (_queue(0, on_call=1), 120.0),  # one busy: the next call to end, AHT / 1
        (_queue(2, on_call=2), 180.0),  # third in line, two busy: 3 × AHT / 2
        (_queue(3, on_call=2, available=1), 120.0),  # fourth, one free: (4 − 1) × AHT / 3
        (_queue(1, on_call=1, wrap_up=1, paused=3, unavailable=2), 120.0),  # paused and logged-out do not serve
    ],
)
def test_the_wait_is_the_calls_to_end_before_ones_turn(queue: dict, wait_s: float) -> None:
    p = overflow.predict(queue, aht_s=120.0, target_s=5)
    assert p.wait_s == pytest.approx(wait_s)
    assert p.overflows is (wait_s > 5) and not p.nobody


def test_nobody_can_answer_when_every_operator_is_paused_or_away() -> None:
    p = overflow.predict(_queue(0, paused=2, unavailable=1), aht_s=120.0, target_s=5)
    assert p.nobody and p.overflows and p.wait_s == math.inf and p.minutes == 0


def test_minutes_round_up_and_are_at_least_one() -> None:
    p = overflow.predict(_queue(0, on_call=1), aht_s=61.0, target_s=5)
    assert p.minutes == 2
    assert overflow.predict(_queue(0, on_call=4), aht_s=40.0, target_s=5).minutes == 1
    assert not overflow.predict(_queue(0, on_call=10), aht_s=40.0, target_s=5).overflows  # 4 s ≤ 5 s


def test_aht_from_recent_intervals_or_the_default(database_url: str) -> None:
    sessions = db.session_factory(database_url)
    now = datetime(2026, 11, 18, 10, 7, tzinfo=UTC)
    with sessions() as s:
        assert overflow.queue_figures(s, "su", now) == (overflow.DEFAULT_AHT_S, 5.0)
    with sessions.begin() as s:
        for start, talks, total in ((now - timedelta(hours=3), 9, 9000.0), (now - timedelta(minutes=7), 4, 400.0)):
            row = QueueInterval(queue="su", interval_start=start, target_s=20, short_abandon_s=5)
            row.offered = row.answered = row.talk_count = talks
            row.answered_within_target = row.answered_within_20s = row.abandoned = row.short_abandoned = 0
            row.wait_answered_sum_s, row.talk_sum_s = 0.0, total
            s.add(row)
        s.flush()
        from alo185.queues import intervals

        intervals.set_target(s, "su", 20, actor="test")
    with sessions() as s:  # only the last two hours: 400 s / 4 calls; the wrap-up adds to each
        assert overflow.queue_figures(s, "su", now, wrap_up_s=10) == (110.0, 20.0)


def test_the_ivr_reads_the_live_state_from_redis(redis_settings) -> None:
    import asyncio
    import json

    client = bus.connect(redis_settings.redis_connection_url)
    client.set(bus.LIVE_QUEUES, json.dumps({"su": _queue(1, on_call=1)}))
    predictor = LivePredictor(redis_settings.redis_connection_url, db.session_factory(redis_settings.database_url))

    async def scenario() -> None:
        assert await predictor("su") is None  # the queue manager is not running: the state may be stale
        client.set(bus.QUEUE_MANAGER_ALIVE, "1")
        p = await predictor("su")
        assert p is not None and p.wait_s == 2 * overflow.DEFAULT_AHT_S and p.target_s == 5
        assert await predictor("fen") is None  # a queue the state does not know
        await predictor.aclose()

    asyncio.run(scenario())


# --- the engine's offer ----------------------------------------------------------------------


@dataclass
class Offer:
    outcome: engine.Outcome
    commands: list[engine.Command]

    @property
    def played(self) -> list[str]:
        return [p for c in self.commands if isinstance(c, engine.Play) for p in c.prompts]

    def of(self, kind: type) -> list:
        return [c for c in self.commands if isinstance(c, kind)]


def run(
    menu: list[str],
    offer_key: str = "",
    prediction: overflow.Prediction | None = None,
    stored: bool = True,
    caller: str = CALLER,
    services: FakeServices | None = None,
    tree=None,
    logged_in: int = 1,
) -> Offer:
    """A caller who presses ``menu`` keys at the menus, then ``offer_key`` during the offer ('' = nothing)."""
    flow = engine.run_call(tree or default_tree(), services or FakeServices(), caller, WEEKDAY_10AM)
    pending = list(menu)
    commands: list[engine.Command] = []
    answer_: Any = None  # what the engine is sent back: a key, a count, a prediction…
    while True:
        try:
            cmd = flow.send(answer_) if commands else next(flow)
        except StopIteration as stop:
            return Offer(stop.value, commands)
        commands.append(cmd)
        answer_ = None
        if (
            isinstance(cmd, engine.Say | engine.Play)
            and cmd.keys == "12"
            and any(isinstance(c, engine.Step) and c.node in ("overflow", "no_operator") for c in commands)
        ):
            answer_, offer_key = offer_key, ""  # the key is taken by the first offer prompt
        elif isinstance(cmd, engine.Play):
            answer_ = pending.pop(0) if cmd.keys and pending else ""
        elif isinstance(cmd, engine.WaitKey):
            answer_ = ""
        elif isinstance(cmd, engine.OperatorsLoggedIn):
            answer_ = logged_in
        elif isinstance(cmd, engine.PredictWait):
            answer_ = prediction
        elif isinstance(cmd, engine.RequestCallback):
            answer_ = stored
        assert len(commands) < 200


BUSY = overflow.predict(_queue(2, on_call=1), aht_s=100.0, target_s=5)  # 300 s: five minutes
NOBODY = overflow.predict(_queue(0, paused=1), aht_s=100.0, target_s=5)


def test_a_long_wait_offers_a_callback_that_keeps_the_place() -> None:
    r = run(["1", "3"], "1", BUSY)
    assert (r.outcome.action, r.outcome.queue, r.outcome.category) == ("callback", "temizlik", "cop-toplama")
    assert r.of(engine.Say) == [engine.Say("Tahmini bekleme süreniz yaklaşık 5 dakikadır.", "tr", "12")]
    assert r.of(engine.RequestCallback) == [engine.RequestCallback("temizlik", 0, "tr")]
    assert r.played[-1] == "callback_confirmed" and "overflow_offer" not in r.played  # 1 pressed during the wait
    assert r.outcome.path[-3:] == ["overflow", "overflow_offer:1", "callback"]
    assert [s.detail for s in r.of(engine.Step) if s.node in ("overflow", "callback")] == ["5min", "ok"]


def test_two_is_voicemail_and_nothing_is_the_queue_as_before() -> None:
    r = run(["1", "3"], "2", BUSY)
    assert (r.outcome.action, r.outcome.reason) == ("voicemail", "overflow")
    r = run(["1", "3"], "", BUSY)
    assert (r.outcome.action, r.outcome.queue) == ("queue", "temizlik")
    assert r.played[-1] == "overflow_offer" and r.of(engine.WaitKey)[-1] == engine.WaitKey(5000)
    assert r.outcome.path[-2:] == ["overflow", "overflow_offer:-"] and not r.of(engine.RequestCallback)


def test_nobody_to_answer_says_so_and_offers_the_same() -> None:
    r = run(["2", "2"], "1", NOBODY)  # English, transport
    assert r.played[-3:] == ["overflow_busy", "overflow_offer", "callback_confirmed"]
    assert not r.of(engine.Say)
    assert r.of(engine.RequestCallback) == [engine.RequestCallback("ulasim", 0, "en")] and r.outcome.lang == "en"


def test_the_wait_is_said_in_the_callers_language() -> None:
    assert run(["2", "3"], "", BUSY).of(engine.Say)[0].text == "Your expected waiting time is about 5 minutes."
    assert "5" in run(["3", "3"], "", BUSY).of(engine.Say)[0].text


def test_no_offer_within_the_target_or_without_a_prediction() -> None:
    soon = replace(BUSY, wait_s=4.0)
    for prediction in (soon, None):
        r = run(["1", "3"], "1", prediction)
        assert r.outcome.action == "queue" and "overflow" not in r.outcome.path and not r.of(engine.Say)


def test_no_offer_to_a_caller_who_cannot_be_called_back() -> None:
    r = run(["1", "3"], "1", BUSY, caller="")
    assert r.outcome.action == "queue" and not r.of(engine.RequestCallback)


def test_a_callback_that_cannot_be_stored_leaves_the_caller_in_the_queue() -> None:
    r = run(["1", "3"], "1", BUSY, stored=False)
    assert (r.outcome.action, r.outcome.queue) == ("queue", "temizlik")
    assert r.outcome.path[-1] == "callback" and "callback_confirmed" not in r.played


def test_a_platform_callers_callback_keeps_their_priority() -> None:
    r = run([], "1", BUSY, services=FakeServices(roles={CALLER: "muhtar"}))
    assert r.of(engine.RequestCallback) == [engine.RequestCallback("muhtar", engine.PLATFORM_PRIORITY, "tr")]


def test_nobody_logged_in_offers_a_callback_for_when_an_operator_is_there() -> None:
    nobody = overflow.predict(_queue(0), aht_s=100.0, target_s=5)  # no member logged in at all
    r = run(["1", "3"], "1", nobody, logged_in=0)
    assert (r.outcome.action, r.outcome.queue, r.outcome.category) == ("callback", "temizlik", "cop-toplama")
    assert r.played[-3:] == ["overflow_busy", "no_operator_offer", "callback_confirmed"]
    assert "no_operator" not in r.played
    assert r.of(engine.RequestCallback) == [engine.RequestCallback("temizlik", 0, "tr")]
    assert r.outcome.path[-3:] == ["no_operator", "no_operator_offer:1", "callback"]


@pytest.mark.parametrize("key", ["2", ""])
def test_nobody_logged_in_two_or_nothing_is_voicemail(key: str) -> None:
    r = run(["1", "3"], key, NOBODY, logged_in=0)
    assert (r.outcome.action, r.outcome.reason, r.outcome.queue) == ("voicemail", "no_operator", "")
    assert r.played[-1] == "no_operator_offer" and not r.of(engine.RequestCallback)
    assert r.outcome.path[-1] == f"no_operator_offer:{key or '-'}"
    if not key:
        assert r.of(engine.WaitKey)[-1] == engine.WaitKey(5000)


def test_nobody_logged_in_and_a_refused_callback_is_voicemail() -> None:
    r = run(["1", "3"], "1", NOBODY, logged_in=0, stored=False)
    assert (r.outcome.action, r.outcome.reason, r.outcome.queue) == ("voicemail", "no_operator", "")
    assert r.outcome.path[-1] == "callback" and "callback_confirmed" not in r.played


def test_nobody_logged_in_without_the_offer_is_voicemail_as_before() -> None:
    old = default_tree()
    old = replace(old, prompts={k: v for k, v in old.prompts.items() if k != "no_operator_offer"})
    for r in (
        run(["1", "3"], "1", None, logged_in=0),  # the offer is off (or the live state unknown)
        run(["1", "3"], "1", NOBODY, logged_in=0, caller=""),  # a caller who cannot be called back
        run(["1", "3"], "1", NOBODY, logged_in=0, tree=old),  # a tree published before this offer
    ):
        assert (r.outcome.action, r.outcome.reason) == ("voicemail", "no_operator")
        assert r.played[-1] == "no_operator" and not r.of(engine.RequestCallback)
    assert "prompt 'no_operator_offer' is missing" in validate(old)


def test_a_tree_without_the_offers_prompts_makes_no_offer() -> None:
    old = default_tree()
    old = replace(old, prompts={k: v for k, v in old.prompts.items() if k != "overflow_offer"})
    assert run(["1", "3"], "1", BUSY, tree=old).outcome.action == "queue"
    assert "prompt 'overflow_offer' is missing" in validate(old)  # and such a tree is no longer published


def test_the_wait_prompt_must_carry_the_minutes() -> None:
    tree = default_tree()
    prompts = {**tree.prompts, "overflow_wait": {**tree.prompts["overflow_wait"], "en": "A long wait."}}
    assert validate(replace(tree, prompts=prompts), set(tree.queues)) == [
        "prompt 'overflow_wait' (en) must say the wait: put {minutes} in it"
    ]


# --- the AGI side ----------------------------------------------------------------------------


def test_pressing_one_stores_the_callback_and_tells_the_queue_manager(serve, deps, tmp_path: Path) -> None:
    the_deps, events = deps

    async def predict(queue: str) -> overflow.Prediction:
        return replace(BUSY, wait_s=150.0)

    the_deps.predict = predict
    peer = Peer(serve(ivr.run, the_deps))
    executed: list[str] = []
    variables = _answer_with_exec(peer, {"language_tr": "1", "main_menu": "3"}, executed)
    assert variables["ALO185_ACTION"] == "callback" and variables["ALO185_QUEUE"] == "temizlik"
    assert variables["ALO185_IVR_PATH"].endswith(">overflow>overflow_offer:1>callback")
    assert executed == ['EXEC UserEvent "Alo185Callback,Stage: requested"']
    with the_deps.sessions() as s:
        row = s.scalars(select(Callback)).one()
        assert (row.call_uniqueid, row.caller, row.queue, row.priority, row.lang) == (
            "1700000000.42",
            CALLER,
            "temizlik",
            0,
            "tr",
        )
        assert row.state == CallbackState.REQUESTED and row.attempts == 0
    announced = [e for e in events if e["type"] == "callback"]
    assert announced == [{**announced[0], "uniqueid": "1700000000.42", "state": "requested", "callback_id": row.id}]
    assert next(e for e in events if e["type"] == "ivr")["action"] == "callback"


def _answer_with_exec(peer: Peer, keys: dict[str, str], executed: list[str]) -> dict[str, str]:
    """``answer`` that also takes EXEC commands, and presses 1 during the spoken wait."""
    out: dict[str, str] = {}

    class Proxy:
        def command(self) -> str:
            while True:
                line = peer.command()
                if line.startswith("EXEC "):
                    executed.append(line)
                    peer.reply("200 result=0")
                    continue
                if line.startswith("STREAM FILE") and "/dynamic/" in line:
                    peer.reply(f"200 result={ord('1')} endpos=800")
                    continue
                return line

        def reply(self, line: str) -> None:
            peer.reply(line)

    out = answer(cast(Peer, Proxy()), keys)  # a Peer as ``answer`` uses it: ``command`` and ``reply``
    return out
