"""KVKK: retention rules, the destruction run (imha) and a citizen's erasure request."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, String, cast, func, select
from sqlalchemy.orm import Session, sessionmaker

from alo185 import schema
from alo185.audit.models import AuditLog
from alo185.calls.models import CallRecord
from alo185.channels.models import InboundMessage
from alo185.core import db
from alo185.org.models import Directorate, Institution, InstitutionKind
from alo185.privacy import anonymise, files, retention
from alo185.privacy.files import Store
from alo185.privacy.models import DestructionLog, RetentionRule
from alo185.privacy.retention import RECORD_TYPES, years
from alo185.quality.models import CorrectiveAction, CorrectiveActionEvidence, CorrectiveActionStep, Nonconformity
from alo185.sms.models import SmsMessage
from alo185.surveys.models import SurveyAnswer, SurveyComment, SurveyOptOut
from alo185.tickets.models import Category, Citizen, SlaUnit, Ticket, TicketAttachment, TicketStatus
from alo185.tickets.queries import create_ticket
from alo185.voicemail.models import Voicemail

NOW = datetime(2030, 6, 1, 9, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=years(10) + 30)  # past every period but the 20-year ones
RECENT = NOW - timedelta(days=10)


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    factory = db.session_factory(database_url)
    with factory.begin() as s:
        bb = Institution(code="bb", name="Büyükşehir", kind=InstitutionKind.METROPOLITAN)
        fen = Directorate(code="fen", name="Fen İşleri Müdürlüğü", institution=bb)
        cat = Category(code="yol-cukur", name="Yolda çukur", directorate=fen, sla_unit=SlaUnit.HOURS, sla_value=24)
        s.add_all([bb, fen, cat])
    return factory


@pytest.fixture
def dirs(tmp_path: Path) -> dict[Store, Path]:
    return {
        Store.VOICEMAIL: tmp_path / "voicemail",
        Store.EVIDENCE: tmp_path / "evidence",
        Store.RECORDING: tmp_path / "recordings",
    }


def _file(root: Path, name: str) -> str:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_bytes(b"RIFF personal audio")
    return name


def _snapshot(sessions: sessionmaker[Session]) -> dict[str, list[Any]]:
    with sessions() as s:
        return {
            t.name: [tuple(r) for r in s.execute(select(t).order_by(*t.primary_key.columns))]
            for t in schema.metadata.sorted_tables
        }


# -- rules ------------------------------------------------------------------------------------------
def test_the_policy_table_is_consistent() -> None:
    for name, kind in RECORD_TYPES.items():
        assert kind.default_days >= kind.min_days > 0 and kind.why, name
    assert RECORD_TYPES["nonconformities"].min_days == RECORD_TYPES["nonconformities"].default_days == years(20)
    assert years(20) >= (datetime(2046, 3, 1) - datetime(2026, 3, 1)).days  # leap days included


def test_rules_are_seeded_and_a_period_under_the_minimum_is_refused(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        shown = retention.rules(s)  # before seeding: the defaults, unsaved
        assert [(r.record_type, r.keep_days) for r in shown] == [(n, k.default_days) for n, k in RECORD_TYPES.items()]
        assert retention.seed_rules(s) == len(RECORD_TYPES)
        assert retention.seed_rules(s) == 0
        retention.set_rule(s, "tickets", years(12), actor="kvkk", now=NOW)
    with sessions.begin() as s:
        with pytest.raises(retention.RetentionError) as refused:
            retention.set_rule(s, "tickets", 100, actor="kvkk")
        assert "en az" in refused.value.message_tr and "at least" in str(refused.value)
        with pytest.raises(retention.RetentionError, match="unknown record type"):
            retention.set_rule(s, "passwords", 1000, actor="kvkk")
        with pytest.raises(retention.RetentionError):
            retention.set_rule(s, "corrective_actions", years(20) - 1, actor="kvkk")
    with sessions() as s:
        assert retention.periods(s)["tickets"] == years(12)
        tickets, corrective_actions = s.get(RetentionRule, "tickets"), s.get(RetentionRule, "corrective_actions")
        assert tickets is not None and tickets.updated_by == "kvkk"
        assert corrective_actions is not None and corrective_actions.keep_days == years(20)
        [row] = s.scalars(select(AuditLog).where(AuditLog.action == "retention.set"))
        assert row.entity_id == "tickets" and row.detail == f"{years(10)} -> {years(12)} gün"


# -- the destruction run -------------------------------------------------------------------------------
EXPECTED = {
    "call_recordings": 2,  # c-mid's too: past the year of recordings, not the two years of call records
    "call_records": 1,
    "survey_answers": 1,
    "voicemails": 1,
    "survey_comments": 1,
    "sms_outbox": 1,
    "inbound_messages": 1,
    "tickets": 1,
    "citizens": 1,
    "audit_log": 1,
    "corrective_actions": 1,
    "nonconformities": 2,
}


def _world(sessions: sessionmaker[Session], dirs: dict[Store, Path]) -> None:
    """For each record type an old record and a recent one (and a few that must stay although old)."""
    vm, ev, rec = dirs[Store.VOICEMAIL], dirs[Store.EVIDENCE], dirs[Store.RECORDING]
    with sessions.begin() as s:
        cat = s.scalar(select(Category))
        assert cat is not None  # seeded
        gone = Citizen(phone="+905320000001", full_name="Eski Vatandaş", created_at=OLD, updated_at=OLD)
        active = Citizen(phone="+905320000002", full_name="Yeni Vatandaş", created_at=OLD, updated_at=RECENT)
        s.add_all([gone, active])

        def ticket(number: str, citizen: Citizen, status: TicketStatus, when: datetime) -> Ticket:
            row = Ticket(
                number=number,
                type="istek",
                channel="phone",
                status=status,
                category=cat,
                directorate_id=cat.directorate_id,
                citizen=citizen,
                description=f"açıklama {number}",
                address="Çamlıbel Mah. 5. Sok.",
                lat=36.8,
                lon=34.6,
                public_answer="yanıt",
                voicemail_transcript="ses",
                search_text="aciklama",
                reopen_count=0,
                created_at=when,
                updated_at=when,
            )
            s.add(row)
            return row

        old_closed = ticket("1", gone, TicketStatus.CLOSED, OLD)
        ticket("2", active, TicketStatus.IN_PROGRESS, OLD)  # old but still open
        ticket("3", active, TicketStatus.CLOSED, RECENT)
        s.flush()
        s.add_all(
            [
                TicketAttachment(ticket_id=old_closed.id, kind="image", ref=_file(vm, "att/old.jpg"), source="web"),
                TicketAttachment(ticket_id=old_closed.id, kind="image", ref="whatsapp:M1", source="whatsapp"),
                CallRecord(
                    uniqueid="c-old",
                    caller="+905320000009",
                    started_at=OLD,
                    recording_ref=_file(rec, "2020/01/c-old.wav"),
                ),
                CallRecord(
                    uniqueid="c-mid",
                    caller="+905320000008",
                    started_at=NOW - timedelta(days=400),
                    recording_ref=_file(rec, "2029/04/c-mid.wav"),
                ),
                CallRecord(
                    uniqueid="c-new",
                    caller="+905320000009",
                    started_at=RECENT,
                    recording_ref=_file(rec, "2030/05/c-new.wav"),
                ),
                SurveyAnswer(uniqueid="c-old", caller="+905320000009", answer=1, offered_at=OLD),
                SurveyAnswer(uniqueid="c-new", caller="+905320000009", answer=2, offered_at=RECENT),
                Voicemail(
                    uniqueid="v-old",
                    caller="+905320000009",
                    audio_file=_file(vm, "2020/01/v-old.wav"),
                    transcript="merhaba",
                    words=[{"word": "merhaba"}],
                    created_at=OLD,
                ),
                Voicemail(
                    uniqueid="v-new",
                    caller="+905320000009",
                    audio_file=_file(vm, "2030/05/v-new.wav"),
                    created_at=RECENT,
                ),
                SurveyComment(
                    uniqueid="c-old",
                    audio_file=_file(vm, "2020/01/c-old-comment.wav"),
                    transcript="kötü",
                    created_at=OLD,
                ),
                SurveyComment(uniqueid="c-new", audio_file=_file(vm, "2030/05/c-new-comment.wav"), created_at=RECENT),
                *(
                    SmsMessage(
                        key=key,
                        phone="+905320000009",
                        template="created",
                        params={},
                        status=status,
                        body="metin",
                        next_attempt_at=when,
                        created_at=when,
                    )
                    for key, status, when in (("s1", "sent", OLD), ("s2", "pending", OLD), ("s3", "sent", RECENT))
                ),
                InboundMessage(
                    channel="whatsapp",
                    external_id="w1",
                    phone="+905320000009",
                    body="eski",
                    action="note",
                    received_at=OLD,
                ),
                InboundMessage(
                    channel="whatsapp",
                    external_id="w2",
                    phone="+905320000009",
                    body="yeni",
                    action="note",
                    received_at=RECENT,
                ),
                AuditLog(at=OLD, actor="op", action="ticket.view", entity="ticket", entity_id="1"),
                AuditLog(at=RECENT, actor="op", action="ticket.view", entity="ticket", entity_id="3"),
            ]
        )
        d = cat.directorate_id
        twenty_one, nineteen = NOW - timedelta(days=years(21)), NOW - timedelta(days=years(20) - 1)
        nc_of_old_dif = Nonconformity(finding="eski", recorded_by="kalite", created_at=NOW - timedelta(days=years(22)))
        old_dif = CorrectiveAction(
            nonconformity=nc_of_old_dif, directorate_id=d, problem="p", created_at=twenty_one, closed_at=twenty_one
        )
        step = CorrectiveActionStep(corrective_action=old_dif, description="adım")
        young_dif = CorrectiveAction(directorate_id=d, problem="p", created_at=nineteen, closed_at=nineteen)
        s.add_all(
            [
                Nonconformity(finding="21 yıllık", recorded_by="kalite", created_at=twenty_one),
                Nonconformity(finding="20 yılı dolmadı", recorded_by="kalite", created_at=nineteen),
                old_dif,
                step,
                young_dif,
            ]
        )
        s.flush()
        s.add(
            CorrectiveActionEvidence(
                corrective_action_id=old_dif.id,
                step_id=step.id,
                file_name="kanit.pdf",
                stored_as=_file(ev, "2009/06/kanit.pdf"),
                sha256="0" * 64,
                size=1,
                uploaded_by="mudur",
            )
        )


def _run(sessions: sessionmaker[Session], dirs: dict[Store, Path], dry_run: bool = False) -> dict[str, int]:
    with sessions() as s:
        logs = retention.run(
            s,
            NOW,
            actor="kvkk",
            dry_run=dry_run,
            voicemail_dir=dirs[Store.VOICEMAIL],
            evidence_dir=dirs[Store.EVIDENCE],
            recording_dir=dirs[Store.RECORDING],
        )
    assert [e.record_type for e in logs] == list(RECORD_TYPES)
    return {e.record_type: e.count for e in logs}


def test_a_run_destroys_exactly_the_old_records_and_logs_it(
    sessions: sessionmaker[Session], dirs: dict[Store, Path]
) -> None:
    _world(sessions, dirs)
    vm, ev = dirs[Store.VOICEMAIL], dirs[Store.EVIDENCE]
    assert _run(sessions, dirs) == EXPECTED
    with sessions() as s:
        calls = {c.uniqueid: (c.caller, c.recording_ref) for c in s.scalars(select(CallRecord))}
        assert calls == {
            "c-old": (None, None),
            "c-mid": ("+905320000008", None),
            "c-new": ("+905320000009", "2030/05/c-new.wav"),
        }
        assert {a.uniqueid: a.caller for a in s.scalars(select(SurveyAnswer))} == {
            "c-old": "",
            "c-new": "+905320000009",
        }
        vms = {v.uniqueid: (v.caller, v.audio_file, v.transcript, v.words) for v in s.scalars(select(Voicemail))}
        assert vms["v-old"] == ("", "", None, None) and vms["v-new"][1] == "2030/05/v-new.wav"
        comments = {c.uniqueid: (c.audio_file, c.transcript) for c in s.scalars(select(SurveyComment))}
        assert comments == {"c-old": ("", None), "c-new": ("2030/05/c-new-comment.wav", None)}
        assert sorted(s.scalars(select(SmsMessage.key))) == ["s2", "s3"]  # a pending text is not history yet
        assert {m.external_id: (m.phone, m.body) for m in s.scalars(select(InboundMessage))} == {
            "w1": ("", ""),
            "w2": ("+905320000009", "yeni"),
        }
        tickets = {t.number: t for t in s.scalars(select(Ticket))}
        old = tickets["1"]
        assert (old.description, old.address, old.lat, old.public_answer, old.voicemail_transcript) == (
            anonymise.MARKER,
            None,
            None,
            None,
            None,
        )
        assert (old.category_id, old.status, old.created_at, old.updated_at) == (
            tickets["3"].category_id,
            "closed",
            OLD,
            OLD,
        )
        assert tickets["2"].description == "açıklama 2" and tickets["3"].address is not None
        assert sorted(a.ref for a in s.scalars(select(TicketAttachment))) == ["", ""]
        citizens = {c.full_name: c for c in s.scalars(select(Citizen))}
        assert set(citizens) == {None, "Yeni Vatandaş"} and citizens[None].phone.startswith("anon-")
        assert [a.entity_id for a in s.scalars(select(AuditLog))] == ["3"]
        assert [n.finding for n in s.scalars(select(Nonconformity))] == ["20 yılı dolmadı"]
        assert s.scalar(select(func.count()).select_from(CorrectiveAction)) == 1
        assert s.scalar(select(func.count()).select_from(CorrectiveActionStep)) == 0
        assert s.scalar(select(func.count()).select_from(CorrectiveActionEvidence)) == 0
        logs = list(s.scalars(select(DestructionLog)))
        assert {(e.record_type, e.count, e.actor) for e in logs} == {(k, n, "kvkk") for k, n in EXPECTED.items()}
        assert {e.method for e in logs if e.record_type in ("sms_outbox", "audit_log")} == {"delete"}
        voicemail_log = next(e for e in logs if e.record_type == "voicemails")
        assert voicemail_log.cutoff == NOW - timedelta(days=years(1)) and "1 dosya" in (voicemail_log.detail or "")
    remaining = sorted(str(p.relative_to(vm)) for p in vm.rglob("*") if p.is_file())
    assert remaining == ["2030/05/c-new-comment.wav", "2030/05/v-new.wav"]
    rec = dirs[Store.RECORDING]
    assert sorted(str(p.relative_to(rec)) for p in rec.rglob("*") if p.is_file()) == ["2030/05/c-new.wav"]
    assert not (ev / "2009/06/kanit.pdf").exists()
    assert _run(sessions, dirs) == dict.fromkeys(RECORD_TYPES, 0)  # a second run finds nothing; it is logged too
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(DestructionLog)) == 2 * len(RECORD_TYPES)


def test_a_dry_run_counts_the_same_and_changes_nothing(
    sessions: sessionmaker[Session], dirs: dict[Store, Path]
) -> None:
    _world(sessions, dirs)
    before = _snapshot(sessions)
    files = sorted(dirs[Store.VOICEMAIL].rglob("*"))
    assert _run(sessions, dirs, dry_run=True) == EXPECTED
    assert _snapshot(sessions) == before  # not even the rules or the log
    assert sorted(dirs[Store.VOICEMAIL].rglob("*")) == files
    assert _run(sessions, dirs) == EXPECTED


def test_twenty_year_records_stay_until_their_twentieth_year(
    sessions: sessionmaker[Session], dirs: dict[Store, Path]
) -> None:
    _world(sessions, dirs)
    with sessions() as s:
        retention.run(
            s, NOW - timedelta(days=years(2)), voicemail_dir=dirs[Store.VOICEMAIL], recording_dir=dirs[Store.RECORDING]
        )  # two years earlier
        assert s.scalar(select(func.count()).select_from(Nonconformity)) == 3
        assert s.scalar(select(func.count()).select_from(CorrectiveAction)) == 2
    with sessions() as s:
        retention.run(
            s, NOW + timedelta(days=2), voicemail_dir=dirs[Store.VOICEMAIL], recording_dir=dirs[Store.RECORDING]
        )
        assert s.scalar(select(func.count()).select_from(Nonconformity)) == 0  # now 20 years old too
        assert s.scalar(select(func.count()).select_from(CorrectiveAction)) == 0


def test_a_crash_between_commit_and_unlink_is_finished_by_the_next_run(
    sessions: sessionmaker[Session], dirs: dict[Store, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    vm = dirs[Store.VOICEMAIL]
    with sessions.begin() as s:
        for name in ("a", "b"):
            s.add(Voicemail(uniqueid=name, caller="+905320000009", audio_file=_file(vm, f"{name}.wav")))
    roots: files.Roots = {Store.VOICEMAIL: vm}
    monkeypatch.setattr(files._Pending, "delete_files", lambda _self: None)  # dies right after COMMIT
    with sessions.begin() as s:
        anonymise.scrub(s, Voicemail, Voicemail.uniqueid == "a", roots)
    monkeypatch.undo()
    files._write_journal(vm, Store.VOICEMAIL, ["b.wav"])  # died before COMMIT: "b" still names its file
    assert (vm / "a.wav").exists() and len(list((vm / files.JOURNAL_DIR).glob("*.json"))) == 2
    with sessions() as s:
        assert files.recover(s, [vm], older_than_s=3600) == 0  # fresh journals may be mid-commit elsewhere
        assert files.recover(s, [vm], older_than_s=0) == 1
    assert not (vm / "a.wav").exists() and (vm / "b.wav").exists()
    assert list((vm / files.JOURNAL_DIR).glob("*")) == []


# -- a citizen's erasure request --------------------------------------------------------------------------
PHONE, NAME = "+905321234567", "Ayşe Yılmaz"
OTHER_PHONE, OTHER_NAME = "+905329999999", "Mehmet Demir"


def _citizen_with_everything(s: Session, vm: Path, phone: str, name: str, tag: str) -> None:
    """Tickets, a call in the trunk's national format, voicemail, survey, texts, messages, opt-out, audit."""
    national = "0" + phone[3:]
    first = create_ticket(s, phone=phone, category_code="yol-cukur", description="Evimin önünde çukur", channel="phone")
    create_ticket(s, phone=phone, category_code="yol-cukur", description=f"{name} arıyor", channel="whatsapp")
    citizen = first.citizen
    assert citizen is not None  # the ticket was made with a phone
    citizen.full_name, citizen.tc_masked, citizen.address = name, "123******78", "Çamlıbel Mah. 5. Sok. No 3"
    first.address, first.lat, first.lon = "Çamlıbel Mah.", 36.8, 34.6
    first.public_answer, first.voicemail_transcript = f"Sayın {name}, çukur kapatıldı.", f"ben {name}"
    s.add_all(
        [
            TicketAttachment(
                ticket_id=first.id, kind="image", ref=_file(vm, f"att/{tag}.jpg"), caption=name, source="web"
            ),
            TicketAttachment(ticket_id=first.id, kind="image", ref=f"whatsapp:{tag}", source="whatsapp"),
            CallRecord(
                uniqueid=f"{tag}-call",
                caller=national,
                started_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                recording_ref=_file(vm.parent / "recordings", f"2026/11/{tag}-call.wav"),
            ),
            Voicemail(
                uniqueid=f"{tag}-call",
                caller=phone,
                audio_file=_file(vm, f"2026/11/{tag}-call.wav"),
                transcript=f"ben {name}",
                words=[{"word": name}],
                ticket_id=first.id,
            ),
            SurveyAnswer(
                uniqueid=f"{tag}-call", caller=phone, answer=3, offered_at=datetime(2026, 11, 2, 9, tzinfo=UTC)
            ),
            SurveyComment(
                uniqueid=f"{tag}-call", audio_file=_file(vm, f"2026/11/{tag}-call-comment.wav"), transcript=name
            ),
            SmsMessage(
                key=f"{tag}-sent",
                phone=phone,
                template="created",
                params={"number": first.number},
                status="sent",
                body=f"Sayın {name}",
                next_attempt_at=datetime.now(UTC),
            ),
            InboundMessage(
                channel="whatsapp", external_id=tag, phone=phone, body=f"Ben {name}", ticket_id=first.id, action="note"
            ),
            SurveyOptOut(phone=phone),
            AuditLog(
                actor="op1",
                action="phone.record",
                entity="citizen",
                entity_id=str(citizen.id),
                detail=f"{phone} görüntülendi",
            ),
        ]
    )
    s.flush()


