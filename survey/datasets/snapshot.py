"""A columnar snapshot of the answers, beside the database, kept in step with it.

Why: turning the answers' JSON into columns costs about 17 CPU-seconds per 100,000 submissions,
in every process that needs them. The snapshot does that work once per change, on disk, and every
process (every gunicorn worker, every CLI command) reads the columns from memory-mapped Arrow
files, which the operating system keeps once in its page cache for all of them.

On disk, in `<instance>/snapshot/` (one directory per host; never shared between hosts):
- `manifest.json`: the format, the database's epoch, the change number `seq` the snapshot has
  caught up to, and per instrument its versions (id, sha256) and its parts, oldest first;
- `<part>.<table>.arrow`: Arrow IPC files, one per table of a part: `respondents` (one row per
  submission) and one per repeat (`member`, ...). A part is a base (every submission of the
  instrument) or a delta (the submissions changed since); a part's rows replace the rows with the
  same `_submission_id` in earlier parts, and its `removed` ids (withdrawals) drop them.
- `.lock`: the lock writers take (fcntl); readers take none.

Every file is written to a temporary name, fsynced and renamed, the manifest last: a process
killed at any point leaves the previous manifest and the files it names, and the next catch-up
starts again from its `seq` (stray files are deleted under the lock).

Keeping in step: the database numbers every insert, update and deletion of a submission from one
counter row (triggers; see SnapshotSequence). A process reads that counter (one primary-key
read) before it answers from the snapshot; when it is ahead of the manifest's `seq`, the process
takes the lock and writes a delta with the rows changed since and the ids removed since, so a
withdrawal leaves every process's datasets at its next read. Many deltas, or large ones, are
compacted into a new base. A new instrument version, a restored database (a new epoch) or a
counter behind the manifest rebuild the instrument's snapshot from the database.

What the files hold is the dataset bridge's own columns before two choices that depend on which
rows are read: a calculate is kept as the JSON text of each stored value, and a category keeps
the codes in any order; `frames()` decides both over the rows a dataset selects, exactly as
reading the answers from the database would (`verify()` compares the two).

The files themselves (manifest, parts, atomic writes, the lock) are `snapshot_files`. This module
stays past 600 lines because it is one cycle: the columns it writes from the answers are the
columns it reads back, with the same two choices made on the rows a dataset selects, and
`verify()` checks the two against each other; split apart, a change to one side would not show
the other.
"""

from __future__ import annotations

import ctypes
import json
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from flask import current_app
from sqlalchemy import select, text, update

from survey.collection.models import (
    REVIEW_STATUSES,
    SnapshotSequence,
    Submission,
    SubmissionRemoval,
    SurveyRound,
)
from survey.datasets.columns import (
    METADATA_COLUMNS,
    MULTIPLE_SEPARATOR,
    PARENT_INDEX,
    REPEAT_METADATA,
    RESPONDENT_CONTEXT,
    RESPONDENT_PREFIX,
    CategoryBuilder,
    calculated_column,
)
from survey.datasets.reading import _SELECTED, CHUNK_ROWS, Loader
from survey.datasets.snapshot_files import (
    InstrumentEntry,
    Manifest,
    Part,
    SnapshotError,
    Store,
    _map_table,
    _new_part_name,
)
from survey.extensions import db
from survey.instruments.models import Instrument, InstrumentVersion
from survey.instruments.services import spec_for
from survey.instruments.spec import InstrumentSpec

RESPONDENTS = "respondents"
# A delta replaces rows; past these a compaction writes one base again (fewer files to map, and
# no superseded rows kept on disk).
MAX_PARTS = 8
MAX_DELTA_SHARE = 0.2
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())


# -- building tables from the database --------------------------------------------------------


