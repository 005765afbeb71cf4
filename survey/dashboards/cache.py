"""The page cache: built page models kept per (page, instrument versions, filters, role kind,
language, k, page options).

Each entry is tied by a weak reference to the Dataset object it was computed from: the dataset
cache hands out a new object whenever submissions are added, corrected, reviewed or deleted, and
that alone invalidates the pages built on the old one.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from flask import current_app

from survey.datasets.dataset import Dataset
from survey.instruments.models import Instrument

PAGE_CACHE_ENTRIES = 128


class PageCache:
    """Built pages of one application, each valid while its Dataset object is the current one."""

    def __init__(self, size: int = PAGE_CACHE_ENTRIES) -> None:
        self.size = size
        self.entries: OrderedDict[Hashable, tuple[weakref.ref, Any]] = OrderedDict()
        self.lock = threading.Lock()
        self.stats = {"hits": 0, "builds": 0}

    def get(self, key: Hashable, dataset: Dataset, build: Callable[[], Any]) -> Any:
        """The cached value for key when it was built from this dataset, else build it."""
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry[0]() is dataset:
                self.entries.move_to_end(key)
                self.stats["hits"] += 1
                return entry[1]
        # Built outside the lock: other pages are served meanwhile.
        value = build()
        with self.lock:
            self.stats["builds"] += 1
            self.entries[key] = (weakref.ref(dataset), value)
            self.entries.move_to_end(key)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every page."""
        with self.lock:
            self.entries.clear()


def page_cache() -> PageCache:
    """The application's page cache."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("birge_dashboard_cache")
    if cache is None:
        cache = app.extensions.setdefault(
            "birge_dashboard_cache",
            PageCache(app.config.get("DASHBOARD_CACHE_ENTRIES", PAGE_CACHE_ENTRIES)),
        )
    return cache


def version_key(instrument: Instrument) -> tuple:
    """The instrument and its versions as a cache key (a re-import changes it)."""
    return (instrument.id, tuple((v.id, v.sha256) for v in instrument.versions))
