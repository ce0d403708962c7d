"""The Turkish texts of the messages, editable in the admin, with ``{field}`` placeholders."""

from __future__ import annotations

import string

from sqlalchemy import select
from sqlalchemy.orm import Session

from alo185.sms.models import SmsTemplate

# code -> (default text, fields it may use)
DEFAULTS: dict[str, tuple[str, frozenset[str]]] = {
    "created": (
        "Sayın vatandaşımız, başvurunuz {number} numarası ile alınmıştır. Takip için: {link}",
        frozenset({"number", "link"}),
    ),
    "redirected": (
        "{number} numaralı başvurunuz, yetki alanı nedeniyle {institution} kurumuna iletilmiştir. Ayrıntı: {link}",
        frozenset({"number", "link", "institution"}),
    ),
    "cannot_be_done": (
        "{number} numaralı başvurunuz karşılanamamaktadır. Gerekçe: {reason}. Ayrıntı: {link}",
        frozenset({"number", "link", "reason"}),
    ),
    "resolved": (
        "{number} numaralı başvurunuz çözümlenmiştir. Sorun sürüyorsa {days} gün içinde yeniden açabilirsiniz: {link}",
        frozenset({"number", "link", "days"}),
    ),
    "message_added": (
        "Mesajınız {number} numaralı başvurunuza eklenmiştir. Takip için: {link}",
        frozenset({"number", "link"}),
    ),
    "survey": (
        "{number} numaralı başvurunuz için aldığınız hizmeti değerlendirir misiniz? {survey_link}",
        frozenset({"number", "survey_link"}),
    ),
    # To staff: a chief before a ticket's deadline, the manager once it has passed.
    "escalation_warn": (
        "{number} numaralı başvurunun ({category}) yanıt süresi {due} tarihinde doluyor. Lütfen takip ediniz.",
        frozenset({"number", "category", "due"}),
    ),
    "escalation_overdue": (
        "{number} numaralı başvurunun ({category}) yanıt süresi {due} tarihinde doldu; başvuru gecikmededir.",
        frozenset({"number", "category", "due"}),
    ),
}


class TemplateError(ValueError):
    pass


def fields_of(text: str) -> set[str]:
    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise TemplateError(f"unbalanced braces: {exc}") from exc


def check(code: str, text: str) -> None:
    """A template may only use its own fields; refused otherwise, with the reason."""
    if code not in DEFAULTS:
        raise TemplateError(f"unknown template {code!r}")
    if not text.strip():
        raise TemplateError("a template cannot be empty")
    unknown = fields_of(text) - DEFAULTS[code][1]
    if unknown:
        allowed = ", ".join(sorted("{" + f + "}" for f in DEFAULTS[code][1]))
        raise TemplateError(f"unknown fields {', '.join(sorted(unknown))}; {code} may use {allowed}")


def seed(session: Session) -> int:
    """Add the default texts that are missing (an edited text is kept); returns how many were added."""
    have = set(session.scalars(select(SmsTemplate.code)))
    missing = [SmsTemplate(code=code, text=text) for code, (text, _f) in DEFAULTS.items() if code not in have]
    session.add_all(missing)
    session.flush()
    return len(missing)


def save(session: Session, code: str, text: str, by: str) -> None:
    check(code, text)
    row = session.get(SmsTemplate, code) or SmsTemplate(code=code)
    row.text, row.updated_by = text.strip(), by
    session.add(row)
    session.flush()


def render(session: Session, code: str, params: dict[str, object]) -> str:
    row = session.get(SmsTemplate, code)
    text = row.text if row is not None else DEFAULTS[code][0]
    return text.format_map({name: params.get(name, "") for name in fields_of(text)})
