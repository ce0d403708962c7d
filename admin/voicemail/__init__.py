"""Voicemails in the admin: listen, read the transcript, correct the suggested category."""
