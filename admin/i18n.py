"""The admin's languages: Turkish first, English second (Flask-Babel).

The language is the one the user picked (``/lang/<code>``, kept in the session), else the
browser's preference among the supported ones, else Turkish. Catalogues are in
``admin/translations`` (``pybabel`` with ``admin/babel.cfg``); message ids are the Turkish text.

Dates and numbers follow the language: Turkish as the reports write them (``21.11.2026 14:05``,
``1.920``, ``12,5``: ``alo185.reports.tables``), English through Babel (``21 Nov 2026, 14:05``,
``1,920``, ``12.5``). Templates use the filters ``date_local``, ``datetime_local`` and
``number_local``.

Words the domain modules hand to the pages (ticket and corrective-action statuses, decisions, the
survey's answers, the citizens' status lines, the reports' table labels) are Turkish data, not
template text: ``vocabulary()`` lists them, the extraction adds them to the catalogue, and templates
translate them with the ``term`` filter (``{{ statuses[t.status]|term }}``; the report tables'
through ``admin.reports.views.label``, their exports staying Turkish).

Keeping the catalogues up to date (from the repository's root)::

    .venv/bin/python -m admin.i18n update    # extract into messages.pot and merge into every messages.po
    .venv/bin/python -m admin.i18n compile   # messages.po -> messages.mo (committed: no build step at runtime)
"""

from __future__ import annotations

import contextlib
import sys
from datetime import date, datetime
from pathlib import Path

from babel.dates import format_date, format_datetime
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from flask import Blueprint, Flask, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import Babel, get_locale, gettext

from alo185.quality import corrective, nonconformity
from alo185.reports import tables
from alo185.reports.tables import number_tr
from alo185.surveys.scale import LABELS
from alo185.tickets import queries, workflow

LANGUAGES = ("tr", "en")
DEFAULT = "tr"
TIMEZONE = "Europe/Istanbul"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BABEL_CFG = HERE / "babel.cfg"
TRANSLATIONS = HERE / "translations"
POT = TRANSLATIONS / "messages.pot"
# Besides pybabel's defaults (_, gettext, ngettext, N_, ...).
KEYWORDS = ("lazy_gettext",)
VOCABULARY_NOTE = "domain vocabulary: admin.i18n.vocabulary()"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


@bp.get("/lang/<code>")
def choose(code: str) -> ResponseReturnValue:
    """Remember the language and go back where the user was (only to a page of this site)."""
    if code in LANGUAGES:
        session["lang"] = code
    back = request.referrer or ""
    if not back.startswith(request.host_url):
        back = url_for("index")
    return redirect(back)


def current_language() -> str:
    """``tr`` or ``en``: the ``lang`` of the page."""
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT


def date_local(value: date | datetime | None) -> str:
    """``21.11.2026`` in Turkish, ``21 Nov 2026`` in English."""
    if value is None:
        return ""
    lang = current_language()
    if lang == "tr":
        return value.strftime("%d.%m.%Y")
    return format_date(value, "d MMM y", locale=lang)


def datetime_local(value: datetime | None, seconds: bool = False) -> str:
    """``21.11.2026 14:05`` in Turkish, ``21 Nov 2026, 14:05`` in English; as stored (no zone conversion)."""
    if value is None:
        return ""
    lang = current_language()
    if lang == "tr":
        return value.strftime("%d.%m.%Y %H:%M:%S" if seconds else "%d.%m.%Y %H:%M")
    return format_datetime(value, "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm", locale=lang)


def number_local(value: float | None, decimals: int = 0) -> str:
    """``1.920`` / ``12,5`` in Turkish, ``1,920`` / ``12.5`` in English."""
    if value is None:
        return ""
    lang = current_language()
    if lang == "tr":
        return number_tr(value, decimals)
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(value, format=pattern, locale=lang, decimal_quantization=True)


def vocabulary() -> set[str]:
    """The domain's Turkish words that pages show, translated through the catalogue like the templates' text."""

    return {
        *workflow.STATUS_TR.values(),
        *corrective.STATUS_TR.values(),
        *nonconformity.DECISION_TR.values(),
        *queries.PUBLIC_STATUS_TR.values(),
        *LABELS.values(),
        *tables.labels(),
    }


def term(word: object) -> str:
    """A domain word (``vocabulary()``) in the page's language; anything else as it is."""
    return gettext(str(word)) if word else ""


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", TIMEZONE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    Babel(app, locale_selector=select_locale, timezone_selector=lambda: TIMEZONE)
    app.register_blueprint(bp)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.filters.update(
        date_local=date_local, datetime_local=datetime_local, number_local=number_local, term=term
    )


# --- catalogues ------------------------------------------------------------------------------


def _pybabel(*args: str) -> int:
    """pybabel run from the repository's root, so that the catalogues name files by relative paths."""

    with contextlib.chdir(ROOT):
        return CommandLineInterface().run(["pybabel", "-q", *args]) or 0


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def extract() -> int:
    """Every message of the admin's Python and templates into ``messages.pot``."""
    keywords = [arg for k in KEYWORDS for arg in ("-k", k)]
    options = ("--sort-by-file", "--project", "alo185", "--copyright-holder", "alo185 contributors")
    failed = _pybabel("extract", "-F", _rel(BABEL_CFG), *keywords, *options, "-o", _rel(POT), _rel(HERE))
    if failed:
        return failed
    with POT.open("rb") as f:
        template = read_po(f)
    for word in sorted(vocabulary()):
        if word not in template:
            template.add(word, auto_comments=[VOCABULARY_NOTE])
    with POT.open("wb") as f:
        write_po(f, template, sort_by_file=True)
    return 0


def update() -> int:
    """Extract, then merge the template into each language's ``messages.po`` (new ones empty, to translate)."""
    return extract() or _pybabel(
        "update", "-i", _rel(POT), "-d", _rel(TRANSLATIONS), "--no-fuzzy-matching", "--ignore-obsolete"
    )


def compile_catalogues() -> int:
    return _pybabel("compile", "-d", _rel(TRANSLATIONS), "--statistics")


def main(argv: list[str] | None = None) -> int:
    commands = {"extract": extract, "update": update, "compile": compile_catalogues}
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in commands:
        print(f"usage: python -m admin.i18n {{{'|'.join(commands)}}}", file=sys.stderr)
        return 2
    return commands[args[0]]()


if __name__ == "__main__":
    sys.exit(main())
