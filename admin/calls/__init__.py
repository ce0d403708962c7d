"""Call records: the list operators and supervisors see at /calls, its JSON twin, and a call's recording."""
