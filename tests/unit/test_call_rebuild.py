"""A call's facts rebuilt from queue_log fill in what missed events left out, and change nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alo185.calls import rebuild
from alo185.calls.models import CallRecord
from alo185.queues.service_level import parse
from workers.recorder import apply_event

T0 = 1_795_256_920
# What Asterisk writes for a call answered in "su" (queue_log keeps whole seconds; alo185's lines carry
# the dialplan's microseconds), and for another that abandoned "temizlik".
LOG = [
    f"{T0}|u1|NONE|NONE|ALO185START|{T0}.250000|u1|+905321234567",
    f"{T0 + 4}|u1|NONE|NONE|ALO185IVRDONE|SUCCESS",
    f"{T0 + 4}|u1|su|NONE|ENTERQUEUE||+905321234567|1",
    f"{T0 + 7}|u1|su|Ayşe|CONNECT|3|u1-op|1",
    f"{T0 + 67}|u1|su|Ayşe|COMPLETECALLER|3|60|1",
    f"{T0 + 67}|u1|NONE|NONE|ALO185RECORDING|2026/11/u1.wav",
    f"{T0 + 68}|u1|NONE|NONE|ALO185END|{T0 + 68}.750000|16",
    f"{T0 + 70}|u2|NONE|NONE|ALO185START|{T0 + 70}.100000|u2|+905321110002",
    f"{T0 + 75}|u2|temizlik|NONE|ENTERQUEUE||+905321110002|1",
    f"{T0 + 82}|u2|temizlik|NONE|ABANDON|1|1|7",
    f"{T0 + 82}|u2|NONE|NONE|ALO185END|{T0 + 82}.500000|16",
]
# The same call as the queue manager sees it over AMI (sub-second times).
EVENTS: list[dict[str, Any]] = [
    {"type": "call.start", "uniqueid": "u1", "ts": T0 + 0.25, "linkedid": "u1", "caller": "+905321234567"},
    {"type": "ivr", "uniqueid": "u1", "ts": T0 + 1, "caller": "+905321234567", "digit": "1", "queue": "su"},
    {"type": "ivr.done", "uniqueid": "u1", "ts": T0 + 4.1, "agi_status": "SUCCESS"},
    {"type": "queue.join", "uniqueid": "u1", "ts": T0 + 4.2, "queue": "su", "position": 1},
    {"type": "queue.connect", "uniqueid": "u1", "ts": T0 + 7.3, "queue": "su", "member": "Ayşe", "wait_s": 3.0},
    {"type": "queue.complete", "uniqueid": "u1", "ts": T0 + 67.3, "queue": "su", "talk_s": 60.0},
    {"type": "call.recording", "uniqueid": "u1", "ts": T0 + 67.4, "file": "2026/11/u1.wav"},
    {"type": "call.end", "uniqueid": "u1", "ts": T0 + 68.75, "cause": "16"},
]
COLUMNS = [c.key for c in CallRecord.__table__.columns if c.key not in ("id", "updated_at")]


def _apply(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> None:
    with sessions.begin() as session:
        for event in events:
            apply_event(session, event)


def _record(sessions: sessionmaker[Session], uniqueid: str = "u1") -> dict[str, Any] | None:
    with sessions() as session:
        record = session.scalars(select(CallRecord).where(CallRecord.uniqueid == uniqueid)).one_or_none()
        return None if record is None else {name: getattr(record, name) for name in COLUMNS}


def test_the_log_gives_each_calls_facts() -> None:
    u1, u2 = rebuild.events(parse(LOG))
    assert u1 == {
        "type": "call.rebuilt",
        "uniqueid": "u1",
        "ts": T0 + 0.25,
        "linkedid": "u1",
        "caller": "+905321234567",
        "agi_status": "SUCCESS",
        "queue": "su",
        "member": "Ayşe",
        "answered_ts": T0 + 7,
        "wait_s": 3.0,
        "answered": True,
        "talk_s": 60.0,
        "recording": "2026/11/u1.wav",
        "ended_ts": T0 + 68.75,
        "cause": "16",
    }
    assert u2["abandoned"] is True and u2["wait_s"] == 7.0 and u2["queue"] == "temizlik"


def test_rebuilding_a_complete_record_changes_nothing(sessions: sessionmaker[Session]) -> None:
    _apply(sessions, EVENTS)
    whole = _record(sessions)
    _apply(sessions, rebuild.events(parse(LOG)) * 2)
    assert _record(sessions) == whole


def test_a_record_whose_events_were_missed_becomes_the_whole_one(sessions: sessionmaker[Session]) -> None:
    """Only the IVR's own event got through; the queue manager's return listed no channel: taken for lost."""
    _apply(sessions, EVENTS)
    whole = _record(sessions)
    with sessions.begin() as session:
        session.query(CallRecord).delete()
    _apply(sessions, [EVENTS[1], {"type": "pbx.channels", "uniqueid": "", "uniqueids": [], "ts": T0 + 100}])
    damaged = _record(sessions)
    assert damaged is not None and damaged["outcome"] == "lost"
    _apply(sessions, rebuild.events(parse(LOG)))
    rebuilt = _record(sessions)
    assert rebuilt is not None and whole is not None
    # The answer's time is queue_log's whole second (AMI had 0.3 s more); everything else is the same.
    assert rebuilt["answered_at"] is not None and whole["answered_at"] is not None
    assert 0 <= (whole["answered_at"] - rebuilt["answered_at"]).total_seconds() < 1
    assert {k: v for k, v in rebuilt.items() if k != "answered_at"} == {
        k: v for k, v in whole.items() if k != "answered_at"
    }


def test_facts_missed_half_way_are_filled_in(sessions: sessionmaker[Session]) -> None:
    """The queue manager died while the operator talked: the complete and the end come from the log."""
    _apply(sessions, EVENTS)
    whole = _record(sessions)
    with sessions.begin() as session:
        session.query(CallRecord).delete()
    _apply(sessions, EVENTS[:5])
    _apply(sessions, rebuild.events(parse([line for line in LOG if int(line.split("|")[0]) >= T0 + 60])))
    assert _record(sessions) == whole


def test_a_rebuilt_call_without_its_start_makes_no_record(sessions: sessionmaker[Session]) -> None:
    _apply(sessions, rebuild.events(parse(LOG[3:7])))
    assert _record(sessions) is None


def test_the_log_is_read_from_the_first_line_of_the_gap(tmp_path: Path) -> None:
    log = tmp_path / "queue_log"
    lines = [f"{T0 + i}|c{i}|q|NONE|ENTERQUEUE||+90532|1" for i in range(20_000)]
    log.write_text("\n".join(lines) + "\n")
    assert rebuild.read_since(log, T0 + 12_345.5) == lines[12_346:]
    assert rebuild.read_since(log, T0 - 5) == lines
    assert rebuild.read_since(log, T0 + 30_000) == []
    assert rebuild.read_since(tmp_path / "missing", T0) == []
