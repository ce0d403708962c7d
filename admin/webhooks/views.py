"""Webhooks that channels call: WhatsApp Business Cloud API at /webhooks/whatsapp."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from pydantic import ValidationError
from sqlalchemy.orm import Session

from admin import context
from alo185.channels import schemas, whatsapp
from alo185.core import db
from alo185.voicemail.categorize import DEFAULT_RULES, RulesFile

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
log = logging.getLogger(__name__)


@bp.before_request
def _cap_body() -> None:
    request.max_content_length = schemas.MAX_BODY_BYTES  # larger bodies: 413 before they are read


def _configured() -> tuple[str, str]:
    settings = current_app.config["ALO185"]
    if not settings.whatsapp_verify_token or not settings.whatsapp_app_secret:
        abort(404)  # not set up: the endpoint does not exist
    return settings.whatsapp_verify_token, settings.whatsapp_app_secret


@bp.get("/whatsapp")
def whatsapp_handshake() -> Response:
    verify_token, _secret = _configured()
    args = request.args
    challenge = whatsapp.handshake(
        args.get("hub.mode"), args.get("hub.verify_token"), args.get("hub.challenge"), verify_token
    )
    if challenge is None:
        abort(403)
    return Response(challenge, mimetype="text/plain")


@bp.post("/whatsapp")
def whatsapp_messages() -> ResponseReturnValue:
    _token, secret = _configured()
    body = request.get_data(cache=False)
    if not whatsapp.signature_ok(secret, body, request.headers.get("X-Hub-Signature-256")):
        return jsonify(error="bad signature"), 401
    try:
        messages, ignored = whatsapp.parse(body)
    except ValidationError as exc:
        fields = schemas.field_errors(exc)
        return jsonify(error=f"malformed notification: {schemas.refusal(fields)}", fields=fields), 400
    rules_file = current_app.extensions.setdefault(
        "alo185.rules", RulesFile(current_app.config["ALO185"].voicemail_rules or DEFAULT_RULES)
    )

    def work(s: Session) -> list[dict[str, object]]:
        rows = [whatsapp.handle(s, message, rules_file.get()) for message in messages]
        return [{"id": r.external_id, "action": r.action, "ticket_id": r.ticket_id} for r in rows]

    # All of a notification or none of it (Meta delivers it again), run again if it lost a race
    # (two first messages of a new sender, each creating the citizen).
    result = db.write(context.sessions(), work)
    return jsonify(received=len(result), messages=result, ignored=ignored)
