"""The post-call keypad survey, as a generator like ``ivr.engine.run_call`` (run over AGI by ``agi_scripts.survey``).

The scale is ``scale``'s: 1 çok memnunum, 2 memnunum, 3 memnun değilim, 4 fikrim yok. After a 3
the caller may say why (recorded, then transcribed). 9 opts out of surveys for good. No answer
after the question and one repeat: offered, not answered.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from alo185.surveys.scale import ANSWERS, NOT_SATISFIED
from ivr.engine import Play, WaitKey

OPT_OUT_KEY = "9"
TRIES = 2
COMMENT_MAX_S = 30


@dataclass(frozen=True)
class RecordComment:
    """Record the caller after a beep, up to ``max_s`` seconds or ``#``; answered True if anything was said."""

    max_s: int


@dataclass(frozen=True)
class SurveyResult:
    answer: int | None  # None: offered, not answered
    opt_out: bool = False
    comment: bool = False


Flow = Generator[Play | WaitKey | RecordComment, Any, SurveyResult]


def run_survey(lang: str) -> Flow:
    key = ""
    for _ in range(TRIES):
        key = yield Play(("survey_question",), "1234" + OPT_OUT_KEY, lang)
        if not key:
            key = yield WaitKey(5000)
        if key in ANSWERS or key == OPT_OUT_KEY:
            break
    if key == OPT_OUT_KEY:
        yield Play(("survey_opted_out",), "", lang)
        return SurveyResult(None, opt_out=True)
    if key not in ANSWERS:
        return SurveyResult(None)
    answer = ANSWERS[key]
    comment = False
    if answer == NOT_SATISFIED:
        yield Play(("survey_comment",), "", lang)
        comment = bool((yield RecordComment(COMMENT_MAX_S)))
    yield Play(("survey_thanks",), "", lang)
    return SurveyResult(answer, comment=comment)
