"""``alo185 backup`` and ``alo185 restore``: an instance's database, settings, secrets and audio in one tar file.

The backup is one uncompressed tar file, ``alo185-backup-<UTC time>.tar``, so that a single rename makes it
appear whole (it is written under a hidden ``.partial`` name first: a failure, a full disk included, leaves no
half backup behind) and so that restoring needs only ``tar`` should this code be gone. Audio (WAV) gains
little from compression and the database snapshot is small beside it. Members:

- ``database/alo185.db`` (SQLite, by the online backup API: consistent while writers run) or
  ``database/alo185.pgdump`` (PostgreSQL, ``pg_dump -Fc`` in an exported snapshot);
- ``settings/secrets.json`` (mode 0600) and ``settings/alo185.toml`` (the config file, if any; restored
  beside the target's as ``alo185.toml.from-backup``);
- ``files/voicemail/…``, ``files/evidence/…``, ``files/recordings/…`` (the audio and the DİF evidence);
- ``manifest.json``, last: the format version, when, the schema revision, the source settings, the
  size and SHA-256 of every other member, the rows of every table in the snapshot, and the audio files
  skipped because they were still being written.

A restore verifies every checksum before it writes anything, so a corrupted backup changes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import IO, Any

import sqlalchemy
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url

from alo185.core import asterisk, db
from alo185.core.settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREFIX = "alo185-backup-"
SUFFIX = ".tar"
# An audio file changed this recently may still be written by Asterisk (a call being recorded, a voicemail
# being left): it is skipped and named in the manifest; the next backup takes it.
SETTLE_S = 10.0
IN_PROGRESS_SUFFIXES = (".partial", ".tmp", ".part")
CONFIG_FROM_BACKUP = "alo185.toml.from-backup"
FILE_MODE = 0o640
PRIVATE_MODE = 0o600
_CHUNK = 1 << 20


class BackupError(RuntimeError):
    """A backup that cannot be made, read or restored; the message says why."""


@dataclass
class Manifest:
    created: str
    schema_revision: str | None
    database: str  # "sqlite" or "postgresql"
    source: dict[str, Any]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # member -> {"sha256", "size"}
    rows: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = json.loads(data)
        if raw.get("version") != FORMAT_VERSION:
            raise BackupError(f"backup format {raw.get('version')!r} is not {FORMAT_VERSION}: a newer alo185 made it")
        return cls(**raw)


# --- where things are ---------------------------------------------------------------------------------


def audio_roots(settings: Settings) -> dict[str, Path | None]:
    """Each store of files in the backup, by its name under ``files/``."""
    return {
        "voicemail": settings.voicemail_path,
        "evidence": settings.evidence_path,
        "recordings": asterisk.recordings_dir(settings),
    }


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None


def _pg_bin(name: str) -> str:
    """The newest installed PostgreSQL client (a dump needs one at least as new as the server)."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if found:
        return str(found[-1])
    return shutil.which(name) or name


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI for ``pg_dump``/``pg_restore`` and the environment with the password (never in argv)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _schema_revision(conn: Connection) -> str | None:
    """Alembic's revision; None for a database never migrated (asked without an error that would end the
    PostgreSQL transaction holding the snapshot)."""
    if "alembic_version" not in sqlalchemy.inspect(conn).get_table_names():
        return None
    return conn.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalar()


def table_rows(conn: Connection) -> dict[str, int]:
    """Rows per table, as ``conn`` sees them (its transaction's snapshot)."""
    names = sqlalchemy.inspect(conn).get_table_names()
    return {t: int(conn.execute(sqlalchemy.text(f'SELECT count(*) FROM "{t}"')).scalar() or 0) for t in sorted(names)}


