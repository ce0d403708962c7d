"""``alo185 agi``: build the FastAGI server for this instance and run it."""

from __future__ import annotations

import logging

from agi_scripts import ivr
from agi_scripts.server import FastAGIServer, Registry, serve_forever
from alo185 import bus, db
from alo185.pbx import Pbx
from alo185.settings import Settings
from ivr.prompt_files import PromptFiles
from ivr.store import DbServices
from ivr.versions import LiveTree

log = logging.getLogger(__name__)


def build_deps(settings: Settings, render_prompts: bool = True) -> ivr.IvrDeps:
    pbx = Pbx.locate(settings)
    sessions = db.session_factory(settings.database_url)
    prompts = PromptFiles(pbx.instance_dir / "sounds")
    trees = LiveTree()
    with sessions.begin() as session:
        _version, tree = trees.get(session)
    if render_prompts:
        # Startup check: every prompt of the live tree exists in every language before a call comes.
        prompts.render_tree(tree)
    publisher = bus.BackgroundPublisher(bus.connect(settings.redis_connection_url))
    return ivr.IvrDeps(
        publish=publisher.publish,
        sessions=sessions,
        services=DbServices(sessions),
        prompts=prompts,
        pbx_path=pbx.pbx_path,
        trees=trees,
        flush=publisher.close,
    )


def build_server(settings: Settings, port: int | None = None) -> FastAGIServer:
    registry = Registry(scripts={"ivr": ivr.run}, deps=build_deps(settings))
    return FastAGIServer((settings.agi_host, settings.agi_port if port is None else port), registry)


def reload(deps: ivr.IvrDeps) -> None:
    """SIGHUP: re-render the live tree's prompts (a recording or text may have changed)."""
    try:
        with deps.sessions() as session:
            _version, tree = deps.trees.get(session)
        deps.prompts.render_tree(tree)
        log.info("reloaded: prompts of the live menu checked")
    except Exception:
        log.exception("reload failed; the server keeps running as it was")


def main(settings: Settings) -> None:
    db.migrate(settings.database_url)
    server = build_server(settings)
    serve_forever(server, on_reload=lambda: reload(server.registry.deps))
    server.registry.deps.flush()
