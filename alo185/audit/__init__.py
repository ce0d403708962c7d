"""The audit trail (KVKK, ISO 10002): one row per thing a person did or looked at."""
