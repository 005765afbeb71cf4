"""The one bridge from submission rows to pandas: typed, categorical, wide DataFrames.

`load_dataset(versions, ...)` reads the submissions of one instrument's versions and returns a
`Dataset` with one row per submission (`respondents`) and one row per repeat entry (`repeats`,
`members` for the household roster). Everything downstream (analysis, dashboards, exports)
starts here; nothing else turns rows into frames.

Column conventions
------------------
- Metadata columns start with an underscore: `_submission_id, _version, _round, _district,
  _received_at, _started_at, _duration_min, _review_status, _volunteer, _language, _demo,
  _source` (see `METADATA_COLUMNS`). Times are UTC (`datetime64[us, UTC]`).
- One column per question, named like the question:
  - select_one / acknowledge: `category` of codes, categories in choice-list order (newest
    version first, codes only older versions had appended); `dnk`/`pnta` stay categories.
  - select_multiple: no raw column; one nullable `boolean` column per choice named
    `<question>/<code>`. True = chosen, False = not chosen, NA = question not answered (skipped
    by relevance or left blank), so denominators can exclude the unasked.
  - integer / decimal: `float64` (NaN = no answer).
  - date: `datetime64[s]`.
  - text: pandas `string` (free text: exports drop it when de-identifying).
  - calculate: `float64` when every stored value is a number, else `category` of the stored
    values in natural order.
  - notes have no column.
- Repeat entries (`Dataset.repeats[name]`, `Dataset.members`): `_submission_id`, `_index`
  (1-based position in the roster), the respondent's `_version, _round, _district,
  _review_status, _demo`, the respondent's disaggregation answers prefixed `respondent.`
  (`respondent.sex`, `respondent.age_band`, ... see `RESPONDENT_CONTEXT`, those present), then
  the repeat's questions with the conventions above.
- When versions differ, columns are the union; a question's type and labels come from the
  newest version that has it.

Loading reads rows with SQLAlchemy Core in chunks (`yield_per`), parses JSON with the stdlib and
builds each column as a NumPy array chunk by chunk (codes, not strings), so a million
submissions fit in memory. Results are cached per (versions, filters) in the application and
refreshed incrementally: new submissions are appended; a correction, review, withdrawal or
deletion makes the next load rebuild. `invalidate()` empties the cache.

Settings: `DATASET_CACHE_ENTRIES` (datasets kept per process, default 4; a million submissions
take about 0.75 GB) and `DATASET_FULL_CHECK_SECONDS` (default 0). Telling a review apart needs
the newest `reviewed_at`/`updated_at`, a scan of the submissions table: milliseconds for
thousands of rows, seconds for a million in SQLite. A positive value re-reads them at most that
often (new, deleted and corrected submissions are still seen at once); indexes on both columns
would make the scan unnecessary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
from flask import current_app
from sqlalchemy import select

from reports.instrument import QuestionDescription
from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES, SurveyRound
from survey.datasets.cache import CacheEntry, Stamp, dataset_cache, read_stamp, same_rows
from survey.datasets.columns import MULTIPLE_SEPARATOR
from survey.datasets.labels import column_labels, value_labels
from survey.datasets.reading import Rebuild, append_rows, excluded_counts, read_rows
from survey.datasets.snapshot import (
    SnapshotError,
    catch_up,
    frames,
    process_snapshot,
    release_freed_memory,
)
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.instruments.registry import describe
from survey.instruments.services import spec_for
from survey.instruments.spec import InstrumentSpec


@dataclass(frozen=True)
class DatasetFilters:
    """Which submissions a dataset holds, besides the instrument versions."""

    round_ids: tuple[int, ...] | None = None
    review_statuses: tuple[str, ...] = ANALYSED_STATUSES
    include_demo: bool = True
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    districts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Dataset:
    """Submissions as frames. Treat the frames as read-only: they may be shared by the cache."""

    respondents: pd.DataFrame
    repeats: Mapping[str, pd.DataFrame]
    excluded: Mapping[str, int]
    descriptions: tuple[QuestionDescription, ...]
    specs: tuple[InstrumentSpec, ...]  # oldest first
    filters: DatasetFilters = field(default_factory=DatasetFilters)
    # The snapshot parts the frames were read from (new names for every change of the
    # instrument's submissions); empty when read from the answers' JSON.
    source: tuple[str, ...] = ()

    @property
    def members(self) -> pd.DataFrame:
        """The household roster: the repeat named 'member', else the first repeat."""
        if "member" in self.repeats:
            return self.repeats["member"]
        if self.repeats:
            return next(iter(self.repeats.values()))
        return pd.DataFrame({"_submission_id": pd.Series([], dtype="int64")})

    @property
    def spec(self) -> InstrumentSpec:
        """The newest instrument version's spec."""
        return self.specs[-1]

    def description(self, name: str) -> QuestionDescription | None:
        """A question's description (from the newest version that has it)."""
        return next((d for d in self.descriptions if d.name == name), None)

    def columns_for(self, question: str) -> list[str]:
        """The columns holding a question's answers (several for select_multiple)."""
        frame = self.respondents
        description = self.description(question)
        if description is not None and description.repeat is not None:
            frame = self.repeats.get(description.repeat, frame)
        prefix = question + MULTIPLE_SEPARATOR
        return [c for c in frame.columns if c == question or c.startswith(prefix)]

    def column_labels(self, language: str) -> dict[str, str]:
        """Column → label in a language, over every version (newest wins)."""
        labels: dict[str, str] = {}
        for spec in self.specs:
            labels.update(column_labels(spec, language))
        return labels

    def value_labels(self, language: str) -> dict[str, dict[str, str]]:
        """Column → {code: label} in a language, over every version (newest wins)."""
        labels: dict[str, dict[str, str]] = {}
        for spec in self.specs:
            for column, mapping in value_labels(spec, language).items():
                labels.setdefault(column, {}).update(mapping)
        return labels


