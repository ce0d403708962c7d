"""The admin's application factory: its blueprints, login, languages, CSRF protection and error pages."""

from __future__ import annotations

from flask import Flask, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from admin import auth, i18n
from admin.api.views import bp as api_bp
from admin.calls.views import bp as calls_bp
from admin.console.views import bp as console_bp
from admin.ivr.views import bp as ivr_bp
from admin.kvkk.views import bp as kvkk_bp
from admin.monitoring.views import bp as monitoring_bp
from admin.open311.views import bp as open311_bp
from admin.proxy import TrustedProxy
from admin.public.views import bp as public_bp
from admin.quality.views import bp as quality_bp
from admin.queues.views import bp as queues_bp
from admin.reports.views import bp as reports_bp
from admin.sms.views import bp as sms_bp
from admin.tickets.views import bp as tickets_bp
from admin.voicemail.views import bp as voicemail_bp
from admin.wallboard.views import bp as wallboard_bp
from admin.webhooks.views import bp as webhooks_bp
from alo185.core import db
from alo185.core.settings import Settings, load_settings

MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # DİF evidence is at most 20 MB, prompt recordings far less


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.secrets()["flask_secret_key"], ALO185=settings)
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES  # larger uploads are refused before they are read
    app.extensions["alo185.sessions"] = db.session_factory(settings.database_url)
    if settings.proxy_hops:
        # The citizens' address, not the proxy's, for the per-address limit of the citizen pages.
        # Flask declares ``wsgi_app`` a method, which mypy will not have reassigned; wrapping it is Flask's
        # documented way to add a middleware.
        app.wsgi_app = TrustedProxy(  # type: ignore[method-assign]
            app.wsgi_app, settings.proxy_hops, settings.proxy_addresses
        )

    auth.init_app(app)
    i18n.init_app(app)
    csrf = CSRFProtect(app)
    # Token-authenticated machine endpoints, and the citizens' pages: those act only through an
    # unguessable signed link or create a new ticket, which a forged request gains nothing from.
    for exempt in (api_bp, open311_bp, webhooks_bp, public_bp):
        csrf.exempt(exempt)
    app.register_blueprint(calls_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(quality_bp)
    app.register_blueprint(kvkk_bp)
    app.register_blueprint(ivr_bp)
    app.register_blueprint(voicemail_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(public_bp)
    app.register_blueprint(sms_bp)
    app.register_blueprint(webhooks_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(queues_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(wallboard_bp)
    app.register_blueprint(monitoring_bp)

    @app.get("/")
    def index() -> ResponseReturnValue:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        endpoint = auth.home_endpoint(auth.current())
        return redirect(url_for(endpoint or "auth.login"))

    @app.errorhandler(HTTPException)
    def error_page(error: HTTPException) -> ResponseReturnValue:
        """Refusals in Turkish, with the reason; JSON clients get JSON."""
        code = error.code
        assert code is not None  # Flask hands an error without a code (a proxy's) on without calling handlers
        # A 405 says what is allowed (RFC 9110), as werkzeug's own page would.
        allowed = error.valid_methods if isinstance(error, MethodNotAllowed) else None
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
            return {"error": error.name, "message": error.description}, code, headers
        reason = error.description if error.description != type(error).description else ""
        return render_template("error.html", error=error, reason=reason), code, headers

    return app
