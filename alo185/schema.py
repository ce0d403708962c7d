"""The whole schema: every feature's models, registered on one ``MetaData`` (Alembic's target, the tests').

Each feature keeps its models in its own ``models.py`` and imports them from there; this module only
imports them all, so that ``metadata`` knows every table. Schema changes go through Alembic
(``alo185/migrations``).
"""

from __future__ import annotations

from alo185.audit import models as audit
from alo185.callbacks import models as callbacks
from alo185.calls import models as calls
from alo185.channels import models as channels
from alo185.core.orm import Base
from alo185.menu import models as menu
from alo185.operators import models as operators
from alo185.org import models as org
from alo185.privacy import models as privacy
from alo185.quality import models as quality
from alo185.queues import models as queues
from alo185.sms import models as sms
from alo185.surveys import models as surveys
from alo185.tickets import models as tickets
from alo185.voicemail import models as voicemail

FEATURES = (
    audit,
    callbacks,
    calls,
    channels,
    menu,
    operators,
    org,
    privacy,
    quality,
    queues,
    sms,
    surveys,
    tickets,
    voicemail,
)
metadata = Base.metadata
