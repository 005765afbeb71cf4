"""Reading submission rows into columns: SQLAlchemy Core in chunks (`yield_per`), JSON parsed with
the stdlib, each column built chunk by chunk; and appending newly read rows to a dataset.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import Text, cast, func, select

from survey.collection.models import REVIEW_STATUSES, Submission, SurveyRound
from survey.datasets.columns import (
    MULTIPLE_SEPARATOR,
    PARENT_INDEX,
    REPEAT_METADATA,
    RESPONDENT_CONTEXT,
    RESPONDENT_PREFIX,
    CategoryBuilder,
    MultipleBuilder,
    column_builder,
    finish_fields,
    repeat_chains,
    schema,
)
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.instruments.spec import InstrumentSpec

if TYPE_CHECKING:
    from survey.datasets.dataset import Dataset, DatasetFilters


CHUNK_ROWS = 5000


_SELECTED = (
    Submission.id,
    Submission.instrument_version_id,
    Submission.round_id,
    Submission.district,
    Submission.received_at,
    Submission.started_at,
    Submission.ended_at,
    Submission.review_status,
    Submission.entered_by_id,
    Submission.language,
    Submission.source,
    Submission.is_demo,
    # Raw JSON text: the stdlib parses it once (PostgreSQL's driver would parse json itself).
    cast(Submission.answers, Text).label("answers_text"),
)


def _conditions(version_ids: Sequence[int], filters: DatasetFilters) -> list[Any]:
    """Scope of a dataset, before review status and demo flags are applied."""
    where: list[Any] = [Submission.instrument_version_id.in_(version_ids)]
    if filters.round_ids is not None:
        where.append(Submission.round_id.in_(filters.round_ids))
    if filters.since is not None:
        where.append(Submission.received_at >= filters.since)
    if filters.until is not None:
        where.append(Submission.received_at < filters.until)
    if filters.districts is not None:
        where.append(Submission.district.in_(filters.districts))
    return where


def _kept(filters: DatasetFilters) -> list[Any]:
    where: list[Any] = [Submission.review_status.in_(filters.review_statuses)]
    if not filters.include_demo:
        where.append(Submission.is_demo.is_(False))
    return where


def _utc_naive(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _parse_answers(texts: Sequence[str | None]) -> list[dict[str, Any]]:
    """JSON answers of a chunk, decoded in one call (a bad row costs only itself)."""
    try:
        # One json.loads over the chunk saves the per-call overhead of thousands of calls.
        parsed = json.loads("[" + ",".join(t or "{}" for t in texts) + "]")
    except ValueError:
        parsed = []
        for text in texts:
            try:
                parsed.append(json.loads(text) if text else {})
            except ValueError:
                parsed.append({})
    return [p if isinstance(p, dict) else {} for p in parsed]


def _transpose(records: Sequence[Mapping[str, Any]], names: Iterable[str]) -> dict[str, list[Any]]:
    """Rows of answers as one list per question (None where unanswered).

    Walking each record's own keys once is about four times faster than asking every record
    for every question: most questions are skipped by relevance in most interviews.
    """
    n = len(records)
    columns = {name: [None] * n for name in names}
    get = columns.get
    for position, record in enumerate(records):
        for key, value in record.items():
            column = get(key)
            if column is not None:
                column[position] = value
    return columns


class Loader:
    """Builds the frames of one dataset from chunks of rows."""

    def __init__(
        self,
        specs: Sequence[InstrumentSpec],
        version_names: Mapping[int, str],
        round_names: Mapping[int, str],
        known: Dataset | None = None,
    ) -> None:
        self.fields, self.repeats = schema(specs)
        self.top = [f for f in self.fields if f.repeat is None]
        self.by_repeat = {r: [f for f in self.fields if f.repeat == r] for r in self.repeats}
        self.version_names = version_names
        self.round_names = round_names
        self.versions = CategoryBuilder(list(dict.fromkeys(version_names.values())))
        self.rounds = CategoryBuilder(list(dict.fromkeys(round_names.values())))
        spec = specs[-1]
        district_field = next(
            (f for f in self.top if f.name == spec.intake.district_question and f.codes), None
        )
        self.districts = CategoryBuilder(district_field.codes if district_field else ())
        self.statuses = CategoryBuilder(REVIEW_STATUSES)
        self.languages = CategoryBuilder(sorted(spec.languages))
        self.sources = CategoryBuilder(("web", "openrosa", "demo"))
        self.builders = {f.name: column_builder(f) for f in self.top}
        self.repeat_builders = {
            r: {f.name: column_builder(f) for f in fields} for r, fields in self.by_repeat.items()
        }
        if known is not None:
            self._adopt_categories(known)
        self.ids: list[np.ndarray] = []
        self.received: list[np.ndarray] = []
        self.started: list[np.ndarray] = []
        self.duration: list[np.ndarray] = []
        self.volunteers: list[np.ndarray] = []
        self.demo: list[np.ndarray] = []
        self.parents: dict[str, list[np.ndarray]] = {r: [] for r in self.repeats}
        self.positions: dict[str, list[np.ndarray]] = {r: [] for r in self.repeats}
        # A repeat inside a repeat: the repeats from the outermost down to it, and the
        # `_index` of each entry's parent entry in the table of the repeat around it.
        self.chains = repeat_chains(specs)
        self.parent_entries: dict[str, list[np.ndarray]] = {r: [] for r in self.repeats}
        self.count = 0

    def _adopt_categories(self, known: Dataset) -> None:
        """Start from an existing dataset's categories, so appended codes line up."""

        def adopt(builder: Any, series: pd.Series | None) -> None:
            if series is None or not isinstance(series.dtype, pd.CategoricalDtype):
                return
            for category in series.cat.categories:
                builder._code(category)

        def adopt_all(builders: Mapping[str, Any], part: pd.DataFrame | None) -> None:
            if part is None:
                return
            for name, builder in builders.items():
                if type(builder) is CategoryBuilder:  # calculates re-derive their categories
                    adopt(builder, part.get(name))
                elif isinstance(builder, MultipleBuilder):
                    prefix = name + MULTIPLE_SEPARATOR
                    for column in part.columns:
                        code = column.removeprefix(prefix)
                        if column.startswith(prefix) and code not in builder.index:
                            builder.index[code] = len(builder.codes)
                            builder.codes.append(code)

        frame = known.respondents
        adopt(self.versions, frame.get("_version"))
        adopt(self.rounds, frame.get("_round"))
        adopt(self.districts, frame.get("_district"))
        adopt(self.statuses, frame.get("_review_status"))
        adopt(self.languages, frame.get("_language"))
        adopt(self.sources, frame.get("_source"))
        adopt_all(self.builders, frame)
        for repeat, builders in self.repeat_builders.items():
            adopt_all(builders, known.repeats.get(repeat))

    def add(self, rows: Sequence[Any]) -> None:
        n = len(rows)
        answers = _parse_answers([row.answers_text for row in rows])
        self.ids.append(np.fromiter((r.id for r in rows), dtype=np.int64, count=n))
        self.versions.add([self.version_names.get(r.instrument_version_id) for r in rows])
        self.rounds.add([self.round_names.get(r.round_id) for r in rows])
        self.districts.add([r.district for r in rows])
        self.statuses.add([r.review_status for r in rows])
        self.languages.add([r.language for r in rows])
        self.sources.add([r.source for r in rows])
        received = [_utc_naive(r.received_at) for r in rows]
        started = [_utc_naive(r.started_at) for r in rows]
        ended = [_utc_naive(r.ended_at) for r in rows]
        self.received.append(np.array(received, dtype="datetime64[us]"))
        started_array = np.array(started, dtype="datetime64[us]")
        self.started.append(started_array)
        seconds = (np.array(ended, dtype="datetime64[us]") - started_array) / np.timedelta64(1, "s")
        self.duration.append(seconds / 60.0)
        self.volunteers.append(
            np.array([r.entered_by_id if r.entered_by_id is not None else -1 for r in rows])
        )
        self.demo.append(np.fromiter((bool(r.is_demo) for r in rows), dtype=bool, count=n))
        values = _transpose(answers, self.builders)
        for name, builder in self.builders.items():
            builder.add(values[name])
        for repeat in self.repeats:
            self._add_repeat(repeat, answers)
        self.count += n

    def _add_repeat(self, repeat: str, answers: Sequence[Mapping[str, Any]]) -> None:
        parents: list[int] = []
        positions: list[int] = []
        parent_entries: list[int] = []
        entries: list[Mapping[str, Any]] = []
        outer_levels = self.chains.get(repeat, [repeat])[:-1]
        for row, values in enumerate(answers):
            # Entries are numbered through the submission at each level (`_index`), so that
            # (_submission_id, _index) is each table's key and `_parent_index` points upwards.
            holders: list[tuple[Mapping[str, Any], int]] = [(values, 0)]
            for level in outer_levels:
                inner: list[tuple[Mapping[str, Any], int]] = []
                for holder, _parent in holders:
                    found = holder.get(level)
                    for entry in found if isinstance(found, list) else ():
                        if isinstance(entry, dict):
                            inner.append((entry, len(inner) + 1))
                holders = inner
            position = 0
            for holder, parent_entry in holders:
                found = holder.get(repeat)
                for entry in found if isinstance(found, list) else ():
                    if isinstance(entry, dict):
                        position += 1
                        parents.append(self.count + row)
                        positions.append(position)
                        parent_entries.append(parent_entry)
                        entries.append(entry)
        self.parents[repeat].append(np.array(parents, dtype=np.int64))
        self.positions[repeat].append(np.array(positions, dtype=np.int64))
        self.parent_entries[repeat].append(np.array(parent_entries, dtype=np.int64))
        builders = self.repeat_builders[repeat]
        values = _transpose(entries, builders)
        for name, builder in builders.items():
            builder.add(values[name])

    def finish(self) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
        def joined(parts: list[np.ndarray], dtype: str) -> np.ndarray:
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        volunteers = joined(self.volunteers, "int64").astype(np.int64)
        columns: dict[str, Any] = {
            "_submission_id": joined(self.ids, "int64"),
            "_version": self.versions.finish(),
            "_round": self.rounds.finish(),
            "_district": self.districts.finish(),
            "_received_at": pd.DatetimeIndex(joined(self.received, "datetime64[us]")).tz_localize(
                "UTC"
            ),
            "_started_at": pd.DatetimeIndex(joined(self.started, "datetime64[us]")).tz_localize(
                "UTC"
            ),
            "_duration_min": joined(self.duration, "float64"),
            "_review_status": self.statuses.finish(),
            "_volunteer": pd.arrays.IntegerArray(volunteers, volunteers < 0),
            "_language": self.languages.finish(),
            "_demo": joined(self.demo, "bool"),
            "_source": self.sources.finish(),
        }
        finish_fields(self.top, self.builders, columns)
        respondents = pd.DataFrame(columns)
        repeats = {}
        for repeat in self.repeats:
            parents = joined(self.parents[repeat], "int64")
            repeat_columns: dict[str, Any] = {
                "_submission_id": columns["_submission_id"][parents],
                "_index": joined(self.positions[repeat], "int64"),
            }
            if len(self.chains.get(repeat, ())) > 1:
                repeat_columns[PARENT_INDEX] = joined(self.parent_entries[repeat], "int64")
            for name in REPEAT_METADATA:
                repeat_columns[name] = respondents[name].take(parents).array
            for name in RESPONDENT_CONTEXT:
                if name in respondents.columns:
                    repeat_columns[RESPONDENT_PREFIX + name] = respondents[name].take(parents).array
            finish_fields(self.by_repeat[repeat], self.repeat_builders[repeat], repeat_columns)
            repeats[repeat] = pd.DataFrame(repeat_columns)
        return respondents, repeats


