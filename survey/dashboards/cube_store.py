"""The advocates' publications kept on disk beside the snapshot, shared by every process.

Why: building a publication (the estimates of the star and their protection) costs about half a
minute at 100,000 submissions, and every gunicorn worker and every CLI command used to pay it
once per data state. A publication is a pure function of the rows it is built from, the
instrument's versions, the round, the publication settings (statuses, demo data, k), the
advocates' last published set of interviews (the rule against differencing over time) and the
code that builds it; the file is named by a digest of all of these, so any change of one of them
names another file and a stale cube is never read.

The data part of the key is the snapshot's signature (survey/datasets/snapshot.py): the names
of the instrument's parts, new for every change of its submissions (an insert, a correction, a
review, a withdrawal). A dataset read another way (the snapshot switched off) has no signature
and its publications are not kept on disk.

Files: `<snapshot folder>/cubes/<instrument>-<round>-<digest>.cube`, written to a temporary
name, fsynced and renamed, so a reader sees a whole file or none. A file starts with a header
(format, the key's digest, the payload's length and SHA-256); one that does not match in every
respect (cut short, corrupted, another key) is ignored and rebuilt. The payload is a pickle
written by this server into its own instance folder, trusted as the database beside it is, and
read only after its checksum matched. Processes building the same key at once take a lock per
key: the second waits and reads what the first wrote instead of building it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import struct
import threading
from collections.abc import Callable, Hashable, Iterator
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from flask import current_app

MAGIC = b"BIRGE-CUBE-1\n"
HEADER = struct.Struct(">32sQ32s")  # key digest, payload length, payload SHA-256
SUFFIX = ".cube"
FOLDER = "cubes"
# What this process did: read a kept file, or built (and wrote) one
STATS = {"reads": 0, "builds": 0}
KEEP_PER_SCOPE = 4  # files kept per instrument and round (other data states, settings)
# The code a publication depends on: any change to these sources names new files.
_SOURCE_PACKAGES = (
    "reports/analysis",
    "survey/dashboards",
    "survey/datasets",
    "survey/instruments",
)
# ... and the libraries that compute it (an upgrade may change a last digit)
_LIBRARIES = ("numpy", "pandas", "pyarrow", "scipy")


@cache
def code_version() -> str:
    """A digest of the source files that build a publication (once per process)."""
    root = Path(__file__).resolve().parent.parent.parent
    digest = hashlib.sha256()
    for library in _LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)};".encode())
    for package in _SOURCE_PACKAGES:
        for path in sorted((root / package).glob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def key_digest(parts: Hashable) -> bytes:
    """The 32-byte digest naming a publication's file (parts: plain values, repr-stable)."""
    text = json.dumps([code_version(), _plain(parts)], sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda i: str(i[0]))}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def cube_folder() -> Path:
    """Where this host keeps its publications: beside its snapshot."""
    from survey.datasets.snapshot import snapshot_folder

    return snapshot_folder() / FOLDER


def _path(folder: Path, scope: str, digest: bytes) -> Path:
    return folder / f"{scope}-{digest.hex()[:40]}{SUFFIX}"


def read(path: Path, digest: bytes) -> Any | None:
    """The value stored under digest at path, or None (missing, partial, corrupted, other key)."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                return None
            header = handle.read(HEADER.size)
            if len(header) != HEADER.size:
                return None
            stored_key, length, checksum = HEADER.unpack(header)
            if stored_key != digest:
                return None
            payload = handle.read(length + 1)
    except OSError:
        return None
    if len(payload) != length or hashlib.sha256(payload).digest() != checksum:
        return None
    try:
        return pickle.loads(payload)  # noqa: S301 - written by this server, checksum verified
    except Exception:  # an unreadable cache file is rebuilt, never an error
        current_app.logger.warning("Unreadable publication file %s: rebuilding", path)
        return None


def write(path: Path, digest: bytes, value: Any) -> None:
    """Store value under digest at path atomically: temporary file, fsync, rename."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    header = HEADER.pack(digest, len(payload), hashlib.sha256(payload).digest())
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(MAGIC + header)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    descriptor = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time on this host: fcntl locks an open file, so threads wait too."""
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tidy(folder: Path, scope: str, keep: Path) -> None:
    """Delete all but the newest files of this scope (older data states and settings)."""
    files = []
    for found in folder.glob(f"{scope}-*{SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            files.append((found.stat().st_mtime, found))
    files.sort(reverse=True)
    for _mtime, found in files[KEEP_PER_SCOPE:]:
        if found != keep:
            with contextlib.suppress(FileNotFoundError):
                found.unlink()


def stored(
    scope: str,
    key: Callable[[], Hashable],
    build: Callable[[], Any],
    *,
    folder: Path | None = None,
) -> Any:
    """The value of `key()` from disk, else built (once per host at a time) and stored.

    `key` is called before the build and, when the file is missing, again under the lock and
    after the build: the key of the state the value was built in (the build may change it, as
    the publication's refresh rule does).
    """
    folder = folder or cube_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        current_app.logger.exception("Cannot create %s: building without keeping", folder)
        return build()

    def kept() -> Any:
        digest = key_digest(key())
        found = read(_path(folder, scope, digest), digest)
        if found is not None:
            STATS["reads"] += 1
        return found

    found = kept()
    if found is not None:
        return found
    with _locked(folder / f".{scope}.lock"):
        found = kept()  # another process may have written it while this one waited
        if found is not None:
            return found
        value = build()
        STATS["builds"] += 1
        digest = key_digest(key())
        path = _path(folder, scope, digest)
        try:
            write(path, digest, value)
        except OSError:
            # A full disk must not stop the pages: the value is still served, only not kept.
            current_app.logger.exception("Cannot write %s", path)
        else:
            _tidy(folder, scope, path)
    return value
