"""The provisioned PBX runs the project's configuration."""

from __future__ import annotations

import asyncio

import pytest

from alo185.core import ami
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
