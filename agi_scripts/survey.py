"""``agi://…/survey``: the post-call keypad survey (``alo185.surveys.keypad``) when the operator has hung up.

Asked at most once per caller per ``survey_period_days`` and never after an opt-out. The answer
goes out as a ``survey`` call event (the recorder stores it); a spoken comment is handed to
the voicemail worker like a voicemail.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from agi_scripts.agi import quote
from agi_scripts.ivr import Channel, IvrDeps, Runner, drive
from agi_scripts.session import AGIHangup
from alo185.core.phone import normalize
from alo185.surveys import keypad, scale
from alo185.surveys.models import SurveyAnswer, SurveyOptOut
from alo185.voicemail import spool

MIN_COMMENT_BYTES = 8000 * 2  # a second of speech


@dataclass
class SurveyDeps:
    ivr: IvrDeps  # prompts, paths, the database and the event publisher
    redis: redis.Redis
    dirs: spool.Dirs
    period_days: int


def eligible(sessions: sessionmaker[Session], caller: str, period_days: int, now: datetime) -> bool:
    """Not opted out, and not surveyed within the period."""
    since = now - timedelta(days=period_days)
    with sessions() as s:
        blocked = s.scalar(
            select(
                or_(
                    exists().where(SurveyOptOut.phone == caller),
                    exists().where(SurveyAnswer.caller == caller, SurveyAnswer.offered_at >= since),
                )
            )
        )
    return not blocked


async def run(agi: Channel, deps: SurveyDeps) -> None:
    uniqueid = agi.env.get("agi_uniqueid", "")
    caller = normalize(agi.env_get("agi_callerid")) or ""
    queue, operator, lang = agi.env_get("agi_arg_1"), agi.env_get("agi_arg_2"), agi.env_get("agi_arg_3") or "tr"
    if not caller:
        return  # nobody to call this "once per caller"
    if not await asyncio.to_thread(eligible, deps.ivr.sessions, caller, deps.period_days, datetime.now(UTC)):
        return
    runner = Runner(agi, deps.ivr, uniqueid)
    event = {"type": "survey", "caller": caller, "queue": queue, "operator": operator, "lang": lang}
    runner.publish({**event, "offered": True})  # counted even if the caller hangs up now
    # Without an extension (RECORD FILE adds it); a uniqueid has a dot of its own.
    comment = deps.dirs.recording / spool.file_stem(uniqueid, "comment")
    flow = keypad.run_survey(lang if lang in ("tr", "en", "ar") else "tr")
    answer: int | None = None

    async def execute(cmd: Any) -> Any:
        nonlocal answer
        if isinstance(cmd, keypad.RecordComment):
            return await _record(agi, deps, comment, cmd.max_s)
        result = await runner.execute(cmd)
        answer = scale.ANSWERS.get(result, answer) if isinstance(result, str) else answer
        return result

    try:
        outcome: keypad.SurveyResult = await drive(flow, execute)
    except AGIHangup:
        # Hung up after answering (while commenting, or during the thanks): the answer counts.
        said = _wav(comment).exists()
        runner.publish({**event, "answer": answer, "opt_out": False, "has_comment": said})
        if said:
            await _hand_over_comment(deps, uniqueid, caller)
        raise
    runner.publish({**event, "answer": outcome.answer, "opt_out": outcome.opt_out, "has_comment": outcome.comment})
    if outcome.comment:
        await _hand_over_comment(deps, uniqueid, caller)


async def _record(agi: Channel, deps: SurveyDeps, target: Path, max_s: int) -> bool:
    """RECORD FILE to ``target``.wav: ``#`` or 4 s of silence ends it."""
    await agi.execute("RECORD FILE", deps.ivr.pbx_path(target), "wav", quote("#"), max_s * 1000, 0, "BEEP", "s=4")
    wav = _wav(target)
    return wav.exists() and wav.stat().st_size >= MIN_COMMENT_BYTES


def _wav(stem: Path) -> Path:
    return stem.with_name(stem.name + ".wav")


async def _hand_over_comment(deps: SurveyDeps, uniqueid: str, caller: str) -> None:
    job = spool.Job(uniqueid, caller=caller, kind="comment", queued_at=time.time())
    await asyncio.to_thread(spool.hand_over, deps.redis, deps.dirs, job)
