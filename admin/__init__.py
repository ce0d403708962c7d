"""The Flask admin: application factory and blueprints."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from werkzeug.middleware.proxy_fix import ProxyFix

from alo185 import db
from alo185.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secrets()["flask_secret_key"], ALO185=settings)
    app.extensions["alo185.sessions"] = db.session_factory(settings.database_url)
    if settings.proxy_hops:
        # The citizens' address, not the proxy's, for the per-address limit of the citizen pages.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_hops)  # type: ignore[method-assign]

    from admin.api import bp as api_bp
    from admin.calls import bp as calls_bp
    from admin.ivr import bp as ivr_bp
    from admin.open311 import bp as open311_bp
    from admin.public import bp as public_bp
    from admin.queues import bp as queues_bp
    from admin.reports import bp as reports_bp
    from admin.sms import bp as sms_bp
    from admin.voicemail import bp as voicemail_bp
    from admin.webhooks import bp as webhooks_bp

    app.register_blueprint(calls_bp)
    app.register_blueprint(ivr_bp)
    app.register_blueprint(voicemail_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(queues_bp)

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return redirect(url_for("calls.list_calls"))

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return {"status": "ok"}

    return app
