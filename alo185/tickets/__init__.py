"""The ticket domain shared by the admin web app and the phone IVR: workflow, SLA, numbers, queries, seed data.

Plain Python over SQLAlchemy sessions (no web or telephony code). Functions flush their changes;
the caller owns the transaction and commits.
"""
