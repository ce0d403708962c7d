"""KVKK in the admin: the audit trail, retention rules with the destruction log, and anonymisation requests."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select

from admin import auth, context
from alo185.audit.models import AuditLog
from alo185.org.access import Perm
from alo185.privacy import retention
from alo185.privacy.anonymise import AnonymisationError, anonymise_citizen
from alo185.privacy.models import DestructionLog
from alo185.tickets.models import Citizen

bp = Blueprint("kvkk", __name__, url_prefix="/kvkk", template_folder="templates")
PAGE_SIZE = 200


@bp.get("/audit")
@auth.requires(Perm.AUDIT_VIEW)
def audit_log() -> str:
    """Newest first; filter by who and by what (e.g. every view of one citizen's record)."""
    actor = request.args.get("actor", "").strip()
    entity = request.args.get("entity", "").strip()
    entity_id = request.args.get("entity_id", "").strip()
    query = select(AuditLog).order_by(AuditLog.id.desc()).limit(PAGE_SIZE)
    if actor:
        query = query.where(AuditLog.actor == actor)
    if entity:
        query = query.where(AuditLog.entity == entity)
    if entity_id:
        query = query.where(AuditLog.entity_id == entity_id)
    with context.sessions()() as session:
        rows = session.scalars(query).all()
        return render_template("kvkk/audit.html", rows=rows, actor=actor, entity=entity, entity_id=entity_id)


@bp.get("/retention")
@auth.requires(Perm.RETENTION_MANAGE)
def retention_rules() -> str:
    with context.sessions()() as session:
        return render_template(
            "kvkk/retention.html",
            rules=retention.rules(session),
            kinds=retention.RECORD_TYPES,
            log=session.scalars(select(DestructionLog).order_by(DestructionLog.id.desc()).limit(100)).all(),
        )


@bp.post("/retention/<record_type>")
@auth.requires(Perm.RETENTION_MANAGE)
def set_retention(record_type: str) -> ResponseReturnValue:
    raw = request.form.get("keep_days", "")
    if not raw.isdigit():
        abort(400, gettext("Saklama süresi gün olarak bir tam sayı olmalıdır."))
    with context.sessions()() as session:
        try:
            retention.set_rule(session, record_type, int(raw), actor=auth.current().username)
        except retention.RetentionError as refused:
            session.rollback()
            abort(400, refused.message_tr)
        session.commit()
    flash(gettext("Saklama süresi güncellendi."), "ok")
    return redirect(url_for("kvkk.retention_rules"), code=303)


@bp.post("/citizens/<int:citizen_id>/anonymise")
@auth.requires(Perm.ANONYMISE)
def anonymise(citizen_id: int) -> ResponseReturnValue:
    """A KVKK erasure request: the person's data goes, their tickets stay in the statistics."""
    with context.sessions()() as session:
        citizen = session.get(Citizen, citizen_id)
        if citizen is None:
            abort(404)
        try:
            anonymise_citizen(
                session,
                citizen,
                actor=auth.current().username,
                reason=request.form.get("reason", ""),
                voicemail_dir=current_app.config["ALO185"].voicemail_path,
            )
        except AnonymisationError as refused:
            session.rollback()
            abort(400, refused.message_tr)
        session.commit()
    flash(gettext("Kişisel veriler anonimleştirildi."), "ok")
    return redirect(url_for("tickets.show_citizen", citizen_id=citizen_id), code=303)
