"""Logged-in test clients for the staff pages: a real account, the real login form and its CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin.app import create_app
from alo185 import services
from alo185.audit.models import AuditLog
from alo185.core.settings import Settings
from alo185.org import accounts
from alo185.org.models import Role
from alo185.tickets.models import Ticket
from alo185.tickets.queries import create_ticket

PASSWORD = "parola-1234567"


def add_user(app: Flask, username: str, role: Role | str, directorate_code: str | None = None) -> None:
    with app.extensions["alo185.sessions"].begin() as session:
        accounts.create_user(session, username, role=role, password=PASSWORD, directorate_code=directorate_code)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> FlaskClient:
    """Log in through the form; later posts carry the CSRF token in the header Flask-WTF reads."""
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


def staff_client(
    app: Flask, role: Role | str = Role.ADMIN, *, username: str | None = None, directorate_code: str | None = None
) -> FlaskClient:
    """A client logged in as a new user with ``role`` (default the administrator)."""
    username = username or f"test-{Role(role).value}"
    add_user(app, username, role, directorate_code)
    return log_in(app.test_client(), username)


PHONE_A, PHONE_B = "+905321234567", "+905329876543"


@dataclass
class World:
    """An admin with two routed tickets and a user per role; each role's username is the role's name.

    ``expert``, ``chief`` and ``manager`` work in fen-isleri (ticket A's directorate), ``expert-b`` in
    temizlik-isleri (ticket B's).
    """

    app: Flask
    settings: Settings
    ticket_a: str
    ticket_b: str
    citizen_a: int

    def client(self, role: str) -> FlaskClient:
        return log_in(self.app.test_client(), role)

    def ticket(self, number: str) -> Ticket:
        with self.app.extensions["alo185.sessions"]() as s:
            ticket = s.scalar(select(Ticket).where(Ticket.number == number))
            assert ticket is not None
            s.expunge(ticket)
            return ticket

    def audit(self, action: str) -> list[AuditLog]:
        with self.app.extensions["alo185.sessions"]() as s:
            return list(s.scalars(select(AuditLog).where(AuditLog.action == action)))


def build_world(var_dir: Path, database_url: str) -> World:
    settings = Settings(var_dir=var_dir, db_url=database_url)
    services.prepare_database(settings)
    app = create_app(settings)
    with app.extensions["alo185.sessions"].begin() as s:
        a = create_ticket(s, phone=PHONE_A, category_code="yol-cukur", description="Çukur var", channel="phone")
        b = create_ticket(s, phone=PHONE_B, category_code="cop-toplama", description="Çöp alınmadı", channel="web")
        numbers, citizen = (a.number, b.number), a.citizen_id
    for role in ("operator", "supervisor", "quality", "admin"):
        add_user(app, role, role)
    for role in ("expert", "chief", "manager"):
        add_user(app, role, role, "fen-isleri")
    add_user(app, "expert-b", "expert", "temizlik-isleri")
    assert citizen is not None
    return World(app, settings, numbers[0], numbers[1], citizen)
