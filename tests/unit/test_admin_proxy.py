"""The proxy's X-Forwarded-For/-Proto are believed from the proxy's address only."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from admin.proxy import TrustedProxy

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def seen(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    request = Request(environ)
    return Response(f"{request.remote_addr} {request.scheme}")(environ, start_response)


def client(peer: str) -> Client:
    app = TrustedProxy(seen, hops=1, addresses=("127.0.0.1", "10.0.0.0/8"))
    return Client(lambda environ, start: app({**environ, "REMOTE_ADDR": peer}, start))


def test_the_proxy_s_client_address_and_scheme_from_the_proxy() -> None:
    assert client("127.0.0.1").get("/", headers=FORWARDED).text == "203.0.113.7 https"
    assert client("10.1.2.3").get("/", headers=FORWARDED).text == "203.0.113.7 https"


def test_forwarded_headers_from_anyone_else_are_ignored() -> None:
    assert client("198.51.100.9").get("/", headers=FORWARDED).text == "198.51.100.9 http"
    assert client("").get("/", headers=FORWARDED).text == " http"
