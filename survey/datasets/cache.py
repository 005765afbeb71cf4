"""Datasets kept per application and refreshed incrementally: new submissions are appended; a
correction, review, withdrawal or deletion makes the next load rebuild (`invalidate()` empties it).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import case, func, select

from survey.collection.models import Submission, SubmissionVersion
from survey.extensions import db

if TYPE_CHECKING:
    from survey.datasets.dataset import Dataset


CACHE_ENTRIES = 4  # datasets kept per application; a million submissions take about 1 GB


@dataclass
class Stamp:
    """What the submissions of a version set looked like when a dataset was built."""

    last_id: int
    count: int  # rows with id <= last_id
    latest_correction: int  # newest submission_versions id: every correction adds one
    latest_updated: Any  # newest updated_at / reviewed_at of any submission
    latest_reviewed: Any
    checked_at: float = 0.0  # time.monotonic() of the last updated/reviewed check


@dataclass
class CacheEntry:
    dataset: Dataset
    stamp: Stamp


class DatasetCache:
    """Datasets of one application, least recently used dropped first."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, CacheEntry] = OrderedDict()
        self.lock = threading.RLock()
        self.stats = {"hits": 0, "appends": 0, "builds": 0}

    def get(self, key: tuple) -> CacheEntry | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: CacheEntry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


def dataset_cache() -> DatasetCache:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("birge_dataset_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "birge_dataset_cache",
            DatasetCache(app.config.get("DATASET_CACHE_ENTRIES", CACHE_ENTRIES)),
        )
    return cache


def invalidate() -> None:
    """Forget every cached dataset of the current application."""
    cache = dataset_cache()
    with cache.lock:
        cache.clear()
    from survey.datasets.snapshot import process_snapshot  # the snapshot reads through here

    snapshot = process_snapshot()
    with snapshot.lock:
        snapshot.derived.clear()
        snapshot.loaded.clear()


def cache_stats() -> dict[str, int]:
    """How often loads were answered from the cache, appended to, or built anew."""
    return dict(dataset_cache().stats)


def read_stamp(
    version_ids: Sequence[int], last_id: int | None, previous: Stamp | None = None
) -> Stamp:
    """Enough to tell appended, corrected, reviewed and deleted submissions apart.

    Count and newest id come from the instrument-version index, the newest correction from
    the submission_versions key: cheap at any size. The newest updated_at/reviewed_at need a
    scan of the submissions table (seconds for a million rows in SQLite, where each row holds
    its answers); with `previous` they are re-read only every DATASET_FULL_CHECK_SECONDS
    (default 0: always). An index on each column (a migration) would make them instant.
    """
    # Both from the instrument-version index (it holds the ids): no table rows are read.
    counted = func.count(Submission.id)
    if last_id is not None:  # only the rows a cached dataset has seen
        counted = func.sum(case((Submission.id <= last_id, 1), else_=0))
    count, newest = db.session.execute(
        select(counted, func.max(Submission.id)).where(
            Submission.instrument_version_id.in_(version_ids)
        )
    ).one()
    correction = db.session.execute(select(func.max(SubmissionVersion.id))).scalar()
    interval = current_app.config.get("DATASET_FULL_CHECK_SECONDS", 0)
    now = time.monotonic()
    if previous is not None and interval > 0 and now - previous.checked_at < interval:
        updated, reviewed, checked = (
            previous.latest_updated,
            previous.latest_reviewed,
            previous.checked_at,
        )
    else:
        # Two separate maxima so that each could use an index of its own.
        updated = db.session.execute(select(func.max(Submission.updated_at))).scalar()
        reviewed = db.session.execute(select(func.max(Submission.reviewed_at))).scalar()
        checked = now
    return Stamp(
        last_id=newest or 0,
        count=int(count or 0),
        latest_correction=correction or 0,
        latest_updated=updated,
        latest_reviewed=reviewed,
        checked_at=checked,
    )


def same_rows(current: Stamp, seen: Stamp) -> bool:
    """No seen row was deleted, corrected or reviewed, and no late commit slipped below."""
    return (
        current.count,
        current.latest_correction,
        current.latest_updated,
        current.latest_reviewed,
    ) == (seen.count, seen.latest_correction, seen.latest_updated, seen.latest_reviewed)