def _found(sessions: sessionmaker[Session], needle: str) -> list[str]:
    """Every table.column whose text holds ``needle`` (JSON also as escaped in JSON)."""
    hits = []
    forms = {needle, json.dumps(needle)[1:-1]}
    with sessions() as s:
        for table in schema.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, (String, JSON)):  # Text is a String; enums and times are not
                    continue
                text = cast(column, String)
                where = (text.contains(f, autoescape=True) for f in forms)
                if any(s.scalar(select(func.count()).select_from(table).where(w)) for w in where):
                    hits.append(f"{table.name}.{column.name}")
    return hits


def _statistics(sessions: sessionmaker[Session]) -> tuple[Counter, Counter, Counter]:
    with sessions() as s:
        tickets = Counter(
            (t.category_id, t.directorate_id, f"{t.created_at:%Y-%m}", t.status) for t in s.scalars(select(Ticket))
        )
        calls = Counter(f"{c.started_at:%Y-%m}" for c in s.scalars(select(CallRecord)))
        answers = Counter(a.answer for a in s.scalars(select(SurveyAnswer)))
    return tickets, calls, answers


def test_anonymisation_removes_the_person_everywhere_and_keeps_the_statistics(
    sessions: sessionmaker[Session], dirs: dict[Store, Path]
) -> None:
    vm = dirs[Store.VOICEMAIL]
    with sessions.begin() as s:
        _citizen_with_everything(s, vm, PHONE, NAME, "a")
        _citizen_with_everything(s, vm, OTHER_PHONE, OTHER_NAME, "b")
    assert "citizens.phone" in _found(sessions, "5321234567") and "voicemails.words" in _found(sessions, "Ayşe")
    statistics = _statistics(sessions)
    with sessions.begin() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.phone == PHONE)).one()
        row = anonymise.anonymise_citizen(
            s,
            citizen,
            actor="kvkk1",
            reason=f"KVKK md. 11 başvurusu ({NAME}), dilekçe 2026/15",
            voicemail_dir=vm,
            recording_dir=dirs[Store.RECORDING],
        )
        citizen_id = citizen.id
    for needle in ("5321234567", "Ayşe", "Yılmaz", "yilmaz"):  # the last as folded for search
        assert _found(sessions, needle) == [], needle
    assert "sms_outbox.phone" in _found(sessions, "5329999999") and "tickets.search_text" in _found(sessions, "mehmet")
    assert _statistics(sessions) == statistics
    with sessions() as s:
        citizen = s.scalars(select(Citizen).where(Citizen.id == citizen_id)).one()
        assert citizen.phone == f"anon-{citizen_id}" and citizen.anonymised_at is not None
        assert (citizen.full_name, citizen.tc_masked, citizen.address) == (None, None, None)
        assert {t.description for t in citizen.tickets} == {anonymise.MARKER}
        texts = list(s.scalars(select(SmsMessage).where(SmsMessage.phone == "")))
        assert {m.status for m in texts} == {"sent", "failed"}  # the pending ones will not go out
        assert (row.action, row.entity, row.entity_id) == ("citizen.anonymise", "citizen", str(citizen_id))
        assert row.detail is not None and "dilekçe 2026/15" in row.detail and "başvuru 2" in row.detail
        assert s.scalar(select(func.count()).select_from(SurveyOptOut)) == 1  # the other citizen's
    assert sorted(str(p.relative_to(vm)) for p in vm.rglob("*") if p.is_file()) == [
        "2026/11/b-call-comment.wav",
        "2026/11/b-call.wav",
        "att/b.jpg",
    ]
    rec = dirs[Store.RECORDING]  # the recording of the person's call went too, the other's stays
    assert sorted(str(p.relative_to(rec)) for p in rec.rglob("*") if p.is_file()) == ["2026/11/b-call.wav"]
    with sessions() as s:
        refs = {c.uniqueid: c.recording_ref for c in s.scalars(select(CallRecord))}
        assert refs == {"a-call": None, "b-call": "2026/11/b-call.wav"}
    assert list((vm / files.JOURNAL_DIR).glob("*")) == []


