"""The one data model every process shares (SQLAlchemy 2), a module per domain.

Schema changes go through Alembic (``alo185/migrations``); importing this package registers
every table on ``Base.metadata``.
"""

from alo185.models.base import Base
from alo185.models.calls import CallRecord

__all__ = ["Base", "CallRecord"]