class _StoredCalculate(CategoryBuilder):
    """A calculate's stored values as JSON text: whether it is a number is decided when read."""

    def __init__(self) -> None:
        super().__init__(())
        self.texts: dict[str, int] = {}

    def add(self, values: list[Any]) -> None:
        codes = np.empty(len(values), dtype=np.int32)
        for position, value in enumerate(values):
            codes[position] = self._code(value)
        self.parts.append(codes)

    def _code(self, value: Any) -> int:
        if value is None or value == "":
            return -1
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        code = self.texts.get(text)
        if code is None:
            code = self.texts[text] = len(self.categories)
            self.categories.append(text)
        return code


class _RoundIds(dict):
    """Round ids as category names: round names are read when the snapshot is (a rename shows)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return None if key is None else str(key)


def _loader(versions: Sequence[InstrumentVersion], specs: Sequence[InstrumentSpec]) -> Loader:
    loader = Loader(specs, {v.id: v.version for v in versions}, _RoundIds())
    for spec_field in loader.top:
        if spec_field.kind == "calculate":
            loader.builders[spec_field.name] = _StoredCalculate()
    for repeat, fields in loader.by_repeat.items():
        for spec_field in fields:
            if spec_field.kind == "calculate":
                loader.repeat_builders[repeat][spec_field.name] = _StoredCalculate()
    return loader


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # One index width for every part, whatever the number of categories, so parts concatenate.
    for position, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type) and column.type != _DICTIONARY:
            array = table.column(position)
            if pa.types.is_null(column.type.value_type):
                array = pa.chunked_array(
                    [
                        pa.DictionaryArray.from_arrays(c.indices, pa.array([], pa.string()))
                        for c in array.chunks
                    ],
                    type=pa.dictionary(column.type.index_type, pa.string()),
                )
            table = table.set_column(position, column.name, array.cast(_DICTIONARY))
    return table.replace_schema_metadata(None)


def _read_tables(
    versions: Sequence[InstrumentVersion],
    specs: Sequence[InstrumentSpec],
    where: Sequence[Any],
) -> dict[str, pa.Table]:
    """The submissions matching `where` (of these versions) as the snapshot's tables."""
    loader = _loader(versions, specs)
    statement = (
        select(*_SELECTED)
        .where(Submission.instrument_version_id.in_([v.id for v in versions]), *where)
        .order_by(Submission.id)
    )
    result = db.session.connection().execute(statement.execution_options(yield_per=CHUNK_ROWS))
    for rows in result.partitions():
        loader.add(rows)
    result.close()
    respondents, repeats = loader.finish()
    tables = {RESPONDENTS: _to_arrow(respondents)}
    for name, frame in repeats.items():
        keys = ("_submission_id", "_index", PARENT_INDEX)
        stored = [c for c in frame.columns if c in keys] + [
            c
            for c in frame.columns
            if c not in REPEAT_METADATA and not c.startswith(RESPONDENT_PREFIX) and c not in keys
        ]
        tables[name] = _to_arrow(frame[stored])
    return tables


# -- the database side -------------------------------------------------------------------------


def database_position() -> tuple[int, str]:
    """The change counter and the database's epoch (new after a restore)."""
    row = db.session.execute(
        select(SnapshotSequence.value, SnapshotSequence.epoch).where(SnapshotSequence.id == 1)
    ).first()
    if row is None:
        return 0, ""
    return int(row.value), str(row.epoch or "")


def _instrument_versions(instrument_id: int) -> list[InstrumentVersion]:
    versions = db.session.execute(
        select(InstrumentVersion).where(InstrumentVersion.instrument_id == instrument_id)
    ).scalars()
    return sorted(versions, key=lambda v: (v.sequence or 0, v.id))


def _version_key(versions: Sequence[InstrumentVersion]) -> list[list[Any]]:
    return [[v.id, v.sha256] for v in versions]


def _rebuild_entry(store: Store, instrument_id: int, seq: int) -> InstrumentEntry | None:
    versions = _instrument_versions(instrument_id)
    if not versions:
        return None  # no such instrument (any more)
    specs = [spec_for(v) for v in versions]
    tables = _read_tables(versions, specs, [])
    name = _new_part_name("base", seq)
    store.write_part(name, tables)
    return InstrumentEntry(
        versions=_version_key(versions),
        tables=list(tables),
        parts=[Part(name, [], tables[RESPONDENTS].num_rows)],
    )


