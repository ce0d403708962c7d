"""Surveys: the satisfaction scale, the keypad survey after a call, the web survey by link, answers and results."""
