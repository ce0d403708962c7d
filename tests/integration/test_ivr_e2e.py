"""The 185 IVR end to end through the real Asterisk: simulated callers key their way through.

The calls of a phase run at the same time (the recording notice alone takes ~15 s), then
each test checks its call's record and the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from alo185.core import db, procs
from alo185.menu import versions
from alo185.menu.models import Announcement
from alo185.menu.prompt_files import PromptFiles
from alo185.tickets.models import Citizen, PlatformRole, Ticket, TicketHistory, TicketStatus
from alo185.tickets.queries import create_ticket, find_district
from alo185.voicemail.models import Voicemail
from harness.instance import Stack
from ivr.default import default_yaml
from ivr.hours import TZ
from ivr.tree import WEEKDAYS

MUHTAR = "+905320000001"
WITH_OPEN = "+905320000002"
WITH_RESOLVED = "+905320000003"
IN_MEZITLI = "+905320000004"
IN_TARSUS = "+905320000005"
ANNOUNCEMENT = "Mezitli ilçesinde yarın dokuzla on yedi arası planlı su kesintisi yapılacaktır."


def _publish(stack: Stack, mutate) -> None:
    raw = yaml.safe_load(default_yaml())
    mutate(raw)
    with db.session_factory(stack.settings.database_url).begin() as s:
        versions.publish(s, yaml.safe_dump(raw, allow_unicode=True), by="test")


def _always_open(raw: dict) -> None:
    for queue in raw["queues"].values():
        queue.pop("hours", None)


def _tickets(stack: Stack) -> dict[str, str]:
    """Citizens and tickets the scenarios need; returns ticket numbers by role."""
    now = datetime.now(UTC)
    with db.session_factory(stack.settings.database_url).begin() as s:
        open_one = create_ticket(
            s, phone=WITH_OPEN, category_code="yol-cukur", description="Çukur", channel="phone", district="Yenişehir"
        )
        open_one.status = TicketStatus.IN_PROGRESS
        done = create_ticket(
            s,
            phone=WITH_RESOLVED,
            category_code="cop-toplama",
            description="Çöp alınmadı",
            channel="web",
            district="Akdeniz",
        )
        done.status, done.resolved_at = TicketStatus.RESOLVED, now - timedelta(days=2)
        s.add(Citizen(phone=MUHTAR, full_name="Ayşe Yılmaz", platform_role=PlatformRole.MUHTAR))
        s.add(Citizen(phone=IN_MEZITLI, district=find_district(s, "Mezitli")))
        s.add(Citizen(phone=IN_TARSUS, district=find_district(s, "Tarsus")))
        s.add(
            Announcement(
                text_tr=ANNOUNCEMENT,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=2),
                districts=["Mezitli"],
                mahalles=[],
            )
        )
        return {"open": open_one.number, "resolved": done.number}


@dataclass
class Calls:
    ids: dict[str, str]
    numbers: dict[str, str]


@pytest.fixture(scope="module")
def phase1(stack: Stack) -> Calls:
    """Every top-level branch, languages, invalid keys and silence, platform, known callers, status, area."""
    _publish(stack, _always_open)
    numbers = _tickets(stack)
    k, sec = stack.after_notice, stack.prompt_seconds
    invalid = sec("invalid") + 1
    ann = PromptFiles(stack.pbx.instance_dir / "sounds").dynamic("tr", ANNOUNCEMENT)
    ann_s = ann.stat().st_size / 16000  # 8 kHz, 16 bit

    def readback(number: str, status: str) -> float:
        return sec("ticket_is") + sum(sec(f"digit_{d}") for d in number) + sec(f"status_{status}") + 1.0

    scenarios = {
        "water": (k("1w1w1"), "+905321110001"),
        "transport": (k("1w2"), "+905321110002"),
        "cleaning": (k("1w3"), "+905321110003"),
        "roads": (k("1w4"), "+905321110004"),
        "parks": (k("1w5"), "+905321110005"),
        "zabita": (k("1w6w2"), "+905321110006"),
        "cemetery": (k("1w7"), "+905321110007"),
        "operator": (k("1w9"), "+905321110009"),
        "operator_zero": (k("1w1w0"), "+905321110010"),
        "english": (k("2w3"), "+905321110011"),
        "arabic": (k("3w5"), "+905321110012"),
        "invalid": (k("1w1w7", invalid, "8", invalid, "9"), "+905321110013"),
        "silence": ("", "+905321110014"),
        "muhtar": ("", MUHTAR),
        "open_ticket": (k("1w1", readback(numbers["open"], "in_progress"), "9"), WITH_OPEN),
        "status_reopen": (
            k(
                "1w8",
                sec("enter_ticket") / 2,
                numbers["resolved"] + "#",
                readback(numbers["resolved"], "resolved"),
                "1",
                sec("reopened") + 1,
                "9",
            ),
            WITH_RESOLVED,
        ),
        "announced": (k("1w3", extra_s=ann_s), IN_MEZITLI),
        "not_announced": (k("1w3"), IN_TARSUS),
    }
    ids = {name: stack.call(keys, caller) for name, (keys, caller) in scenarios.items()}
    return Calls(ids, numbers)


def _record(stack: Stack, calls: Calls, name: str):
    return stack.wait_record(calls.ids[name], timeout=240)


@pytest.mark.parametrize(
    ("name", "queue", "category", "path_end"),
    [
        ("water", "su", "su-arizasi", "main:1>water:1"),
        ("transport", "ulasim", "otobus-sefer", "main:2"),
        ("cleaning", "temizlik", "cop-toplama", "main:3"),
        ("roads", "fen", "yol-cukur", "main:4"),
        ("parks", "park", "park-bakim", "main:5"),
        ("zabita", "zabita", "zabita-pazar", "main:6>zabita:2"),
        ("cemetery", "cenaze", "cenaze-hizmeti", "main:7"),
        ("operator", "genel", None, "main:9"),
        ("operator_zero", "genel", None, "main:1>water:0"),
    ],
)
def test_top_level_branches(
    stack: Stack, phase1: Calls, name: str, queue: str, category: str | None, path_end: str
) -> None:
    r = _record(stack, phase1, name)
    assert (r.queue, r.category, r.lang) == (queue, category, "tr")
    assert r.ivr_path.startswith("kvkk>language:1>") and r.ivr_path.endswith(path_end)
    assert r.answered and r.outcome == "answered" and r.kvkk_version == 1


@pytest.mark.parametrize(("name", "lang", "queue"), [("english", "en", "temizlik"), ("arabic", "ar", "park")])
def test_language_switch(stack: Stack, phase1: Calls, name: str, lang: str, queue: str) -> None:
    r = _record(stack, phase1, name)
    assert (r.lang, r.queue) == (lang, queue)


def test_invalid_keys_escalate_to_an_operator(stack: Stack, phase1: Calls) -> None:
    r = _record(stack, phase1, "invalid")
    assert r.ivr_path.endswith("water:7>water:8>water:9") and r.queue == "genel" and r.answered


def test_silence_escalates_to_an_operator(stack: Stack, phase1: Calls) -> None:
    r = _record(stack, phase1, "silence")
    assert r.ivr_path == "kvkk>language:->main:->main:->main:-" and r.lang == "tr"
    assert r.digit == "-"  # no key at the main menu, on the record as the reports count it
    assert r.queue == "genel" and r.answered


def test_platform_caller_skips_the_menu(stack: Stack, phase1: Calls) -> None:
    r = _record(stack, phase1, "muhtar")
    assert (r.caller_kind, r.queue, r.ivr_path) == ("muhtar", "muhtar", "kvkk>platform") and r.answered


def test_known_caller_hears_the_open_ticket_first(stack: Stack, phase1: Calls) -> None:
    r = _record(stack, phase1, "open_ticket")
    assert r.ivr_path == "kvkk>language:1>open_ticket:1>main:9" and r.queue == "genel"


def test_ticket_status_and_reopen_by_phone(stack: Stack, phase1: Calls) -> None:
    r = _record(stack, phase1, "status_reopen")
    number = phase1.numbers["resolved"]
    assert f"ticket_status:{number}>reopen_offer:1>reopen" in r.ivr_path
    with db.session_factory(stack.settings.database_url)() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.status == TicketStatus.REOPENED and ticket.reopen_count == 1
        last = s.scalars(
            select(TicketHistory).where(TicketHistory.ticket_id == ticket.id).order_by(TicketHistory.id.desc())
        ).first()
        assert last is not None and last.channel == "phone" and last.to_status == TicketStatus.REOPENED


def test_announcement_only_for_its_district(stack: Stack, phase1: Calls) -> None:
    heard = _record(stack, phase1, "announced")
    assert heard.ivr_path.startswith("kvkk>announcement>language:1") and heard.queue == "temizlik"
    other = _record(stack, phase1, "not_announced")
    assert "announcement" not in other.ivr_path and other.queue == "temizlik"


@pytest.fixture(scope="module")
def phase2(stack: Stack, phase1: Calls) -> dict[str, str]:
    """After the first phase: a closed queue (published while the IVR runs) and a queue nobody staffs."""
    for name in phase1.ids:
        _record(stack, phase1, name)
    today = WEEKDAYS[datetime.now(TZ).weekday()]

    def close_parks_now(raw: dict) -> None:
        _always_open(raw)
        raw["queues"]["park"]["hours"] = {today: "00:00-00:01"}

    _publish(stack, close_parks_now)
    stack.unstaff("cenaze")
    # The callers stay through the explanation and the instruction; one of them leaves a message.
    k, sec = stack.after_notice, stack.prompt_seconds
    message = stack.speech_file("park_tr", "Parktaki bankların hepsi kırık, lütfen onarın.", "tr")
    return {
        "after_hours": stack.call(k("1w5", sec("after_hours") + sec("voicemail_intro") + 3), speech=message),
        "no_operator": stack.call(k("1w7", sec("no_operator") + 6), hang_up=True),
    }


def test_after_hours_offers_voicemail(stack: Stack, phase2: dict[str, str]) -> None:
    r = stack.wait_record(phase2["after_hours"], timeout=120)
    assert (r.outcome, r.ivr_reason, r.ivr_action, r.answered) == ("after-hours", "after_hours", "voicemail", False)
    # The voicemail step recorded and the message became a ticket (its transcript: test_voicemail_e2e).
    assert procs.wait_until(lambda: _voicemail_ticket(stack, r.uniqueid) is not None, 90)


def _voicemail_ticket(stack: Stack, uniqueid: str) -> int | None:
    with db.session_factory(stack.settings.database_url)() as s:
        return s.scalar(select(Voicemail.ticket_id).where(Voicemail.uniqueid == uniqueid))


def test_nobody_logged_in_offers_voicemail(stack: Stack, phase2: dict[str, str]) -> None:
    r = stack.wait_record(phase2["no_operator"], timeout=120)
    assert (r.outcome, r.ivr_reason) == ("voicemail", "no_operator")
