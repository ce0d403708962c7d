"""DİF (düzeltici / iyileştirici faaliyet): the directorate's corrective action on a non-conformity.

The life of a DİF, and who moves it (``Perm`` in ``alo185.org.access``)::

    open ──plan──▶ planned ──submit──▶ done ──approve──▶ approved ──close──▶ closed
    (quality)      (its manager)       (its staff)       (its manager)       (quality)
                     ▲  │ re-plan          │ reject (with a note)
                     └──┴──────────────────┘

Everything a directorate does (plan, steps, evidence, submit, approve, reject) is done only by
staff of the DİF's own directorate. Re-planning is allowed while the DİF is ``open`` or ``planned``
(also after a rejection): the plan text is replaced and the new steps are added; steps already done
and steps that have evidence attached stay, being records of work; the other open steps are
deleted, never having been worked on. Steps may be completed by any of the directorate's staff
(``done_by`` records who), not only their assignee, so an absence does not block the DİF.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.org.access import Perm
from alo185.org.models import User
from alo185.quality.models import (
    CorrectiveAction,
    CorrectiveActionEvidence,
    CorrectiveActionStatus,
    CorrectiveActionStep,
    Nonconformity,
)
from alo185.quality.procedure import QualityError, audit, aware, required_text, staff

S = CorrectiveActionStatus
STATUS_TR = {
    S.OPEN: "açık",
    S.PLANNED: "planlandı",
    S.DONE: "müdür onayı bekliyor",
    S.APPROVED: "müdür onaylı",
    S.CLOSED: "kapatıldı",
}
MAX_EVIDENCE_BYTES = 20 * 1024 * 1024
EVIDENCE_TYPES = frozenset({"pdf", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx", "odt", "ods", "txt"})
MAX_NAME_CHARS = 200  # CorrectiveActionEvidence.file_name
UNSAFE_CHARS = re.compile(r"[^\w.-]")


@dataclass(frozen=True)
class StepPlan:
    """One action of a plan as the manager writes it; ``assignee`` is a username of the directorate."""

    description: str
    assignee: str | None = None
    due_at: datetime | None = None


def open_corrective_action(
    session: Session, nc: Nonconformity, *, problem: str, actor: str, now: datetime | None = None
) -> CorrectiveAction:
    """Define a DİF for the non-conformity's directorate; one unclosed DİF per non-conformity at a time."""
    now = aware(now)
    staff(session, actor, Perm.DIF_OPEN)
    text = required_text(problem, "problem", "Problem tanımı")
    if nc.directorate_id is None:
        raise QualityError(
            f"non-conformity {nc.id} has no directorate", "Bu uygunsuzluk kaydının sorumlu müdürlüğü belli değil."
        )
    if any(ca.status != S.CLOSED for ca in nc.corrective_actions):
        raise QualityError(
            f"non-conformity {nc.id} already has an unclosed DİF",
            "Bu uygunsuzluk kaydı için kapatılmamış bir DİF zaten var.",
        )
    ca = CorrectiveAction(
        nonconformity=nc, directorate_id=nc.directorate_id, status=S.OPEN, problem=text, opened_by=actor, created_at=now
    )
    session.add(ca)
    audit(session, ca, actor=actor, action="dif.open", detail=f"non-conformity {nc.id}", now=now)
    return ca


def plan(
    session: Session,
    ca: CorrectiveAction,
    *,
    plan: str,
    steps: Sequence[StepPlan],
    actor: str,
    now: datetime | None = None,
) -> None:
    """The directorate manager's action plan (or a new one: see the module's re-plan rule)."""
    now = aware(now)
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_PLAN)
    _require_status(ca, S.OPEN, S.PLANNED)
    text = required_text(plan, "action plan", "Eylem planı")
    if not steps:
        raise QualityError("a plan needs at least one step", "Eylem planında en az bir adım olmalıdır.")
    checked = [_checked_step(session, ca, step) for step in steps]
    replanned = ca.status == S.PLANNED
    dropped = [step for step in ca.steps if not _worked_on(ca, step)]
    for step in dropped:
        ca.steps.remove(step)
        session.delete(step)
    for description, assignee, due_at in checked:
        session.add(
            CorrectiveActionStep(corrective_action=ca, description=description, assignee=assignee, due_at=due_at)
        )
    ca.action_plan, ca.planned_by, ca.status = text, actor, S.PLANNED
    ca.due_at = max((step.due_at for step in ca.steps if step.due_at is not None), default=None)
    detail = f"{len(checked)} steps" + (f", re-plan replacing {len(dropped)} open steps" if replanned else "")
    audit(session, ca, actor=actor, action="dif.plan", detail=detail, now=now)


