"""The /ivr AGI script over the protocol: the engine's commands as AGI, variables and events out."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from agi_scripts import ivr
from alo185.core import bus, db, procs
from alo185.menu.prompt_files import PromptFiles
from alo185.menu.versions import LiveTree
from alo185.tickets import caller_card
from tests.unit.test_agi_protocol import ENV, Peer
from tests.unit.test_agi_protocol import serve as serve  # the fixture
from tests.unit.test_ivr_engine import WEEKDAY_10AM, FakeServices
from tests.unit.test_screenpop import AGENT_CALLED, known_caller, pop_as_before, published_pop

CALLER, UNIQUEID = "+905321234567", "1700000000.42"  # the caller and call of ``ENV``


@pytest.fixture
def deps(tmp_path: Path) -> tuple[ivr.IvrDeps, list[dict]]:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    db.migrate(url)
    events: list[dict] = []
    return (
        ivr.IvrDeps(
            publish=events.append,
            sessions=db.session_factory(url),
            services=FakeServices(),
            prompts=PromptFiles(tmp_path / "sounds"),
            pbx_path=str,
            trees=LiveTree(),
            clock=lambda: WEEKDAY_10AM,
        ),
        events,
    )


def answer(peer: Peer, keys: dict[str, str]) -> dict[str, str]:
    """Play Asterisk: press ``keys[prompt]`` during that prompt; return the variables set."""
    variables: dict[str, str] = {}
    while True:
        line = peer.command()
        if not line:
            return variables
        if line.startswith("STREAM FILE"):
            prompt = Path(line.split()[2]).name
            key = keys.pop(prompt, "")
            peer.reply(f"200 result={ord(key) if key else 0} endpos=800")
        elif line.startswith("WAIT FOR DIGIT"):
            peer.reply("200 result=0")
        elif line.startswith("GET FULL VARIABLE"):
            peer.reply("200 result=1 (2)")
        elif line.startswith("SET VARIABLE"):
            _, _, name, value = line.split(" ", 3)
            variables[name.strip('"')] = value.strip('"')
            peer.reply("200 result=1")
        else:
            raise AssertionError(f"unexpected AGI command {line!r}")


def test_a_call_through_the_menu(serve, deps) -> None:
    the_deps, events = deps
    peer = Peer(serve(ivr.run, the_deps))
    variables = answer(peer, {"language_tr": "1", "main_menu": "3"})
    assert variables["ALO185_ACTION"] == "queue" and variables["ALO185_QUEUE"] == "temizlik"
    assert variables["ALO185_LANG"] == "tr" and variables["ALO185_CATEGORY"] == "cop-toplama"
    assert variables["ALO185_IVR_PATH"] == "kvkk>language:1>main:3"
    final = next(e for e in events if e["type"] == "ivr")
    assert final["uniqueid"] == "1700000000.42" and final["queue"] == "temizlik" and final["digit"] == "3"
    steps = [e["seq"] for e in events if e["type"] == "ivr.step"]
    assert steps == list(range(1, len(steps) + 1))


def test_hangup_during_the_notice_sets_nothing(serve, deps) -> None:
    the_deps, events = deps
    peer = Peer(serve(ivr.run, the_deps))
    assert peer.command().startswith("STREAM FILE")
    peer.reply("HANGUP")
    peer.reply("200 result=-1 endpos=0")
    assert peer.closed()
    assert next(e for e in events if e["type"] == "ivr")["hangup"] is True


def test_the_caller_is_routed_when_the_bus_is_down(serve, deps) -> None:
    the_deps, _events = deps

    def broken(_event: dict) -> None:
        raise ConnectionError("redis down")

    the_deps.publish = broken
    peer = Peer(serve(ivr.run, the_deps))
    assert answer(peer, {"language_tr": "2", "main_menu": "5"})["ALO185_QUEUE"] == "park"


def test_a_call_headed_to_a_queue_leaves_the_callers_card(serve, deps) -> None:
    the_deps, _events = deps
    puts: list[tuple[str, str, int]] = []
    the_deps.put, the_deps.card_ttl_s = lambda *args: puts.append(args), 360
    peer = Peer(serve(ivr.run, the_deps))
    assert answer(peer, {"language_tr": "1", "main_menu": "3"})["ALO185_ACTION"] == "queue"
    assert [(key, ttl) for key, _card, ttl in puts] == [(bus.caller_card_key(UNIQUEID), 360)]
    assert caller_card.decode(puts[0][1], CALLER) == caller_card.card(the_deps.sessions, CALLER)


def test_an_unknown_callers_card_needs_no_lookup(serve, deps, monkeypatch) -> None:
    """No citizen has the number (the IVR's recognition said so): the card is stored at once, alike to the field."""
    the_deps, _events = deps
    puts: list[tuple[str, str, int]] = []
    the_deps.put, the_deps.card_ttl_s, the_deps.is_citizen = lambda *args: puts.append(args), 360, lambda _c: False

    def no_database(*_args: object) -> str:
        raise AssertionError("looked up a caller the IVR did not recognise")

    monkeypatch.setattr(caller_card, "build", no_database)
    assert answer(Peer(serve(ivr.run, the_deps)), {"language_tr": "1", "main_menu": "3"})["ALO185_ACTION"] == "queue"
    assert [(key, ttl) for key, _card, ttl in puts] == [(bus.caller_card_key(UNIQUEID), 360)]
    assert caller_card.decode(puts[0][1], CALLER) == caller_card.card(the_deps.sessions, CALLER)


def test_the_card_the_ivr_leaves_is_the_screen_pop(serve, deps, redis_settings) -> None:
    """The IVR stores the card through its publisher; when the phone rings, the pop is the one the database gives."""
    known_caller(redis_settings.database_url)
    the_deps, _events = deps
    the_deps.sessions = db.session_factory(redis_settings.database_url)
    publisher = bus.LoopPublisher(redis_settings.redis_connection_url)
    the_deps.put, the_deps.card_ttl_s = publisher.put, caller_card.ttl_s(redis_settings)
    running = asyncio.run_coroutine_threadsafe(publisher.run(), serve.loop.loop)
    try:
        answer(Peer(serve(ivr.run, the_deps)), {"open_ticket": "2", "language_tr": "1", "main_menu": "3"})
        client = bus.connect(redis_settings.redis_connection_url)
        assert procs.wait_until(lambda: bool(client.exists(bus.caller_card_key(UNIQUEID))), 5)
    finally:
        serve.loop.loop.call_soon_threadsafe(publisher.stop)
        running.result(10)
    assert 0 < client.ttl(bus.caller_card_key(UNIQUEID)) <= redis_settings.queue_timeout + caller_card.TTL_MARGIN_S
    ringing = {**AGENT_CALLED, "Uniqueid": UNIQUEID}
    assert published_pop(redis_settings, ringing) == (pop_as_before(the_deps.sessions, ringing), 0)


def test_a_card_redis_does_not_take_leaves_the_call_alone(serve, deps, caplog) -> None:
    the_deps, events = deps
    publisher = bus.LoopPublisher("redis://127.0.0.1:1/0")  # nothing listens there
    the_deps.put = publisher.put
    running = asyncio.run_coroutine_threadsafe(publisher.run(), serve.loop.loop)
    try:
        with caplog.at_level(logging.WARNING, logger="alo185.core.bus"):
            variables = answer(Peer(serve(ivr.run, the_deps)), {"language_tr": "1", "main_menu": "3"})
            assert procs.wait_until(lambda: "did not take 1 values" in caplog.text, 5)
        assert not running.done()  # the publisher goes on
    finally:
        serve.loop.loop.call_soon_threadsafe(publisher.stop)
        running.result(10)
    assert variables["ALO185_ACTION"] == "queue" and variables["ALO185_QUEUE"] == "temizlik"
    assert next(e for e in events if e["type"] == "ivr")["queue"] == "temizlik"


def test_a_card_that_cannot_be_built_leaves_the_call_alone(serve, deps, monkeypatch, caplog) -> None:
    the_deps, events = deps
    puts: list[tuple] = []
    the_deps.put = lambda *args: puts.append(args)

    def broken(*_args: object) -> str:
        raise RuntimeError("database gone")

    monkeypatch.setattr(caller_card, "build", broken)
    variables = answer(Peer(serve(ivr.run, the_deps)), {"language_tr": "1", "main_menu": "3"})
    assert variables["ALO185_QUEUE"] == "temizlik" and not puts
    assert next(e for e in events if e["type"] == "ivr")["queue"] == "temizlik"
    assert "could not prepare the caller card for call 1700000000.42" in caplog.text


@pytest.fixture
def survey_deps(deps, redis_settings):
    from agi_scripts.survey import SurveyDeps
    from alo185.core import bus
    from alo185.voicemail import spool

    the_deps, events = deps
    dirs = spool.Dirs(recording=redis_settings.var_dir / "rec", voicemail=redis_settings.var_dir / "vm")
    dirs.ensure()
    client = bus.connect(redis_settings.redis_connection_url)
    return SurveyDeps(the_deps, client, dirs, period_days=30), events, client


def _survey_peer(serve, survey_deps) -> Peer:
    from agi_scripts import survey

    deps, _events, _client = survey_deps
    env = [*ENV, "agi_arg_1: su", "agi_arg_2: Ayşe Operatör", "agi_arg_3: tr"]
    return Peer(serve(survey.run, deps), env)


def _comment(peer: Peer, line: str) -> None:
    """Play Asterisk's RECORD FILE: write the caller's two seconds of speech."""
    assert line.startswith("RECORD FILE ") and ' wav "#" 30000 0 BEEP s=4' in line
    stem = line.split()[2]
    Path(stem + ".wav").write_bytes(b"RIFF" + bytes(40000))


def test_survey_not_satisfied_with_a_spoken_comment(serve, survey_deps) -> None:
    from alo185.voicemail import spool

    peer = _survey_peer(serve, survey_deps)
    _deps, events, client = survey_deps
    assert Path(peer.command().split()[2]).name == "survey_question"
    peer.reply(f"200 result={ord('3')} endpos=800")
    assert Path(peer.command().split()[2]).name == "survey_comment"
    peer.reply("200 result=0 endpos=800")
    _comment(peer, peer.command())
    peer.reply("200 result=0 (timeout) endpos=16000")
    assert Path(peer.command().split()[2]).name == "survey_thanks"
    peer.reply("200 result=0 endpos=800")
    assert peer.closed()
    surveys = [e for e in events if e["type"] == "survey"]
    assert surveys[0]["offered"] and surveys[0]["queue"] == "su" and surveys[0]["operator"] == "Ayşe Operatör"
    assert (surveys[-1]["answer"], surveys[-1]["has_comment"]) == (3, True)
    assert spool.queued_ids(client) == {"1700000000.42-comment"}  # handed to the voicemail worker


def test_survey_hangup_while_commenting_keeps_answer_and_comment(serve, survey_deps) -> None:
    from alo185.voicemail import spool

    peer = _survey_peer(serve, survey_deps)
    _deps, events, client = survey_deps
    peer.command()
    peer.reply(f"200 result={ord('3')} endpos=800")
    peer.command()
    peer.reply("200 result=0 endpos=800")
    _comment(peer, peer.command())
    peer.reply("HANGUP")
    peer.reply("200 result=-1 (hangup) endpos=16000")
    assert peer.closed()
    last = [e for e in events if e["type"] == "survey"][-1]
    assert (last["answer"], last["has_comment"]) == (3, True)
    assert spool.queued_ids(client) == {"1700000000.42-comment"}
