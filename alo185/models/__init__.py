"""The one data model every process shares (SQLAlchemy 2), a module per domain.

Schema changes go through Alembic (``alo185/migrations``); importing this package registers
every table on ``Base.metadata``.
"""

from alo185.models.api import ApiKey
from alo185.models.base import Base
from alo185.models.callbacks import Callback, CallbackState
from alo185.models.calls import CallRecord
from alo185.models.ivr import Announcement, MenuVersion, PromptRecording
from alo185.models.operators import OperatorSkill
from alo185.models.org import Directorate, District, Institution, InstitutionKind, Mahalle, Role, Unit, User
from alo185.models.privacy import DestructionLog, RetentionRule
from alo185.models.queues import QueueInterval, QueueTarget
from alo185.models.sms import SmsMessage, SmsTemplate
from alo185.models.tickets import (
    Approval,
    ApprovalDecision,
    ApprovalLevel,
    AuditLog,
    Category,
    ChangeChannel,
    Channel,
    Citizen,
    CorrectiveAction,
    CorrectiveActionEvidence,
    CorrectiveActionStatus,
    CorrectiveActionStep,
    EscalationNotice,
    InboundMessage,
    LegalDeadline,
    Nonconformity,
    NonconformityDecision,
    PlatformRole,
    Priority,
    Redirect,
    SlaUnit,
    Ticket,
    TicketAttachment,
    TicketHistory,
    TicketStatus,
    TicketType,
)
from alo185.models.voicemail import SurveyAnswer, SurveyComment, SurveyOptOut, Voicemail

__all__ = ["Announcement", "Base", "CallRecord", "MenuVersion", "PromptRecording", "Voicemail"]
__all__ += ["ApiKey", "DestructionLog", "InboundMessage", "RetentionRule", "TicketAttachment"]
__all__ += ["CorrectiveActionEvidence", "CorrectiveActionStep", "EscalationNotice"]
__all__ += ["SmsMessage", "SmsTemplate", "SurveyAnswer", "SurveyComment", "SurveyOptOut"]
__all__ += ["Callback", "CallbackState"]
__all__ += ["OperatorSkill", "QueueInterval", "QueueTarget"]
__all__ += [
    "Approval",
    "ApprovalDecision",
    "ApprovalLevel",
    "AuditLog",
    "Category",
    "ChangeChannel",
    "Channel",
    "Citizen",
    "CorrectiveAction",
    "CorrectiveActionStatus",
    "Directorate",
    "District",
    "Institution",
    "InstitutionKind",
    "LegalDeadline",
    "Mahalle",
    "Nonconformity",
    "NonconformityDecision",
    "PlatformRole",
    "Priority",
    "Redirect",
    "Role",
    "SlaUnit",
    "Ticket",
    "TicketHistory",
    "TicketStatus",
    "TicketType",
    "Unit",
    "User",
]
