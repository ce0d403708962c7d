"""The call record's details: after-hours outcome, time on hold, the recording, and the survey it links to."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from admin.app import create_app
from alo185 import services
from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.core import db
from alo185.core.settings import Settings
from alo185.surveys.models import SurveyAnswer
from queue_manager.events import translate
from tests.staff import staff_client
from workers.recorder import apply_event

T0 = 1_795_256_920.0
CALLER = "+905321234567"


def _fold(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> CallRecord:
    with sessions.begin() as s:
        for e in events:
            apply_event(s, e)
    with sessions() as s:
        return s.scalars(select(CallRecord).where(CallRecord.uniqueid == "u1")).one()


def _start(**fields: Any) -> list[dict[str, Any]]:
    return [{"type": "call.start", "uniqueid": "u1", "ts": T0, "linkedid": "u1", "caller": CALLER, **fields}]


# --- outcome after-hours ---------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["after_hours", "holiday"])
def test_a_closed_queue_is_after_hours_with_or_without_a_message(sessions: sessionmaker[Session], reason: str) -> None:
    left_message = [
        *_start(),
        {"type": "ivr", "uniqueid": "u1", "ts": T0 + 5, "action": "voicemail", "reason": reason, "digit": "5"},
        {"type": "call.voicemail", "uniqueid": "u1", "ts": T0 + 12, "reason": reason},
        {"type": "call.end", "uniqueid": "u1", "ts": T0 + 40, "cause": "16"},
    ]
    r = _fold(sessions, left_message)
    assert (r.outcome, r.ivr_action, r.ivr_reason, r.answered) == ("after-hours", "voicemail", reason, False)


def test_hanging_up_during_the_closed_prompt_is_after_hours_too(sessions: sessionmaker[Session]) -> None:
    """No IVR outcome then: the step that said the queue was closed tells it."""
    events = [
        *_start(),
        {"type": "ivr.step", "uniqueid": "u1", "ts": T0 + 3, "seq": 3, "node": "main", "key": "5"},
        {"type": "ivr.step", "uniqueid": "u1", "ts": T0 + 4, "seq": 4, "node": "closed", "detail": "holiday"},
        {"type": "ivr", "uniqueid": "u1", "ts": T0 + 6, "caller": CALLER, "hangup": True},
        {"type": "call.end", "uniqueid": "u1", "ts": T0 + 6, "cause": "16"},
    ]
    assert _fold(sessions, events).outcome == "after-hours"


def test_voicemail_for_other_reasons_stays_voicemail(sessions: sessionmaker[Session]) -> None:
    events = [
        *_start(),
        {"type": "ivr", "uniqueid": "u1", "ts": T0 + 5, "action": "voicemail", "reason": "no_operator"},
        {"type": "call.end", "uniqueid": "u1", "ts": T0 + 40, "cause": "16"},
    ]
    assert _fold(sessions, events).outcome == "voicemail"


def test_other_ivr_steps_make_no_record(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        step = {"type": "ivr.step", "uniqueid": "u9", "ts": T0, "seq": 1, "node": "kvkk", "key": ""}
        assert apply_event(s, step) is None
        assert s.scalar(select(CallRecord)) is None


# --- time on hold ----------------------------------------------------------------------------


def _ami_hold(event: str, ts: float, channel: str = "op-1") -> dict[str, Any]:
    """An AMI Hold/Unhold of the operator's leg (its own Uniqueid; the call's in Linkedid), as translated."""
    ami = {"Event": event, "Uniqueid": channel, "Linkedid": "u1", "Timestamp": str(ts), "Channel": "PJSIP/1001-1"}
    out = translate(ami)
    assert out is not None
    return out


ANSWERED = [
    *_start(),
    {"type": "queue.connect", "uniqueid": "u1", "ts": T0 + 10, "queue": "su", "member": "Ayşe", "wait_s": 2.0},
]
HOLDS = [
    _ami_hold("Hold", T0 + 20),
    _ami_hold("Unhold", T0 + 32.5),  # 12.5 s
    _ami_hold("Hold", T0 + 40),
    _ami_hold("Hold", T0 + 41, channel="op-2"),  # a second leg while held: one hold
    _ami_hold("Unhold", T0 + 47),  # 7 s
    _ami_hold("Unhold", T0 + 48, channel="op-2"),  # nothing open any more
]
END = [
    {"type": "queue.complete", "uniqueid": "u1", "ts": T0 + 70, "queue": "su", "talk_s": 60.0},
    {"type": "call.end", "uniqueid": "u1", "ts": T0 + 71, "cause": "16"},
]


def test_hold_and_unhold_are_translated_for_the_call() -> None:
    assert _ami_hold("Hold", T0) == {"type": "call.hold", "uniqueid": "u1", "ts": T0, "held": True, "channel": "op-1"}
    assert _ami_hold("Unhold", T0)["held"] is False


def test_holds_add_up(sessions: sessionmaker[Session]) -> None:
    r = _fold(sessions, ANSWERED + HOLDS + END)
    assert (r.hold_s, r.hold_started_at, r.outcome, r.talk_s) == (19.5, None, "answered", 60.0)


def test_a_call_never_held_has_no_hold_time(sessions: sessionmaker[Session]) -> None:
    assert _fold(sessions, ANSWERED + END).hold_s is None


def test_replayed_holds_are_counted_once(sessions: sessionmaker[Session]) -> None:
    """A batch redelivered after its commit (the recorder died before the ack) comes again, whole."""
    once = _fold(sessions, ANSWERED + HOLDS).hold_s
    assert once == 19.5
    again = _fold(sessions, HOLDS + HOLDS[:3] + HOLDS + END)
    assert again.hold_s == 19.5


@pytest.mark.parametrize("cut", range(len(HOLDS) + 1))
def test_any_redelivery_point_gives_the_same_total(tmp_path: Path, cut: int) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    db.migrate(url)
    sessions = db.session_factory(url)
    _fold(sessions, ANSWERED + HOLDS[:cut])
    nothing: list[dict[str, Any]] = []
    for prefix in itertools.accumulate(HOLDS, lambda acc, e: [*acc, e], initial=nothing):
        _fold(sessions, prefix)  # every earlier part delivered again
    assert _fold(sessions, HOLDS + END).hold_s == 19.5


def test_a_hold_still_open_when_the_operator_hangs_up_ends_there(sessions: sessionmaker[Session]) -> None:
    r = _fold(sessions, [*ANSWERED, _ami_hold("Hold", T0 + 60), *END])
    assert (r.hold_s, r.hold_started_at) == (10.0, None)  # to AgentComplete, not to the caller's hang-up
    again = _fold(sessions, [_ami_hold("Hold", T0 + 60), _ami_hold("Unhold", T0 + 75)])
    assert again.hold_s == 10.0


def test_a_hold_open_when_the_call_ends_ends_with_it(sessions: sessionmaker[Session]) -> None:
    end = {"type": "call.end", "uniqueid": "u1", "ts": T0 + 66, "cause": "16"}
    r = _fold(sessions, [*ANSWERED, _ami_hold("Hold", T0 + 60), end])
    assert r.hold_s == 6.0


def test_a_hold_of_a_channel_that_is_no_call_makes_no_record(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        held = {"type": "call.hold", "uniqueid": "echo-test", "ts": T0, "held": True, "channel": "x"}
        assert apply_event(s, held) is None
        assert s.scalar(select(CallRecord)) is None


# --- the recording -----------------------------------------------------------------------------


def test_the_recording_event_names_the_file(sessions: sessionmaker[Session]) -> None:
    ami = {
        "Event": "UserEvent",
        "UserEvent": "Alo185Call",
        "Stage": "recording",
        "File": "2026/11/u1.wav",
        "Uniqueid": "u1",
        "Linkedid": "u1",
        "Timestamp": str(T0 + 71),
    }
    event = translate(ami)
    assert event == {"type": "call.recording", "uniqueid": "u1", "ts": T0 + 71, "file": "2026/11/u1.wav"}
    r = _fold(sessions, ANSWERED + END + [event, event])
    assert (r.recording_ref, r.outcome) == ("2026/11/u1.wav", "answered")
    with sessions.begin() as s:  # alone it makes no record
        assert apply_event(s, {**event, "uniqueid": "u2"}) is None


# --- the survey, reachable from the call --------------------------------------------------------


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Flask:
    settings = Settings(var_dir=tmp_path, db_url=database_url, recording_dir=tmp_path / "recordings")
    services.prepare_database(settings)
    return create_app(settings)


def test_the_call_api_shows_hold_recording_and_survey(app: Flask, tmp_path: Path) -> None:
    sessions = app.extensions["alo185.sessions"]
    audio = tmp_path / "recordings" / "2026" / "11" / "u1.wav"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"RIFF operator call")
    survey = [
        {"type": "survey", "uniqueid": "u1", "ts": T0 + 72, "caller": CALLER, "queue": "su", "offered": True},
        {"type": "survey", "uniqueid": "u1", "ts": T0 + 80, "answer": 2},
    ]
    recording = {"type": "call.recording", "uniqueid": "u1", "ts": T0 + 90, "file": "2026/11/u1.wav"}
    _fold(sessions, ANSWERED + HOLDS + END + survey + [recording])
    with sessions.begin() as s:
        apply_event(s, {**_start()[0], "uniqueid": "u2"})  # a call without survey or recording
    client = staff_client(app, "supervisor")
    calls = {c["uniqueid"]: c for c in client.get("/api/calls").get_json()}
    first = calls["u1"]
    assert (first["hold_s"], first["outcome"], first["recording"]) == (19.5, "answered", "/calls/u1/recording")
    assert first["survey"]["answer"] == 2 and first["survey"]["label"] == "memnunum"
    assert (calls["u2"]["survey"], calls["u2"]["recording"]) == (None, None)
    with sessions() as s:  # the answer is kept once, in the survey's own row
        assert s.scalar(select(SurveyAnswer.answer).where(SurveyAnswer.uniqueid == "u1")) == 2
    page = client.get("/calls").get_data(as_text=True)
    assert "Memnunum" in page and 'href="/calls/u1/recording"' in page
    heard = client.get("/calls/u1/recording")
    assert heard.status_code == 200 and heard.data == b"RIFF operator call"
    heard.close()
    assert client.get("/calls/u2/recording").status_code == 404
    with sessions() as s:
        [row] = s.scalars(select(AuditLog).where(AuditLog.action == "call.recording"))
        assert (row.actor, row.entity_id) == ("test-supervisor", "u1")
