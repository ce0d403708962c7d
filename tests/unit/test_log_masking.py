"""Log lines carry no phone number and no citizen's link token, however they got into the record."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from alo185.core import links
from alo185.core.phone import MaskingFilter, mask_in_text


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose handler writes as the processes' does: formatted, through the masking filter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    log = logging.getLogger("alo185.test.masking")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log, out
    log.removeHandler(handler)


@pytest.mark.parametrize(
    "text",
    [
        "arayan +905321234567",
        "arayan 05321234567",
        "arayan 5321234567",
        "arayan 0532 123 45 67",
        "arayan +90 532 123 45 67",
        "arayan 0 (532) 123 45 67",
        "arayan 0532-123-4567",
        "arayan 00905321234567",
        "GET /api/citizens?phone=%2B905321234567 HTTP/1.1",
        "GET /api/citizens?phone=0532+123+45+67 HTTP/1.1",
        "GET /api/citizens?phone=%2B90+532+123+45+67 HTTP/1.1",
        "GET /api/citizens?q=ali%200532%20123%2045%2067 HTTP/1.1",
    ],
)
def test_every_written_form_of_a_mobile_number_is_masked(text: str) -> None:
    masked = mask_in_text(text)
    assert "+90 532 *** ** 67" in masked
    assert "123" not in masked.replace("HTTP/1.1", "")


def test_landlines_are_masked_and_ids_and_times_are_not() -> None:
    assert mask_in_text("arayan 0312 234 56 78, +903122345678") == "arayan +90 312 *** ** 78, +90 312 *** ** 78"
    kept = "çağrı 1700000000.12 t1796621635863538466 başvuru 35509330 saat 2026-12-07 06:02:22 no 2345678901"
    assert mask_in_text(kept) == kept


def test_a_logged_exception_text_and_traceback_are_masked(written: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = written
    try:
        raise ValueError("no citizen with phone 0532 123 45 67 (phone=%2B905321234567)")
    except ValueError:
        log.exception("lookup failed for %s", "05321234567")
    line = out.getvalue()
    assert "Traceback" in line and "ValueError" in line
    assert "lookup failed for +90 532 *** ** 67" in line
    assert "ValueError: no citizen with phone +90 532 *** ** 67 (phone=+90 532 *** ** 67)" in line
    assert "123 45" not in line and "5321234567" not in line


def test_a_link_token_is_dropped(written: tuple[logging.Logger, io.StringIO]) -> None:
    log, out = written
    token = links.sign("secret", "track", 42)
    survey = links.sign("secret", "survey", 42)
    log.info("SMS sent: %s", links.url("https://alo185.example.bel.tr", "track", token))
    log.info('"GET /anket/%s HTTP/1.1" 200', survey)
    try:
        raise RuntimeError(f"gateway refused next=%2Ftakip%2F{token}")
    except RuntimeError:
        log.exception("SMS failed")
    text = out.getvalue()
    assert token not in text and survey not in text
    assert "https://alo185.example.bel.tr/takip/***" in text
    assert "GET /anket/*** HTTP/1.1" in text
    assert "%2Ftakip%2F***" in text
