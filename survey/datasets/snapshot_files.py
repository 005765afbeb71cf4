"""The snapshot's files on disk: the manifest, the Arrow files of each part, written
atomically (a temporary file, fsync, rename) under the writers' lock, and mapped for reading.
What they hold and when they change is `survey.datasets.snapshot`'s business."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

FORMAT = 1
MANIFEST = "manifest.json"


class SnapshotError(RuntimeError):
    """The snapshot cannot be used as asked (the message says why)."""


def _fsync_directory(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_atomically(path: Path, write: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def _write_table(path: Path, table: pa.Table) -> None:
    def write(handle: Any) -> None:
        # Uncompressed: the file is mapped into memory and read in place.
        with ipc.new_file(handle, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 20)

    _write_atomically(path, write)


def _map_table(path: Path) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return ipc.open_file(source).read_all()


@dataclass
class Part:
    """One set of files: a base or a delta."""

    name: str
    removed: list[int] = field(default_factory=list)
    rows: int = 0


@dataclass
class InstrumentEntry:
    versions: list[list[Any]]  # [[id, sha256], ...], oldest first
    tables: list[str]
    parts: list[Part]

    def as_json(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "tables": self.tables,
            "parts": [{"name": p.name, "removed": p.removed, "rows": p.rows} for p in self.parts],
        }


@dataclass
class Manifest:
    seq: int = 0
    epoch: str = ""
    instruments: dict[str, InstrumentEntry] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise SnapshotError(f"Unknown snapshot format {data.get('format')!r}.")
        return cls(
            seq=int(data["seq"]),
            epoch=str(data["epoch"]),
            instruments={
                key: InstrumentEntry(
                    versions=[list(v) for v in value["versions"]],
                    tables=list(value["tables"]),
                    parts=[
                        Part(p["name"], list(p["removed"]), int(p["rows"])) for p in value["parts"]
                    ],
                )
                for key, value in data["instruments"].items()
            },
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "seq": self.seq,
            "epoch": self.epoch,
            "instruments": {k: v.as_json() for k, v in self.instruments.items()},
        }


class Store:
    """The snapshot directory of one host."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST

    def read_manifest(self) -> Manifest:
        try:
            text = self.manifest_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Manifest()
        return Manifest.parse(json.loads(text))

    def manifest_version(self) -> tuple[int, int] | None:
        """Changes when the manifest is replaced (a rename gives it a new inode)."""
        try:
            stat = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def write_manifest(self, manifest: Manifest) -> None:
        data = json.dumps(manifest.as_json(), separators=(",", ":")).encode()
        _write_atomically(self.manifest_path, lambda handle: handle.write(data))
        _fsync_directory(self.folder)

    def table_path(self, part: str, table: str) -> Path:
        return self.folder / f"{part}.{table}.arrow"

    def write_part(self, part: str, tables: Mapping[str, pa.Table]) -> None:
        for name, table in tables.items():
            _write_table(self.table_path(part, name), table)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One writer at a time on this host (processes and threads alike)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, (self.folder / ".lock").open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remove_strays(self, manifest: Manifest) -> None:
        """Delete files no manifest names (left by a killed writer or an old compaction).
        Only under the lock: every writer holds it while its files are not yet named."""
        named = {
            self.table_path(p.name, t).name
            for entry in manifest.instruments.values()
            for p in entry.parts
            for t in entry.tables
        }
        for path in self.folder.iterdir():
            if path.name in {MANIFEST, ".lock"} or path.name in named or path.is_dir():
                continue  # folders hold what is kept beside the snapshot (publications)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


_THREAD_LOCK = threading.RLock()


def _new_part_name(kind: str, seq: int) -> str:
    return f"{kind}-{seq:012d}-{secrets.token_hex(4)}"
