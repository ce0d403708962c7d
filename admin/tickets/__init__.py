"""Tickets for staff: the work list, one ticket with its actions, a citizen's record, and the CSV export."""