def test_a_second_request_and_a_request_without_a_reason_are_refused(
    sessions: sessionmaker[Session], dirs: dict[Store, Path]
) -> None:
    vm = dirs[Store.VOICEMAIL]
    with sessions.begin() as s:
        _citizen_with_everything(s, vm, PHONE, NAME, "a")
        citizen = s.scalars(select(Citizen).where(Citizen.phone == PHONE)).one()
        anonymise.anonymise_citizen(
            s, citizen, actor="kvkk1", reason="talep", voicemail_dir=vm, recording_dir=dirs[Store.RECORDING]
        )
    with sessions.begin() as s:
        again_citizen = s.scalars(select(Citizen).where(Citizen.id == citizen.id)).one()
        with pytest.raises(anonymise.AnonymisationError, match="already") as again:
            anonymise.anonymise_citizen(s, again_citizen, actor="kvkk1", reason="talep", voicemail_dir=vm)
        assert "zaten" in again.value.message_tr
    with sessions.begin() as s:
        _citizen_with_everything(s, vm, OTHER_PHONE, OTHER_NAME, "b")
    before = _snapshot(sessions)
    with sessions.begin() as s:
        other = s.scalars(select(Citizen).where(Citizen.phone == OTHER_PHONE)).one()
        with pytest.raises(anonymise.AnonymisationError, match="reason"):
            anonymise.anonymise_citizen(s, other, actor="kvkk1", reason="  ", voicemail_dir=vm)
    assert _snapshot(sessions) == before
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "citizen.anonymise")) == 1
