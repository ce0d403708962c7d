"""Operators' phones: extensions from 1001, skills with penalties, pause reasons, the CLI and what is rendered."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185 import cli, services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.operators import codes, phones
from alo185.operators.models import OperatorSkill
from alo185.org import accounts
from alo185.org.models import User
from alo185.pbx.config import render_all
from alo185.pbx.control import Pbx
from tests.pbx_layout import fake_system_pbx
from tests.staff import PASSWORD


def _user(session: Session, name: str, role: str = "operator", extension: str | None = None) -> User:
    return accounts.create_user(session, name, role=role, password=PASSWORD, extension=extension)


def test_operators_get_the_next_free_extension_from_1001(database_url: str) -> None:
    with db.session_factory(database_url).begin() as s:
        assert _user(s, "ayse").extension == "1001"
        assert _user(s, "mehmet", extension="1005").extension == "1005"
        assert _user(s, "zeynep").extension == "1002"
        assert _user(s, "sef", role="supervisor").extension is None
        for name, extension, role in (
            ("dup", "1005", "operator"),  # taken
            ("bad", "01", "operator"),
            ("hotline", "185", "operator"),
            ("boss", "1010", "supervisor"),  # only operators have phones
        ):
            with pytest.raises(ValueError), s.begin_nested():
                _user(s, name, role=role, extension=extension)
        assert accounts.next_free_extension(s) == "1003"
        zeynep = s.scalar(select(User).where(User.username == "zeynep"))
        assert zeynep is not None
        assert accounts.assign_extension(s, zeynep, "1003") == "1003"
        assert accounts.next_free_extension(s) == "1002"


def test_skills_are_parsed_checked_and_replaced(database_url: str) -> None:
    assert phones.parse_skills(["su:0", "genel:1", "zabita"]) == {"su": 0, "genel": 1, "zabita": 0}
    for bad in (["yok:0"], ["su:x"], ["su:-1"], ["su:101"]):
        with pytest.raises(phones.OperatorError):
            phones.parse_skills(bad)
    with db.session_factory(database_url).begin() as s:
        ayse = _user(s, "ayse")
        phones.set_skills(s, ayse, {"su": 0, "genel": 1})
        phones.set_skills(s, ayse, {"genel": 2, "muhtar": 0})
        assert phones.skills_of(s, ayse.id) == {"genel": 2, "muhtar": 0}
        assert s.scalar(select(OperatorSkill).where(OperatorSkill.queue == "su")) is None
        phone = phones.by_extension(s, "1001")
        assert phone is not None and (phone.username, phone.interface) == ("ayse", "PJSIP/1001")
        assert phone.skills == {"genel": 2, "muhtar": 0}
        with pytest.raises(phones.OperatorError):
            phones.set_skills(s, _user(s, "sef", role="supervisor"), {"su": 0})
        ayse.active = False
        s.flush()
        assert phones.by_extension(s, "1001") is None


def test_pause_reasons_by_code_turkish_label_or_english_name() -> None:
    assert codes.pause_reason("mola") is codes.DEFAULT_PAUSE
    for said, code in (
        ("ÇAĞRI SONRASI İŞ", "cagri-sonrasi-is"),
        ("After-call work", "cagri-sonrasi-is"),
        ("EĞİTİM", "egitim"),
        ("TRAINING", "egitim"),
    ):
        reason = codes.pause_reason(said)
        assert reason is not None and reason.code == code, said
    assert codes.pause_reason("uyku") is None and codes.pause_reason(None) is None
    dialled = {c.exten: (c.action, c.reason) for c in codes.feature_codes()}
    assert dialled["*51"] == ("login", "") and dialled["*52"] == ("logout", "") and dialled["*54"] == ("unpause", "")
    assert dialled["*53"] == ("pause", "mola")
    assert {dialled[f"*53{r.key}"] for r in codes.PAUSE_REASONS} == {("pause", r.code) for r in codes.PAUSE_REASONS}


def _env(monkeypatch: pytest.MonkeyPatch, var_dir: Path) -> None:
    for key in [k for k in os.environ if k.startswith("ALO185_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("ALO185_VAR_DIR", str(var_dir))


def test_cli_adds_operators_with_extensions_and_sets_skills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["user", "add", "ayse", "--role", "operator", "--password-stdin"]) == 0
    assert "ayse: SIP extension 1001" in capsys.readouterr().out
    assert cli.main(["user", "add", "mehmet", "--role", "operator", "--extension", "1003"]) == 0
    out = capsys.readouterr().out
    assert "mehmet: SIP extension 1003" in out and "PBX" not in out  # not running: nothing to reload
    assert cli.main(["user", "skills", "ayse", "su:0", "genel:1"]) == 0
    out = capsys.readouterr().out
    assert "ayse: genel (penalty 1), su (penalty 0)" in out and "apply at the next log-in" in out
    assert cli.main(["user", "skills", "ayse", "nowhere:1"]) == 2
    assert "unknown queue" in capsys.readouterr().err
    assert cli.main(["user", "add", "mehmet2", "--role", "operator", "--extension", "1003"]) == 2
    assert "belongs to mehmet" in capsys.readouterr().err
    assert cli.main(["user", "add", "sef", "--role", "supervisor"]) == 0
    capsys.readouterr()
    assert cli.main(["user", "skills", "sef", "su:0"]) == 2
    assert cli.main(["user", "password", "ayse", "su:0"]) == 2  # skills only with 'skills'
    settings = Settings(var_dir=tmp_path)
    with db.session_factory(settings.database_url)() as s:
        ayse = s.scalar(select(User).where(User.username == "ayse"))
        assert ayse is not None and ayse.extension == "1001"
        assert phones.skills_of(s, ayse.id) == {"su": 0, "genel": 1}
    assert phones.phone_extensions(settings) == ["1001", "1003"]


@pytest.fixture
def fake_pbx(tmp_path: Path) -> Pbx:
    return fake_system_pbx(tmp_path, sip_port=15060, wrap_up_s=7)


def _section(text: str, name: str) -> str:
    """The lines of ``[name]`` up to the next section (the first such section)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"[{name}]"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("[")), len(lines))
    return "\n".join(lines[start:end])


