"""One settings object for every process.

Precedence: built-in defaults < config file (TOML) < environment (``ALO185_*``).
The config file is ``$ALO185_CONFIG`` if set, else ``<var>/alo185.toml`` if present.
Secrets are never configured by hand: they are generated once into ``<var>/secrets.json``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[2]
ENV_PREFIX = "ALO185_"
TURKISH_MODEL = "vosk-model-small-tr-0.3"
SECRET_NAMES = ("ami_secret", "flask_secret_key", "sip_password_salt")


@dataclass(frozen=True)
class Settings:
    var_dir: Path = REPO_DIR / "var"
    # The PBX root (a Debian-sid chroot) is shared by every instance on the machine.
    pbx_root: Path = REPO_DIR / "var" / "pbx" / "root"
    instance: str = "main"
    # The Debian mirror the PBX root is bootstrapped from; empty: the one the host's apt sources use.
    debian_mirror: str = ""
    db_url: str = ""
    redis_url: str = ""
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "alo185"
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # The FastAGI server's guards (docs/ivr.md, "Who may connect, and for how long"): only Asterisk
    # opens sessions, from agi_allowed_peers (addresses or networks) or ami_host (Asterisk's own
    # address); at most agi_max_sessions at once; a line longer than agi_max_line_bytes, an environment
    # block not complete after agi_header_timeout_s, or a command Asterisk does not answer within
    # agi_command_timeout_s (plus the command's own wait: WAIT FOR DIGIT's, RECORD FILE's) ends the
    # session, and the dialplan queues the caller to the general operators. The command timeout must
    # outlast the longest prompt.
    agi_allowed_peers: tuple[str, ...] = ("127.0.0.1", "::1")
    agi_max_sessions: int = 1000
    agi_max_line_bytes: int = 16384
    agi_header_timeout_s: float = 10.0
    agi_command_timeout_s: float = 120.0
    sip_port: int = 5060
    admin_host: str = "127.0.0.1"
    admin_port: int = 8185
    # The admin's web server (docs/operations.md, "Behind nginx"): "gunicorn" (admin_workers processes of
    # admin_threads threads each; an open event stream holds a thread) or "dev", Werkzeug's development
    # server, for ``alo185 demo`` only.
    admin_server: str = "gunicorn"
    admin_workers: int = 2
    admin_threads: int = 200
    # Seconds a caller waits in the queue before the dialplan gives up on it.
    queue_timeout: int = 300
    # Overflow (docs/queues.md): when the predicted wait exceeds the queue's target, or nobody can answer,
    # the IVR offers a callback or voicemail. A callback is tried callback_attempts times,
    # callback_retry_s apart, ringing the citizen callback_ring_s each time; its placeholder holds the
    # place for at most callback_hold_s. callback_dial is the dial string of the citizen's phone
    # ({digits}: the E.164 number without "+", {number}: with it); [alo185-callback-out] is where an
    # install routes those calls to its trunk.
    overflow_offer: bool = True
    callback_attempts: int = 3
    callback_retry_s: int = 300
    callback_ring_s: int = 30
    callback_hold_s: int = 14400
    callback_dial: str = "Local/{digits}@alo185-callback-out"
    # SIP extensions rendered into pjsip.conf besides those of the operator users (``alo185 user add``).
    operators: tuple[str, ...] = ("1001", "1002")
    # Wrap-up: seconds after each queue call before the operator is offered the next (every queue).
    wrap_up_s: int = 10
    # Voicemail: the longest message (seconds), the archive (default <var>/voicemail), the Vosk
    # model (default <var>/models/vosk-model-small-tr-0.3, see ``alo185 models fetch``) and the
    # category rules (default the packaged alo185/voicemail/rules.yaml).
    voicemail_max_s: int = 120
    # Operator calls: each queue call an operator answers is recorded (MixMonitor, while caller and operator
    # are bridged) into recording_dir/YYYY/MM/<uniqueid>.wav; the default recording_dir is the PBX
    # instance's spool/alo185-recordings (it must be a directory Asterisk can write: inside its root).
    record_calls: bool = True
    recording_dir: Path | None = None
    voicemail_dir: Path | None = None
    # Below this much free space (MB) where recordings and voicemails are written, the instance reports
    # a disk problem (``alo185 status``): before the disk is full and a message is lost.
    disk_min_free_mb: int = 200
    vosk_model: Path | None = None
    voicemail_rules: Path | None = None
    # Vosk's search in ``alo185 worker``, written over the model's conf/model.conf when it is loaded (the
    # installed model is not changed; 0 keeps the model's own value). Narrower than the Korean test model's
    # own (beam 10, max-active 3000, min-active 200): about twice as fast, with the same character error
    # rate on the benchmark's messages (docs/voicemail.md, "Speed"). Widen them if a model needs it.
    vosk_beam: float = 8.0
    vosk_max_active: int = 700
    vosk_min_active: int = 50
    vosk_lattice_beam: float = 0.0
    # How long after resolution a citizen may reopen a ticket (phone, tracking link).
    reopen_window_days: int = 30
    # A caller is offered the post-call survey at most once in this many days.
    survey_period_days: int = 30
    # Texts to citizens: "log" (offline) or "http" (a provider at sms_url, basic auth); the links
    # in them start with public_url (default: the admin's address).
    sms_gateway: str = "log"
    sms_url: str = ""
    sms_user: str = ""
    sms_password: str = ""
    public_url: str = ""
    # WhatsApp Business Cloud API webhook (/webhooks/whatsapp): off until both are set.
    whatsapp_verify_token: str = ""
    whatsapp_app_secret: str = ""
    # Reverse proxies in front of the admin (nginx, docs/nginx-alo185.conf): proxy_hops of them, the
    # nearest at one of proxy_addresses. Their X-Forwarded-For and -Proto are trusted from there only.
    proxy_hops: int = 0
    proxy_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    # ``alo185 scheduler``: deadline warnings to chiefs and managers every escalation_interval_s
    # seconds; the KVKK retention job once a day at retention_hour (local time, 0-23).
    escalation_interval_s: int = 60
    retention_hour: int = 3
    # Readiness (``/readyz``, ``alo185 status``; docs/operations.md): the queue manager's heartbeat is stale
    # after ready_heartbeat_max_s; the recorder is behind when more events than ready_recorder_lag_max
    # wait for it; dead letters (events and jobs set aside for a person) above ready_dead_letters_max.
    ready_heartbeat_max_s: float = 30.0
    ready_recorder_lag_max: int = 1000
    ready_dead_letters_max: int = 100
    # ``/metrics`` for Prometheus with ``Authorization: Bearer <metrics_token>`` (off while empty), or for
    # a supervisor's or an administrator's login.
    metrics_token: str = ""
    config_file: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        self._check_agi()
        if self.admin_server not in ("gunicorn", "dev"):
            raise ValueError(f"admin_server: {self.admin_server!r} is neither 'gunicorn' nor 'dev'")
        if self.admin_workers < 1 or self.admin_threads < 1:
            raise ValueError("admin_workers and admin_threads: at least 1 each")
        for name in ("vosk_beam", "vosk_max_active", "vosk_min_active", "vosk_lattice_beam"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):  # also refuses NaN
                raise ValueError(f"{name}: {value!r} is not a number >= 0 (0 keeps the model's value)")
        if self.vosk_max_active == 1:  # Kaldi needs more than one active state
            raise ValueError("vosk_max_active: 1 is too small (at least 2, or 0 for the model's value)")
        if self.vosk_max_active and self.vosk_min_active > self.vosk_max_active:
            raise ValueError(
                f"vosk_min_active ({self.vosk_min_active}) is more than vosk_max_active ({self.vosk_max_active})"
            )

    def _check_agi(self) -> None:
        for name in ("agi_max_sessions", "agi_max_line_bytes", "agi_header_timeout_s", "agi_command_timeout_s"):
            value = getattr(self, name)
            if not 0 < value < float("inf"):  # also refuses NaN
                raise ValueError(f"{name}: {value!r} is not a number > 0")
        for peer in self.agi_allowed_peers:
            try:
                ipaddress.ip_network(peer, strict=False)
            except ValueError:
                raise ValueError(
                    f"agi_allowed_peers: {peer!r} is not an address or a network (127.0.0.1, 10.0.0.0/24, ::1)"
                ) from None

    @property
    def voicemail_path(self) -> Path:
        return self.voicemail_dir or self.var_dir / "voicemail"

    @property
    def evidence_path(self) -> Path:
        """Where DİF evidence files are kept (20 years: back it up with the database)."""
        return self.var_dir / "evidence"

    @property
    def vosk_model_dir(self) -> Path:
        return self.vosk_model or self.var_dir / "models" / TURKISH_MODEL

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)

    @property
    def public_base_url(self) -> str:
        return self.public_url or self.admin_url

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.var_dir / 'alo185.db'}"

    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def redis_is_local(self) -> bool:
        """True when alo185 runs its own Redis server (no external URL given)."""
        return not self.redis_url

    @property
    def redis_connection_url(self) -> str:
        return self.redis_url or f"unix://{self.redis_socket}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_host}:{self.admin_port}"

    def secrets(self) -> dict[str, str]:
        """Load the instance's secrets, generating any that are missing."""
        return load_or_create_secrets(self.var_dir / "secrets.json")

    def sip_password(self, extension: str) -> str:
        return self.secrets().get(f"sip_{extension}") or _add_secret(self.var_dir / "secrets.json", f"sip_{extension}")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load_or_create_secrets(path: Path) -> dict[str, str]:
    data: dict[str, str] = {}
    if path.exists():
        data = json.loads(path.read_text())
    missing = [name for name in SECRET_NAMES if not data.get(name)]
    if missing:
        for name in missing:
            data[name] = secrets.token_urlsafe(24)
        _write_private(path, data)
    return data