def database_rows(url: str) -> dict[str, int]:
    """Rows per table of the database at ``url``."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return table_rows(conn)
    finally:
        engine.dispose()


# --- the database snapshot --------------------------------------------------------------------------------


def _snapshot_sqlite(path: Path, into: Path) -> tuple[str | None, dict[str, int]]:
    """The online backup API copies a consistent database while others write (WAL: they never wait)."""
    if not path.exists():
        raise BackupError(f"no database at {path}")
    source = sqlite3.connect(path, timeout=db.BUSY_TIMEOUT_S)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite backup of {path} failed: {exc}") from None
    finally:
        source.close()
        target.close()
    engine = sqlalchemy.create_engine(f"sqlite:///{into}", poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            return _schema_revision(conn), table_rows(conn)
    finally:
        engine.dispose()


def _snapshot_postgres(url: str, into: Path) -> tuple[str | None, dict[str, int]]:
    """``pg_dump -Fc`` inside a snapshot exported by a transaction that also counts the rows: the counts are
    those of the dump, whatever commits meanwhile."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(sqlalchemy.text("SELECT pg_export_snapshot()")).scalar_one()
                revision, rows = _schema_revision(conn), table_rows(conn)
                uri, env = _libpq(url)
                done = subprocess.run(
                    [_pg_bin("pg_dump"), "-Fc", f"--snapshot={snapshot}", "-f", str(into), "--dbname", uri],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    finally:
        engine.dispose()
    return revision, rows


# --- writing the archive ----------------------------------------------------------------------------------


class _Hashing(io.RawIOBase):
    """Reads through to ``raw``, hashing what passes: each file is read once, into the tar and the hash."""

    def __init__(self, raw: IO[bytes], path: Path, size: int) -> None:
        self.raw, self.path, self.left, self.sha = raw, path, size, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if not data and self.left and size:
            # Its tar header, already written, promised more: this backup cannot be completed.
            raise BackupError(f"{self.path} shrank while it was copied: run the backup again")
        self.left -= len(data)
        self.sha.update(data)
        return data


def _add(tar: tarfile.TarFile, manifest: Manifest, name: str, source: Path, mode: int) -> None:
    """``source`` as the member ``name``; a file grown meanwhile is taken as it was when opened."""
    with open(source, "rb") as fh:
        info = tar.gettarinfo(fileobj=fh, arcname=name)
        info.mode, info.uid, info.gid, info.uname, info.gname = mode, 0, 0, "", ""
        hashing = _Hashing(fh, source, info.size)
        tar.addfile(info, hashing)
    manifest.files[name] = {"sha256": hashing.sha.hexdigest(), "size": info.size}


def _in_progress(path: Path, now: float, settle_s: float) -> bool:
    return path.name.endswith(IN_PROGRESS_SUFFIXES) or now - path.stat().st_mtime < settle_s


def _add_audio(tar: tarfile.TarFile, manifest: Manifest, settings: Settings, settle_s: float) -> None:
    now = time.time()
    for store, root in audio_roots(settings).items():
        if root is None or not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file() and ".pending-destruction" not in p.parts):
            name = f"files/{store}/{path.relative_to(root).as_posix()}"
            try:
                if _in_progress(path, now, settle_s):
                    manifest.skipped.append(name)
                    continue
                _add(tar, manifest, name, path, FILE_MODE)
            except FileNotFoundError:  # destroyed by a retention run (or moved from the inbox) meanwhile
                continue


def _source(settings: Settings) -> dict[str, Any]:
    """The settings worth knowing at a restore (never a secret: those are in secrets.json)."""
    url = make_url(settings.database_url)
    return {
        "var_dir": str(settings.var_dir),
        "instance": settings.instance,
        "database_url": url.render_as_string(hide_password=True),
        "config_file": str(settings.config_file) if settings.config_file else None,
        "audio": {k: str(v) if v else None for k, v in audio_roots(settings).items()},
    }


def default_dir(settings: Settings) -> Path:
    return settings.var_dir / "backups"