def _catch_up_entry(
    store: Store, instrument_id: int, entry: InstrumentEntry, after: int, upto: int
) -> InstrumentEntry | None:
    """The entry with a delta for the changes numbered (after, upto], or rebuilt when large."""
    versions = _instrument_versions(instrument_id)
    if _version_key(versions) != entry.versions:
        return _rebuild_entry(store, instrument_id, upto)
    if upto <= after:
        return entry
    version_ids = [v.id for v in versions]
    removed = [
        row.submission_id
        for row in db.session.execute(
            select(SubmissionRemoval.submission_id).where(
                SubmissionRemoval.seq > after,
                SubmissionRemoval.seq <= upto,
                SubmissionRemoval.instrument_version_id.in_(version_ids),
            )
        )
    ]
    changed = db.session.execute(
        select(db.func.count()).where(
            Submission.change_seq > after,
            Submission.change_seq <= upto,
            Submission.instrument_version_id.in_(version_ids),
        )
    ).scalar_one()
    if not changed and not removed:
        return entry
    base_rows = entry.parts[0].rows if entry.parts else 0
    delta_rows = sum(p.rows for p in entry.parts[1:]) + changed
    if delta_rows > MAX_DELTA_SHARE * max(base_rows, 1000):
        return _rebuild_entry(store, instrument_id, upto)
    specs = [spec_for(v) for v in versions]
    tables = _read_tables(
        versions, specs, [Submission.change_seq > after, Submission.change_seq <= upto]
    )
    if set(tables) != set(entry.tables):
        return _rebuild_entry(store, instrument_id, upto)
    name = _new_part_name("delta", upto)
    store.write_part(name, tables)
    parts = [*entry.parts, Part(name, sorted(set(removed)), tables[RESPONDENTS].num_rows)]
    updated = InstrumentEntry(entry.versions, entry.tables, parts)
    if len(parts) > MAX_PARTS:
        return _compact(store, updated, upto)
    return updated


def _compact(store: Store, entry: InstrumentEntry, seq: int) -> InstrumentEntry:
    """One base from the entry's parts, read from the files alone."""
    tables = _merged_tables(store, entry)
    name = _new_part_name("base", seq)
    store.write_part(name, tables)
    return InstrumentEntry(
        entry.versions, entry.tables, [Part(name, [], tables[RESPONDENTS].num_rows)]
    )


def catch_up(store: Store, instrument_id: int | None = None, *, rebuild: bool = False) -> Manifest:
    """Bring the snapshot up to the database's counter (and build `instrument_id` if missing).

    Readers never wait for this: they keep the manifest they have until the new one is renamed
    into place. `rebuild` builds every instrument (or only `instrument_id`) from the database.
    """
    with store.locked():
        manifest = store.read_manifest()
        upto, epoch = database_position()
        entries = dict(manifest.instruments)
        wanted = {int(key) for key in entries}
        if epoch != manifest.epoch or upto < manifest.seq:
            entries = {}  # another database, or a restored one: start again
        if rebuild:
            if instrument_id is None:
                entries = {}
                wanted = set(db.session.execute(select(Instrument.id)).scalars())
            else:
                entries.pop(str(instrument_id), None)
        if instrument_id is not None:
            wanted.add(instrument_id)
        for key, entry in list(entries.items()):
            updated = _catch_up_entry(store, int(key), entry, manifest.seq, upto)
            if updated is None:
                del entries[key]
                wanted.discard(int(key))
            else:
                entries[key] = updated
        for wanted_id in sorted(wanted):
            if str(wanted_id) not in entries:
                built = _rebuild_entry(store, wanted_id, upto)
                if built is not None:
                    entries[str(wanted_id)] = built
        new = Manifest(seq=upto, epoch=epoch, instruments=entries)
        if new.as_json() != manifest.as_json():
            store.write_manifest(new)
        store.remove_strays(new)
        return new