def _round_ids(rounds: Iterable[SurveyRound | int | str] | None) -> tuple[int, ...] | None:
    if rounds is None:
        return None
    ids: list[int] = []
    names: list[str] = []
    for item in rounds:
        if isinstance(item, SurveyRound):
            ids.append(item.id)
        elif isinstance(item, int):
            ids.append(item)
        else:
            names.append(str(item))
    if names:
        found = db.session.execute(
            select(SurveyRound.name, SurveyRound.id).where(SurveyRound.name.in_(names))
        ).all()
        missing = set(names) - {name for name, _id in found}
        if missing:
            raise ValueError(f"Unknown survey round(s): {', '.join(sorted(missing))}")
        ids.extend(round_id for _name, round_id in found)
    return tuple(sorted(set(ids)))


def _moment(value: dt.date | dt.datetime | None, *, end: bool) -> dt.datetime | None:
    """A filter bound as a UTC datetime; a date `until` includes that whole day."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value + dt.timedelta(days=1) if end else value, dt.time())
    # Stored times are UTC; an aware bound compares correctly on SQLite and PostgreSQL alike.
    return value.astimezone(dt.UTC) if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def make_filters(
    *,
    rounds: Iterable[SurveyRound | int | str] | None = None,
    review_statuses: Iterable[str] = ANALYSED_STATUSES,
    include_demo: bool = True,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    districts: Iterable[str] | None = None,
) -> DatasetFilters:
    """Normalised filters (rounds by object, id or name; dates as UTC bounds)."""
    unknown = set(review_statuses) - set(REVIEW_STATUSES)
    if unknown:
        raise ValueError(f"Unknown review status(es): {', '.join(sorted(unknown))}")
    statuses = tuple(sorted(set(review_statuses), key=REVIEW_STATUSES.index))
    return DatasetFilters(
        round_ids=_round_ids(rounds),
        review_statuses=statuses,
        include_demo=include_demo,
        since=_moment(since, end=False),
        until=_moment(until, end=True),
        districts=tuple(sorted(set(districts))) if districts is not None else None,
    )


def _ordered_versions(versions: Sequence[InstrumentVersion]) -> list[InstrumentVersion]:
    if not versions:
        raise ValueError("load_dataset needs at least one instrument version.")
    unique = {v.id: v for v in versions}
    ordered = sorted(unique.values(), key=lambda v: (v.sequence or 0, v.id))
    instruments = {v.instrument_id for v in ordered}
    if len(instruments) > 1:
        raise ValueError("A dataset combines versions of one instrument only.")
    return ordered


def _descriptions(specs: Sequence[InstrumentSpec]) -> tuple[QuestionDescription, ...]:
    found: dict[str, QuestionDescription] = {}
    for spec in reversed(specs):  # newest wins
        for description in describe(spec):
            found.setdefault(description.name, description)
    return tuple(found.values())


def load_dataset(
    instrument_versions: Sequence[InstrumentVersion],
    *,
    rounds: Iterable[SurveyRound | int | str] | None = None,
    review_statuses: Iterable[str] = ANALYSED_STATUSES,
    include_demo: bool = True,
    since: dt.date | dt.datetime | None = None,
    until: dt.date | dt.datetime | None = None,
    districts: Iterable[str] | None = None,
    use_cache: bool = True,
    from_database: bool = False,
) -> Dataset:
    """The submissions of these versions (of one instrument) as frames; see the module doc.

    `from_database` reads the answers' JSON instead of the snapshot (to verify the snapshot).

    `since`/`until` bound `received_at` (a date `until` includes that day); `rounds` are
    SurveyRound objects, ids or names; `districts` are district codes as stored.
    """
    versions = _ordered_versions(instrument_versions)
    specs = tuple(spec_for(v) for v in versions)
    filters = make_filters(
        rounds=rounds,
        review_statuses=review_statuses,
        include_demo=include_demo,
        since=since,
        until=until,
        districts=districts,
    )
    version_ids = [v.id for v in versions]
    key = (tuple((v.id, v.sha256) for v in versions), filters)
    if (
        not from_database
        and current_app.config.get("SNAPSHOT_ENABLED", True)
        and _whole_instrument(versions)
    ):
        return _from_snapshot(versions, specs, filters, key, use_cache=use_cache)
    if not use_cache or from_database:
        return _build(versions, specs, filters)[0]
    cache = dataset_cache()
    with cache.lock:
        entry = cache.get(key)
        if entry is not None:
            # Aggregates over the rows the cached dataset has seen, plus the newest id.
            current = read_stamp(version_ids, entry.stamp.last_id, entry.stamp)
            if same_rows(current, entry.stamp):
                if current.last_id <= entry.stamp.last_id:
                    cache.stats["hits"] += 1
                    entry.stamp.checked_at = current.checked_at
                    return entry.dataset
                try:
                    entry = _extend(entry, versions, specs, filters)
                except Rebuild:
                    pass
                else:
                    cache.stats["appends"] += 1
                    cache.put(key, entry)
                    return entry.dataset
        dataset, stamp = _build(versions, specs, filters)
        cache.stats["builds"] += 1
        cache.put(key, CacheEntry(dataset, stamp))
        return dataset


def _whole_instrument(versions: Sequence[InstrumentVersion]) -> bool:
    """Whether these are all the versions of their instrument (what the snapshot holds)."""
    every = db.session.execute(
        select(InstrumentVersion.id).where(
            InstrumentVersion.instrument_id == versions[0].instrument_id
        )
    ).scalars()
    return set(every) == {v.id for v in versions}


def _from_snapshot(
    versions: Sequence[InstrumentVersion],
    specs: tuple[InstrumentSpec, ...],
    filters: DatasetFilters,
    key: tuple,
    *,
    use_cache: bool,
) -> Dataset:
    snapshot = process_snapshot()
    check = float(current_app.config.get("SNAPSHOT_CHECK_SECONDS", 0))
    instrument_id = versions[0].instrument_id
    try:
        loaded = snapshot.current(instrument_id, check)
    except (OSError, SnapshotError, pa.ArrowException):
        current_app.logger.exception("Snapshot unusable in %s: rebuilding", snapshot.store.folder)
        try:
            with snapshot.lock:
                snapshot.loaded.pop(instrument_id, None)
                catch_up(snapshot.store, instrument_id, rebuild=True)
                loaded = snapshot.current(instrument_id, check)
        except (OSError, SnapshotError, pa.ArrowException):
            # A full disk must not stop the dashboards: read the answers (slower), and log why.
            current_app.logger.exception("Snapshot unusable: reading the answers instead")
            return _build(versions, specs, filters)[0]
    with snapshot.lock:
        found = snapshot.recall(key, loaded.signature) if use_cache else None
        if found is not None:
            snapshot.stats["hits"] += 1
            return found
        respondents, repeats, excluded = frames(versions, specs, loaded, filters)
        release_freed_memory()
        dataset = Dataset(
            respondents=respondents,
            repeats=repeats,
            excluded=excluded,
            descriptions=_descriptions(specs),
            specs=specs,
            filters=filters,
            source=(str(snapshot.store.folder), *loaded.signature),
        )
        snapshot.stats["derived"] += 1
        if use_cache:
            snapshot.remember(key, loaded.signature, dataset)
        return dataset


def _build(
    versions: Sequence[InstrumentVersion],
    specs: tuple[InstrumentSpec, ...],
    filters: DatasetFilters,
) -> tuple[Dataset, Stamp]:
    version_ids = [v.id for v in versions]
    # Stamp first, then read up to its id: a change made during the read shows in the next
    # stamp (rebuild), and rows saved during the read are appended next time.
    stamp = read_stamp(version_ids, None)
    respondents, repeats = read_rows(versions, specs, filters, up_to_id=stamp.last_id)
    dataset = Dataset(
        respondents=respondents,
        repeats=repeats,
        excluded=excluded_counts(version_ids, filters, up_to_id=stamp.last_id),
        descriptions=_descriptions(specs),
        specs=specs,
        filters=filters,
    )
    return dataset, stamp


def _extend(
    entry: CacheEntry,
    versions: Sequence[InstrumentVersion],
    specs: tuple[InstrumentSpec, ...],
    filters: DatasetFilters,
) -> CacheEntry:
    """Append the submissions saved since the entry was built."""
    old = entry.dataset
    version_ids = [v.id for v in versions]
    stamp = read_stamp(version_ids, None, entry.stamp)
    respondents, repeats = read_rows(
        versions, specs, filters, after_id=entry.stamp.last_id, up_to_id=stamp.last_id, known=old
    )
    dataset = Dataset(
        respondents=append_rows(old.respondents, respondents),
        repeats={name: append_rows(frame, repeats[name]) for name, frame in old.repeats.items()},
        excluded=excluded_counts(
            version_ids,
            filters,
            after_id=entry.stamp.last_id,
            up_to_id=stamp.last_id,
            known=old.excluded,
        ),
        descriptions=old.descriptions,
        specs=old.specs,
        filters=filters,
    )
    return CacheEntry(dataset, stamp)
