"""``alo185 admin``: serve the admin web application."""

from __future__ import annotations

from admin import server
from admin.app import create_app
from alo185.core.settings import Settings


def main(settings: Settings) -> None:
    if settings.admin_server == "dev":
        # Werkzeug's development server, for ``alo185 demo`` on one machine.
        app = create_app(settings)
        app.run(host=settings.admin_host, port=settings.admin_port, threaded=True, use_reloader=False)
        return
    server.serve(settings)
