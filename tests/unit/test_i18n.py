"""The admin in Turkish and English: a complete English catalogue, its compiled form, and the language chosen.

Messages are extracted here with Babel's own API (the same configuration as ``python -m admin.i18n update``),
so a new ``_("...")`` in a template or a ``gettext("...")`` in a blueprint fails this test until it is
translated in ``admin/translations/en/LC_MESSAGES/messages.po`` and compiled.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, session

from admin import i18n
from admin.app import create_app
from alo185 import services
from alo185.core.settings import Settings
from tests.staff import World, csrf_token

PO = i18n.TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "lazy_gettext": None,
}


def _key(context: str | bytes | None, msgid: str | tuple[str, ...] | list[str]) -> tuple[str | None, str]:
    if isinstance(context, bytes):  # Babel's read_mo leaves contexts undecoded
        context = context.decode("utf-8")
    return context, msgid if isinstance(msgid, str) else msgid[0]  # a plural's singular


def extracted() -> dict[tuple[str | None, str], str]:
    """Every message of the admin's Python and templates and the domain's words, with where each is."""
    with i18n.BABEL_CFG.open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str | None, str], str] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        i18n.HERE, method_map, options_map, keywords=KEYWORDS
    ):
        found.setdefault(_key(context, message), f"admin/{filename}:{lineno}")
    for word in i18n.vocabulary():
        found.setdefault((None, word), "admin.i18n.vocabulary()")
    return found


def english() -> dict[tuple[str | None, str], Message]:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="en")
    return {_key(m.context, m.id): m for m in catalog if m.id}


def test_the_extraction_finds_the_admins_messages() -> None:
    messages = extracted()
    assert (None, "Personel girişi") in messages  # a template
    assert (None, "Kullanıcı adı veya parola hatalı.") in messages  # a blueprint's flash
    assert ("audio recording", "Kayıt") in messages and ("date created", "Kayıt") in messages
    assert (None, "şef onayında") in messages and (None, "çok memnunum") in messages  # the domain's words
    assert len(messages) > 300


def test_every_message_is_in_the_english_catalogue_and_translated() -> None:
    catalogue = english()
    missing = [f"{where}: {msgid!r}" for (ctx, msgid), where in extracted().items() if (ctx, msgid) not in catalogue]
    assert not missing, "not in messages.po (run: python -m admin.i18n update):\n" + "\n".join(missing)
    empty = []
    for (_context, msgid), message in catalogue.items():
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(isinstance(s, str) and s.strip() for s in strings) or message.fuzzy:
            empty.append(msgid)
    assert not empty, "untranslated or fuzzy in messages.po:\n" + "\n".join(empty)


def test_translations_keep_the_placeholders() -> None:
    placeholder = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+\}")
    wrong = []
    for message in english().values():
        source, target = str(message.id), str(message.string)
        if sorted(placeholder.findall(source)) != sorted(placeholder.findall(target)):
            wrong.append(f"{source!r} -> {target!r}")
    assert not wrong, "\n".join(wrong)


def test_the_compiled_catalogue_is_the_po_file() -> None:
    """``messages.mo`` is committed (no build step at runtime): it must say what ``messages.po`` says."""
    with MO.open("rb") as f:
        compiled = read_mo(f)
    in_mo = {_key(m.context, m.id): m.string for m in compiled if m.id}
    in_po = {key: m.string for key, m in english().items()}
    assert in_mo == in_po, "messages.mo is stale: run python -m admin.i18n compile"


# --- the language of a page ------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    settings = Settings(var_dir=tmp_path, db_url=f"sqlite:///{tmp_path / 'alo185.db'}")
    services.prepare_database(settings)
    return create_app(settings)


def _lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', page)
    assert found, page[:200]
    return found.group(1)


def test_turkish_by_default_and_for_a_turkish_browser(app: Flask) -> None:
    client = app.test_client()
    for headers in ({}, {"Accept-Language": "tr-TR,tr;q=0.9"}, {"Accept-Language": "de-DE"}):
        page = client.get("/login", headers=headers).get_data(as_text=True)
        assert _lang(page) == "tr" and "Personel girişi" in page and "Kullanıcı adı" in page, headers
    assert 'href="/lang/en" lang="en" hreflang="en">English</a>' in page
    assert '<a class="skip" href="#main">İçeriğe geç</a>' in page and '<main id="main"' in page


def test_english_after_choosing_it_and_for_an_english_browser(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert _lang(page) == "en" and "Staff login" in page
    client = app.test_client()
    response = client.get("/lang/en", headers={"Referer": "http://localhost/login"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    page = client.get("/login", headers={"Accept-Language": "tr"}).get_data(as_text=True)  # the choice wins
    assert _lang(page) == "en" and "Staff login" in page and "Personel girişi" not in page
    assert 'aria-current="true">English</a>' in page and "Skip to content" in page
    form = {"username": "nobody", "password": "x", "csrf_token": csrf_token(client)}
    page = client.post("/login", data=form).get_data(as_text=True)
    assert "Wrong username or password." in page
    client.get("/lang/tr")
    assert "Personel girişi" in client.get("/login").get_data(as_text=True)


def test_an_unknown_language_is_ignored(app: Flask) -> None:
    client = app.test_client()
    client.get("/lang/xx")
    assert _lang(client.get("/login").get_data(as_text=True)) == "tr"


def test_dates_and_numbers_follow_the_language(app: Flask) -> None:
    moment = datetime(2026, 11, 21, 14, 5, 9)
    with app.test_request_context("/"):
        assert i18n.datetime_local(moment) == "21.11.2026 14:05"
        assert i18n.datetime_local(moment, seconds=True) == "21.11.2026 14:05:09"
        assert i18n.date_local(moment.date()) == "21.11.2026"
        assert (i18n.number_local(1920), i18n.number_local(12.5, 1), i18n.number_local(None)) == ("1.920", "12,5", "")
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert i18n.datetime_local(moment) == "21 Nov 2026, 14:05"
        assert i18n.date_local(moment) == "21 Nov 2026"
        assert (i18n.number_local(1920), i18n.number_local(12.5, 1)) == ("1,920", "12.5")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_staff_page_in_both_languages(world: World) -> None:
    client = world.client("supervisor")
    page = client.get("/tickets?q=Çukur").get_data(as_text=True)
    assert _lang(page) == "tr" and "<h1>Başvurular</h1>" in page and ">Çıkış</button>" in page
    created = re.search(r"<td>(\d\d\.\d\d\.\d{4} \d\d:\d\d)</td>", page)
    assert created, "a Turkish date in the list"
    assert "<td>müdürlüğe iletildi</td>" in page  # a status: the domain's word
    client.get("/lang/en")
    page = client.get("/tickets?q=Çukur").get_data(as_text=True)
    assert _lang(page) == "en" and "<h1>Requests</h1>" in page and ">Log out</button>" in page
    assert '<th scope="col">Created</th>' in page and "<td>sent to the directorate</td>" in page
    assert re.search(r"<td>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d</td>", page), "an English date in the list"
    page = client.get("/tickets/999999").get_data(as_text=True)
    assert "Not found" in page and "Go back" in page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_report_pages_in_english_and_their_exports_in_turkish(world: World, database_url: str) -> None:
    from markupsafe import escape

    from alo185.reports import tables
    from tests.unit.test_reports_figures import october

    october(database_url)
    client = world.client("supervisor")
    october_ = "from=2026-10-01&to=2026-10-31"
    turkish = client.get(f"/reports/calls?{october_}").get_data(as_text=True)
    assert "<caption>Çağrılar – özet</caption>" in turkish and '<th scope="col" class="num">Cevaplanan</th>' in turkish
    client.get("/lang/en")
    calls = client.get(f"/reports/calls?{october_}").get_data(as_text=True)
    assert "<caption>Calls – summary</caption>" in calls and '<th scope="col" class="num">Answered</th>' in calls
    assert '<th scope="col" class="num">Queued</th>' in calls and '<th scope="row">Total</th>' in calls
    assert '<th scope="row">(never queued)</th>' in calls and "1 Oct 2026 – 31 Oct 2026" in calls
    monthly = client.get("/reports/monthly?month=2026-10").get_data(as_text=True)
    assert "<h1>Monthly report – October 2026</h1>" in monthly
    assert "<caption>Requests – category</caption>" in monthly and '<th scope="col" class="num">Share</th>' in monthly
    assert '<th scope="row">Reopen rate</th>' in monthly and "<caption>Corrective actions – status</caption>" in monthly
    assert '<th scope="row">Response rate (answered / asked ' in monthly
    catalogue = english()
    translated = [w for w in tables.labels() if catalogue[(None, w)].string != w]
    assert "Toplam" in translated and "Kuyruğa giren" in translated
    for page in (calls, monthly):
        assert _lang(page) == "en"
        left = [w for w in translated if f">{escape(w)}<" in page]
        assert not left, left
        assert "Cevaplanan" not in page and ">Toplam<" not in page and "Aylık rapor" not in page
    assert "%85,7" in turkish and "9,6 sn" in turkish  # figures follow the language too
    assert "85.7%" in calls and "9.6 s<" in calls and "%85,7" not in calls and " sn<" not in calls
    # The exports are the municipality's official reports: Turkish whatever the page's language.
    csv = client.get(f"/reports/calls?{october_}&format=csv").get_data(as_text=True)
    assert "Çağrılar – özet" in csv and "Cevaplanan" in csv and "Answered" not in csv
