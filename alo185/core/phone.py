"""Turkish phone numbers: E.164 normalisation and masking for lists and logs (KVKK)."""

from __future__ import annotations

import logging
import re

import phonenumbers

REGION = "TR"
# Already E.164 for Turkey: what phonenumbers would return unchanged, without its parsing cost
# (paid on every call the IVR takes).
_TR_E164 = re.compile(r"\+90[1-9][0-9]{9}")


def normalize(raw: str | None) -> str | None:
    """E.164 (``+905321234567``) for a caller ID as Asterisk gives it, or None if it is no number."""
    if not raw:
        return None
    if _TR_E164.fullmatch(raw):
        return raw
    try:
        number = phonenumbers.parse(raw, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(raw: str | None) -> str:
    """``+90 532 123 45 67``; anything unparseable is shown as given."""
    e164 = normalize(raw)
    if e164 is None:
        return raw or ""
    if _TR_E164.fullmatch(e164):  # what parsing would give, for a third of its cost (every masked number)
        number = phonenumbers.PhoneNumber(country_code=90, national_number=int(e164[3:]))
    else:
        number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def mask(raw: str | None) -> str:
    """``+90 532 *** ** 67``: country and operator code and the last two digits stay visible."""
    shown = display(raw)
    if not shown:
        return ""
    groups = shown.split(" ")
    if len(groups) >= 4 and groups[0].startswith("+"):
        return " ".join([groups[0], groups[1], *("*" * len(g) for g in groups[2:-1]), groups[-1]])
    digits = [c for c in shown if c.isdigit()]
    if len(digits) <= 4:
        return "*" * len(shown)
    return shown[:2] + "".join("*" if c.isdigit() else c for c in shown[2:-2]) + shown[-2:]


# A Turkish number as it appears in text: +90…, 0 5xx…, or 5xx… (10 digits after the trunk 0).
IN_TEXT = re.compile(r"(?<![\d+])(?:\+90|0)?5\d{9}(?!\d)|\+90\d{10}(?!\d)")


def mask_in_text(text: str) -> str:
    """Every phone number in ``text`` masked: what log lines carry (KVKK)."""
    return IN_TEXT.sub(lambda m: mask(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """Masks numbers in every record a handler writes, whoever logged them and however."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_in_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