class Rebuild(Exception):
    """New rows cannot be appended to the cached frames (a column changed type)."""


def append_rows(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Rows of `new` after `old`, with categories merged and missing columns filled."""
    if new.empty:
        return old
    if old.empty:
        return new
    old_parts: dict[str, Any] = {}
    new_parts: dict[str, Any] = {}
    # The new rows' builders started from the old codes, so their column order extends ours.
    if set(old.columns) <= set(new.columns):
        order = list(new.columns)
    else:
        order = list(old.columns) + [c for c in new.columns if c not in old.columns]
    for column in order:
        left = old[column] if column in old.columns else None
        right = new[column] if column in new.columns else None
        template = left if left is not None else right
        assert template is not None
        if left is None:
            left = pd.Series(pd.array([None] * len(old), dtype=template.dtype))
            prefix = column.rsplit(MULTIPLE_SEPARATOR, 1)[0] + MULTIPLE_SEPARATOR
            sibling = next((c for c in old.columns if c.startswith(prefix)), None)
            if MULTIPLE_SEPARATOR in column and sibling is not None:
                # A code first seen in the new rows: old answers did not choose it.
                answered = old[sibling].notna().to_numpy()
                left = pd.Series(pd.arrays.BooleanArray(np.zeros(len(old), bool), ~answered))
        if right is None:
            right = pd.Series(pd.array([None] * len(new), dtype=template.dtype))
        left_categorical = isinstance(left.dtype, pd.CategoricalDtype)
        if left_categorical != isinstance(right.dtype, pd.CategoricalDtype) or (
            not left_categorical and left.dtype != right.dtype
        ):
            raise Rebuild(column)  # e.g. a calculate that stops being all-numeric
        if left_categorical:
            # The new rows' builder started from the old categories: theirs extend ours.
            known = list(left.cat.categories)
            seen = set(known)
            extra = [c for c in right.cat.categories if c not in seen]
            if extra:
                left = left.cat.add_categories(extra)  # appends: the codes stay as they are
            if list(right.cat.categories) != known + extra:  # rare: only recode when needed
                right = right.cat.set_categories(known + extra)
        old_parts[column] = left.reset_index(drop=True)
        new_parts[column] = right.reset_index(drop=True)
    return pd.concat([pd.DataFrame(old_parts), pd.DataFrame(new_parts)], ignore_index=True)


def excluded_counts(
    version_ids: Sequence[int],
    filters: DatasetFilters,
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    known: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Submissions in scope left out, by reason (their review status, else 'demo').

    With `after_id`, only newer rows are counted and added to `known`: an append does not
    rescan the table.
    """
    where = _conditions(version_ids, filters)
    if after_id:
        where.append(Submission.id > after_id)
    if up_to_id is not None:
        where.append(Submission.id <= up_to_id)
    rows = db.session.execute(
        select(Submission.review_status, Submission.is_demo, func.count())
        .where(*where)
        .group_by(Submission.review_status, Submission.is_demo)
    ).all()
    out: dict[str, int] = dict(known or {})
    for status, is_demo, count in rows:
        if status not in filters.review_statuses:
            out[status] = out.get(status, 0) + count
        elif is_demo and not filters.include_demo:
            out["demo"] = out.get("demo", 0) + count
    return out


def read_rows(
    versions: Sequence[InstrumentVersion],
    specs: Sequence[InstrumentSpec],
    filters: DatasetFilters,
    *,
    after_id: int = 0,
    up_to_id: int | None = None,
    known: Dataset | None = None,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    version_ids = [v.id for v in versions]
    round_names = dict(
        db.session.execute(
            select(SurveyRound.id, SurveyRound.name).order_by(SurveyRound.starts_on, SurveyRound.id)
        ).all()
    )  # categories in calendar order
    loader = Loader(specs, {v.id: v.version for v in versions}, round_names, known)
    where = _conditions(version_ids, filters) + _kept(filters)
    if after_id:
        where.append(Submission.id > after_id)
    if up_to_id is not None:
        where.append(Submission.id <= up_to_id)
    statement = select(*_SELECTED).where(*where).order_by(Submission.id)
    # yield_per on the statement, not the connection: Connection.execution_options() changes
    # the session's connection for good (later INSERTs would run in server-side cursors).
    result = db.session.connection().execute(statement.execution_options(yield_per=CHUNK_ROWS))
    for rows in result.partitions():
        loader.add(rows)
    result.close()
    return loader.finish()
