"""Callbacks: a caller who asked to be called back keeps their place in the queue (``machine``)."""
