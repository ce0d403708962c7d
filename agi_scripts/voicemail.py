"""``agi://…/voicemail``: the voicemail step's hang-up hook hands the recording over to the worker.

Runs in a hang-up handler, on a channel that is already gone: it sends no AGI command. The
dialplan passes the IVR's reason, language and path as arguments.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis

from agi_scripts.ivr import Channel
from alo185.core.phone import normalize
from alo185.voicemail import spool

log = logging.getLogger(__name__)


@dataclass
class VoicemailDeps:
    redis: redis.Redis
    dirs: spool.Dirs


async def run(agi: Channel, deps: VoicemailDeps) -> None:
    job = spool.Job(
        uniqueid=agi.env.get("agi_uniqueid", ""),
        caller=normalize(agi.env_get("agi_callerid")) or "",
        reason=agi.env_get("agi_arg_1"),
        lang=agi.env_get("agi_arg_2") or "tr",
        ivr_path=agi.env_get("agi_arg_3"),
    )
    # Files and Redis off the event loop; the worker's sweep covers a failure here.
    if await asyncio.to_thread(spool.hand_over, deps.redis, deps.dirs, job):
        log.info("voicemail %s handed over", job.uniqueid)
    else:
        log.info("call %s left no message", job.uniqueid)
