"""Voicemail: from the recording Asterisk leaves in the spool to a transcribed ticket.

``spool`` hands a finished recording over (atomic moves, a job on a durable Redis stream),
``transcribe`` turns audio into words with Vosk, ``categorize`` suggests a category from them,
``intake`` does a job (``workers.voicemail`` takes them), and ``model_files`` fetches and checks models.
"""
