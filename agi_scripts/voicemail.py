"""The voicemail step's scripts.

``agi://…/voicemail``: the hang-up hook hands the recording over to the worker. Runs in a hang-up
handler, on a channel that is already gone: it sends no AGI command. The dialplan passes the IVR's
reason, language and path as arguments.

``agi://…/voicemail-ready``: before the intro, whether the recording directory can take the message.

``agi://…/voicemail-failed``: the message cannot be recorded (no room or not writable, Record failed, or
an empty file): the caller hears so and is offered a callback or an operator (``ivr.engine.recording_failed``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis

from agi_scripts.ivr import Channel, IvrDeps, Runner, drive
from alo185.core import disk
from alo185.core.phone import normalize
from alo185.voicemail import spool
from ivr import engine

log = logging.getLogger(__name__)


@dataclass
class VoicemailDeps:
    redis: redis.Redis
    dirs: spool.Dirs
    room_bytes: int = 0  # free space a message needs: the longest one (``spool.message_bytes``)


async def run(agi: Channel, deps: VoicemailDeps) -> None:
    job = spool.Job(
        uniqueid=agi.env.get("agi_uniqueid", ""),
        caller=normalize(agi.env_get("agi_callerid")) or "",
        reason=agi.env_get("agi_arg_1"),
        lang=agi.env_get("agi_arg_2") or "tr",
        ivr_path=agi.env_get("agi_arg_3"),
    )
    # Files and Redis off the event loop; the worker's sweep covers a failure here.
    try:
        handed_over = await asyncio.to_thread(spool.hand_over, deps.redis, deps.dirs, job)
    except OSError as exc:
        if not disk.is_disk_fault(exc):
            raise
        log.error(
            "voicemail %s not handed over: %s; it stays in %s for the worker's sweep",
            job.uniqueid,
            disk.describe(exc),
            deps.dirs.recording,
        )
        return
    if handed_over:
        log.info("voicemail %s handed over", job.uniqueid)
    else:
        log.info("call %s left no message", job.uniqueid)


async def ready(agi: Channel, deps: VoicemailDeps) -> None:
    """Before the intro: can the recording directory take the longest message? ``ALO185_VM_READY`` 1 or 0.

    Record() hangs up on the caller when the disk fills under it, so the room is checked first. Where the
    directory is not on this machine, nothing can be said: 1.
    """
    uniqueid = agi.env.get("agi_uniqueid", "")
    problem = None
    if deps.dirs.recording.exists():
        problem = await asyncio.to_thread(disk.problem, deps.dirs.recording, deps.room_bytes)
    if problem is not None:
        log.error("voicemail of call %s cannot be recorded: %s", uniqueid, problem)
    await agi.set_variable("ALO185_VM_READY", "0" if problem else "1")


async def failed(agi: Channel, deps: IvrDeps) -> None:
    """The message could not be recorded: tell the caller, offer a callback or an operator; ``ALO185_ACTION``
    says which (``callback``: stored and confirmed; ``queue``: the dialplan queues the call)."""
    uniqueid = agi.env.get("agi_uniqueid", "")
    caller = normalize(agi.env_get("agi_callerid")) or ""
    queue, priority, lang = agi.env_get("agi_arg_1"), agi.env_get("agi_arg_2"), agi.env_get("agi_arg_3")
    log.error(
        "voicemail of call %s not recorded (see 'alo185 status' for the disk): the caller is offered "
        "a callback or an operator",
        uniqueid,
    )
    runner = Runner(agi, deps, uniqueid)
    _version, tree = deps.trees.get(deps.sessions.begin)
    flow = engine.recording_failed(
        tree, deps.services, caller, deps.clock(), lang, queue, int(priority) if priority.isdigit() else 0
    )
    outcome: engine.Outcome = await drive(flow, runner.execute)
    await agi.set_variable("ALO185_ACTION", outcome.action)
