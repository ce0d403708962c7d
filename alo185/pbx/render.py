"""Render ``asterisk_conf/*.conf`` (Jinja2 templates) into an instance's etc directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from alo185 import operators
from alo185.recordings import SPOOL_NAME
from alo185.settings import REPO_DIR
from ivr.default import default_tree, pbx_queues

if TYPE_CHECKING:
    from alo185.pbx.control import Pbx

TEMPLATE_DIR = REPO_DIR / "asterisk_conf"
PACKAGED_DIR_KEYS = ("astmoddir", "astdatadir", "astvarlibdir", "astagidir", "astsbindir")


def packaged_directories(pbx: Pbx) -> dict[str, str]:
    """Directories of the installed package (modules, sounds) from its own asterisk.conf."""
    text = pbx.host_path("/etc/asterisk/asterisk.conf").read_text()
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=>")
        if sep and key.strip() in PACKAGED_DIR_KEYS:
            found[key.strip()] = value.split(";")[0].strip()
    missing = set(PACKAGED_DIR_KEYS) - set(found)
    if missing:
        raise RuntimeError(f"the packaged asterisk.conf lacks {', '.join(sorted(missing))}")
    return found


# Platform callers' queues get the first shot at an operator who is in several queues (queues.conf weight).
PLATFORM_QUEUE_WEIGHT = 10


def context(pbx: Pbx) -> dict[str, object]:
    s = pbx.settings
    secrets = s.secrets()
    inst = pbx.instance_dir
    tree = default_tree()
    # One endpoint per operator user with an extension, and the configured ones (``operators``).
    extensions = sorted(set(s.operators) | set(operators.phone_extensions(s)))
    return {
        "dirs": {
            **packaged_directories(pbx),
            **{name: pbx.pbx_path(inst / name) for name in ("etc", "spool", "log", "run", "lib", "cache", "sounds")},
        },
        "instance": s.instance,
        "ami": {"port": s.ami_port, "user": s.ami_user, "secret": secrets["ami_secret"]},
        "agi_url": f"agi://{s.agi_host}:{s.agi_port}",
        "sip_port": s.sip_port,
        "operators": [{"ext": ext, "password": s.sip_password(ext)} for ext in extensions],
        "feature_codes": operators.feature_codes(),
        "queues": pbx_queues(),
        "queue_weights": {name: PLATFORM_QUEUE_WEIGHT for name in tree.platform_queues.values()},
        "wrap_up_s": s.wrap_up_s,
        "fallback_queue": tree.fallback_queue,
        "queue_timeout": s.queue_timeout,
        "voicemail_max_s": s.voicemail_max_s,
        # Operator calls are recorded here (as Asterisk sees it); '' when recording is off (record_calls).
        "recordings": pbx.pbx_path(s.recording_dir or inst / "spool" / SPOOL_NAME) if s.record_calls else "",
    }


def render_all(pbx: Pbx) -> list[Path]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    ctx = context(pbx)
    written = []
    for template in sorted(TEMPLATE_DIR.glob("*.conf")):
        target = pbx.instance_dir / "etc" / template.name
        text = env.get_template(template.name).render(ctx)
        tmp = target.with_suffix(".conf.tmp")
        tmp.write_text(text)
        tmp.chmod(0o600)
        tmp.replace(target)
        written.append(target)
    return written
