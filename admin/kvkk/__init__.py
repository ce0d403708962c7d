"""KVKK in the admin: the audit trail, retention rules with the destruction log, and anonymisation requests."""
