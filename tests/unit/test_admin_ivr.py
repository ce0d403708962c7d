"""The admin's IVR pages: validate and publish menus, upload recordings, announcements."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from admin.app import create_app
from alo185.core import db
from alo185.core.asterisk import Asterisk
from alo185.core.settings import Settings
from alo185.menu.models import Announcement, MenuVersion
from ivr.default import default_yaml
from tests.staff import staff_client


@pytest.fixture
def app_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[FlaskClient, Settings]:
    settings = Settings(var_dir=tmp_path)
    db.migrate(settings.database_url)
    sounds_root = tmp_path / "pbx"
    monkeypatch.setattr(Asterisk, "locate", classmethod(lambda cls, s: Asterisk(s, None, "asterisk")))
    monkeypatch.setattr(Asterisk, "instance_dir", property(lambda self: sounds_root))
    return staff_client(create_app(settings)), settings


def _count(settings: Settings) -> int:
    with db.session_factory(settings.database_url)() as s:
        return s.scalar(select(func.count()).select_from(MenuVersion)) or 0


def test_menu_page_shows_the_live_tree(app_client) -> None:
    client, _settings = app_client
    page = client.get("/ivr/menu").get_data(as_text=True)
    assert "Yayındaki sürüm: <strong>1</strong>" in page and "water" in page and "Su arızası için 1" in page


def test_invalid_menu_is_refused_with_reasons_and_changes_nothing(app_client) -> None:
    client, settings = app_client
    client.get("/ivr/menu")
    bad = default_yaml().replace('"9": operator', '"9": {queue: yok}')
    resp = client.post("/ivr/menu", data={"yaml": bad, "action": "publish"})
    assert resp.status_code == 400 and "queue &#39;yok&#39; does not exist" in resp.get_data(as_text=True)
    assert _count(settings) == 1


def test_publish_renders_prompts_and_goes_live(app_client, tmp_path: Path) -> None:
    client, settings = app_client
    client.get("/ivr/menu")
    changed = default_yaml().replace("Su arızası için 1", "Su arızası ya da kaçak için 1")
    assert client.post("/ivr/menu", data={"yaml": changed, "action": "check"}).status_code == 200
    assert _count(settings) == 1  # checking publishes nothing
    resp = client.post("/ivr/menu", data={"yaml": changed, "action": "publish", "note": "kaçak"})
    assert resp.status_code == 302 and _count(settings) == 2
    assert (tmp_path / "pbx" / "sounds" / "tr" / "water_menu.wav").stat().st_size > 1000
    assert "kaçak" in client.get("/ivr/menu/2").get_data(as_text=True)


def test_uploaded_recording_replaces_the_rendered_prompt(app_client, tmp_path: Path) -> None:
    client, _settings = app_client
    src = tmp_path / "rec.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(src), "synth", "1", "sine", "440"], check=True)
    resp = client.post(
        "/ivr/prompts", data={"prompt": "kvkk", "lang": "tr", "audio": (io.BytesIO(src.read_bytes()), "rec.wav")}
    )
    assert resp.status_code == 303
    out = tmp_path / "pbx" / "sounds" / "uploaded" / "tr" / "kvkk.wav"
    info = subprocess.run(["soxi", "-r", str(out)], capture_output=True, text=True).stdout.strip()
    assert info == "8000"
    junk = client.post(
        "/ivr/prompts", data={"prompt": "kvkk", "lang": "en", "audio": (io.BytesIO(b"not audio"), "x.wav")}
    )
    assert junk.status_code == 303 and not (tmp_path / "pbx" / "sounds" / "uploaded" / "en" / "kvkk.wav").exists()


def test_announcements(app_client) -> None:
    client, settings = app_client
    bad = client.post(
        "/ivr/announcements", data={"text_tr": "", "starts_at": "2026-11-21T10:00", "ends_at": "2026-11-21T09:00"}
    )
    assert bad.status_code == 400
    ok = client.post(
        "/ivr/announcements",
        data={
            "text_tr": "Su kesintisi",
            "starts_at": "2026-11-21T10:00",
            "ends_at": "2026-11-21T18:00",
            "districts": "Mezitli, Yenişehir",
        },
    )
    assert ok.status_code == 303
    with db.session_factory(settings.database_url)() as s:
        row = s.scalars(select(Announcement)).one()
        assert row.districts == ["Mezitli", "Yenişehir"] and row.starts_at.hour == 7  # 10:00 in Istanbul, UTC stored
    assert "Mezitli, Yenişehir" in client.get("/ivr/announcements").get_data(as_text=True)
