"""The admin's voicemail list (listen, read, correct the category) and the survey report page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.app import create_app
from alo185 import services
from alo185.core import db
from alo185.core.settings import Settings
from alo185.org.models import Role
from alo185.surveys.models import SurveyAnswer
from alo185.tickets.models import Ticket, TicketHistory
from alo185.tickets.queries import create_ticket
from alo185.voicemail.models import Voicemail
from tests.staff import staff_client


@pytest.fixture
def app(tmp_path: Path) -> tuple[FlaskClient, Settings, int]:
    settings = Settings(var_dir=tmp_path)
    services.prepare_database(settings)
    audio = settings.voicemail_path / "2026" / "11" / "1700000000.9.wav"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(b"RIFF" + bytes(4000))
    with db.session_factory(settings.database_url).begin() as s:
        ticket = create_ticket(s, phone="+905321234567", category_code="bilgi-edinme", description="x", channel="phone")
        vm = Voicemail(
            uniqueid="1700000000.9",
            caller="+905321234567",
            reason="after_hours",
            audio_file="2026/11/1700000000.9.wav",
            transcript="sokakta çöp toplanmadı",
            suggested_category=None,
            ticket_id=ticket.id,
        )
        s.add(vm)
        s.flush()
        vm_id = vm.id
    return staff_client(create_app(settings), Role.SUPERVISOR), settings, vm_id


def _ticket(settings: Settings) -> tuple[str, str | None, int]:
    with db.session_factory(settings.database_url)() as s:
        ticket = s.scalars(select(Ticket)).one()
        notes = s.scalars(select(TicketHistory.note).where(TicketHistory.ticket_id == ticket.id)).all()
        return ticket.category.code, ticket.directorate.code if ticket.directorate else None, len(notes)


def test_the_list_shows_transcript_audio_and_a_masked_number(app) -> None:
    client, _settings, vm_id = app
    page = client.get("/voicemails").get_data(as_text=True)
    assert "sokakta çöp toplanmadı" in page and "+90 532 *** ** 67" in page and "sesli mesajdan" in page
    assert f"/voicemails/{vm_id}/audio" in page
    audio = client.get(f"/voicemails/{vm_id}/audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav" and audio.data.startswith(b"RIFF")
    assert client.get("/voicemails/999/audio").status_code == 404


def test_correcting_the_category_reroutes_and_is_kept_in_history(app) -> None:
    client, settings, vm_id = app
    before = _ticket(settings)
    response = client.post(f"/voicemails/{vm_id}/category", data={"category": "cop-toplama"})
    assert response.status_code == 303
    code, directorate, notes = _ticket(settings)
    assert code == "cop-toplama" and directorate != before[1] and notes == before[2] + 1


def test_an_unknown_category_changes_nothing(app) -> None:
    client, settings, vm_id = app
    before = _ticket(settings)
    page = client.post(f"/voicemails/{vm_id}/category", data={"category": "yok"}, follow_redirects=True)
    assert "unknown or inactive category" in page.get_data(as_text=True)
    assert _ticket(settings) == before


def test_the_survey_report_page(app) -> None:
    client, settings, _vm_id = app
    yesterday = datetime.now(UTC) - timedelta(days=1)
    with db.session_factory(settings.database_url).begin() as s:
        for answer, count in {1: 851, 2: 413, 3: 584, 4: 72}.items():
            for i in range(count):
                s.add(SurveyAnswer(uniqueid=f"{answer}-{i}", caller="+905321234567", channel="phone", answer=answer,
                                   queue="su", operator="Ayşe", has_comment=False, offered_at=yesterday))  # fmt: skip
    page = client.get("/reports/survey").get_data(as_text=True)
    for figure in ("%44,3", "%21,5", "%30,4", "%3,7", "%65", "1920"):
        assert figure in page
    data = client.get("/reports/survey?format=json&by=operator").get_json()
    assert data["total"]["satisfied_percent"] == 65 and data["by"]["Ayşe"]["answered"] == 1920
    assert client.get("/reports/survey?from=2026-13-01").status_code == 400
    assert client.get("/reports/survey?by=colour").status_code == 400


def test_the_web_survey_for_a_ticket(app) -> None:
    from alo185.core import links

    client, settings, _vm_id = app
    with db.session_factory(settings.database_url)() as s:
        ticket = s.scalars(select(Ticket)).one()
        ticket_id, number = ticket.id, ticket.number
    link = f"/anket/{links.sign(settings.secrets()['flask_secret_key'], 'survey', ticket_id)}"
    page = client.get(link).get_data(as_text=True)
    assert number in page and "Çok memnunum" in page and "Fikrim yok" in page
    assert client.post(link, data={"answer": "7"}).status_code == 400
    assert client.post(link, data={"answer": "2"}).status_code == 200
    assert client.post(link, data={"answer": "1"}).status_code == 409  # one answer per ticket
    with db.session_factory(settings.database_url)() as s:
        [row] = s.scalars(select(SurveyAnswer)).all()
        assert (row.answer, row.ticket_id, row.channel, row.caller) == (2, ticket_id, "phone", "+905321234567")
    assert client.get(link[:-3] + "xyz").status_code == 404  # a forged or damaged link
