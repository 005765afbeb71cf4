"""The overview page: submissions per district (with targets), per day and per volunteer, and
refusals; counts hidden for advocates with complementary suppression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from reports.analysis import apply_to_estimates, frequencies, suppress_small_cells, suppressed_view
from reports.charts import Bar
from reports.formatting import DASH, format_count, format_number, format_share, is_missing
from survey.collection.models import Refusal
from survey.dashboards.charts import describe_bars, make_chart
from survey.dashboards.estimates import FULL, MARKER, PUBLIC
from survey.dashboards.filters import Filters, Selection
from survey.dashboards.labels import REFUSAL_LABELS, Labels
from survey.dashboards.page_models import Cell, Chart, OverviewPage, Table
from survey.dashboards.pages.common import (
    PageRequest,
    cached_page,
    page_summary,
    public_count,
    volunteer_names,
)
from survey.dashboards.targets import targets_for
from survey.datasets.dataset import Dataset
from survey.extensions import db
from survey.i18n import current_language, format_date
from survey.instruments.models import Instrument

DAYS_CHARTED = 14


def _refusals(instrument: Instrument, filters: Filters) -> dict[str, int]:
    """Refusals in view by reason (refusals store only district, day and reason)."""
    where = [Refusal.instrument_id == instrument.id]
    if filters.round_id is not None:
        where.append(Refusal.round_id == filters.round_id)
    if filters.district:
        where.append(Refusal.district == filters.district)
    if filters.since is not None:
        where.append(Refusal.day >= filters.since)
    if filters.until is not None:
        where.append(Refusal.day <= filters.until)
    rows = db.session.execute(
        select(Refusal.reason, func.count()).where(*where).group_by(Refusal.reason)
    ).all()
    return {str(reason): int(count) for reason, count in rows}


def _refusal_stamp(instrument: Instrument) -> tuple:
    """Changes whenever a refusal of the instrument is recorded or removed."""
    return tuple(
        db.session.execute(
            select(func.count(), func.max(Refusal.id)).where(Refusal.instrument_id == instrument.id)
        ).one()
    )


def _count_table(
    labels_and_counts: Sequence[tuple[str, str, int]], role: str, k: int
) -> tuple[dict[str, str], dict[str, bool], str]:
    """Counts (key, label, count) as texts, hidden for advocates (with complements) + total."""
    language = current_language()
    keys = [key for key, _label, _count in labels_and_counts]
    counts = [count for _key, _label, count in labels_and_counts]
    total = sum(counts)
    if role != PUBLIC or not keys:
        return (
            {key: format_count(count, language) for key, count in zip(keys, counts, strict=True)},
            dict.fromkeys(keys, False),
            format_count(total, language),
        )
    frame = pd.DataFrame({"count": [*counts, total]}, index=[*keys, "\0total"])
    flagged = suppress_small_cells(frame, k=k, count_columns=["count"], col_total="\0total")
    view = suppressed_view(flagged, k=k, marker=MARKER)
    hidden = flagged["count_suppressed"].to_dict()
    texts = {
        key: MARKER if hidden[key] else format_count(view.at[key, "count"], language)
        for key in keys
    }
    total_text = MARKER if hidden["\0total"] else format_count(total, language)
    return texts, {key: bool(hidden[key]) for key in keys}, total_text


def overview_page(request: PageRequest) -> OverviewPage:
    """Submissions per district (with targets), per day, per volunteer; refusals."""
    targets = targets_for(request.instrument.id, request.filters.round_id)
    refusals = _refusals(request.instrument, request.filters)
    extra = (tuple(sorted(targets.items())), _refusal_stamp(request.instrument))

    def build(dataset: Dataset, selection: Selection) -> OverviewPage:
        labels = Labels(dataset, request.language)
        language = request.language
        summary = page_summary(dataset, selection, request.role, request.k)
        if request.filters.by_respondent:
            summary = replace(
                summary,
                notes=(
                    _(
                        "Refusals are counted by district and day only: the sex, age group "
                        "and generation filters do not apply to them."
                    ),
                ),
            )
        frame = selection.respondents
        options = [
            (code, label) for code, label in _district_options(dataset, labels) if code != ""
        ]
        counts = frame["_district"].astype(object).value_counts().to_dict() if len(frame) else {}
        shown = [
            (code, label, int(counts.get(code, 0)))
            for code, label in options
            if counts.get(code, 0) or code in targets
        ]
        headline = [
            (_("Submissions analysed"), summary.analysed),
            (
                _("Districts with submissions"),
                format_count(sum(1 for c in counts.values() if c), language),
            ),
        ]
        refused = sum(refusals.values())
        headline.append((_("Refusals recorded"), public_count(refused, request.role, request.k)))
        districts, progress = _district_charts(frame, shown, targets, request)
        days = _days_chart(frame, request)
        volunteers = _volunteer_counts(frame, request) if request.role == FULL else None
        refusal_table = _refusal_table(refusals, len(frame), request)
        target_rows: tuple[tuple[str, str, int | None], ...] = ()
        if request.role == FULL and request.filters.round_id is not None:
            target_rows = tuple((code, label, targets.get(code)) for code, label in options)
        return OverviewPage(
            summary=summary,
            headline=tuple(headline),
            districts=districts,
            progress=progress,
            days=days,
            volunteers=volunteers,
            refusals=refusal_table,
            targets=target_rows,
        )

    return cached_page(request, "overview", build, *extra)


def _district_options(dataset: Dataset, labels: Labels) -> list[tuple[str, str]]:
    """(code, label) of every district: the choice list, then codes only seen in data."""
    spec = dataset.spec
    question = spec.questions_by_name.get(spec.intake.district_question)
    options = []
    if question is not None:
        options = [
            (choice.name, labels.text(choice.labels, choice.name))
            for choice in spec.choices.get(question.choice_list or "", ())
        ]
    known = {code for code, _label in options}
    if len(dataset.respondents):
        for code in dataset.respondents["_district"].dropna().unique():
            if str(code) not in known:
                options.append((str(code), labels.value("_district", code)))
                known.add(str(code))
    return options


def _public_district_counts(
    frame: pd.DataFrame, shown: Sequence[tuple[str, str, int]], k: int
) -> tuple[dict[str, str], dict[str, bool], str]:
    """District counts hidden exactly as the indicators page hides its district frequency.

    The same counts suppressed twice with different complements could be combined to recover
    a hidden one, so the overview runs the very computation of the plan's frequency tables.
    """
    language = current_language()
    table = frequencies(frame, "_district")
    published = apply_to_estimates(table, k=k, kind="frequency")
    gone = published["count"].isna().to_numpy() & table["count"].notna().to_numpy()
    hidden_codes = set(table.loc[gone, "category"].astype(str))
    texts = {
        code: MARKER if code in hidden_codes else format_count(count, language)
        for code, _label, count in shown
    }
    total = len(frame)
    total_text = MARKER if 0 < total < k else format_count(total, language)
    return texts, {code: code in hidden_codes for code, _label, _count in shown}, total_text


def _district_charts(
    frame: pd.DataFrame,
    shown: Sequence[tuple[str, str, int]],
    targets: Mapping[str, int],
    request: PageRequest,
) -> tuple[Chart | None, Chart | None]:
    """Submissions by district and, when targets are set, progress against them."""
    if not shown:
        return None, None
    language = request.language
    if request.role == PUBLIC:
        texts, hidden, total_text = _public_district_counts(frame, shown, request.k)
    else:
        texts, hidden, total_text = _count_table(shown, request.role, request.k)
    total = sum(count for _code, _label, count in shown)
    rows, bars, progress_bars = [], [], []
    for code, label, count in shown:
        share = count / total if total else float("nan")
        target = targets.get(code)
        progress = count / target if target else float("nan")
        rows.append(
            (
                Cell(label, "label"),
                Cell(texts[code], "count", suppressed=hidden[code]),
                Cell(
                    MARKER if hidden[code] else format_share(share, language),
                    "number",
                    suppressed=hidden[code],
                ),
                Cell(format_count(target, language) if target is not None else DASH, "number"),
                Cell(
                    MARKER if hidden[code] else format_share(progress, language),
                    "number",
                    suppressed=hidden[code],
                ),
            )
        )
        bars.append(Bar(label, None if hidden[code] or is_missing(share) else share))
        if target:
            estimate = None if hidden[code] else min(progress, 1.0)
            progress_bars.append(Bar(label, estimate, note="+" if progress > 1 else ""))
    rows.append(
        (
            Cell(_("Total"), "label"),
            Cell(total_text, "count", suppressed=total_text == MARKER),
            Cell(format_share(1.0 if total else float("nan"), language), "number"),
            Cell(format_count(sum(targets.values()), language) if targets else DASH, "number"),
            Cell(DASH, "number"),
        )
    )
    table = Table(
        caption=_("Submissions by district"),
        head=(_("District"), _("Submissions"), _("Share"), _("Target"), _("Progress")),
        rows=tuple(rows),
    )
    districts = make_chart(
        bars,
        title=_("Share of submissions by district"),
        description=describe_bars(bars, language, percent=True),
        table=table,
    )
    progress_chart = None
    if progress_bars:
        progress_chart = make_chart(
            progress_bars,
            title=_("Progress against the target, by district (+ means above the target)"),
            description=describe_bars(progress_bars, language, percent=True),
            table=table,
        )
    return districts, progress_chart


def _periods(days: np.ndarray, unit: str, language: str) -> list[tuple[str, str, int]]:
    """(key, label, submissions) per day, week (from Monday) or month, in time order."""
    if unit == "week":
        starts = pd.DatetimeIndex(days).to_period("W-SUN").start_time.to_numpy()
        days = starts.astype("datetime64[D]")
    elif unit == "month":
        days = days.astype("datetime64[M]").astype("datetime64[D]")
    values, counts = np.unique(days, return_counts=True)
    out = []
    for value, count in zip(values, counts, strict=True):
        day = dt.date.fromisoformat(str(value))
        if unit == "week":
            label = _("week from %(date)s", date=format_date(day))
        elif unit == "month":
            label = day.strftime("%Y-%m" if language == "en" else "%m.%Y")
        else:
            label = format_date(day)
        out.append((day.isoformat(), label, int(count)))
    return out


PERIOD_CAPTIONS: Mapping[str, Any] = {
    "day": _l("Submissions received per day (UTC)"),
    "week": _l("Submissions received per week (UTC)"),
    "month": _l("Submissions received per month (UTC)"),
}


PERIOD_HEADINGS: Mapping[str, Any] = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}


def _days_chart(frame: pd.DataFrame, request: PageRequest) -> Chart | None:
    """Submissions per day; for advocates per week or month when most days would be hidden."""
    if not len(frame):
        return None
    language = request.language
    received = frame["_received_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    days = received.astype("datetime64[D]")
    units = ("day", "week", "month") if request.role == PUBLIC else ("day",)
    for unit in units:
        periods = _periods(days, unit, language)
        texts, hidden, total_text = _count_table(periods, request.role, request.k)
        # Coarser periods when more than a third of the cells would be hidden.
        if sum(hidden.values()) * 3 <= len(hidden):
            break
    rows = [
        (Cell(label, "label"), Cell(texts[key], "count", suppressed=hidden[key]))
        for key, label, _count in periods
    ]
    rows.append(
        (Cell(_("Total"), "label"), Cell(total_text, "count", suppressed=total_text == MARKER))
    )
    table = Table(
        caption=str(PERIOD_CAPTIONS[unit]),
        head=(str(PERIOD_HEADINGS[unit]), _("Submissions")),
        rows=tuple(rows),
    )
    recent = periods[-DAYS_CHARTED:]
    bars = [Bar(label, None if hidden[key] else float(count)) for key, label, count in recent]
    title = _("%(caption)s: the most recent (%(n)d)", caption=table.caption, n=len(recent))
    return make_chart(
        bars,
        title=title,
        description=describe_bars(bars, language, percent=False, whole=True),
        table=table,
        percent=False,
        whole=True,
    )


def _volunteer_counts(frame: pd.DataFrame, request: PageRequest) -> Table | None:
    """Submissions, median duration and last day per volunteer (coordinators)."""
    if not len(frame):
        return None
    language = request.language
    names = volunteer_names(frame)
    data = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "duration": frame["_duration_min"].to_numpy(),
            "received": frame["_received_at"].to_numpy(),
        }
    )
    grouped = data.groupby("name", sort=False)
    summary = pd.DataFrame(
        {
            "count": grouped.size(),
            "median": grouped["duration"].median(),
            "last": grouped["received"].max(),
        }
    ).sort_values(["count"], ascending=False)
    rows = tuple(
        (
            Cell(str(name), "label"),
            Cell(format_count(values["count"], language), "count"),
            Cell(format_number(values["median"], language), "number"),
            Cell(
                format_date(pd.Timestamp(values["last"]).date())
                if not is_missing(values["last"])
                else DASH
            ),
        )
        for name, values in summary.iterrows()
    )
    return Table(
        caption=_("Submissions per volunteer"),
        head=(_("Volunteer"), _("Submissions"), _("Median duration (minutes)"), _("Last received")),
        rows=rows,
    )


def _refusal_table(refusals: Mapping[str, int], submissions: int, request: PageRequest) -> Table:
    """Refusals by reason, their total and the refusal rate."""
    language = request.language
    entries = [
        (reason, str(REFUSAL_LABELS.get(reason, reason)), count)
        for reason, count in sorted(refusals.items())
    ]
    texts, hidden, total_text = _count_table(entries, request.role, request.k)
    rows = [
        (Cell(label, "label"), Cell(texts[key], "count", suppressed=hidden[key]))
        for key, label, _count in entries
    ]
    refused = sum(refusals.values())
    contacts = refused + submissions
    rate = refused / contacts if contacts else float("nan")
    rate_hidden = request.role == PUBLIC and (any(hidden.values()) or 0 < refused < request.k)
    rows.append(
        (Cell(_("Total"), "label"), Cell(total_text, "count", suppressed=total_text == MARKER))
    )
    rows.append(
        (
            Cell(_("Refusal rate (refusals among refusals and submissions)"), "label"),
            Cell(
                MARKER if rate_hidden else format_share(rate, language),
                "number",
                suppressed=rate_hidden,
            ),
        )
    )
    return Table(
        caption=_("Refusals by reason"), head=(_("Reason"), _("Refusals")), rows=tuple(rows)
    )
