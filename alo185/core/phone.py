"""Turkish phone numbers: E.164 normalisation and masking for lists and logs (KVKK)."""

from __future__ import annotations

import logging
import re

import phonenumbers

from alo185.core import links

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


# A Turkish number as it appears in text, log lines and URLs: with +90 (also URL-encoded %2B90, or
# 0090), with the trunk 0, or a bare mobile 5xx; the digits grouped 3-3-2-2 (or run together) with
# spaces, dashes or URL-encoded spaces (+, %20) between the groups; the area code maybe in brackets.
# Not the tail of a longer digit run (an id, a timestamp) nor of a %-escape, except an encoded space.
_SEP = r"(?:[ \-+]|%20)?"
IN_TEXT = re.compile(
    rf"(?:(?<![\d%])|(?<=%20))(?:(?P<cc>(?:\+|%2[bB]|00)90){_SEP}|(?P<trunk>0){_SEP})?"
    rf"(?P<body>\(?(?P<area>\d{{3}})\)?{_SEP}\d{{3}}{_SEP}\d{{2}}{_SEP}\d{{2}})(?!\d)"
)


def mask_in_text(text: str) -> str:
    """Every phone number in ``text`` masked: what log lines carry (KVKK)."""
    return IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    """The number masked; a digit run that is no Turkish phone number (an id, a time) is left as it is."""
    area = match["area"]
    # Without +90 only a Turkish area or mobile code makes it a number; without the trunk 0 too, only
    # a mobile one (a bare 10-digit 2xx-4xx is as likely an id).
    if not match["cc"] and (area[0] not in "2345" or (not match["trunk"] and area[0] != "5")):
        return match[0]
    return mask("+90" + re.sub(r"%20|\D", "", match["body"]))


class MaskingFilter(logging.Filter):
    """Masks numbers and drops citizens' link tokens in every record a handler writes, whoever logged
    them and however: the message and the traceback of a logged exception (whose texts carry numbers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _private(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # What the handler's formatter would write; formatted here so that it can be masked.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _private(record.exc_text)
        if record.stack_info:
            record.stack_info = _private(record.stack_info)
        return True


_TRACEBACKS = logging.Formatter()


def _private(text: str) -> str:
    return links.redact(mask_in_text(text))