def create(settings: Settings, directory: Path, settle_s: float = SETTLE_S) -> tuple[Path, Manifest]:
    """Write a backup of the instance into ``directory``; its path and manifest."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = datetime.now(UTC)
    final = directory / f"{PREFIX}{now:%Y%m%dT%H%M%S.%fZ}{SUFFIX}"
    partial = directory / f".{final.name}.partial"
    sqlite_path = _sqlite_path(settings.database_url)
    try:
        with tempfile.TemporaryDirectory(dir=directory, prefix=".db-") as tmp:
            if sqlite_path is not None:
                dump, member = Path(tmp) / "alo185.db", "database/alo185.db"
                revision, rows = _snapshot_sqlite(sqlite_path, dump)
            else:
                dump, member = Path(tmp) / "alo185.pgdump", "database/alo185.pgdump"
                revision, rows = _snapshot_postgres(settings.database_url, dump)
            manifest = Manifest(
                created=now.isoformat(),
                schema_revision=revision,
                database="sqlite" if sqlite_path else "postgresql",
                source=_source(settings),
                rows=rows,
            )
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                _add(tar, manifest, member, dump, PRIVATE_MODE)
                secrets = settings.var_dir / "secrets.json"
                if secrets.exists():
                    _add(tar, manifest, "settings/secrets.json", secrets, PRIVATE_MODE)
                if settings.config_file and settings.config_file.exists():
                    _add(tar, manifest, "settings/alo185.toml", settings.config_file, PRIVATE_MODE)
                _add_audio(tar, manifest, settings, settle_s)
                body = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode, info.mtime = len(body), PRIVATE_MODE, int(now.timestamp())
                tar.addfile(info, io.BytesIO(body))
                raw.flush()
                os.fsync(raw.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        os.fsync(dir_fd)
        os.close(dir_fd)
    return final, manifest


def prune(directory: Path, older_than_days: int, now: datetime | None = None) -> list[Path]:
    """Delete the backups in ``directory`` made more than ``older_than_days`` ago (and stale partial ones)."""
    if older_than_days < 1:
        raise ValueError(f"--prune-older-than: {older_than_days} is not a number of days >= 1")
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    gone = []
    for path in sorted(directory.glob(f"{PREFIX}*{SUFFIX}")) + sorted(directory.glob(f".{PREFIX}*.partial")):
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < cutoff:
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


# --- reading and restoring --------------------------------------------------------------------------------


def _safe(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and not PurePosixPath(name).is_absolute() and ".." not in parts


def verify(archive: Path) -> Manifest:
    """The manifest, once every member's size and SHA-256 match it; BackupError otherwise."""
    try:
        with tarfile.open(archive, mode="r:") as tar:
            try:
                member = tar.getmember(MANIFEST)
            except KeyError:
                raise BackupError(f"{archive}: not an alo185 backup (no {MANIFEST})") from None
            handle = tar.extractfile(member)
            manifest = Manifest.from_json(handle.read() if handle else b"")
            seen: set[str] = set()
            for info in tar:
                if info.name == MANIFEST:
                    continue
                if not info.isfile() or not _safe(info.name) or info.name not in manifest.files:
                    raise BackupError(f"{archive}: corrupted backup: unexpected member {info.name!r}")
                expected, sha = manifest.files[info.name], hashlib.sha256()
                with tar.extractfile(info) as fh:  # type: ignore[union-attr]
                    for chunk in iter(lambda: fh.read(_CHUNK), b""):
                        sha.update(chunk)
                if info.size != expected["size"] or sha.hexdigest() != expected["sha256"]:
                    raise BackupError(f"{archive}: corrupted backup: {info.name} does not match its checksum")
                seen.add(info.name)
    except (tarfile.TarError, OSError, EOFError, json.JSONDecodeError, TypeError, KeyError) as exc:
        raise BackupError(f"{archive}: corrupted backup: {exc}") from None
    missing = set(manifest.files) - seen
    if missing:
        raise BackupError(f"{archive}: corrupted backup: {len(missing)} file(s) missing, e.g. {min(missing)}")
    return manifest


def _check_revision(manifest: Manifest, url: str) -> None:
    """A backup from a newer alo185 (a revision this code does not know) is refused before anything changes."""
    if manifest.schema_revision is None:
        raise BackupError("the backup's database has no schema revision: it was never migrated")
    scripts = ScriptDirectory.from_config(db.alembic_config(url))
    try:
        scripts.get_revision(manifest.schema_revision)
    except Exception:
        raise BackupError(
            f"the backup's schema revision {manifest.schema_revision} is unknown here: upgrade alo185 first"
        ) from None


def _target_problems(url: str, roots: dict[str, Path | None]) -> list[str]:
    """What a restore would overwrite: a database with tables, audio directories with files."""
    problems = []
    sqlite_path = _sqlite_path(url)
    if sqlite_path is None or (sqlite_path.exists() and sqlite_path.stat().st_size):
        tables = [t for t in database_rows(url) if t != "alembic_version"]
        if tables:
            problems.append(f"the database {make_url(url).render_as_string(hide_password=True)} has tables")
    for store, root in roots.items():
        if root is not None and root.is_dir() and any(p.is_file() for p in root.rglob("*")):
            problems.append(f"{root} ({store}) has files")
    return problems


