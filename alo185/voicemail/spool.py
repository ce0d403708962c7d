"""Where a voicemail's audio lives, and the durable job that says it is ready.

Asterisk records into ``<spool>/recording/<uniqueid>.wav``. When the call ends the recording is
moved, whole, into ``<voicemail_dir>/inbox/`` and a job goes on the ``alo185:voicemail-jobs``
stream (Redis with AOF; a consumer group acks only after the ticket is committed). The worker
then files the audio under ``<voicemail_dir>/YYYY/MM/``. Each move is an atomic rename, so a
file is always complete and in exactly one place; a recording whose hand-over never happened
(the hook failed) is swept up later.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import redis

from alo185.core import bus, disk
from alo185.core.asterisk import VOICEMAIL_RECORDING, Asterisk
from alo185.core.settings import Settings

JOBS = "alo185:voicemail-jobs"
GROUP = "transcribers"
# A recording shorter than this holds no message (Record's header alone is 44 bytes).
MIN_AUDIO_BYTES = 1600
# A survey comment is filed like a voicemail, under the call's uniqueid and this suffix.
KINDS = {"voicemail": "", "comment": "-comment"}
# A copy across file systems is written under this suffix and renamed when whole.
PARTIAL = ".partial"


@dataclass
class Job:
    uniqueid: str
    caller: str = ""
    ivr_path: str = ""
    reason: str = ""
    lang: str = "tr"
    kind: str = "voicemail"  # or "comment" (a survey's spoken comment)
    queued_at: float = field(default_factory=time.time)
    swept: bool = False  # found by the sweep: the call's details come from its call record

    def to_fields(self) -> dict[str, str]:
        """As a stream entry: the same shape as a call event, so ``bus.read_group`` reads both."""
        return {"event": json.dumps(asdict(self), ensure_ascii=False)}

    @classmethod
    def from_event(cls, raw: dict[str, Any]) -> Job:
        if not raw.get("uniqueid") or raw.get("kind", "voicemail") not in KINDS:
            raise ValueError(f"not a voicemail job: {raw!r}")
        return cls(**{k: v for k, v in raw.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Dirs:
    recording: Path  # where Asterisk writes (inside the PBX's spool)
    voicemail: Path  # the archive: inbox/ and YYYY/MM/

    @property
    def inbox(self) -> Path:
        return self.voicemail / "inbox"

    def archived(self, job: Job) -> Path:
        when = datetime.fromtimestamp(job.queued_at, UTC)
        return self.voicemail / f"{when:%Y}" / f"{when:%m}" / f"{file_stem(job.uniqueid, job.kind)}.wav"

    def ensure(self) -> None:
        for path in (self.recording, self.inbox):
            path.mkdir(parents=True, exist_ok=True)


def message_bytes(max_s: int) -> int:
    """The largest file Record() writes for a message of ``max_s`` seconds (8 kHz, 16-bit WAV) and its header."""
    return max_s * 8000 * 2 + 44


def dirs_for(settings: Settings) -> Dirs:
    recording = Asterisk.locate(settings).instance_dir.joinpath("spool", *VOICEMAIL_RECORDING)
    return Dirs(recording=recording, voicemail=settings.voicemail_path)


def file_stem(uniqueid: str, kind: str = "voicemail") -> str:
    return safe_name(uniqueid) + KINDS[kind]


def job_for_file(stem: str) -> Job:
    """The job of a recording found by its name alone (the sweep)."""
    for kind, suffix in KINDS.items():
        if suffix and stem.endswith(suffix):
            return Job(stem[: -len(suffix)], kind=kind, swept=True)
    return Job(stem, swept=True)


def safe_name(uniqueid: str) -> str:
    """A uniqueid as a file name; refuses anything that could leave the directory."""
    if not uniqueid or not all(c.isalnum() or c in ".-_" for c in uniqueid) or uniqueid.startswith("."):
        raise ValueError(f"not a call uniqueid: {uniqueid!r}")
    return uniqueid


def move_atomic(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; across file systems, copy to a temporary name, sync, then rename."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = dst.with_name(dst.name + PARTIAL)
    try:
        with src.open("rb") as fin, partial.open("wb") as fout:
            shutil.copyfileobj(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())
        os.replace(partial, dst)
    except BaseException:
        partial.unlink(missing_ok=True)  # a full disk: the source is still whole, the next try starts over
        raise
    src.unlink()


def hand_over(client: redis.Redis, dirs: Dirs, job: Job) -> bool:
    """Move the finished recording to the inbox and queue its job; False if there is no message.

    Moving first and queueing second: a crash in between leaves the file in the inbox, where the
    sweep finds it. Queueing twice is harmless (the worker keys on the uniqueid).
    """
    name = f"{file_stem(job.uniqueid, job.kind)}.wav"
    src, dst = dirs.recording / name, dirs.inbox / name
    if src.exists():
        if src.stat().st_size < MIN_AUDIO_BYTES:
            src.unlink()  # the caller hung up at the beep: nothing to keep
            return False
        move_atomic(src, dst)
    if not dst.exists():
        return False
    # redis-py types ``fields`` as a dict of its own unions: invariant, so a dict[str, str] is refused
    client.xadd(JOBS, job.to_fields())  # type: ignore[arg-type]
    return True


def sweep(client: redis.Redis, dirs: Dirs, older_than_s: float, queued: set[str]) -> list[str]:
    """Hand over recordings nobody handed over: finished long ago, or in the inbox without a job.

    A copy a crash left half-done (``.partial``) goes first: its source is still whole where it was.
    """
    found: list[str] = []
    now = time.time()
    for partial in sorted(dirs.inbox.glob(f"*{PARTIAL}")) if dirs.inbox.exists() else []:
        if now - partial.stat().st_mtime >= older_than_s:
            partial.unlink(missing_ok=True)
    for folder in (dirs.recording, dirs.inbox):
        for path in sorted(folder.glob("*.wav")) if folder.exists() else []:
            if path.stem in queued or path.stem in found or now - path.stat().st_mtime < older_than_s:
                continue
            if hand_over(client, dirs, job_for_file(path.stem)):
                found.append(path.stem)
    return found


def queued_ids(client: redis.Redis) -> set[str]:
    """File stems with a job still on the stream (done jobs are deleted after their ack)."""
    entries = cast(bus.Entries, client.xrange(JOBS))
    jobs = (Job.from_event(json.loads(fields["event"])) for _id, fields in entries if "event" in fields)
    return {file_stem(job.uniqueid, job.kind) for job in jobs}


def disk_problems(dirs: Dirs, min_free_bytes: int) -> list[str]:
    """What keeps voicemails from being recorded or kept: a directory not writable or short of space.

    The recording directory only where it is (the PBX may be on another machine); the archive, or
    the directory it will be made in.
    """
    archive = dirs.inbox
    while not archive.exists() and archive != archive.parent:
        archive = archive.parent
    paths = [dirs.recording, archive] if dirs.recording.exists() else [archive]
    return [p for p in (disk.problem(path, min_free_bytes) for path in paths) if p is not None]