def change_feed_installed() -> bool:
    """Whether the database numbers submission changes (its triggers exist).

    A migration that rebuilds the submissions table on SQLite (batch mode) drops its triggers:
    `survey snapshot verify` says so rather than let snapshots fall silently behind.
    """
    if db.engine.dialect.name == "sqlite":
        found = db.session.execute(
            text(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'submissions' AND name LIKE 'submissions_change_%'"
            )
        ).scalar_one()
        return found == 3
    found = db.session.execute(
        text(
            "SELECT COUNT(*) FROM pg_trigger WHERE tgrelid = 'submissions'::regclass "
            "AND NOT tgisinternal AND tgname IN ('submissions_change', 'submissions_removal')"
        )
    ).scalar_one()
    return found == 2


def new_epoch() -> None:
    """Mark the database as another one (after a restore): every snapshot rebuilds. Flushes."""
    db.session.execute(update(SnapshotSequence).values(epoch=secrets.token_hex(16)))
    db.session.flush()


# -- reading ----------------------------------------------------------------------------------


@dataclass
class Loaded:
    """An instrument's parts, mapped: per part its tables and the rows still current."""

    signature: tuple[str, ...]
    tables: list[dict[str, pa.Table]]
    current: list[np.ndarray]  # per part: which respondent rows no later part replaced
    versions: list[list[Any]]


def _load_entry(store: Store, entry: InstrumentEntry) -> Loaded:
    tables = [
        {name: _map_table(store.table_path(part.name, name)) for name in entry.tables}
        for part in entry.parts
    ]
    ids = [
        t[RESPONDENTS].column("_submission_id").to_numpy()
        if t[RESPONDENTS].num_rows
        else np.empty(0, np.int64)
        for t in tables
    ]
    current: list[np.ndarray] = []
    later = np.empty(0, dtype=np.int64)
    for position in range(len(entry.parts) - 1, -1, -1):
        current.append(~np.isin(ids[position], later))
        if position:  # what later parts hold is asked of earlier parts only
            later = np.union1d(later, ids[position])
            later = np.union1d(later, np.asarray(entry.parts[position].removed, dtype=np.int64))
    current.reverse()
    return Loaded(tuple(p.name for p in entry.parts), tables, current, entry.versions)


def _merged_tables(store: Store, entry: InstrumentEntry) -> dict[str, pa.Table]:
    loaded = _load_entry(store, entry)
    return {name: _select(loaded, name, None) for name in entry.tables}


def _select(loaded: Loaded, name: str, keep_ids: np.ndarray | None) -> pa.Table:
    """One table's current rows (of the respondents `keep_ids`, sorted), in submission order."""
    pieces = []
    for part, current in zip(loaded.tables, loaded.current, strict=True):
        table = part[name]
        if name == RESPONDENTS:
            mask = current
            if keep_ids is not None and table.num_rows:
                mask = mask & np.isin(table.column("_submission_id").to_numpy(), keep_ids)
        else:
            ids = table.column("_submission_id").to_numpy() if table.num_rows else np.empty(0)
            respondent_ids = part[RESPONDENTS].column("_submission_id").to_numpy()
            allowed = (
                respondent_ids[current]
                if keep_ids is None
                else np.intersect1d(respondent_ids[current], keep_ids)
            )
            mask = np.isin(ids, allowed)
        if mask.all():
            pieces.append(table)
        elif mask.any():
            pieces.append(table.filter(pa.array(mask)))
    if not pieces:
        return loaded.tables[0][name].slice(0, 0)
    merged = pa.concat_tables(pieces, promote_options="default") if len(pieces) > 1 else pieces[0]
    if len(pieces) > 1 and not _in_order(merged, name):
        keys = [("_submission_id", "ascending")]
        if name != RESPONDENTS:
            keys.append(("_index", "ascending"))
        merged = merged.take(pc.sort_indices(merged, sort_keys=keys))
    return merged