def test_render_has_an_endpoint_per_operator_user_feature_codes_wrap_up_and_weights(fake_pbx: Pbx) -> None:
    settings = fake_pbx.settings
    services.prepare_database(settings)
    with db.session_factory(settings.database_url).begin() as s:
        _user(s, "ayse")  # 1001, also a configured extension: one endpoint
        _user(s, "mehmet", extension="2001")
        gone = _user(s, "eski", extension="2002")
        gone.active = False
    render_all(fake_pbx)
    etc = fake_pbx.instance_dir / "etc"
    pjsip = (etc / "pjsip.conf").read_text()
    for ext in ("1001", "1002", "2001"):
        assert pjsip.count(f"[{ext}](operator-endpoint)") == 1, ext
        assert f"password = {settings.sip_password(ext)}" in pjsip
    assert "[2002]" not in pjsip  # an inactive operator's phone is not rendered
    assert "media_address = 127.0.0.1" in pjsip and "bind = 127.0.0.1:15060" in pjsip
    assert "qualify_frequency = 30" in _section(pjsip.split("[2001-auth]")[1], "2001")
    queues = (etc / "queues.conf").read_text()
    assert "wrapuptime = 7" in _section(queues, "alo185-queue")
    for platform in ("muhtar", "esnaf", "meclis"):
        assert "weight = 10" in _section(queues, platform), platform
    assert "weight" not in _section(queues, "su")
    dialplan = (etc / "extensions.conf").read_text()
    operators_ctx = _section(dialplan, "alo185-operators")
    assert "exten => *51,1,Gosub(alo185-operator-command,s,1(login,))" in operators_ctx
    assert "exten => *532,1,Gosub(alo185-operator-command,s,1(pause,egitim))" in operators_ctx
    assert "exten => *54,1,Gosub(alo185-operator-command,s,1(unpause,))" in operators_ctx
    command = _section(dialplan, "alo185-operator-command")
    assert "UserEvent(Alo185Operator,Action: ${ARG1},Reason: ${ARG2},Endpoint: ${CHANNEL(endpoint)})" in command
    assert "eventfilter = Event: ContactStatus" in (etc / "manager.conf").read_text()


def test_the_phone_prompts_are_rendered_in_turkish(tmp_path: Path) -> None:
    codes.render_prompts(tmp_path)
    assert sorted(p.name for p in (tmp_path / "operator" / "tr").glob("*.wav")) == sorted(
        f"{name}.wav" for name in codes.PROMPTS
    )
