"""Personal files and their crash-safe destruction, for ``retention`` and ``anonymise``.

Both blank or delete rows and delete the files those rows name (voicemail recordings, survey
comments, stored attachments, recordings of operator calls, DİF evidence). The order is what makes a crash harmless:

1. the rows stop naming the files, in the caller's transaction (``shred_after_commit`` notes the files);
2. just before COMMIT the names are written to a journal, ``<root>/.pending-destruction/<uuid>.json``;
3. after COMMIT the files are unlinked and the journal removed; after a ROLLBACK only the journal goes.

So no row ever names a deleted file (files go only once the change is committed), and a crash between
the commit and the unlinking cannot leave a recording on disk that nothing refers to any more: the
journal survives it, and ``recover`` (run by every retention run) deletes each file it lists that no
row names, then the journal. A rolled-back change still names its files, so they are kept. A file
that is already missing is fine. Channel media ids and URLs (``whatsapp:…``, ``https://…``) are not
ours to delete; only their references are blanked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy import event, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from alo185.calls.models import CallRecord
from alo185.quality.models import CorrectiveActionEvidence
from alo185.surveys.models import SurveyComment
from alo185.tickets.models import TicketAttachment
from alo185.voicemail.models import Voicemail

log = logging.getLogger(__name__)

JOURNAL_DIR = ".pending-destruction"
# A journal this fresh may belong to a transaction that is committing right now in another process.
RECOVER_AFTER_S = 600
_SESSION_KEY = "alo185.privacy.files"


class Store(StrEnum):
    """A directory of personal files: the voicemail archive (settings.voicemail_path), DİF evidence, or the
    recordings of operator calls (``alo185.core.asterisk.recordings_dir``)."""

    VOICEMAIL = "voicemail"
    EVIDENCE = "evidence"
    RECORDING = "recording"


# Every column that names a file in a store, relative to the store's root (a recording's may be NULL).
REFERENCES: dict[Store, tuple[InstrumentedAttribute[str | None], ...]] = {
    Store.VOICEMAIL: (Voicemail.audio_file, SurveyComment.audio_file, TicketAttachment.ref),
    Store.EVIDENCE: (CorrectiveActionEvidence.stored_as,),
    Store.RECORDING: (CallRecord.recording_ref,),
}
Roots = dict[Store, Path | None]


def file_column(model: type) -> tuple[InstrumentedAttribute[str | None], Store] | None:
    """The column of ``model`` that names a file, and its store; None for records without files."""
    for store, columns in REFERENCES.items():
        for column in columns:
            if column.class_ is model:
                return column, store
    return None


def local_path(root: Path, name: str) -> Path | None:
    """Where ``name`` lives under ``root``; None for blanks, channel references and paths leaving ``root``."""
    if not name or ":" in name:
        return None
    base = root.resolve()
    path = (base / name).resolve()
    return path if path.is_relative_to(base) and path != base else None


def unreferenced(session: Session, store: Store, names: Iterable[str]) -> set[str]:
    """The names no row of the store names any more (visible to this session's transaction)."""
    left = set(names)
    for column in REFERENCES[store]:
        if left:
            left -= set(session.scalars(select(column).where(column.in_(left))))
    return left


@dataclass
class _Pending:
    """The files one session's transaction has let go of, by (store, root), and their journals."""

    files: dict[tuple[Store, Path], set[str]] = field(default_factory=dict)
    journals: list[Path] = field(default_factory=list)

    def write_journals(self) -> None:
        for (store, root), names in self.files.items():
            if names:
                self.journals.append(_write_journal(root, store, sorted(names)))

    def delete_files(self) -> None:
        for (_store, root), names in self.files.items():
            removed = sum(_unlink(root, name) for name in names)
            log.info("deleted %d of %d personal files under %s", removed, len(names), root)
        self.forget()

    def forget(self) -> None:
        for journal in self.journals:
            journal.unlink(missing_ok=True)
        self.files.clear()
        self.journals.clear()


def shred_after_commit(session: Session, store: Store, root: Path | None, names: Iterable[str | None]) -> int:
    """Delete these files once the session's transaction commits; returns how many will go.

    Call it after the rows stopped naming them: a file another row still names is kept.
    """
    if root is None:
        return 0
    candidates = {name for name in names if name and local_path(root, name) is not None}
    wanted = unreferenced(session, store, candidates) if candidates else set()
    if not wanted:
        return 0
    pending = _pending(session)
    pending.files.setdefault((store, root), set()).update(wanted)
    return len(wanted)


def recover(session: Session, roots: Iterable[Path | None], older_than_s: float = RECOVER_AFTER_S) -> int:
    """Finish the deletions a crash interrupted (see the module docstring); returns files removed."""
    removed = 0
    for root in (r for r in roots if r is not None):
        folder = root / JOURNAL_DIR
        if not folder.is_dir():
            continue
        for journal in sorted(folder.glob("*.json")):
            if time.time() - journal.stat().st_mtime < older_than_s:
                continue
            entry = json.loads(journal.read_text())
            names = unreferenced(session, Store(entry["store"]), entry["names"])
            removed += sum(_unlink(root, name) for name in names)
            journal.unlink(missing_ok=True)
    return removed


def _pending(session: Session) -> _Pending:
    """This session's pending files; the first call hooks the deletion to the session's commits."""
    pending = session.info.get(_SESSION_KEY)
    if pending is None:
        pending = session.info[_SESSION_KEY] = _Pending()
        event.listen(session, "before_commit", _on_before_commit)
        event.listen(session, "after_commit", _on_after_commit)
        event.listen(session, "after_rollback", _on_after_rollback)
    return pending


# Savepoints fire the same events; only the outermost transaction's commit makes a change durable.
def _on_before_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info[_SESSION_KEY].write_journals()


def _on_after_commit(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info[_SESSION_KEY].delete_files()


def _on_after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info[_SESSION_KEY].forget()


def _write_journal(root: Path, store: Store, names: list[str]) -> Path:
    """The names, durably on disk before the COMMIT that lets them go."""
    folder = root / JOURNAL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.json"
    partial = path.with_suffix(".partial")
    with partial.open("w") as fh:
        json.dump({"store": store.value, "names": names}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def _unlink(root: Path, name: str) -> int:
    path = local_path(root, name)
    if path is None:
        return 0
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        return 1
    return 0
