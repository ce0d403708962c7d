"""Non-conforming service and corrective actions (DİF) in the admin: thin forms over ``alo185.quality``.

Who may take each step is decided there (the role matrix, and "a manager of this directorate");
here the pages need QUALITY_VIEW (recording a finding from a ticket needs only NONCONFORMITY_RECORD),
and directorate staff are kept to their own directorate's records, as with tickets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin import auth, context
from alo185.org import access
from alo185.org.access import Perm
from alo185.org.models import Institution, InstitutionKind
from alo185.quality import corrective, nonconformity
from alo185.quality.models import CorrectiveAction, CorrectiveActionEvidence, CorrectiveActionStep, Nonconformity
from alo185.quality.procedure import QualityError
from alo185.tickets import queries, workflow
from alo185.tickets.sla import LOCAL

bp = Blueprint("quality", __name__, url_prefix="/quality", template_folder="templates")
T = TypeVar("T")


def _in_scope(directorate_id: int | None) -> bool:
    user = auth.current()
    return access.sees_directorate(user.role, user.directorate_id, directorate_id)


def _get(session: Session, model: type[Any], record_id: int) -> Any:
    record = session.get(model, record_id)
    if record is None or not _in_scope(record.directorate_id):
        abort(404)
    return record


@bp.get("/")
@auth.requires(Perm.QUALITY_VIEW)
def overview() -> str:
    user = auth.current()
    scope = access.directorate_scope(user.role, user.directorate_id)
    with context.sessions()() as session:
        query = select(Nonconformity).order_by(Nonconformity.created_at.desc()).limit(200)
        if scope is not None:
            query = query.where(Nonconformity.directorate_id == scope)
        return render_template(
            "quality/overview.html",
            nonconformities=session.scalars(query).all(),
            actions=corrective.open_items(session, scope),
            statuses=corrective.STATUS_TR,
        )


def _commit(session: Session, step: Callable[[], T], done: str) -> T:
    """Run one step of the procedure and commit it, or roll back and answer 400 with the reason."""
    try:
        result = step()
    except QualityError as refused:
        session.rollback()
        abort(400, refused.message_tr)
    session.commit()
    flash(done, "ok")
    return result


@bp.post("/tickets/<number>/nonconformity")
@auth.requires(Perm.NONCONFORMITY_RECORD)
def record(number: str) -> ResponseReturnValue:
    with context.sessions()() as session:
        ticket = queries.find_by_number(session, number)
        if ticket is None or not _in_scope(ticket.directorate_id):
            abort(404)
        finding = request.form.get("finding", "")
        nc = _commit(
            session,
            lambda: nonconformity.record_nonconformity(session, ticket, finding=finding, actor=auth.current().username),
            "Uygunsuzluk kaydedildi.",
        )
        if auth.current().can(Perm.QUALITY_VIEW):
            return redirect(url_for("quality.show_nonconformity", nc_id=nc.id), code=303)
        return redirect(url_for("tickets.show_ticket", number=number), code=303)


@bp.get("/nc/<int:nc_id>")
@auth.requires(Perm.QUALITY_VIEW)
def show_nonconformity(nc_id: int) -> str:
    with context.sessions()() as session:
        nc = _get(session, Nonconformity, nc_id)
        institutions = session.scalars(
            select(Institution).where(Institution.kind != InstitutionKind.METROPOLITAN).order_by(Institution.name)
        ).all()
        return render_template(
            "quality/nonconformity.html",
            nc=nc,
            institutions=institutions,
            decisions=nonconformity.DECISION_TR,
            statuses=corrective.STATUS_TR,
            ticket_statuses=workflow.STATUS_TR,
        )


@bp.post("/nc/<int:nc_id>/decision")
@auth.requires(Perm.QUALITY_VIEW)
def decide(nc_id: int) -> ResponseReturnValue:
    form = request.form
    with context.sessions()() as session:
        nc = _get(session, Nonconformity, nc_id)
        institution = session.scalar(select(Institution).where(Institution.code == form.get("institution", "")))
        decision = form.get("decision", "")
        if decision not in nonconformity.DECISION_TR:
            abort(400, f"unknown decision {decision!r}")
        _commit(
            session,
            lambda: nonconformity.decide(
                session, nc, decision, actor=auth.current().username, note=form.get("note", ""), institution=institution
            ),
            "Karar kaydedildi.",
        )
    return redirect(url_for("quality.show_nonconformity", nc_id=nc_id), code=303)


@bp.post("/nc/<int:nc_id>/dif")
@auth.requires(Perm.QUALITY_VIEW)
def open_dif(nc_id: int) -> ResponseReturnValue:
    with context.sessions()() as session:
        nc = _get(session, Nonconformity, nc_id)
        problem = request.form.get("problem", "")
        ca = _commit(
            session,
            lambda: corrective.open_corrective_action(session, nc, problem=problem, actor=auth.current().username),
            gettext("DİF açıldı."),
        )
        return redirect(url_for("quality.show_dif", ca_id=ca.id), code=303)


@bp.get("/dif/<int:ca_id>")
@auth.requires(Perm.QUALITY_VIEW)
def show_dif(ca_id: int) -> str:
    with context.sessions()() as session:
        ca = _get(session, CorrectiveAction, ca_id)
        return render_template("quality/dif.html", ca=ca, statuses=corrective.STATUS_TR)


def parse_steps(text: str) -> list[corrective.StepPlan]:
    """One step per line: ``what | username | 31.12.2026`` (the last two optional)."""
    steps = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts[0]:
            continue
        assignee = parts[1] if len(parts) > 1 and parts[1] else None
        due = None
        if len(parts) > 2 and parts[2]:
            try:
                day = datetime.strptime(parts[2], "%d.%m.%Y").date()
            except ValueError as bad:
                raise QualityError(
                    f"bad date {parts[2]!r}", gettext("Geçersiz tarih: %(value)s (GG.AA.YYYY)", value=parts[2])
                ) from bad
            due = datetime.combine(day, time(17, 30), LOCAL).astimezone(UTC)
        steps.append(corrective.StepPlan(parts[0], assignee, due))
    return steps


def _dif_step(ca_id: int, run: Callable[[Session, CorrectiveAction, str], object], done: str) -> ResponseReturnValue:
    with context.sessions()() as session:
        ca = _get(session, CorrectiveAction, ca_id)
        actor = auth.current().username
        _commit(session, lambda: run(session, ca, actor), done)
    return redirect(url_for("quality.show_dif", ca_id=ca_id), code=303)


@bp.post("/dif/<int:ca_id>/plan")
@auth.requires(Perm.QUALITY_VIEW)
def plan(ca_id: int) -> ResponseReturnValue:
    form = request.form
    return _dif_step(
        ca_id,
        lambda s, ca, actor: corrective.plan(
            s, ca, plan=form.get("plan", ""), steps=parse_steps(form.get("steps", "")), actor=actor
        ),
        gettext("Eylem planı kaydedildi."),
    )


@bp.post("/dif/<int:ca_id>/steps/<int:step_id>/done")
@auth.requires(Perm.QUALITY_VIEW)
def step_done(ca_id: int, step_id: int) -> ResponseReturnValue:
    def run(s: Session, ca: CorrectiveAction, actor: str) -> None:
        step = s.get(CorrectiveActionStep, step_id)
        if step is None or step.corrective_action_id != ca.id:
            abort(404)
        corrective.complete_step(s, step, actor=actor, note=request.form.get("note") or None)

    return _dif_step(ca_id, run, gettext("Adım tamamlandı."))


@bp.post("/dif/<int:ca_id>/evidence")
@auth.requires(Perm.QUALITY_VIEW)
def upload_evidence(ca_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        abort(400, "no file")
    data = upload.read()
    evidence_dir = current_app.config["ALO185"].evidence_path
    return _dif_step(
        ca_id,
        lambda s, ca, actor: corrective.add_evidence(
            s, ca, file_name=upload.filename or "", data=data, actor=actor, evidence_dir=evidence_dir
        ),
        gettext("Kanıt dosyası eklendi."),
    )


@bp.get("/dif/<int:ca_id>/evidence/<int:evidence_id>")
@auth.requires(Perm.QUALITY_VIEW)
def evidence(ca_id: int, evidence_id: int) -> Response:
    with context.sessions()() as session:
        _get(session, CorrectiveAction, ca_id)
        row = session.get(CorrectiveActionEvidence, evidence_id)
        if row is None or row.corrective_action_id != ca_id:
            abort(404)
        path = current_app.config["ALO185"].evidence_path / row.stored_as
        if not path.is_file():
            abort(404)
        return send_file(path, download_name=row.file_name, as_attachment=True)


@bp.post("/dif/<int:ca_id>/submit")
@auth.requires(Perm.QUALITY_VIEW)
def submit(ca_id: int) -> ResponseReturnValue:
    return _dif_step(
        ca_id, lambda s, ca, actor: corrective.submit(s, ca, actor=actor), gettext("Müdür onayına gönderildi.")
    )


@bp.post("/dif/<int:ca_id>/approve")
@auth.requires(Perm.QUALITY_VIEW)
def approve(ca_id: int) -> ResponseReturnValue:
    return _dif_step(ca_id, lambda s, ca, actor: corrective.approve(s, ca, actor=actor), gettext("DİF onaylandı."))


@bp.post("/dif/<int:ca_id>/reject")
@auth.requires(Perm.QUALITY_VIEW)
def reject(ca_id: int) -> ResponseReturnValue:
    note = request.form.get("note", "")
    return _dif_step(
        ca_id, lambda s, ca, actor: corrective.reject(s, ca, actor=actor, note=note), gettext("DİF geri çevrildi.")
    )


@bp.post("/dif/<int:ca_id>/close")
@auth.requires(Perm.QUALITY_VIEW)
def close(ca_id: int) -> ResponseReturnValue:
    note = request.form.get("note", "")
    return _dif_step(
        ca_id, lambda s, ca, actor: corrective.close(s, ca, actor=actor, note=note), gettext("DİF kapatıldı.")
    )
