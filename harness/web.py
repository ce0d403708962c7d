"""A staff member's browser against a running admin: the login form, timed pages, open event streams."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import socket
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

# The login is bound to the browser (Flask-Login's strong session protection): the streams send the same.
USER_AGENT = "alo185-harness"


class Browser:
    """Logged in through the real form; keeps the session cookie like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def log_in(self, username: str, password: str) -> Browser:
        page = self.get("/login")[1]
        found = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert found, "no CSRF token on /login"
        body = urlencode({"username": username, "password": password, "csrf_token": found.group(1)}).encode()
        with self.opener.open(self.base_url + "/login", data=body, timeout=10) as response:
            assert response.status == 200 and not response.url.endswith("/login"), response.url
        return self

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, str, float]:
        """Status, body and seconds taken; a timeout is status 0."""
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode(), time.monotonic() - started
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode(), time.monotonic() - started
        except (TimeoutError, urllib.error.URLError):
            return 0, "", time.monotonic() - started

    def cookie(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.cookies)


def open_stream(host: str, port: int, path: str, cookie: str, timeout: float = 30) -> socket.socket:
    """An event stream held open: the request sent and the response's head read (a 200), nothing more."""
    sock = socket.create_connection((host, port), timeout=timeout)
    head_lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Accept: text/event-stream"]
    head_lines += [f"User-Agent: {USER_AGENT}", f"Cookie: {cookie}"]
    request = "\r\n".join(head_lines) + "\r\n\r\n"
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status:
        sock.close()
        raise http.client.HTTPException(f"{path}: {status.decode(errors='replace')!r}")
    return sock
