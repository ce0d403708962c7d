"""Text messages to citizens: ``outbox`` (what is due, written with the change it tells of),
``templates`` (the Turkish texts), ``gateways`` (log, or a provider over HTTP), ``sender``
(``alo185 sms``: delivers with retries and backoff).
"""
