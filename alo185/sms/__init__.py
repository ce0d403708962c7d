"""Text messages to citizens: ``outbox`` (what is due, written with the change it tells of),
``templates`` (the Turkish texts), ``gateways`` (log, or a provider over HTTP), ``sender`` (delivers
what is due with retries and backoff; ``workers.sms`` runs it).
"""
