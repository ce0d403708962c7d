"""Where messages go: ``log`` (offline: the sender's log, numbers masked) or a provider over HTTP.

The HTTP adapter is generic: ``POST <url>`` with JSON ``{"to", "text", "reference"}``, HTTP basic
auth from the settings and an ``Idempotency-Key`` header (the outbox row), so a provider that
supports it drops a repeat after a crash between its reply and our commit. A 2xx reply is
delivered (its JSON ``id``, if any, is kept); 4xx other than 408/429 will not succeed on retry;
anything else is retried.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from typing import Protocol

from alo185.core.phone import mask

log = logging.getLogger(__name__)


class SendError(RuntimeError):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Gateway(Protocol):
    def send(self, phone: str, text: str, reference: str) -> str:
        """Hand the message over; returns the provider's id. Raises ``SendError``."""
        ...


class LogGateway:
    def send(self, phone: str, text: str, reference: str) -> str:
        log.info("SMS %s to %s: %s", reference, mask(phone), text)
        return f"log-{reference}"


class HttpGateway:
    def __init__(self, url: str, user: str = "", password: str = "", timeout_s: float = 10.0) -> None:
        if not url:
            raise ValueError("the http SMS gateway needs sms_url")
        self.url, self.timeout_s = url, timeout_s
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else ""

    def send(self, phone: str, text: str, reference: str) -> str:
        body = json.dumps({"to": phone, "text": text, "reference": reference}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": reference}
        if self.auth:
            headers["Authorization"] = self.auth
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                reply = response.read()
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise SendError(f"HTTP {exc.code}: {exc.read()[:200]!r}", permanent) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise SendError(f"provider unreachable: {exc}", permanent=False) from exc
        try:
            return str(json.loads(reply or b"{}").get("id", ""))
        except (json.JSONDecodeError, AttributeError):
            return ""
