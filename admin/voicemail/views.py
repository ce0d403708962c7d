"""Voicemails in the admin: listen, read the transcript, correct the suggested category."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select

from admin import auth, context
from alo185.org.access import Perm
from alo185.tickets.models import Category, Ticket
from alo185.tickets.queries import recategorize
from alo185.voicemail.models import Voicemail

bp = Blueprint("voicemail", __name__, template_folder="templates")
auth.protect(bp, Perm.VOICEMAIL_WORK)
PAGE_SIZE = 100


@bp.get("/voicemails")
def list_voicemails() -> str:
    with context.sessions()() as s:
        rows = s.execute(
            select(Voicemail, Ticket)
            .outerjoin(Ticket, Ticket.id == Voicemail.ticket_id)
            .order_by(Voicemail.id.desc())
            .limit(PAGE_SIZE)
        ).all()
        categories = s.execute(select(Category.code, Category.name).where(Category.active.is_(True))).all()
        for _vm, ticket in rows:
            if ticket is not None:
                _ = ticket.category.code  # loaded for the template
        return render_template("voicemail/list.html", rows=rows, categories=categories)


@bp.get("/voicemails/<int:vm_id>/audio")
def audio(vm_id: int) -> Response:
    root = current_app.config["ALO185"].voicemail_path.resolve()
    with context.sessions()() as s:
        vm = s.get(Voicemail, vm_id)
        if vm is None:
            abort(404)
        path = (root / vm.audio_file).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True)


@bp.post("/voicemails/<int:vm_id>/category")
def set_category(vm_id: int) -> ResponseReturnValue:
    code = request.form.get("category", "")
    user = context.user()
    with context.sessions().begin() as s:
        vm = s.get(Voicemail, vm_id)
        ticket = s.get(Ticket, vm.ticket_id) if vm is not None and vm.ticket_id else None
        if ticket is None:
            abort(404)
        try:
            recategorize(s, ticket, code, actor=user)
        except ValueError as exc:
            s.rollback()
            flash(str(exc), "error")
            return redirect(url_for("voicemail.list_voicemails")), 303
        flash(gettext("%(number)s: kategori %(category)s", number=ticket.number, category=ticket.category.name), "ok")
    return redirect(url_for("voicemail.list_voicemails")), 303
