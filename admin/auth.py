"""Staff login (Flask-Login) and the permission checks every staff page goes through.

A staff blueprint calls ``protect(bp, perm)``: every view in it needs a logged-in, active user whose
role has ``perm`` (``alo185.org.access``); a view needing more says so with ``@requires``. Failed logins
count against the address in Redis, so passwords cannot be tried in bulk.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext, lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user

from admin import context
from alo185.core.phone import mask
from alo185.org import access, accounts
from alo185.org.access import Perm
from alo185.org.models import Role, User

bp = Blueprint("auth", __name__)  # its page is in the app's templates (auth/login.html)
FAILED_LOGINS_PER_HOUR = 20
# Where "/" takes a user: their role's own page (operators work in the console), else the first page their role may see.
ROLE_HOME_PAGES = {Role.OPERATOR: "console.page", Role.SUPERVISOR: "wallboard.page"}
HOME_PAGES = ((Perm.TICKETS_VIEW, "tickets.list_tickets"), (Perm.CALLS_VIEW, "calls.list_calls"))


@dataclass(frozen=True)
class Staff(UserMixin):
    """The logged-in user as pages need it, detached from any database session."""

    id: int
    username: str
    full_name: str
    role: Role
    directorate_id: int | None

    def get_id(self) -> str:
        return str(self.id)

    def can(self, perm: Perm) -> bool:
        return access.allowed(self.role, perm)

    @classmethod
    def of(cls, user: User) -> Staff:
        return cls(user.id, user.username, user.full_name, Role(user.role), user.directorate_id)


def init_app(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "auth.login"
    manager.login_message = lazy_gettext("Bu sayfa için giriş yapın.")
    manager.localize_callback = str  # the message in the language of the request
    manager.session_protection = "strong"
    manager.user_loader(_load)
    app.register_blueprint(bp)
    app.jinja_env.globals["can"] = lambda perm: current_user.is_authenticated and current_user.can(Perm(perm))
    app.jinja_env.globals["phone"] = shown_phone


def _load(user_id: str) -> Staff | None:
    with context.sessions()() as session:
        user = session.get(User, int(user_id)) if user_id.isdigit() else None
        return Staff.of(user) if user is not None and user.active and user.password_hash else None


def current() -> Staff:
    return current_user  # a Staff (``_load``) behind Flask-Login's proxy


def home_endpoint(user: Staff) -> str | None:
    if user.role in ROLE_HOME_PAGES:
        return ROLE_HOME_PAGES[user.role]
    return next((endpoint for perm, endpoint in HOME_PAGES if user.can(perm)), None)


def shown_phone(number: str | None, where: str = "list") -> str:
    """A citizen's number as the logged-in role may see it here (masked unless the role needs it)."""
    if not current_user.is_authenticated:
        return mask(number)
    return access.phone_for(current().role, number, where) if number else ""


def _check(perm: Perm) -> Any:
    if not current_user.is_authenticated:
        # Flask-Login sets ``login_manager`` on the app at run time; Flask's type does not have it.
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if not current().can(perm):
        abort(403)
    return None


def requires(perm: Perm) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrap(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            return _check(perm) or view(*args, **kwargs)

        return checked

    return wrap


def protect(blueprint: Blueprint, perm: Perm) -> None:
    blueprint.before_request(lambda: _check(perm))


def _failed_key() -> str:
    return f"alo185:ratelimit:login:{request.remote_addr}:{int(time.time() // 3600)}"


def _too_many_failures() -> bool:
    try:
        return int(context.redis_client().get(_failed_key()) or 0) >= FAILED_LOGINS_PER_HOUR
    except redis.RedisError:
        return False  # the limiter is down: the password check still stands


def _count_failure() -> None:
    try:
        client = context.redis_client()
        client.incr(_failed_key())
        client.expire(_failed_key(), 7200)
    except redis.RedisError:
        pass


def _safe_next(target: str | None) -> str:
    """Only a path on this site, never another host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return url_for("index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    if _too_many_failures():
        abort(429)
    with context.sessions()() as session:
        user = accounts.check_login(session, request.form.get("username", ""), request.form.get("password", ""))
        found = Staff.of(user) if user is not None else None
    if found is None:
        _count_failure()
        flash(gettext("Kullanıcı adı veya parola hatalı."), "error")
        return render_template("auth/login.html", next=request.form.get("next", "")), 401
    login_user(found)
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("auth.login"))