def _in_order(table: pa.Table, name: str) -> bool:
    """Whether the parts' rows are already in the order the (stable) sort would give.

    Deltas of new submissions only append higher ids: the concatenated parts are then in order
    and stay the mapped files themselves, where sorting would copy every column of every row
    (about 120 MB more per process at 1M, and 2 CPU-s).
    """
    ids = table.column("_submission_id").to_numpy()
    steps = np.diff(ids)
    if name == RESPONDENTS:
        return bool((steps >= 0).all())
    index = np.diff(table.column("_index").to_numpy())
    return bool(((steps > 0) | ((steps == 0) & (index >= 0))).all())


def _dictionary_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A dictionary column's codes (-1 = null) and its values, without making strings."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    codes = array.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, [str(v) for v in array.dictionary.to_pylist()]


def _respondent_mask(table: pa.Table, filters: Any, round_ids: Mapping[str, int]) -> np.ndarray:
    """Which current respondents a dataset's filters keep, and which are in scope at all."""
    n = table.num_rows
    scope = np.ones(n, dtype=bool)
    if filters.round_ids is not None:
        wanted = pa.array([str(r) for r in filters.round_ids], pa.string())
        scope &= (
            pc.is_in(table.column("_round").cast(pa.string()), wanted)
            .fill_null(False)
            .to_numpy(zero_copy_only=False)
        )
    received = table.column("_received_at")
    if filters.since is not None:
        scope &= (
            pc.greater_equal(received, pa.scalar(filters.since, received.type))
            .fill_null(False)
            .to_numpy(zero_copy_only=False)
        )
    if filters.until is not None:
        scope &= (
            pc.less(received, pa.scalar(filters.until, received.type))
            .fill_null(False)
            .to_numpy(zero_copy_only=False)
        )
    if filters.districts is not None:
        wanted = pa.array(list(filters.districts), pa.string())
        scope &= (
            pc.is_in(table.column("_district").cast(pa.string()), wanted)
            .fill_null(False)
            .to_numpy(zero_copy_only=False)
        )
    return scope


class Snapshot:
    """The snapshot as one process sees it: mapped parts, and datasets derived from them."""

    def __init__(self, folder: Path, entries: int) -> None:
        self.store = Store(folder)
        self.lock = threading.RLock()
        self.loaded: dict[int, Loaded] = {}
        self.manifest: Manifest | None = None
        self.manifest_version: tuple[int, int] | None = None
        self.checked_at = 0.0
        self.derived: OrderedDict[tuple, tuple[tuple[str, ...], Any]] = OrderedDict()
        self.entries = entries
        self.stats = {"hits": 0, "derived": 0, "catch_ups": 0, "loads": 0}

    def current(self, instrument_id: int, check_seconds: float) -> Loaded:
        """The instrument's parts, caught up with the database first when it is ahead."""
        with self.lock:
            now = time.monotonic()
            manifest = self._manifest()
            if (
                check_seconds <= 0
                or now - self.checked_at >= check_seconds
                or (str(instrument_id) not in manifest.instruments)
            ):
                seq, epoch = database_position()
                entry = manifest.instruments.get(str(instrument_id))
                versions = _version_key(_instrument_versions(instrument_id))
                if (
                    seq != manifest.seq
                    or epoch != manifest.epoch
                    or entry is None
                    or entry.versions != versions
                ):
                    self.stats["catch_ups"] += 1
                    catch_up(self.store, instrument_id)
                    manifest = self._manifest()
                self.checked_at = now
            entry = manifest.instruments.get(str(instrument_id))
            if entry is None:
                raise SnapshotError(f"Instrument {instrument_id} is not in the snapshot.")
            signature = tuple(p.name for p in entry.parts)
            loaded = self.loaded.get(instrument_id)
            if loaded is None or loaded.signature != signature:
                for _attempt in range(3):
                    try:
                        loaded = _load_entry(self.store, entry)
                        break
                    except FileNotFoundError:
                        # A compaction replaced the files after we read the manifest.
                        manifest = self._manifest(force=True)
                        entry = manifest.instruments[str(instrument_id)]
                        signature = tuple(p.name for p in entry.parts)
                else:
                    raise SnapshotError("The snapshot changed while it was being read.")
                self.stats["loads"] += 1
                self.loaded[instrument_id] = loaded
            return loaded

    def _manifest(self, force: bool = False) -> Manifest:
        version = self.store.manifest_version()
        if force or self.manifest is None or version != self.manifest_version:
            self.manifest = self.store.read_manifest()
            self.manifest_version = version
        return self.manifest

    def remember(self, key: tuple, signature: tuple[str, ...], dataset: Any) -> None:
        self.derived[key] = (signature, dataset)
        self.derived.move_to_end(key)
        while len(self.derived) > self.entries:
            self.derived.popitem(last=False)

    def recall(self, key: tuple, signature: tuple[str, ...]) -> Any:
        found = self.derived.get(key)
        if found is None or found[0] != signature:
            return None
        self.derived.move_to_end(key)
        return found[1]


