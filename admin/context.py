"""What every blueprint takes from the running application: database sessions, Redis, the acting user."""

from __future__ import annotations

import redis
from flask import current_app
from flask_login import current_user
from sqlalchemy.orm import Session, sessionmaker

from alo185 import bus


def sessions() -> sessionmaker[Session]:
    return current_app.extensions["alo185.sessions"]


def redis_client() -> redis.Redis:
    """One client per application (it pools its connections), made on first use."""
    client = current_app.extensions.get("alo185.redis")
    if client is None:
        client = current_app.extensions["alo185.redis"] = bus.connect(current_app.config["ALO185"].redis_connection_url)
    return client


def user() -> str:
    """The logged-in staff member's username: what history and audit rows name as the actor."""
    return str(current_user.username)
