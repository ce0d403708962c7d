"""The ``alo185`` command: the stack, the PBX and each long-running process."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from alo185 import services
from alo185.channels import api_keys
from alo185.core import backup, db, procs
from alo185.core.asterisk import STOP_DEADLINE_S
from alo185.core.asterisk_root import ProvisionError
from alo185.core.phone import MaskingFilter
from alo185.core.settings import Settings, load_settings
from alo185.monitoring import readiness
from alo185.operators import phones, queue_commands
from alo185.org import accounts
from alo185.org.models import Role, User
from alo185.pbx import health
from alo185.pbx.control import Pbx, reload_phones
from alo185.privacy import retention
from alo185.voicemail import model_files


def _pbx(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "install":
        pbx = Pbx.install(settings)
        print(f"Asterisk ready: {' '.join(pbx.argv())}")
        return 0
    pbx = Pbx.locate(settings)
    if args.action == "start":
        pbx.start()
        print(f"Asterisk running (pid {procs.running_pid(settings, 'asterisk')})")
    elif args.action == "stop":
        print("stopped" if pbx.stop(args.deadline) else "not running")
    elif args.action == "status":
        print(f"running (pid {procs.running_pid(settings, 'asterisk')})" if pbx.running() else "not running")
        return 0 if pbx.running() else 3
    elif args.action == "reload":
        pbx.reload()
    elif args.action == "cli":
        if args.command:
            print(pbx.cli(" ".join(args.command)), end="")
        else:
            return subprocess.call(pbx.argv("-r"))
    return 0


def _systemd(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "install":
        services.install_systemd(settings, args.user)
        return 0
    if args.dir is None:
        raise ValueError("'systemd render' needs --dir")
    for path in services.render_systemd(settings, args.dir, args.user):
        print(f"wrote {path}")
    return 0


def _status(settings: Settings) -> int:
    """Which processes run, the disks, and the readiness checks; 1 when a process is down or a check fails."""
    pids = services.status(settings)
    for name, pid in pids.items():
        print(f"{name:<9} {'pid ' + str(pid) if pid else 'stopped'}")
    problems = health.disk_problems(settings)
    for problem in problems or ["ok"]:
        print(f"{'disk':<9} {problem}")
    checks = readiness.run(settings)
    for check in checks:
        print(f"{'ready':<9} {check.name:<13} {check.detail} ({check.ms:g} ms)")
    return 0 if all(pids.values()) and not problems and all(c.ok for c in checks) else 1


def _user(settings: Settings, args: argparse.Namespace) -> int:
    """Add a staff account or set a new password (without --password-stdin one is made and shown once);
    give an operator a phone extension or queue skills. A change to operators' phones reloads the PBX."""
    if args.action not in ("add", "password", "skills", "extension"):
        raise ValueError(f"unknown action {args.action!r}")
    if args.skills and args.action != "skills":
        raise ValueError(f"unexpected arguments: {' '.join(args.skills)}")
    makes_password = args.action in ("add", "password")
    password = ""
    if makes_password:
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else accounts.new_password()
    db.migrate(settings.database_url)
    with db.session_factory(settings.database_url).begin() as session:
        user: User | None
        if args.action == "add":
            if not args.role:
                raise ValueError("a new user needs --role")
            user = accounts.create_user(
                session,
                args.username,
                role=args.role,
                password=password,
                full_name=args.name,
                directorate_code=args.directorate,
                phone=args.phone,
                extension=args.extension,
            )
        else:
            user = session.scalar(select(User).where(User.username == args.username))
            if user is None:
                raise ValueError(f"no user {args.username!r}")
            if args.action == "password":
                accounts.set_password(user, password)
            elif args.action == "extension":
                accounts.assign_extension(session, user, args.extension)
            else:
                phones.set_skills(session, user, phones.parse_skills(args.skills))
        extension, skills = user.extension, phones.skills_of(session, user.id)
    if makes_password and not args.password_stdin:
        print(f"{args.username}: {password}")
    if extension and args.action in ("add", "extension"):
        print(f"{args.username}: SIP extension {extension} (its password: sip_{extension} in the secrets file)")
        if reload_phones(settings):
            print("PBX: SIP endpoints reloaded")
    if args.action == "skills":
        print(f"{args.username}: " + (", ".join(f"{q} (penalty {p})" for q, p in skills.items()) or "no skills"))
        print(queue_commands.apply_skills_now(settings, extension))
    return 0


def _models(settings: Settings, action: str) -> int:
    try:
        if action == "fetch":
            path = model_files.fetch(settings.var_dir / "models")
            print(f"model ready: {path}")
        print(f"model {settings.vosk_model_dir} decodes: {model_files.check(settings.vosk_model_dir)!r}")
    except model_files.ModelError as exc:
        print(f"alo185: {exc}", file=sys.stderr)
        return 2
    return 0


