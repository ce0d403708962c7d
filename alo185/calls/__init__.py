"""Calls: the call record folded from the call events, and the recordings of operator calls."""
