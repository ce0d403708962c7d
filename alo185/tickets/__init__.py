"""Tickets: citizens and their requests, from any channel, through the workflow to the citizen's answer.

``models`` (tables), ``queries`` (create, find, list), ``workflow`` (statuses, approvals, redirects),
``sla`` and ``escalation`` (deadlines), ``numbers``, ``search``, ``news`` (the citizen's texts),
``caller_card`` (the screen-pop's card), ``figures`` (the month report), ``seed`` (reference data).
Plain Python over SQLAlchemy sessions: functions flush their changes; the caller owns the
transaction and commits.
"""