def _retention(settings: Settings, dry_run: bool) -> int:
    db.migrate(settings.database_url)
    with db.session_factory(settings.database_url)() as session:
        entries = retention.run(
            session,
            datetime.now(UTC),
            actor="cli",
            dry_run=dry_run,
            voicemail_dir=settings.voicemail_path,
            evidence_dir=settings.evidence_path,
        )
    print("dry run: nothing changed" if dry_run else "done")
    for e in entries:
        print(f"{e.record_type:<20} {e.method:<10} {e.count:>8}  older than {e.cutoff:%Y-%m-%d %H:%M} UTC")
    return 0


def _backup(settings: Settings, args: argparse.Namespace) -> int:
    directory = args.dir or backup.default_dir(settings)
    started = time.monotonic()
    try:
        path, manifest = backup.create(settings, directory, settle_s=args.settle)
    except OSError as exc:  # a full or read-only disk: nothing is left behind
        raise backup.BackupError(f"backup failed, no backup written: {exc}") from None
    size = path.stat().st_size
    print(f"{path}: {size / 1e6:.1f} MB, {len(manifest.files)} files, {time.monotonic() - started:.1f} s")
    for name in manifest.skipped:
        print(f"skipped (still being written): {name}")
    if args.prune_older_than is not None:
        for old in backup.prune(directory, args.prune_older_than):
            print(f"deleted (older than {args.prune_older_than} days): {old}")
    return 0


def _restore(settings: Settings, args: argparse.Namespace) -> int:
    if args.into is not None:
        target = backup.Target.new_dir(args.into, args.db_url)
    else:
        target = backup.Target.of(settings if args.db_url is None else settings.replace(db_url=args.db_url))
    manifest = backup.restore(args.archive, target, force=args.force)
    rows = manifest.rows
    print(f"restored {manifest.created} into {target.var_dir}: {len(manifest.files)} files, {sum(rows.values())} rows")
    return 0


def _foreground(command: str, settings: Settings, args: argparse.Namespace) -> int:
    # Each process loads only its own adapter: ``alo185 agi`` needs neither Flask nor Vosk.
    if command == "agi":
        from agi_scripts.main import main
    elif command == "queue":
        from queue_manager.service import main
    elif command == "recorder":
        from workers.recorder import main
    elif command == "sms":
        from workers.sms import main
    elif command == "scheduler":
        from workers.scheduler import main
    elif command == "worker":
        from workers.voicemail import main as worker_main

        def main(settings: Settings) -> None:
            worker_main(settings, name=args.name)
    else:
        from admin.main import main
    if command in ("recorder", "admin", "worker", "sms", "scheduler"):
        db.migrate(settings.database_url)
    main(settings)
    return 0


def _deadline(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"a deadline is seconds, 0 or more: {text!r}")
    return value


def _deadline_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--deadline",
        type=_deadline,
        default=STOP_DEADLINE_S,
        metavar="SECONDS",
        help="stopping the PBX: it takes no new call and waits this long for the calls in progress to end, "
        f"then cuts those still up (default {STOP_DEADLINE_S:.0f}; 0 cuts them at once)",
    )


def _days(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"a number of days, 1 or more: {text!r}")
    return value


