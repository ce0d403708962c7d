"""``/healthz`` (the process answers), ``/readyz`` (``alo185.monitoring.readiness``) and ``/metrics``
(``alo185.monitoring.metrics``, for Prometheus with the ``metrics_token`` or for a supervisor's login)."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from admin import auth
from alo185.core.settings import Settings
from alo185.monitoring import metrics, readiness
from alo185.org.models import Role

bp = Blueprint("monitoring", __name__)
# Who may read the metrics with a login: they show the whole instance's load, as the wallboard does.
METRICS_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def _settings() -> Settings:
    settings: Settings = current_app.config["ALO185"]
    return settings


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when every check passes, else 503; each check named, with its result and time."""
    body = readiness.report(readiness.run(_settings()))
    return body, 200 if body["status"] == "ready" else 503


def _token_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def prometheus() -> ResponseReturnValue:
    settings = _settings()
    if not _token_matches(request.headers.get("Authorization"), settings.metrics_token):
        if not current_user.is_authenticated:
            abort(401, "Metrikler için Prometheus belirteci (metrics_token) ya da yetkili bir oturum gerekir.")
        if auth.current().role not in METRICS_ROLES:
            abort(403, "Metrikleri yalnızca süpervizör ve yönetici görebilir.")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics.AloCollector(settings, current_app.extensions["alo185.sessions"]))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