def _restore_sqlite(tar: tarfile.TarFile, member: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.restoring")
    _extract_to(tar, member, tmp, PRIVATE_MODE)
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)  # a WAL of the database replaced would be replayed into the restored one
    os.replace(tmp, path)


def _restore_postgres(tar: tarfile.TarFile, member: str, url: str, clean: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="alo185-restore-") as tmp:
        dump = Path(tmp) / "alo185.pgdump"
        _extract_to(tar, member, dump, PRIVATE_MODE)
        uri, env = _libpq(url)
        argv = [_pg_bin("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"]
        argv += ["--clean", "--if-exists"] if clean else []
        done = subprocess.run([*argv, "--dbname", uri, str(dump)], env=env, capture_output=True, text=True)
        if done.returncode:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")


def _extract_to(tar: tarfile.TarFile, member: str, path: Path, mode: int) -> None:
    """The member written under a temporary name, then renamed: a file is never half restored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.restoring")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out, tar.extractfile(member) as src:  # type: ignore[union-attr]
        shutil.copyfileobj(src, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Target:
    """Where a restore goes: a var directory, its database, and its stores of files."""

    var_dir: Path
    database_url: str
    roots: dict[str, Path | None]

    @classmethod
    def of(cls, settings: Settings) -> Target:
        return cls(settings.var_dir, settings.database_url, audio_roots(settings))

    @classmethod
    def new_dir(cls, var_dir: Path, database_url: str | None = None) -> Target:
        """A fresh directory: the database in it unless another is given, the stores under it."""
        var_dir = var_dir.resolve()
        names = ("voicemail", "evidence", "recordings")
        url = database_url or f"sqlite:///{var_dir / 'alo185.db'}"
        return cls(var_dir, url, {n: var_dir / n for n in names})


def _destination(target: Target, name: str) -> Path | None:
    parts = PurePosixPath(name).parts
    if parts[0] == "settings":
        # The secrets come back in force (signed links, SIP passwords); the config file only beside the
        # target's own, to review: the source's database URL or paths need not hold here.
        return target.var_dir / ("secrets.json" if parts[1] == "secrets.json" else CONFIG_FROM_BACKUP)
    if parts[0] == "files":
        root = target.roots.get(parts[1])
        return root.joinpath(*parts[2:]) if root is not None else None
    return None


def restore(archive: Path, target: Target, force: bool = False) -> Manifest:
    """Verify ``archive``, then restore the database and the files into ``target``, then migrate.

    Nothing is written before the whole backup is verified and the target is found empty (or ``force``).
    """
    manifest = verify(archive)
    target_is_sqlite = _sqlite_path(target.database_url) is not None
    if target_is_sqlite != (manifest.database == "sqlite"):
        raise BackupError(
            f"the backup holds a {manifest.database} database and the target's is not: give a matching database URL"
        )
    _check_revision(manifest, target.database_url)
    if target.roots.get("recordings") is None and any(n.startswith("files/recordings/") for n in manifest.files):
        raise BackupError("the backup has call recordings and the target has no recording directory (recording_dir)")
    problems = _target_problems(target.database_url, target.roots)
    if problems and not force:
        raise BackupError("refusing to overwrite: " + "; ".join(problems) + " (--force to restore over it)")
    target.var_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, mode="r:") as tar:
        for name in manifest.files:
            if name.startswith("database/"):
                if target_is_sqlite:
                    _restore_sqlite(tar, name, _sqlite_path(target.database_url))  # type: ignore[arg-type]
                else:
                    _restore_postgres(tar, name, target.database_url, clean=force)
        for name in manifest.files:
            destination = _destination(target, name)
            if destination is not None:
                mode = PRIVATE_MODE if name.startswith("settings/") else FILE_MODE
                _extract_to(tar, name, destination, mode)
    db.migrate(target.database_url)  # a backup of an older schema is brought to this code's
    db.engine_for(target.database_url).dispose()
    return manifest


def checksums(target: Target, manifest: Manifest) -> Iterator[tuple[str, Path, bool]]:
    """Each restored file of ``manifest``, where it is, and whether it matches its checksum."""
    for name, expected in manifest.files.items():
        path = _destination(target, name)
        if path is None:
            continue
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                sha.update(chunk)
        yield name, path, sha.hexdigest() == expected["sha256"]
