"""``alo185 admin``: serve the admin web application."""

from __future__ import annotations

from admin.app import create_app
from alo185.core.settings import Settings


def main(settings: Settings) -> None:
    # The development server (threaded) for one machine; gunicorn serves create_app() beyond that.
    create_app(settings).run(host=settings.admin_host, port=settings.admin_port, threaded=True, use_reloader=False)