def snapshot_folder() -> Path:
    """Where this host keeps its snapshot (SNAPSHOT_FOLDER, else `<instance>/snapshot`)."""
    configured = current_app.config.get("SNAPSHOT_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "snapshot"


def process_snapshot() -> Snapshot:
    """This application's view of the snapshot."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get("birge_snapshot")
    if found is None:
        found = app.extensions.setdefault(
            "birge_snapshot",
            Snapshot(snapshot_folder(), int(app.config.get("DATASET_CACHE_ENTRIES", 4))),
        )
    return found


# -- from the snapshot's tables to a dataset's frames ------------------------------------------


def _round_names() -> tuple[dict[str, str], list[str]]:
    rows = db.session.execute(
        select(SurveyRound.id, SurveyRound.name).order_by(SurveyRound.starts_on, SurveyRound.id)
    ).all()
    return {str(i): n for i, n in rows}, [n for _i, n in rows]


@dataclass(frozen=True)
class _Plan:
    """What each column's categories start with, per table (the dataset's conventions)."""

    categories: dict[str, list[str]]
    calculates: set[str]
    multiples: dict[str, list[str]]  # question -> its listed codes
    order: list[tuple[str, str]]  # (kind, name): kind 'column' or 'multiple'


def _plans(
    versions: Sequence[InstrumentVersion], specs: Sequence[InstrumentSpec]
) -> dict[str, _Plan]:
    loader = Loader(specs, {v.id: v.version for v in versions}, {})
    metadata = {
        "_version": list(loader.versions.categories),
        "_district": list(loader.districts.categories),
        "_review_status": list(REVIEW_STATUSES),
        "_language": list(loader.languages.categories),
        "_source": list(loader.sources.categories),
    }

    def plan(fields: Sequence[Any], head: list[str], categories: dict[str, list[str]]) -> _Plan:
        categories = dict(categories)
        calculates: set[str] = set()
        multiples: dict[str, list[str]] = {}
        order = [("column", name) for name in head]
        for spec_field in fields:
            if spec_field.kind == "category":
                categories[spec_field.name] = list(spec_field.codes)
                order.append(("column", spec_field.name))
            elif spec_field.kind == "calculate":
                calculates.add(spec_field.name)
                order.append(("column", spec_field.name))
            elif spec_field.kind == "multiple":
                multiples[spec_field.name] = list(spec_field.codes)
                order.append(("multiple", spec_field.name))
            else:
                order.append(("column", spec_field.name))
        return _Plan(categories, calculates, multiples, order)

    plans = {RESPONDENTS: plan(loader.top, list(METADATA_COLUMNS), metadata)}
    for repeat, fields in loader.by_repeat.items():
        nested = len(loader.chains.get(repeat, ())) > 1
        head = ["_submission_id", "_index", *([PARENT_INDEX] if nested else [])]
        plans[repeat] = plan(fields, head, {})
    return plans


def _used(codes: np.ndarray, size: int) -> np.ndarray:
    """Which of `size` categories the codes use (-1 = missing): one pass, no sort."""
    return np.bincount(codes + 1, minlength=size + 1)[1:] > 0


def _categories_in_order(values: pd.Categorical, listed: list[str]) -> pd.Categorical:
    """Listed codes first, then the other codes the rows use, in order of first use."""
    categories = list(values.categories)
    codes = np.asarray(values.codes, dtype=np.int64)
    used = _used(codes, len(categories))
    listed_set = set(listed)
    extras = sorted(
        (int(np.argmax(codes == code)), name)
        for code, name in enumerate(categories)
        if used[code] and name not in listed_set
    )
    wanted = list(listed) + [name for _first, name in extras]
    if wanted != categories:
        position = {name: i for i, name in enumerate(wanted)}
        remap = np.array([*(position.get(c, -1) for c in categories), -1], dtype=np.int64)
        codes = remap[codes]  # -1 indexes the trailing -1
    # from_codes also narrows the codes (int8 for a short list), as the bridge's builders do.
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(wanted, ordered=False))


def _calculated(values: pd.Categorical) -> Any:
    codes = np.asarray(values.codes, dtype=np.int64)
    used = np.flatnonzero(_used(codes, len(values.categories)))
    remap = np.full(len(values.categories) + 1, -1, dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    stored = []
    for code in used:
        value = json.loads(values.categories[int(code)])
        if isinstance(value, list | dict):
            value = " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        stored.append(value)
    return calculated_column(remap[codes], stored)


def _one_mask(arrays: dict[str, Any]) -> dict[str, Any]:
    """A question's option columns sharing one read-only missing-mask where theirs are equal.

    Every option of a select_multiple is missing exactly when the question is unanswered, yet
    each column came with its own copy of that mask: one byte per row and option, about a
    third of a dataset's memory (120 MB per process at 1M submissions). Values and mask are
    read-only, so that writing into one column in place fails (before writing anything) instead
    of changing the others.
    """
    shared: np.ndarray | None = None
    out: dict[str, Any] = {}
    for name, array in arrays.items():
        if isinstance(array, pd.arrays.BooleanArray):
            values, mask = array._data, array._mask
            if shared is None:
                shared = mask
                shared.flags.writeable = False
            elif mask is not shared and np.array_equal(mask, shared):
                array = pd.arrays.BooleanArray(values, shared)
            values.flags.writeable = False
        out[name] = array
    return out


def _multiple_columns(frame: pd.DataFrame, question: str, listed: list[str]) -> dict[str, Any]:
    prefix = question + MULTIPLE_SEPARATOR
    present = [c for c in frame.columns if c.startswith(prefix)]
    listed_columns = [prefix + code for code in listed]
    out: dict[str, Any] = _one_mask(
        {c: frame[c].array for c in listed_columns if c in frame.columns}
    )
    extras = [c for c in present if c not in out]
    if not extras:
        return out
    answered = np.zeros(len(frame), dtype=bool)
    for column in present:
        answered |= frame[column].notna().to_numpy()
    found = []
    for column in extras:
        chosen = frame[column].fillna(False).to_numpy(dtype=bool)
        if chosen.any():
            found.append((int(np.argmax(chosen)), column, chosen))
    for _first, column, chosen in sorted(found, key=lambda item: item[0]):
        out[column] = pd.arrays.BooleanArray(chosen, ~answered)
    return out


def _finish(frame: pd.DataFrame, plan: _Plan, rounds: tuple[dict[str, str], list[str]]) -> dict:
    columns: dict[str, Any] = {}
    for kind, name in plan.order:
        if kind == "multiple":
            columns.update(_multiple_columns(frame, name, plan.multiples[name]))
            continue
        if name not in frame.columns:
            continue
        series = frame[name]
        if name == "_round":
            names, order = rounds
            series = series.cat.rename_categories(
                [names.get(c, c) for c in series.cat.categories]
            ).cat.set_categories(order)
            columns[name] = series.array
        elif name in plan.calculates:
            columns[name] = _calculated(series.array)
        elif name in plan.categories:
            columns[name] = _categories_in_order(series.array, plan.categories[name])
        else:
            columns[name] = series.array
    return columns


_TEXT = pd.array([], dtype="string").dtype
_NULLABLE = {
    pa.string(): _TEXT,
    pa.large_string(): _TEXT,
    pa.bool_(): pd.BooleanDtype(),
    pa.int64(): pd.Int64Dtype(),
}
_NUMPY_COLUMNS = {"_submission_id": "int64", "_index": "int64", "_demo": "bool"}


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow to the bridge's dtypes: nullable text, booleans and volunteer ids; NumPy for ids."""
    frame = table.to_pandas(split_blocks=True, date_as_object=False, types_mapper=_NULLABLE.get)
    for name, dtype in _NUMPY_COLUMNS.items():
        if name in frame.columns:
            frame[name] = frame[name].to_numpy(dtype=dtype)
    return frame