def _checked_step(session: Session, ca: CorrectiveAction, step: StepPlan) -> tuple[str, User | None, datetime | None]:
    """A planned step's description, assignee and due time, refused before anything is changed."""
    description = required_text(step.description, "step description", "Adım açıklaması")
    if step.due_at is not None and step.due_at.tzinfo is None:
        raise ValueError("a step's due_at must be timezone-aware")
    if step.assignee is None:
        return description, None, step.due_at
    try:
        assignee = _directorate_staff(session, ca.directorate_id, step.assignee, Perm.DIF_ACT)
    except QualityError as refused:
        raise QualityError(
            f"step assignee refused: {refused}", f"Adım sorumlusu uygun değil: {refused.message_tr}"
        ) from refused
    return description, assignee, step.due_at


def _worked_on(ca: CorrectiveAction, step: CorrectiveActionStep) -> bool:
    return step.done_at is not None or any(evidence.step_id == step.id for evidence in ca.evidence_files)


def complete_step(
    session: Session, step: CorrectiveActionStep, *, actor: str, note: str | None = None, now: datetime | None = None
) -> None:
    """Mark one action done, once, while the DİF is being carried out."""
    now = aware(now)
    ca = step.corrective_action
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_ACT)
    _require_status(ca, S.PLANNED)
    if step.done_at is not None:
        raise QualityError(
            f"step {step.id} was already done by {step.done_by}",
            f"Bu adım {step.done_by} tarafından zaten tamamlanmış.",
        )
    step.done_at, step.done_by, step.note = now, actor, (note or "").strip() or None
    audit(session, ca, actor=actor, action="dif.step_done", detail=f"step {step.id}", now=now)


def add_evidence(
    session: Session,
    ca: CorrectiveAction,
    *,
    file_name: str,
    data: bytes,
    actor: str,
    evidence_dir: Path,
    step: CorrectiveActionStep | None = None,
    now: datetime | None = None,
) -> CorrectiveActionEvidence:
    """Store a file proving the work under ``evidence_dir/YYYY/MM/`` and record it.

    The file is in place before its row is flushed (a recorded file always exists) and removed again
    if the flush fails. A rollback by the caller after this returns leaves an unrecorded file behind.
    """
    now = aware(now)
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_ACT)
    _require_status(ca, S.PLANNED)
    if step is not None and step.corrective_action_id != ca.id:
        raise QualityError(f"step {step.id} belongs to another DİF", "Seçilen adım bu DİF'e ait değil.")
    uploaded, safe = _evidence_names(file_name)
    _check_size(data)
    digest = hashlib.sha256(data).hexdigest()
    if any(evidence.sha256 == digest for evidence in ca.evidence_files):
        raise QualityError(f"this file is already evidence of DİF {ca.id}", "Bu dosya bu DİF'e zaten yüklenmiş.")
    relative = f"{now:%Y/%m}/{ca.id}-{digest[:12]}-{safe}"
    target = evidence_dir / relative
    created = not target.exists()  # a leftover of an earlier, rolled-back upload is the same content
    _write_atomically(target, data)
    row = CorrectiveActionEvidence(
        corrective_action=ca,
        step_id=step.id if step is not None else None,
        file_name=uploaded,
        stored_as=relative,
        sha256=digest,
        size=len(data),
        uploaded_by=actor,
        uploaded_at=now,
    )
    try:
        session.add(row)
        audit(session, ca, actor=actor, action="dif.evidence", detail=f"{relative} ({len(data)} bytes)", now=now)
    except BaseException:
        if created:
            target.unlink(missing_ok=True)
        raise
    return row


def _evidence_names(file_name: str) -> tuple[str, str]:
    """The uploaded name without any directory part, and its file-system-safe form."""
    uploaded = re.split(r"[\\/]", file_name or "")[-1].strip()
    safe = UNSAFE_CHARS.sub("_", uploaded).lstrip("._")  # no hidden files, nothing like ".."
    if not safe or len(uploaded) > MAX_NAME_CHARS or any(unicodedata.category(c)[0] == "C" for c in uploaded):
        raise QualityError(f"unusable file name {file_name!r}", "Dosya adı geçersiz.")
    extension = safe.rpartition(".")[2].lower() if "." in safe else ""
    if extension not in EVIDENCE_TYPES:
        raise QualityError(
            f"file type {extension or '(none)'} is not accepted",
            "Bu dosya türü kabul edilmiyor; kabul edilenler: " + ", ".join(sorted(EVIDENCE_TYPES)) + ".",
        )
    return uploaded, safe


