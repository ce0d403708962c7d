"""The post-call survey through the real Asterisk: after the operator hangs up, the caller keys an answer."""

from __future__ import annotations

from sqlalchemy import select

from alo185.core import db, procs
from alo185.surveys.models import SurveyAnswer
from harness import simulate
from harness.instance import SIM_OPERATOR_NAME, Stack


def _answer(stack: Stack, uniqueid: str) -> SurveyAnswer | None:
    with db.session_factory(stack.settings.database_url)() as s:
        return s.scalar(select(SurveyAnswer).where(SurveyAnswer.uniqueid == uniqueid))


def test_an_answered_caller_is_surveyed_and_the_key_is_stored(stack: Stack) -> None:
    # Türkçe, cleaning (3); after the conversation the caller presses 1 (çok memnunum).
    uniqueid = stack.call(simulate.then_survey(stack.after_notice("1w3"), answer="1"), caller="+905324440001")
    record = stack.wait_record(uniqueid, timeout=150)
    assert record.answered and record.queue == "temizlik"
    assert procs.wait_until(lambda: (a := _answer(stack, uniqueid)) is not None and a.answer is not None, 30)
    answer = _answer(stack, uniqueid)
    assert answer is not None
    assert (answer.answer, answer.queue, answer.caller, answer.channel) == (1, "temizlik", "+905324440001", "phone")
    assert answer.operator.startswith(SIM_OPERATOR_NAME)


def test_a_caller_surveyed_recently_is_not_asked_again(stack: Stack) -> None:
    uniqueid = stack.call(simulate.then_survey(stack.after_notice("1w3"), answer="2"), caller="+905324440001")
    stack.wait_record(uniqueid, timeout=150)
    stack.wait_until_gone(uniqueid)  # the call is over: every event of it is out
    stack.wait_recorded()
    assert _answer(stack, uniqueid) is None


def test_a_caller_who_hangs_up_first_is_not_surveyed(stack: Stack) -> None:
    """An operator who talks long: the caller leaves mid-conversation."""

    with stack.one_operator("fen", "Uzun", talk_s=30):
        # Türkçe, roads (4): answered after a ring, and the caller hangs up 4 s after the key.
        uniqueid = stack.call(stack.after_notice("1w4"), caller="+905324440002", hang_up=True)
        record = stack.wait_record(uniqueid, timeout=150)
        assert record.answered and record.queue == "fen"
        stack.wait_until_gone(uniqueid)
        stack.wait_recorded()
        assert _answer(stack, uniqueid) is None
