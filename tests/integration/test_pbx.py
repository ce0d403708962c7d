"""The provisioned PBX runs the project's configuration."""

from __future__ import annotations

import asyncio

import pytest

from alo185.core import ami
from alo185.pbx.config import dialplan_applications, dialplan_functions
from tests.conftest import Stack


def test_dialplan_is_the_projects(stack: Stack) -> None:
    out = stack.pbx.cli("dialplan show alo185-inbound")
    assert "'185' =>" in out
    assert "AGI(${ALO185_AGI}/ivr," in out
    assert "Goto(alo185-queue,s,1)" in out
    fallback = stack.pbx.cli("dialplan show alo185-queue")
    assert "QUEUE_EXISTS" in fallback and "Queue(${ALO185_QUEUE}" in fallback


def test_version_and_instance_paths(stack: Stack) -> None:
    assert stack.pbx.cli("core show version").startswith("Asterisk 2")
    settings = stack.pbx.cli("core show settings")
    assert f"/srv/alo185/{stack.settings.instance}/etc" in settings or str(stack.pbx.instance_dir) in settings


def test_sip_only_on_loopback_and_operators_defined(stack: Stack) -> None:
    transports = stack.pbx.cli("pjsip show transports")
    assert f"127.0.0.1:{stack.settings.sip_port}" in transports
    endpoints = stack.pbx.cli("pjsip show endpoints")
    for ext in stack.settings.operators:
        assert f"Endpoint:  {ext}" in endpoints


def test_queues_exist(stack: Stack) -> None:
    out = stack.pbx.cli("queue show")
    for name in ("genel", "su", "ulasim"):
        assert f"{name} has" in out


def test_ami_rejects_a_wrong_secret(stack: Stack) -> None:
    wrong = stack.settings.replace(ami_user="nobody")
    with pytest.raises(ami.AmiError, match="not accepted"):
        asyncio.run(ami.connect(wrong, timeout=2))
    assert stack.ami({"Action": "Ping"})[0].response == "Success"


def test_the_running_asterisk_has_every_application_and_function_the_dialplan_uses(stack: Stack) -> None:
    # modules.conf loads only what is listed: an application without its module fails the call reaching it.
    dialplan = (stack.pbx.instance_dir / "etc" / "extensions.conf").read_text()
    lines = stack.pbx.cli("core show applications").splitlines()
    applications = {line.split(":")[0].strip().lower() for line in lines if ":" in line}
    functions = {line.split()[0].lower() for line in stack.pbx.cli("core show functions").splitlines() if line.strip()}
    used_applications = {name.lower() for name in dialplan_applications(dialplan)}
    used_functions = {name.lower() for name in dialplan_functions(dialplan)}
    assert {"read", "record", "queue"} <= used_applications and {"stat", "queue_exists"} <= used_functions
    assert used_applications - applications == set()
    assert used_functions - functions == set()
