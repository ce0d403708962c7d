"""Who may see and do what: the role matrix, in one table.

Pages check a permission (``allowed``); ticket data is further scoped to a directorate for its own
staff (``sees_ticket``); phone numbers are shown in full only where a role needs them to call the
citizen back (``phone_for``). Logs never carry a full number (``alo185.core.phone.mask``).
"""

from __future__ import annotations

from enum import StrEnum

from alo185.core.phone import mask
from alo185.org.models import Role


class Perm(StrEnum):
    CALLS_VIEW = "calls.view"
    IVR_EDIT = "ivr.edit"  # the menu tree and prompt recordings
    ANNOUNCEMENTS_EDIT = "announcements.edit"
    VOICEMAIL_WORK = "voicemail.work"  # listen, correct the category
    QUEUES_LIVE = "queues.live"
    CONSOLE = "console.use"  # log in/out of the queues and pause: operators themselves, supervisors anyone
    SURVEY_REPORT = "reports.survey"
    REPORTS = "reports.view"  # city-wide call, ticket, ISO 10002 and monthly reports, with exports
    SMS_OUTBOX = "sms.outbox"
    SMS_TEMPLATES = "sms.templates"
    TICKETS_VIEW = "tickets.view"  # scoped to the own directorate unless TICKETS_ALL
    TICKETS_ALL = "tickets.all"
    TICKETS_EXPORT = "tickets.export"
    CITIZEN_VIEW = "citizens.view"  # a citizen's record with all their tickets (audited)
    PHONE_IN_LISTS = "phone.lists"  # full numbers in lists: operators call back from them
    PHONE_ON_RECORD = "phone.record"  # full number on one ticket's or citizen's page (audited)
    PHONE_IN_EXPORTS = "phone.exports"
    NONCONFORMITY_RECORD = "quality.nc_record"
    NONCONFORMITY_DECIDE = "quality.nc_decide"
    QUALITY_VIEW = "quality.view"  # non-conformities and DİFs (scoped like tickets)
    DIF_OPEN = "quality.dif_open"
    DIF_PLAN = "quality.dif_plan"
    DIF_ACT = "quality.dif_act"
    DIF_APPROVE = "quality.dif_approve"
    DIF_CLOSE = "quality.dif_close"
    AUDIT_VIEW = "kvkk.audit"
    RETENTION_MANAGE = "kvkk.retention"
    ANONYMISE = "kvkk.anonymise"
    USERS_MANAGE = "users.manage"


P = Perm
_DIRECTORATE = frozenset({P.TICKETS_VIEW, P.PHONE_ON_RECORD, P.QUALITY_VIEW})

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OPERATOR: frozenset(
        {
            P.CALLS_VIEW,
            P.CONSOLE,
            P.VOICEMAIL_WORK,
            P.TICKETS_VIEW,
            P.TICKETS_ALL,
            P.CITIZEN_VIEW,
            P.PHONE_IN_LISTS,
            P.PHONE_ON_RECORD,
            P.NONCONFORMITY_RECORD,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            P.CALLS_VIEW,
            P.CONSOLE,
            P.ANNOUNCEMENTS_EDIT,
            P.VOICEMAIL_WORK,
            P.QUEUES_LIVE,
            P.SURVEY_REPORT,
            P.REPORTS,
            P.SMS_OUTBOX,
            P.TICKETS_VIEW,
            P.TICKETS_ALL,
            P.TICKETS_EXPORT,
            P.CITIZEN_VIEW,
            P.PHONE_ON_RECORD,
            P.PHONE_IN_EXPORTS,
            P.NONCONFORMITY_RECORD,
            P.QUALITY_VIEW,
        }
    ),
    Role.EXPERT: _DIRECTORATE | {P.DIF_ACT},
    Role.CHIEF: _DIRECTORATE | {P.DIF_ACT},
    Role.MANAGER: _DIRECTORATE | {P.TICKETS_EXPORT, P.DIF_PLAN, P.DIF_ACT, P.DIF_APPROVE},
    Role.QUALITY: frozenset(
        {
            P.CALLS_VIEW,
            P.SURVEY_REPORT,
            P.REPORTS,
            P.TICKETS_VIEW,
            P.TICKETS_ALL,
            P.TICKETS_EXPORT,
            P.CITIZEN_VIEW,
            P.NONCONFORMITY_RECORD,
            P.NONCONFORMITY_DECIDE,
            P.QUALITY_VIEW,
            P.DIF_OPEN,
            P.DIF_CLOSE,
            P.AUDIT_VIEW,
        }
    ),
    # The system's administrator runs it; citizens' numbers are not needed for that.
    Role.ADMIN: frozenset(
        {
            P.CALLS_VIEW,
            P.IVR_EDIT,
            P.ANNOUNCEMENTS_EDIT,
            P.QUEUES_LIVE,
            P.SURVEY_REPORT,
            P.REPORTS,
            P.SMS_OUTBOX,
            P.SMS_TEMPLATES,
            P.TICKETS_VIEW,
            P.TICKETS_ALL,
            P.TICKETS_EXPORT,
            P.CITIZEN_VIEW,
            P.QUALITY_VIEW,
            P.AUDIT_VIEW,
            P.RETENTION_MANAGE,
            P.ANONYMISE,
            P.USERS_MANAGE,
        }
    ),
}
# Staff whose ticket data is limited to their own directorate.
DIRECTORATE_ROLES = frozenset({Role.EXPERT, Role.CHIEF, Role.MANAGER})


def allowed(role: Role | str, perm: Perm) -> bool:
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())


def directorate_scope(role: Role | str, directorate_id: int | None) -> int | None:
    """The one directorate whose tickets this person may see, or None for every directorate.

    Directorate staff without a directorate see nothing: they get an id no directorate has (-1).
    """
    if allowed(role, P.TICKETS_ALL):
        return None
    return directorate_id if directorate_id is not None else -1


def sees_directorate(role: Role | str, own_directorate_id: int | None, directorate_id: int | None) -> bool:
    scope = directorate_scope(role, own_directorate_id)
    return scope is None or scope == directorate_id


def phone_for(role: Role | str, phone: str | None, where: str) -> str:
    """The number as this role may see it ``where`` ("list", "record" or "export")."""
    perm = {"list": P.PHONE_IN_LISTS, "record": P.PHONE_ON_RECORD, "export": P.PHONE_IN_EXPORTS}[where]
    if phone and allowed(role, perm):
        return phone
    return mask(phone)