def _add_secret(path: Path, name: str) -> str:
    data = load_or_create_secrets(path)
    data[name] = secrets.token_urlsafe(18)
    _write_private(path, data)
    return data[name]


def _write_private(path: Path, data: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.replace(tmp, path)


def _coerce(name: str, raw: Any) -> Any:
    """``raw`` (from the config file or the environment) as the value of the setting's type."""
    kind = {f.name: f.type for f in dataclasses.fields(Settings)}[name]
    if kind in ("int", "float"):
        try:
            return int(raw) if kind == "int" else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: {raw!r} is not {'a whole number' if kind == 'int' else 'a number'}") from None
    if kind == "bool":
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in ("1", "true", "yes", "on")
    if kind in ("Path", "Path | None"):
        return Path(str(raw)).expanduser().resolve()
    if kind.startswith("tuple"):
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(i).strip() for i in items if str(i).strip())
    return str(raw)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build the settings from defaults, the optional config file and the environment."""
    env = dict(os.environ if env is None else env)
    names = {f.name for f in dataclasses.fields(Settings)} - {"config_file"}
    values: dict[str, Any] = {}  # each of its setting's type
    from_env = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in env.items()
        if key.startswith(ENV_PREFIX) and key[len(ENV_PREFIX) :].lower() in names
    }
    var_dir = _coerce("var_dir", from_env["var_dir"]) if "var_dir" in from_env else Settings.var_dir
    config_path = Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None
    if config_path is None and (Path(var_dir) / "alo185.toml").exists():
        config_path = Path(var_dir) / "alo185.toml"
    if config_path is not None:
        with open(config_path, "rb") as fh:
            from_file = tomllib.load(fh)
        unknown = set(from_file) - names
        if unknown:
            raise ValueError(f"{config_path}: unknown settings {', '.join(sorted(unknown))}")
        values.update({k: _coerce(k, v) for k, v in from_file.items()})
    values.update({k: _coerce(k, v) for k, v in from_env.items()})
    return Settings(**values, config_file=config_path)
