"""``alo185 agi``: build the FastAGI server for this instance and run it."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from collections.abc import Callable
from typing import Any

import uvloop

from agi_scripts import ivr, survey, voicemail
from agi_scripts.overflow import LivePredictor
from agi_scripts.server import FastAGIServer, Guards, Script, serve
from alo185.core import bus, db
from alo185.core.asterisk import Asterisk
from alo185.core.settings import Settings
from alo185.menu.lookups import DbServices
from alo185.menu.prompt_files import PromptFiles
from alo185.menu.versions import LiveTree
from alo185.tickets import caller_card
from alo185.voicemail.spool import dirs_for, message_bytes

log = logging.getLogger(__name__)


def build_deps(
    settings: Settings,
    publish: Callable[[dict[str, Any]], None],
    render_prompts: bool = True,
    put: Callable[[str, str, int], None] | None = None,
) -> ivr.IvrDeps:
    pbx = Asterisk.locate(settings)
    sessions = db.session_factory(settings.database_url)
    prompts = PromptFiles(pbx.instance_dir / "sounds")
    trees = LiveTree()
    _version, tree = trees.get(sessions.begin)
    if render_prompts:
        # Startup check: every prompt of the live tree exists in every language before a call comes.
        prompts.render_tree(tree)
    services = DbServices(sessions, reopen_window=settings.reopen_window)
    return ivr.IvrDeps(
        publish=publish,
        sessions=sessions,
        services=services,
        prompts=prompts,
        pbx_path=functools.lru_cache(maxsize=8192)(pbx.pbx_path),  # a few hundred distinct prompt files
        trees=trees,
        put=put,
        card_ttl_s=caller_card.ttl_s(settings),
        is_citizen=services.is_citizen,
        predict=_predictor(settings, sessions),
    )


def _predictor(settings: Settings, sessions: Any) -> LivePredictor | None:
    """The overflow offer's prediction (setting ``overflow_offer``); the wrap-up counts as handling time."""
    if not settings.overflow_offer:
        return None
    return LivePredictor(settings.redis_connection_url, sessions, wrap_up_s=getattr(settings, "wrap_up_s", 0))


def build_server(settings: Settings, ivr_deps: ivr.IvrDeps) -> FastAGIServer:
    client, dirs = bus.connect(settings.redis_connection_url), dirs_for(settings)
    dirs.ensure()
    survey_deps = survey.SurveyDeps(ivr_deps, client, dirs, settings.survey_period_days)
    vm_deps = voicemail.VoicemailDeps(client, dirs, message_bytes(settings.voicemail_max_s))
    scripts: dict[str, Script] = {
        "ivr": functools.partial(ivr.run, deps=ivr_deps),
        "voicemail": functools.partial(voicemail.run, deps=vm_deps),
        "voicemail-ready": functools.partial(voicemail.ready, deps=vm_deps),
        "voicemail-failed": functools.partial(voicemail.failed, deps=ivr_deps),
        "survey": functools.partial(survey.run, deps=survey_deps),
    }
    counters = bus.Counters(settings.redis_connection_url)
    return FastAGIServer(
        (settings.agi_host, settings.agi_port), scripts, Guards.from_settings(settings), count=counters.incr
    )


def reload(deps: ivr.IvrDeps) -> None:
    """SIGHUP: re-render the live tree's prompts (a recording or text may have changed)."""
    try:
        _version, tree = deps.trees.get(deps.sessions.begin)
        deps.prompts.render_tree(tree)
        log.info("reloaded: prompts of the live menu checked")
    except Exception:
        log.exception("reload failed; the server keeps running as it was")


def main(settings: Settings) -> None:
    db.migrate(settings.database_url)
    publisher = bus.LoopPublisher(settings.redis_connection_url)
    deps = build_deps(settings, publisher.publish, put=publisher.put)
    # Most of a call's time here is the event loop and its socket transports (a round trip per AGI
    # command); uvloop's, in C, take about a tenth less CPU per call than asyncio's own.
    uvloop.run(_run(build_server(settings, deps), deps, publisher))


async def _run(server: FastAGIServer, deps: ivr.IvrDeps, publisher: bus.LoopPublisher) -> None:
    # What startup built (models, the menu, SQLAlchemy's caches) lives as long as the process: out of
    # the collector's way, so its full collections scan only what the calls make.
    gc.collect()
    gc.freeze()
    events = asyncio.create_task(publisher.run())
    try:
        await serve(server, on_reload=lambda: reload(deps))
    finally:
        publisher.stop()  # hands over what the last calls published
        await asyncio.gather(events, return_exceptions=True)
