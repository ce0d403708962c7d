"""The PBX configuration renders from the templates with the instance's values, and holds no secret."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from alo185.core.settings import load_settings
from alo185.pbx.config import TEMPLATE_DIR, dialplan_applications, dialplan_functions, loaded_modules, render_all
from alo185.pbx.control import Pbx
from tests.pbx_layout import fake_system_pbx


@pytest.fixture
def fake_pbx(tmp_path: Path) -> Pbx:
    return fake_system_pbx(tmp_path, ami_port=15038, agi_port=14573, sip_port=15060)


def test_renders_every_template(fake_pbx: Pbx) -> None:
    written = {p.name for p in render_all(fake_pbx)}
    assert written == {p.name for p in TEMPLATE_DIR.glob("*.conf")}
    etc = fake_pbx.instance_dir / "etc"
    asterisk = (etc / "asterisk.conf").read_text()
    assert "astspooldir => /srv/alo185/t1/spool" in asterisk
    assert "astmoddir => /usr/lib/asterisk/modules" in asterisk
    secret = fake_pbx.settings.secrets()["ami_secret"]
    manager = (etc / "manager.conf").read_text()
    assert f"secret = {secret}" in manager and "port = 15038" in manager and "bindaddr = 127.0.0.1" in manager
    assert "eventfilter = Event: AgentConnect" in manager
    assert "ALO185_AGI = agi://127.0.0.1:14573" in (etc / "extensions.conf").read_text()
    pjsip = (etc / "pjsip.conf").read_text()
    assert "bind = 127.0.0.1:15060" in pjsip and "media_address = 127.0.0.1" in pjsip
    assert f"password = {fake_pbx.settings.sip_password('1001')}" in pjsip
    assert oct((etc / "manager.conf").stat().st_mode & 0o777) == "0o600"


def test_templates_hold_no_secret() -> None:
    for template in TEMPLATE_DIR.glob("*.conf"):
        for line in template.read_text().splitlines():
            key = line.split("=")[0].strip().lower()
            if key in ("secret", "password"):
                assert "{{" in line, f"{template.name}: literal secret in {line!r}"


def test_pbx_paths_map_between_host_and_root(fake_pbx: Pbx) -> None:
    inside = fake_pbx.pbx_path(fake_pbx.instance_dir / "sounds" / "tr" / "x")
    assert inside == "/srv/alo185/t1/sounds/tr/x"
    assert fake_pbx.host_path(inside) == fake_pbx.instance_dir / "sounds" / "tr" / "x"
    assert fake_pbx.argv("-rx", "core show version")[:5] == [
        "chroot",
        str(fake_pbx.chroot),
        "/usr/sbin/asterisk",
        "-C",
        "/srv/alo185/t1/etc/asterisk.conf",
    ]


def _documented_modules(kind: str) -> dict[str, str]:
    """Each application (or function) of the installed Asterisk and the module that has it ("builtin": the
    core), from the documentation its build generates from the module sources."""
    settings = load_settings({k: v for k, v in os.environ.items() if k == "ALO185_PBX_ROOT"})
    docs = Pbx.locate(settings).host_path("/usr/share/asterisk/documentation/core-en_US.xml").read_text()
    return dict(re.findall(rf'<{kind} name="([^"]+)" language="en_US" module="([^"]*)"', docs))


def test_every_dialplan_application_and_function_has_its_module_loaded(fake_pbx: Pbx) -> None:
    # autoload = no: an application whose module is not listed fails the call that reaches it.
    render_all(fake_pbx)
    etc = fake_pbx.instance_dir / "etc"
    loaded = loaded_modules((etc / "modules.conf").read_text()) | {"builtin"}
    dialplans = [(etc / t.name).read_text() for t in TEMPLATE_DIR.glob("extensions*.conf")]
    for kind, used in (
        ("application", set().union(*map(dialplan_applications, dialplans))),
        ("function", set().union(*map(dialplan_functions, dialplans))),
    ):
        modules = _documented_modules(kind)
        assert {"Playback", "Record", "Queue", "STAT"} & used, f"no {kind} found: the parser is broken"
        assert used - set(modules) == set(), f"{kind}s unknown to Asterisk"
        assert {name: modules[name] for name in used if modules[name] not in loaded} == {}, f"{kind}s not loaded"
