"""The post-call survey: the keypad flow, its events folded into answers, who is asked, the report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from agi_scripts.survey import eligible
from alo185 import services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.surveys import results as report
from alo185.surveys.keypad import RecordComment, SurveyResult, run_survey
from alo185.surveys.models import SurveyAnswer, SurveyComment, SurveyOptOut
from alo185.tickets.queries import create_ticket
from ivr.engine import Play, WaitKey
from workers.recorder import apply_event

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _walk(keys: list[str], said: bool = True) -> tuple[SurveyResult, list[object]]:
    """Answer each Play/WaitKey with the next key ('' = nothing)."""
    flow = run_survey("tr")
    seen: list[object] = []
    answers = iter(keys)
    try:
        cmd = next(flow)
        while True:
            seen.append(cmd)
            if isinstance(cmd, RecordComment):
                cmd = flow.send(said)
            elif isinstance(cmd, Play) and not cmd.keys:
                cmd = flow.send("")
            else:
                cmd = flow.send(next(answers, ""))
    except StopIteration as stop:
        return stop.value, seen


@pytest.mark.parametrize(("keys", "answer"), [(["1"], 1), (["2"], 2), (["4"], 4), (["", "2"], 2), (["7", "", "1"], 1)])
def test_a_key_is_an_answer(keys: list[str], answer: int) -> None:
    result, seen = _walk(keys)
    assert result == SurveyResult(answer)
    assert isinstance(seen[-1], Play) and seen[-1].prompts == ("survey_thanks",)


def test_not_satisfied_asks_for_a_spoken_comment() -> None:
    result, seen = _walk(["3"])
    assert result == SurveyResult(3, comment=True)
    assert any(isinstance(c, RecordComment) for c in seen)
    assert _walk(["3"], said=False)[0] == SurveyResult(3, comment=False)


def test_silence_twice_is_offered_but_not_answered() -> None:
    result, seen = _walk(["", "", "", ""])
    assert result == SurveyResult(None)
    assert sum(1 for c in seen if isinstance(c, Play) and c.prompts == ("survey_question",)) == 2
    assert sum(1 for c in seen if isinstance(c, WaitKey)) == 2


def test_nine_opts_out() -> None:
    result, seen = _walk(["9"])
    assert result == SurveyResult(None, opt_out=True)
    assert isinstance(seen[-1], Play) and seen[-1].prompts == ("survey_opted_out",)


@pytest.fixture
def sessions(database_url: str):
    services.prepare_database(Settings(db_url=database_url))
    return db.session_factory(database_url)


def _event(uniqueid: str, **fields: object) -> dict:
    return {"type": "survey", "uniqueid": uniqueid, "ts": NOW.timestamp(), "caller": "+905321234567", **fields}


def test_offered_then_answered_folds_into_one_row(sessions) -> None:
    with sessions.begin() as s:
        apply_event(s, _event("c1", offered=True, queue="su", operator="Ayşe"))
        apply_event(s, _event("c1", answer=3, has_comment=True, queue="su", operator="Ayşe"))
        apply_event(s, _event("c1", answer=3, has_comment=True))  # redelivered
    with sessions() as s:
        [row] = s.scalars(select(SurveyAnswer)).all()
        assert (row.answer, row.queue, row.operator, row.has_comment) == (3, "su", "Ayşe", True)
        assert row.offered_at == NOW


def test_who_is_asked(sessions) -> None:
    assert eligible(sessions, "+905321234567", 30, NOW)
    with sessions.begin() as s:
        apply_event(s, _event("c2", offered=True))
    assert not eligible(sessions, "+905321234567", 30, NOW + timedelta(days=29))
    assert eligible(sessions, "+905321234567", 30, NOW + timedelta(days=31))
    with sessions.begin() as s:
        apply_event(s, _event("c3", caller="+905329999999", opt_out=True))
    with sessions() as s:
        assert s.scalars(select(SurveyOptOut.phone)).all() == ["+905329999999"]
    assert not eligible(sessions, "+905329999999", 30, NOW + timedelta(days=400))


def _answers(sessions, split: dict[int, int], **fields: Any) -> None:
    with sessions.begin() as s:
        n = s.query(SurveyAnswer).count()
        for answer, count in split.items():
            for i in range(count):
                s.add(
                    SurveyAnswer(
                        uniqueid=f"u{n}-{answer}-{i}",
                        caller=f"+90532{n + i:07d}",
                        channel=str(fields.get("channel", "phone")),
                        answer=answer,
                        queue=str(fields.get("queue", "su")),
                        operator=str(fields.get("operator", "Ayşe")),
                        has_comment=False,
                        offered_at=NOW - timedelta(days=int(fields.get("days_ago", 1))),
                    )
                )


def test_the_table_in_inegols_form(sessions) -> None:
    _answers(sessions, {1: 851, 2: 413, 3: 584, 4: 72})
    with sessions() as s:
        table = report.table(report.answers(s, NOW - timedelta(days=30), NOW))
    assert table.answered == 1920
    assert [table.percent(a) for a in (1, 2, 3, 4)] == [44.3, 21.5, 30.4, 3.7]
    assert table.satisfied_percent == 65
    assert table.as_dict()["rows"][0] == {"answer": 1, "label": "çok memnunum", "count": 851, "percent": 44.3}


def test_response_rate_trend_and_breakdowns(sessions) -> None:
    _answers(sessions, {1: 3, 3: 1}, operator="Ayşe", days_ago=1)
    _answers(sessions, {2: 2}, operator="Mehmet", queue="ulasim", channel="web", days_ago=10)
    with sessions.begin() as s:
        s.add(SurveyAnswer(uniqueid="hung-up", caller="+905320000001", channel="phone", answer=None, queue="su",
                           operator="Ayşe", has_comment=False, offered_at=NOW - timedelta(days=1)))  # fmt: skip
    start = NOW - timedelta(days=14)
    with sessions() as s:
        rows = report.answers(s, start, NOW)
        table = report.table(rows)
        assert (table.offered, table.answered, table.response_rate) == (7, 6, 85.7)
        by_operator = report.by(rows, "operator")
        assert by_operator["Ayşe"].counts == {1: 3, 2: 0, 3: 1, 4: 0} and by_operator["Mehmet"].satisfied == 2
        assert set(report.by(rows, "channel")) == {"phone", "web"}
        trend = report.trend(rows, start, days=7)
        assert [t.answered for _d, t in trend] == [2, 4]
        with pytest.raises(ValueError):
            report.by(rows, "colour")


def test_by_directorate_follows_the_calls_ticket(sessions) -> None:
    _answers(sessions, {1: 1})
    with sessions.begin() as s:
        row = s.scalars(select(SurveyAnswer)).one()
        ticket = create_ticket(s, phone=row.caller, category_code="su-arizasi", description="boru", channel="phone")
        ticket.call_uniqueid = row.uniqueid
        s.add(SurveyComment(uniqueid=row.uniqueid, audio_file="2026/11/x-comment.wav", transcript="geç geldiler"))
        assert ticket.directorate is not None
        directorate = ticket.directorate.name
    with sessions() as s:
        assert list(report.by(report.answers(s, NOW - timedelta(days=7), NOW), "directorate")) == [directorate]
        [(answer, comment)] = report.comments(s, NOW - timedelta(days=7), NOW)
        assert comment.transcript == "geç geldiler" and answer.answer == 1
