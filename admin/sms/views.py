"""Text messages in the admin: the outbox (numbers as the role may see them) and the Turkish templates, editable."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from sqlalchemy import select

from admin import auth, context
from alo185.org.access import Perm
from alo185.sms import templates
from alo185.sms.models import SmsMessage, SmsTemplate

bp = Blueprint("sms", __name__, url_prefix="/sms", template_folder="templates")


@bp.get("/")
@auth.requires(Perm.SMS_OUTBOX)
def outbox() -> str:
    with context.sessions()() as s:
        rows = list(s.scalars(select(SmsMessage).order_by(SmsMessage.id.desc()).limit(200)))
        return render_template("sms/outbox.html", rows=rows)


@bp.get("/templates")
@auth.requires(Perm.SMS_TEMPLATES)
def edit_templates() -> str:
    with context.sessions().begin() as s:
        templates.seed(s)
        rows = {t.code: t.text for t in s.scalars(select(SmsTemplate))}
    fields = {code: sorted(f for f in allowed) for code, (_t, allowed) in templates.DEFAULTS.items()}
    return render_template("sms/templates.html", rows=rows, fields=fields)


@bp.post("/templates/<code>")
@auth.requires(Perm.SMS_TEMPLATES)
def save_template(code: str) -> ResponseReturnValue:
    user = context.user()
    try:
        with context.sessions().begin() as s:
            templates.save(s, code, request.form.get("text", ""), by=user)
    except templates.TemplateError as exc:
        flash(f"{code}: {exc}", "error")
    else:
        flash(gettext("%(code)s: kaydedildi", code=code), "ok")
    return redirect(url_for("sms.edit_templates")), 303
