"""Reports in the admin: calls, tickets, the satisfaction survey (İnegöl's form), ISO 10002, the month."""
