"""Open311 GeoReport v2 over HTTP: ``.json`` or ``.xml`` on every path, the spec's error list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.orm import Session

from admin import context
from alo185.channels import api_keys, open311, schemas
from alo185.channels.open311 import Open311Error

bp = Blueprint("open311", __name__, url_prefix="/open311")
FORMATS = ("json", "xml")


@bp.before_request
def _cap_body() -> None:
    request.max_content_length = schemas.MAX_BODY_BYTES  # larger bodies: 413 before they are read


def _reply(root: str, fmt: str, produce: Callable[[Session], Any], write: bool = False) -> Response:
    sessions = context.sessions()
    try:
        if fmt not in FORMATS:
            raise Open311Error(404, f"format {fmt!r}: use .json or .xml")
        with sessions.begin() if write else sessions() as s:
            data, status = produce(s), 200
    except Open311Error as exc:
        root, data, status, fmt = "errors", exc.body(), exc.status, fmt if fmt in FORMATS else "json"
    if fmt == "xml":
        return Response(open311.to_xml(root, data), status=status, mimetype="text/xml")
    response = jsonify(data)
    response.status_code = status
    return response


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    settings = current_app.config["ALO185"]
    return _reply("discovery", fmt, lambda _s: open311.discovery(settings.public_base_url, "Alo 185"))


@bp.get("/v2/services.<fmt>")
def services(fmt: str) -> Response:
    return _reply("services", fmt, open311.services)


@bp.get("/v2/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    return _reply("service_definition", fmt, lambda s: open311.definition(s, code))


@bp.post("/v2/requests.<fmt>")
def post_request(fmt: str) -> Response:
    params = {k: v for k, v in request.form.items()}

    def create(s: Session) -> list[dict[str, Any]]:
        client = api_keys.holder(s, params.get("api_key"))
        if client is None:
            raise Open311Error(403, "a valid api_key is required")
        return open311.create(s, open311.NewRequest.from_params(params), client)

    return _reply("service_requests", fmt, create, write=True)


@bp.get("/v2/requests.<fmt>")
def get_requests(fmt: str) -> Response:
    params = dict(request.args.items())
    return _reply("service_requests", fmt, lambda s: open311.find(s, params, datetime.now(UTC)))


@bp.get("/v2/requests/<number>.<fmt>")
def get_request(number: str, fmt: str) -> Response:
    return _reply("service_requests", fmt, lambda s: open311.one(s, number))


@bp.get("/v2/tokens/<token>.<fmt>")
def get_token(token: str, fmt: str) -> Response:
    return _reply("service_requests", fmt, lambda s: open311.token(s, token))
