"""The admin as a WSGI application for a server of one's own: ``gunicorn admin.wsgi:application``.

Settings come from the environment (``ALO185_*``) and the config file, as for every alo185 command.
``alo185 admin`` runs it under gunicorn itself (admin/server.py), with the settings this needs.
"""

from __future__ import annotations

from admin.app import create_app
from alo185.core.settings import load_settings

application = create_app(load_settings())