def _backup_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    make = sub.add_parser("backup", help="write a backup: the database, the settings and secrets, the audio")
    make.add_argument("--dir", type=Path, help="where (default: <var>/backups)")
    make.add_argument(
        "--prune-older-than",
        type=_days,
        metavar="DAYS",
        help="then delete the backups there older than this (KVKK: at most the shortest retention period)",
    )
    make.add_argument(
        "--settle",
        type=float,
        default=backup.SETTLE_S,
        metavar="SECONDS",
        help=f"skip audio changed this recently: still being written (default {backup.SETTLE_S:.0f})",
    )
    restore = sub.add_parser("restore", help="verify a backup, then restore it onto an empty instance")
    restore.add_argument("archive", type=Path)
    restore.add_argument("--into", type=Path, metavar="DIR", help="a new var directory (default: this instance's)")
    restore.add_argument("--db-url", help="the database to restore into (default: the instance's, or SQLite in DIR)")
    restore.add_argument("--force", action="store_true", help="restore over a database or audio already there")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alo185", description="Alo 185 citizen hotline")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="cmd", required=True)
    pbx = sub.add_parser("pbx", help="the Asterisk PBX")
    pbx.add_argument("action", choices=["install", "start", "stop", "status", "reload", "cli"])
    pbx.add_argument("command", nargs="*", help="for 'cli': one CLI command, e.g. dialplan show alo185-inbound")
    _deadline_option(pbx)
    sub.add_parser("up", help="start everything in the background")
    down = sub.add_parser("down", help="stop everything this instance started, once the calls in progress have ended")
    _deadline_option(down)
    restart = sub.add_parser("restart", help="down, then up; with --python only alo185's processes")
    restart.add_argument(
        "--python",
        action="store_true",
        help="restart only alo185's processes (after an upgrade): the PBX and its calls go on untouched",
    )
    _deadline_option(restart)
    sub.add_parser("supervise", help="restart alo185's processes (and the bundled Redis) when one dies (foreground)")
    units = sub.add_parser("systemd", help="systemd units for every process, under alo185.target")
    units.add_argument("action", choices=["render", "install"], help="write them into --dir; or install them (root)")
    units.add_argument("--dir", type=Path, help="for 'render': where")
    units.add_argument("--user", default="alo185", help="the account the processes run as (default: alo185)")
    sub.add_parser("status", help="which processes run, whether recordings can be written, readiness")
    demo = sub.add_parser("demo", help="start everything and place demo calls")
    demo.add_argument("--calls", type=int, default=4)
    sub.add_parser("migrate", help="apply database migrations and add missing reference data")
    for name, text in (
        ("agi", "FastAGI server (foreground)"),
        ("queue", "AMI queue manager (foreground)"),
        ("recorder", "call events -> call records (foreground)"),
        ("admin", "admin web application (foreground)"),
        ("sms", "SMS sender: the outbox to the gateway, with retries (foreground)"),
        ("scheduler", "deadline warnings and the daily KVKK retention job (foreground)"),
    ):
        sub.add_parser(name, help=text)
    retention = sub.add_parser("retention", help="apply the KVKK retention rules once and print the counts")
    retention.add_argument("--dry-run", action="store_true", help="only count what would be destroyed")
    worker = sub.add_parser("worker", help="voicemail worker: transcription and tickets (foreground)")
    worker.add_argument("--name", default="worker", help="this worker's name among several (default: worker)")
    apikey = sub.add_parser("apikey", help="make a key for the channels API (Open311): shown once")
    apikey.add_argument("name", help="who holds it, e.g. 'Mersin mobil uygulaması'")
    user = sub.add_parser("user", help="staff accounts for the admin")
    user.add_argument(
        "action",
        choices=["add", "password", "skills", "extension"],
        help="add a user; give one a new password; set an operator's queue skills; give an operator a phone extension",
    )
    user.add_argument("username")
    user.add_argument("skills", nargs="*", metavar="QUEUE:PENALTY", help="for 'skills': e.g. su:0 genel:1")
    user.add_argument("--role", choices=[r.value for r in Role])
    user.add_argument("--directorate", help="directorate code: required for experts, chiefs and managers")
    user.add_argument("--name", default="", help="full name")
    user.add_argument("--phone", help="mobile number for deadline warnings")
    user.add_argument("--extension", help="an operator's SIP extension (default: the next free one from 1001)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _backup_parsers(sub)
    models = sub.add_parser("models", help="speech models for voicemail transcription")
    models.add_argument("action", choices=["fetch", "check"], help="fetch the Turkish model; check the configured one")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose or os.environ.get("ALO185_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    try:
        settings = load_settings()
        if args.cmd == "pbx":
            return _pbx(settings, args)
        if args.cmd == "up":
            services.up(settings)
            print(f"\nAdmin: {settings.admin_url}/calls")
        elif args.cmd == "down":
            services.down(settings, deadline_s=args.deadline)
        elif args.cmd == "restart":
            if args.python:
                services.restart_processes(settings)
            else:
                services.down(settings, deadline_s=args.deadline)
                services.up(settings)
        elif args.cmd == "status":
            return _status(settings)
        elif args.cmd == "systemd":
            return _systemd(settings, args)
        elif args.cmd == "supervise":
            services.supervise(settings)
        elif args.cmd == "demo":
            from harness import demo  # the development harness: this command is its only door from here

            records = demo.run(settings, args.calls)
            return 0 if records and all(r.ended_at for r in records) else 1
        elif args.cmd == "migrate":
            services.prepare_database(settings)
        elif args.cmd == "apikey":
            db.migrate(settings.database_url)
            with db.session_factory(settings.database_url).begin() as session:
                print(api_keys.create(session, args.name))
        elif args.cmd == "user":
            return _user(settings, args)
        elif args.cmd == "models":
            return _models(settings, args.action)
        elif args.cmd == "retention":
            return _retention(settings, args.dry_run)
        elif args.cmd == "backup":
            return _backup(settings, args)
        elif args.cmd == "restore":
            return _restore(settings, args)
        else:
            return _foreground(args.cmd, settings, args)
    except (ProvisionError, RuntimeError, ValueError) as exc:
        print(f"alo185: {exc}", file=sys.stderr)
        return 2
    return 0