def _load_malloc_trim() -> Any:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim  # glibc only
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _load_malloc_trim()


def release_freed_memory() -> None:
    """Hand back to the system the memory a dataset's intermediate frames used and freed.

    Making a dataset's frames from the mapped files passes through wider intermediates (Arrow's
    int32 dictionary codes, its allocations during the conversion), freed as soon as the
    frames are made; Arrow's allocator (mimalloc) and glibc's keep such freed memory for reuse
    (140 MB per gunicorn worker at 1M submissions, 12 ms to return). Both are asked to return
    it: the next conversion, minutes or a change away, allocates again.
    """
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def frames(
    versions: Sequence[InstrumentVersion],
    specs: Sequence[InstrumentSpec],
    loaded: Loaded,
    filters: Any,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, int]]:
    """A dataset's respondents, repeats and exclusions, from the snapshot's current rows."""
    respondents_all = _select(loaded, RESPONDENTS, None)
    rounds = _round_names()
    scope = _respondent_mask(respondents_all, filters, {})
    codes, names = _dictionary_codes(respondents_all.column("_review_status"))
    demo = respondents_all.column("_demo").to_numpy(zero_copy_only=False)
    wanted = np.array([name in filters.review_statuses for name in names] + [False])
    kept_status = wanted[codes]  # code -1 (no status) takes the trailing False
    keep = scope & kept_status
    if not filters.include_demo:
        keep &= ~demo
    excluded: dict[str, int] = {}
    in_scope = np.bincount(codes[scope] + 1, minlength=len(names) + 1)[1:]
    for status in REVIEW_STATUSES:
        if status not in filters.review_statuses and status in names:
            count = int(in_scope[names.index(status)])
            if count:
                excluded[status] = count
    if not filters.include_demo:
        count = int((scope & kept_status & demo).sum())
        if count:
            excluded["demo"] = count
    table = respondents_all if keep.all() else respondents_all.filter(pa.array(keep))
    plans = _plans(versions, specs)
    respondents = pd.DataFrame(_finish(_to_pandas(table), plans[RESPONDENTS], rounds), copy=False)
    ids = respondents["_submission_id"].to_numpy()
    repeats: dict[str, pd.DataFrame] = {}
    for name, plan in plans.items():
        if name == RESPONDENTS:
            continue
        if name in loaded.tables[0]:
            repeat_table = _select(loaded, name, None if keep.all() else ids)
            frame = _to_pandas(repeat_table)
        else:
            frame = pd.DataFrame({"_submission_id": pd.Series([], dtype="int64")})
        finished = _finish(frame, plan, rounds)
        parents = np.searchsorted(ids, frame["_submission_id"].to_numpy())
        columns: dict[str, Any] = {
            "_submission_id": ids[parents],
            "_index": finished["_index"],
        }
        for column in REPEAT_METADATA:
            columns[column] = respondents[column].take(parents).array
        for column in RESPONDENT_CONTEXT:
            if column in respondents.columns:
                columns[RESPONDENT_PREFIX + column] = respondents[column].take(parents).array
        for column, values in finished.items():
            if column not in ("_submission_id", "_index"):
                columns[column] = values
        repeats[name] = pd.DataFrame(columns, copy=False)
    return respondents, repeats, excluded
