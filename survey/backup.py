"""Consistent backups of the database while the app runs, and verified restores."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from survey.clock import utcnow

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
REQUIRED_TABLES = {"alembic_version", "users", "instruments", "submissions", "audit_entries"}


class BackupError(ValueError):
    """A backup or restore that cannot be done; the message says why."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("This database has no file to back up.")
    return Path(url.database)


def create_private_file(path: Path) -> None:
    """Create an empty file only its owner can read (0600); an existing one is left alone."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def backup(database_url: str, out: Path) -> str:
    """Write a consistent copy of the database to out; return the kind ('sqlite'/'postgresql').

    The file is created 0600: a backup holds every answer and account.
    """
    url = make_url(database_url)
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_private_file(out)
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(out)
        try:
            # The online backup API copies a consistent snapshot while others keep writing.
            source.backup(target)
        finally:
            target.close()
            source.close()
        verify(out, "sqlite")
        return "sqlite"
    if url.get_backend_name() == "postgresql":
        _run(["pg_dump", "--format=custom", "--no-owner", f"--file={out}", *_pg_args(url)], url)
        verify(out, "postgresql")
        return "postgresql"
    raise BackupError(f"Backups of {url.get_backend_name()} databases are not supported.")


def _pg_args(url: URL) -> list[str]:
    args = []
    if url.host:
        args.append(f"--host={url.host}")
    if url.port:
        args.append(f"--port={url.port}")
    if url.username:
        args.append(f"--username={url.username}")
    args.append(f"--dbname={url.database}")
    return args


def _run(command: list[str], url: URL) -> str:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed; install the PostgreSQL client tools.")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[:500]}")
    return result.stdout


def kind_of(path: Path) -> str:
    """'sqlite' or 'postgresql' from the file's first bytes; BackupError for anything else."""
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise BackupError(f"Cannot read {path}: {error.strerror}.") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is not a Birge backup (neither SQLite nor a PostgreSQL dump).")


def verify(path: Path, expected: str | None = None) -> str:
    """Check that a backup is complete and is a Birge database; return its kind."""
    kind = kind_of(path)
    if expected and kind != expected:
        raise BackupError(
            f"This backup comes from a {kind} database; this installation uses {expected}."
        )
    if kind == "sqlite":
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            status = connection.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as error:
            raise BackupError(f"The backup is damaged: {error}.") from None
        finally:
            connection.close()
        if status != "ok":
            raise BackupError(f"The backup is damaged: {status}.")
        missing = REQUIRED_TABLES - tables
        if missing:
            raise BackupError(
                "This file is a database, but not a Birge one (missing tables: "
                + ", ".join(sorted(missing))
                + ")."
            )
        return kind
    listing = _run(["pg_restore", "--list", str(path)], make_url("postgresql://"))
    missing = {t for t in REQUIRED_TABLES if f"TABLE public {t} " not in listing}
    if missing:
        raise BackupError(
            "This dump is not a Birge database (missing tables: "
            + ", ".join(sorted(missing))
            + ")."
        )
    return kind


def restore(database_url: str, backup_file: Path, safety_dir: Path) -> Path | None:
    """Replace the database with a verified backup; keep a safety copy of the current one
    (None when the database was empty)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise BackupError(f"Restores into {backend} databases are not supported.")
    verify(backup_file, backend)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    safety = safety_dir / f"before-restore-{stamp}.{'sqlite3' if backend == 'sqlite' else 'dump'}"
    if backend == "sqlite":
        live = _sqlite_path(url)
        if live.exists():
            backup(database_url, safety)
        else:
            safety = None
        source = sqlite3.connect(f"file:{backup_file}?mode=ro", uri=True)
        target = sqlite3.connect(live)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return safety
    safety_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    create_private_file(safety)
    _run(["pg_dump", "--format=custom", "--no-owner", f"--file={safety}", *_pg_args(url)], url)
    listing = _run(["pg_restore", "--list", str(safety)], make_url("postgresql://"))
    if " TABLE " not in listing:
        # An empty database (a fresh server): nothing to keep, and nothing to blame the dump for.
        safety.unlink()
        safety = None
    _run(
        ["pg_restore", "--clean", "--if-exists", "--no-owner", *_pg_args(url), str(backup_file)],
        url,
    )
    return safety
