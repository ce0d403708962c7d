"""``alo185 backup`` and ``alo185 restore``: a backup taken while citizens' forms and call events are written
restores into a new directory with the manifest's rows and checksums; a damaged backup, or a target that
already holds data, is refused and nothing changes; a full disk leaves no half backup."""

from __future__ import annotations

import os
import re
import stat
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import func, select

from admin.app import create_app
from alo185 import cli, services
from alo185.calls.models import CallRecord
from alo185.core import backup, db
from alo185.core.settings import Settings
from alo185.tickets.models import Ticket
from harness import pg_cluster
from tests import disks
from workers.recorder import apply_event

AUDIO_BYTES = 200_000  # about 12 s of 8 kHz 16-bit WAV
OLD = time.time() - 3600


def _audio(path: Path, seed: int, mtime: float = OLD) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(16) + bytes([seed % 256]) * AUDIO_BYTES)
    os.utime(path, (mtime, mtime))


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Settings:
    """An instance with a database, its secrets, voicemails, call recordings and DİF evidence on disk."""
    settings = Settings(var_dir=tmp_path / "live", db_url=database_url, recording_dir=tmp_path / "live" / "rec")
    services.prepare_database(settings)
    settings.secrets()
    for i in range(8):
        _audio(settings.voicemail_path / f"2026/12/vm{i}.wav", i)
        _audio(tmp_path / "live" / "rec" / f"2026/12/call{i}.wav", 100 + i)
    _audio(settings.evidence_path / "dif-1" / "tutanak.pdf", 7)
    # Asterisk is writing these right now: a recording in progress and a voicemail being left.
    _audio(tmp_path / "live" / "rec" / "2026/12/live-call.wav", 1, mtime=time.time())
    _audio(settings.voicemail_path / "2026/12/vm-new.wav.partial", 2)
    return settings


def _restore_target(request: pytest.FixtureRequest, live: Settings, tmp_path: Path) -> backup.Target:
    """A fresh directory and, for PostgreSQL, a new empty database on the same server."""
    url = None
    if not live.database_url.startswith("sqlite"):
        url = pg_cluster.create_database(request.getfixturevalue("postgres_server"), f"r_{uuid.uuid4().hex[:12]}")
    return backup.Target.new_dir(tmp_path / "restored", url)


def _submit_forms(app: Flask, stop: threading.Event, worker: int, statuses: list[int]) -> None:
    client, i = app.test_client(), 0
    while not stop.is_set() and i < 60:
        form = {
            "name": f"Vatandaş {worker}-{i}",
            "phone": f"0532 7{worker:02d} {i:02d} 21",
            "category": "cop-toplama",
            "description": f"Çöp toplanmadı ({worker}-{i})",
            "consent": "on",
        }
        environ = {"REMOTE_ADDR": f"10.{worker}.{i}.1"}  # the per-address limit is not what is tested
        statuses.append(client.post("/basvuru", data=form, environ_base=environ).status_code)
        i += 1


def _record_calls(settings: Settings, stop: threading.Event, done: list[str]) -> None:
    """The recorder's work: each call's events folded into its record, one transaction per event."""
    sessions, t0, n = db.session_factory(settings.database_url), time.time() - 600, 0
    while not stop.is_set() and n < 200:
        uid = f"1765000000.{n}"
        for event in (
            {"type": "call.start", "uniqueid": uid, "ts": t0 + n, "linkedid": uid, "caller": "+905321234567"},
            {"type": "queue.join", "uniqueid": uid, "ts": t0 + n + 1, "queue": "su", "position": 1},
            {"type": "call.end", "uniqueid": uid, "ts": t0 + n + 30, "cause": "16"},
        ):
            db.write(sessions, lambda s, e=event: apply_event(s, e))  # type: ignore[misc]
        done.append(uid)
        n += 1


def _count(url: str, model: type) -> int:
    with db.session_factory(url)() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_backup_while_forms_and_calls_are_written_restores_into_a_new_directory(
    request: pytest.FixtureRequest, live: Settings, tmp_path: Path
) -> None:
    app, stop = create_app(live), threading.Event()
    statuses: list[int] = []
    calls: list[str] = []
    writers = [threading.Thread(target=_submit_forms, args=(app, stop, w, statuses)) for w in range(3)]
    writers.append(threading.Thread(target=_record_calls, args=(live, stop, calls)))
    for w in writers:
        w.start()
    try:
        deadline = time.monotonic() + 20
        while (len(statuses) < 5 or len(calls) < 5) and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        archive, manifest = backup.create(live, tmp_path / "backups")
        took = time.monotonic() - started
        # The writers go on after the snapshot: what they write then is in the instance, not in the backup.
        after = (len(statuses), len(calls))
        while (len(statuses) < after[0] + 3 or len(calls) < after[1] + 3) and time.monotonic() < deadline + 20:
            time.sleep(0.05)
    finally:
        stop.set()
        for w in writers:
            w.join()
    size = archive.stat().st_size
    print(f"\n{manifest.database}: backup {size / 1e6:.2f} MB, {len(manifest.files)} files, {took:.2f} s")
    assert set(statuses) == {200}
    assert _count(live.database_url, Ticket) > manifest.rows["tickets"]
    assert _count(live.database_url, CallRecord) > manifest.rows["call_records"]
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert not [p for p in archive.parent.iterdir() if p != archive]  # nothing partial left beside it
    assert sorted(manifest.skipped) == [
        "files/recordings/2026/12/live-call.wav",
        "files/voicemail/2026/12/vm-new.wav.partial",
    ]
    assert manifest.rows["tickets"] >= 1 and manifest.rows["call_records"] >= 1
    assert manifest.schema_revision

    target = _restore_target(request, live, tmp_path)
    restored = backup.restore(archive, target)
    assert restored == manifest
    assert backup.database_rows(target.database_url) == manifest.rows
    checked = list(backup.checksums(target, manifest))
    assert len(checked) == 8 + 8 + 1 + 1  # voicemails, recordings, evidence, secrets
    assert all(ok for _, _, ok in checked)
    assert (target.roots["recordings"] / "2026/12/call3.wav").read_bytes() == (  # type: ignore[operator]
        live.recording_dir / "2026/12/call3.wav"  # type: ignore[operator]
    ).read_bytes()
    assert stat.S_IMODE((target.var_dir / "secrets.json").stat().st_mode) == 0o600
    assert (target.var_dir / "secrets.json").read_text() == (live.var_dir / "secrets.json").read_text()
    assert _count(target.database_url, Ticket) == manifest.rows["tickets"]
    assert _count(target.database_url, CallRecord) == manifest.rows["call_records"]
    db.engine_for(target.database_url).dispose()


