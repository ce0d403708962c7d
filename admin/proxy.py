"""The client's address and scheme as the reverse proxy saw them, believed only from the proxy itself."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class TrustedProxy:
    """``X-Forwarded-For``/``-Proto`` applied (``hops`` proxies deep) when the peer is one of ``addresses``.

    A request from anywhere else is served as it came: whoever reaches the server directly cannot pose
    as another citizen (and slip the citizen pages' per-address limit) or as an HTTPS visitor.
    """

    def __init__(self, app: WSGIApplication, hops: int, addresses: Iterable[str]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=hops, x_proto=hops)
        self.networks = [ipaddress.ip_network(a, strict=False) for a in addresses]

    def trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket's peer, or none
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self.trusted(environ.get("REMOTE_ADDR", "")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
