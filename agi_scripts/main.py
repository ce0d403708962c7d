"""``alo185 agi``: build the FastAGI server for this instance and run it."""

from __future__ import annotations

import logging
from pathlib import Path

from agi_scripts import ivr
from agi_scripts.server import FastAGIServer, Registry, serve_forever
from alo185 import bus
from alo185.pbx import Pbx
from alo185.settings import Settings
from ivr import menu, prompts

log = logging.getLogger(__name__)


def prepare_prompts(pbx: Pbx) -> Path:
    """Render the prompts the scripts play (a no-op when unchanged); fail loudly if one is missing."""
    sounds = pbx.instance_dir / "sounds"
    prompts.ensure_prompt(sounds, "tr", menu.WELCOME_PROMPT, menu.WELCOME_TEXT)
    return sounds


def build_server(settings: Settings, port: int | None = None) -> FastAGIServer:
    pbx = Pbx.locate(settings)
    sounds = prepare_prompts(pbx)
    client = bus.connect(settings.redis_connection_url)
    deps = ivr.IvrDeps(
        publish=lambda event: bus.publish(client, event),
        prompt=lambda lang, name: pbx.pbx_path(sounds / lang / name),
    )
    registry = Registry(scripts={"ivr": ivr.run}, deps=deps)
    return FastAGIServer((settings.agi_host, settings.agi_port if port is None else port), registry)


def main(settings: Settings) -> None:
    serve_forever(build_server(settings))
