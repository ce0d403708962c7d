"""The admin's languages: Turkish first, English second (Flask-Babel).

The language is the one the user picked (``/lang/<code>``, kept in the session), else the
browser's preference among the supported ones, else Turkish. Catalogues are in
``admin/translations`` (``pybabel`` with ``admin/babel.cfg``); message ids are the Turkish text.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session, url_for
from flask_babel import Babel

LANGUAGES = ("tr", "en")
DEFAULT = "tr"
TIMEZONE = "Europe/Istanbul"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


@bp.get("/lang/<code>")
def choose(code: str):  # type: ignore[no-untyped-def]
    """Remember the language and go back where the user was (only to a page of this site)."""
    if code in LANGUAGES:
        session["lang"] = code
    back = request.referrer or ""
    if not back.startswith(request.host_url):
        back = url_for("index")
    return redirect(back)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: TIMEZONE)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