def _check_size(data: bytes) -> None:
    if not data:
        raise QualityError("the file is empty", "Dosya boş.")
    if len(data) > MAX_EVIDENCE_BYTES:
        raise QualityError(
            f"the file is larger than {MAX_EVIDENCE_BYTES} bytes",
            f"Dosya {MAX_EVIDENCE_BYTES // (1024 * 1024)} MB'tan büyük olamaz.",
        )


def _write_atomically(target: Path, data: bytes) -> None:
    """Write via a synced temporary file in the same directory, so a crash never leaves half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)


def submit(session: Session, ca: CorrectiveAction, *, actor: str, now: datetime | None = None) -> None:
    """The directorate reports the DİF done: every step done and at least one evidence file."""
    now = aware(now)
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_ACT)
    _require_status(ca, S.PLANNED)
    open_steps = [step for step in ca.steps if step.done_at is None]
    if open_steps:
        raise QualityError(
            f"{len(open_steps)} steps of DİF {ca.id} are not done",
            f"DİF'in {len(open_steps)} adımı henüz tamamlanmadı.",
        )
    if not ca.evidence_files:
        raise QualityError(
            f"DİF {ca.id} has no evidence file", "DİF'i tamamlamak için en az bir kanıt dosyası gerekir."
        )
    _move(session, ca, S.DONE, actor=actor, action="dif.submit", detail="submitted for approval", now=now)


def approve(session: Session, ca: CorrectiveAction, *, actor: str, now: datetime | None = None) -> None:
    """The directorate manager accepts the work; the DİF goes on to the quality unit for closure."""
    now = aware(now)
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_APPROVE)
    _require_status(ca, S.DONE)
    ca.approved_by, ca.approved_at = actor, now
    _move(session, ca, S.APPROVED, actor=actor, action="dif.approve", detail="approved", now=now)


def reject(session: Session, ca: CorrectiveAction, *, actor: str, note: str, now: datetime | None = None) -> None:
    """The manager sends the work back; steps stay as they are, the manager may re-plan."""
    now = aware(now)
    _directorate_staff(session, ca.directorate_id, actor, Perm.DIF_APPROVE)
    _require_status(ca, S.DONE)
    text = required_text(note, "reason for the rejection", "Ret gerekçesi")
    _move(session, ca, S.PLANNED, actor=actor, action="dif.reject", detail=text, now=now)


def close(session: Session, ca: CorrectiveAction, *, actor: str, note: str, now: datetime | None = None) -> None:
    """The quality unit (Entegre Yönetim Sistemleri) closes an approved DİF."""
    now = aware(now)
    staff(session, actor, Perm.DIF_CLOSE)
    _require_status(ca, S.APPROVED)
    text = required_text(note, "closure note", "Kapanış notu")
    ca.closed_by, ca.closed_at, ca.closure_note = actor, now, text
    _move(session, ca, S.CLOSED, actor=actor, action="dif.close", detail=text, now=now)


def open_items(session: Session, directorate_id: int | None) -> list[CorrectiveAction]:
    """DİFs not closed yet, oldest first; of one directorate, or of all when ``directorate_id`` is None."""
    query = select(CorrectiveAction).where(CorrectiveAction.status != S.CLOSED)
    if directorate_id is not None:
        query = query.where(CorrectiveAction.directorate_id == directorate_id)
    return list(session.scalars(query.order_by(CorrectiveAction.created_at, CorrectiveAction.id)))


def _directorate_staff(session: Session, directorate_id: int, username: str, perm: Perm) -> User:
    """``staff`` who also belong to the DİF's directorate: directorates act only on their own DİFs."""
    user = staff(session, username, perm)
    if user.directorate_id != directorate_id:
        raise QualityError(
            f"{username!r} is not staff of directorate {directorate_id}",
            f"{username} bu DİF'in müdürlüğünde görevli değil.",
        )
    return user


def _require_status(ca: CorrectiveAction, *allowed: CorrectiveActionStatus) -> None:
    if ca.status in allowed:
        return
    raise QualityError(
        f"DİF {ca.id} is {ca.status}, expected {' or '.join(allowed)}",
        f"Bu işlem DİF “{STATUS_TR[S(ca.status)]}” durumundayken yapılamaz.",
    )


def _move(
    session: Session,
    ca: CorrectiveAction,
    target: CorrectiveActionStatus,
    *,
    actor: str,
    action: str,
    detail: str,
    now: datetime,
) -> None:
    ca.status = target
    audit(session, ca, actor=actor, action=action, detail=detail, now=now)