@pytest.fixture
def archive(live: Settings, tmp_path: Path) -> Path:
    path, _ = backup.create(live, tmp_path / "backups")
    return path


def _damage(archive: Path, member: str) -> None:
    with tarfile.open(archive) as tar:
        offset = tar.getmember(member).offset_data + 1000
    with open(archive, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("member", ["files/voicemail/2026/12/vm3.wav", "database/alo185.db"])
def test_a_corrupted_backup_is_refused_and_nothing_is_restored(
    archive: Path, tmp_path: Path, member: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _damage(archive, member)
    into = tmp_path / "restored"
    with pytest.raises(backup.BackupError, match=re.escape(f"corrupted backup: {member} does not match its checksum")):
        backup.restore(archive, backup.Target.new_dir(into))
    assert not into.exists()
    monkeypatch.setenv("ALO185_VAR_DIR", str(tmp_path / "other"))
    assert cli.main(["restore", str(archive), "--into", str(into)]) == 2
    assert "corrupted backup" in capsys.readouterr().err
    assert not into.exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_truncated_backup_is_refused(archive: Path, tmp_path: Path) -> None:
    os.truncate(archive, archive.stat().st_size // 2)
    with pytest.raises(backup.BackupError, match=r"corrupted backup|not an alo185 backup"):
        backup.restore(archive, backup.Target.new_dir(tmp_path / "restored"))
    assert not (tmp_path / "restored").exists()


def test_restore_over_data_needs_force(
    request: pytest.FixtureRequest, archive: Path, live: Settings, tmp_path: Path
) -> None:
    target = _restore_target(request, live, tmp_path)
    manifest = backup.restore(archive, target)
    vm = target.roots["voicemail"] / "2026/12/vm0.wav"  # type: ignore[operator]
    vm.write_bytes(b"changed since")
    with pytest.raises(backup.BackupError, match=r"refusing to overwrite: the database .* has tables"):
        backup.restore(archive, target)
    assert vm.read_bytes() == b"changed since"
    backup.restore(archive, target, force=True)
    assert backup.database_rows(target.database_url) == manifest.rows
    assert all(ok for _, _, ok in backup.checksums(target, manifest))
    db.engine_for(target.database_url).dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_full_disk_leaves_no_half_backup(
    live: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with disks.tmpfs(tmp_path / "small", "size=1m,mode=0700") as small:
        with pytest.raises(OSError):
            backup.create(live, small / "backups")
        assert list((small / "backups").iterdir()) == []
        for name, value in (("VAR_DIR", live.var_dir), ("DB_URL", live.db_url), ("RECORDING_DIR", live.recording_dir)):
            monkeypatch.setenv(f"ALO185_{name}", str(value))
        assert cli.main(["backup", "--dir", str(small / "backups")]) == 2
        assert "backup failed, no backup written" in capsys.readouterr().err
        assert list((small / "backups").iterdir()) == []


def test_prune_deletes_the_backups_older_than_the_period(tmp_path: Path) -> None:
    old, new = tmp_path / f"{backup.PREFIX}20260101T000000.000000Z.tar", tmp_path / f"{backup.PREFIX}x.tar"
    other = tmp_path / "keep-me.tar"
    for path in (old, new, other):
        path.write_bytes(b"x")
    os.utime(old, (time.time() - 91 * 86400,) * 2)
    os.utime(other, (time.time() - 91 * 86400,) * 2)
    assert backup.prune(tmp_path, 90) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([new.name, other.name])


def test_a_backup_of_an_older_schema_is_migrated_when_restored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old' / 'alo185.db'}"
    scripts = ScriptDirectory.from_config(db.alembic_config(url))
    head = scripts.get_current_head()
    assert head is not None
    newest = scripts.get_revision(head)
    assert newest is not None and isinstance(newest.down_revision, str)
    older = newest.down_revision
    db.migrate(url)
    command.downgrade(db.alembic_config(url), older)
    db.engine_for(url).dispose()
    path, manifest = backup.create(Settings(var_dir=tmp_path / "old", recording_dir=tmp_path / "rec"), tmp_path / "b")
    assert manifest.schema_revision == older

    target = backup.Target.new_dir(tmp_path / "restored")
    backup.restore(path, target)
    with db.engine_for(target.database_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
    db.engine_for(target.database_url).dispose()
