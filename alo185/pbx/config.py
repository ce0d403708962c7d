"""The PBX's configuration: ``asterisk_conf/*.conf`` (Jinja2 templates) rendered into an instance's etc directory,
from the settings, the operators' phones, the queues and the shipped menu; and the phones' spoken answers."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from alo185.core.asterisk import Asterisk
from alo185.core.settings import REPO_DIR
from alo185.operators import codes, phones
from alo185.queues.names import pbx_queues
from ivr.default import default_tree

TEMPLATE_DIR = REPO_DIR / "asterisk_conf"
PACKAGED_DIR_KEYS = ("astmoddir", "astdatadir", "astvarlibdir", "astagidir", "astsbindir")
# What a dialplan runs: ``exten => 185,1,App(`` or ``same => n(label),App(``; and ``${FUNC(`` anywhere.
_APPLICATION = re.compile(r"^\s*(?:exten\s*=>\s*[^,]+,|same\s*=>\s*)[^,]+,\s*([A-Za-z]\w*)\(", re.MULTILINE)
_FUNCTION = re.compile(r"\$\{([A-Za-z]\w*)\(")
_LOAD = re.compile(r"^\s*load\s*=>\s*(\S+?)(?:\.so)?\s*(?:;.*)?$", re.MULTILINE)


def packaged_directories(pbx: Asterisk) -> dict[str, str]:
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


def context(pbx: Asterisk) -> dict[str, object]:
    s = pbx.settings
    secrets = s.secrets()
    inst = pbx.instance_dir
    tree = default_tree()
    # One endpoint per operator user with an extension, and the configured ones (``operators``).
    extensions = sorted(set(s.operators) | set(phones.phone_extensions(s)))
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
        "feature_codes": codes.feature_codes(),
        "queues": pbx_queues(),
        "queue_weights": {name: PLATFORM_QUEUE_WEIGHT for name in tree.platform_queues.values()},
        "wrap_up_s": s.wrap_up_s,
        "fallback_queue": tree.fallback_queue,
        "queue_timeout": s.queue_timeout,
        "voicemail_max_s": s.voicemail_max_s,
        # Operator calls are recorded here (as Asterisk sees it); '' when recording is off (record_calls).
        "recordings": pbx.pbx_path(pbx.recordings_dir) if s.record_calls else "",
    }


def render_all(pbx: Asterisk) -> list[Path]:
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


def render(pbx: Asterisk) -> None:
    """Everything the instance is configured with: its .conf files and the operators' phone prompts."""
    render_all(pbx)
    codes.render_prompts(pbx.instance_dir / "sounds")


def dialplan_applications(text: str) -> set[str]:
    """The applications a dialplan (extensions.conf) runs, by name."""
    return set(_APPLICATION.findall(text))


def dialplan_functions(text: str) -> set[str]:
    """The dialplan functions it reads or sets (``${FUNC(...)}``), by name."""
    return set(_FUNCTION.findall(text))


def loaded_modules(modules_conf: str) -> set[str]:
    """The modules a modules.conf with ``autoload = no`` loads, without their ``.so``."""
    return set(_LOAD.findall(modules_conf))
