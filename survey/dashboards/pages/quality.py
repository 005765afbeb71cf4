"""The data-quality page (coordinators and admins): interview durations, item non-response,
straight-lining and suspected duplicates, also summed per volunteer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from flask_babel import gettext as _

from reports.charts import Bar
from reports.formatting import DASH, format_count, format_number, format_share, is_missing
from survey.dashboards import estimates
from survey.dashboards.charts import describe_bars, make_chart
from survey.dashboards.filters import Selection
from survey.dashboards.labels import SPECIAL, Labels
from survey.dashboards.page_models import Cell, Chart, QualityPage, Table
from survey.dashboards.pages.common import PageRequest, cached_page, page_summary, volunteer_names
from survey.datasets.columns import MULTIPLE_SEPARATOR, RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.datasets.labels import derived_label
from survey.instruments.spec import InstrumentSpec

SHORT_INTERVIEW_MINUTES = 10.0  # the default instrument takes 25–35 minutes (DOMAIN.md §4)


LONG_INTERVIEW_MINUTES = 180.0


LISTED_SUBMISSIONS = 50


DURATION_BANDS = ((0, 10), (10, 20), (20, 30), (30, 40), (40, 60), (60, 120), (120, math.inf))


BATTERY_SIZE = 3  # questions sharing a choice list in a section, checked for straight-lining


def quality_page(request: PageRequest) -> QualityPage:
    """Interview durations, item non-response, straight-lining and suspected duplicates."""

    def build(dataset: Dataset, selection: Selection) -> QualityPage:
        labels = Labels(dataset, request.language)
        summary = page_summary(dataset, selection, request.role, request.k)
        frame = selection.respondents
        if not len(frame):
            return QualityPage(summary, None, (), None, None, None, None, None)
        names = volunteer_names(frame)
        durations, stats, outliers, short = _durations(frame, names, labels, request)
        nonresponse = _nonresponse(frame, dataset, labels, request)
        straight_table, straight = _straightlining(frame, dataset, labels, request)
        duplicate_table, duplicated = _duplicates(frame, dataset, names, labels, request)
        volunteers = _volunteer_quality(frame, names, short, straight, duplicated, request)
        return QualityPage(
            summary,
            durations,
            stats,
            outliers,
            nonresponse,
            straight_table,
            duplicate_table,
            volunteers,
        )

    return cached_page(request, "quality", build)


def _durations(
    frame: pd.DataFrame, names: pd.Series, labels: Labels, request: PageRequest
) -> tuple[Chart | None, tuple[tuple[str, str], ...], Table | None, np.ndarray]:
    """Duration chart, summary figures, unusual interviews and the too-short mask."""
    language = request.language
    minutes = frame["_duration_min"].to_numpy(dtype=float)
    known = ~np.isnan(minutes)
    short = known & (minutes < SHORT_INTERVIEW_MINUTES)
    if not known.any():
        return None, ((_("Interviews with a recorded duration"), "0"),), None, short
    q1, median, q3 = np.percentile(minutes[known], [25, 50, 75])
    long_limit = max(LONG_INTERVIEW_MINUTES, q3 + 3 * (q3 - q1))
    long = known & (minutes > long_limit)
    stats = (
        (_("Interviews with a recorded duration"), format_count(int(known.sum()), language)),
        (_("Median duration (minutes)"), format_number(median, language)),
        (
            _("Middle half (minutes)"),
            f"{format_number(q1, language)}–{format_number(q3, language)}",
        ),
        (
            _("Shorter than %(minutes)d minutes", minutes=int(SHORT_INTERVIEW_MINUTES)),
            format_count(int(short.sum()), language),
        ),
        (
            _("Longer than %(minutes)s minutes", minutes=format_number(long_limit, language, 0)),
            format_count(int(long.sum()), language),
        ),
    )
    bars, rows = [], []
    total = int(known.sum())
    for low, high in DURATION_BANDS:
        inside = known & (minutes >= low) & (minutes < high)
        label = f"{low}–{high}" if math.isfinite(high) else f"{low}+"
        share = int(inside.sum()) / total
        bars.append(Bar(label, share))
        rows.append(
            (
                Cell(label, "label"),
                Cell(format_count(int(inside.sum()), language), "count"),
                Cell(format_share(share, language), "number"),
            )
        )
    table = Table(
        caption=_("Interviews by duration (minutes)"),
        head=(_("Minutes"), _("Interviews"), _("Share")),
        rows=tuple(rows),
    )
    chart = make_chart(
        bars,
        title=_("Interview duration"),
        description=describe_bars(bars, language, percent=True),
        table=table,
    )
    flagged = np.flatnonzero(short | long)
    order = flagged[np.argsort(minutes[flagged], kind="stable")][:LISTED_SUBMISSIONS]
    outlier_rows = tuple(
        (
            Cell(
                f"#{int(frame['_submission_id'].iat[i])}",
                "label",
                submission_id=int(frame["_submission_id"].iat[i]),
            ),
            Cell(str(names.iat[i])),
            Cell(
                labels.value("_district", frame["_district"].iat[i])
                if not is_missing(frame["_district"].iat[i])
                else DASH
            ),
            Cell(format_number(minutes[i], language), "number"),
            Cell(_("too short") if short[i] else _("too long")),
        )
        for i in order
    )
    outliers = None
    if outlier_rows:
        outliers = Table(
            caption=_("Interviews with an unusual duration (first %(n)d)", n=LISTED_SUBMISSIONS),
            head=(_("Submission"), _("Volunteer"), _("District"), _("Minutes"), _("Why")),
            rows=outlier_rows,
        )
    return chart, stats, outliers, short


def _answer_status(frame: pd.DataFrame, name: str, measure: str) -> tuple[int, int, int] | None:
    """(asked, don't know, prefer not to answer) of a question among respondents in view."""
    if measure == "multiple":
        prefix = name + MULTIPLE_SEPARATOR
        columns = [c for c in frame.columns if c.startswith(prefix)]
        if not columns:
            return None
        asked = int(frame[columns[0]].notna().sum())
        dnk = int(frame[prefix + "dnk"].fillna(False).sum()) if prefix + "dnk" in frame else 0
        pnta = int(frame[prefix + "pnta"].fillna(False).sum()) if prefix + "pnta" in frame else 0
        return asked, dnk, pnta
    if name not in frame.columns:
        return None
    series = frame[name]
    asked = int(series.notna().sum())
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = [str(c) for c in series.cat.categories]
        raw = series.cat.codes.to_numpy()
        dnk = int((raw == codes.index("dnk")).sum()) if "dnk" in codes else 0
        pnta = int((raw == codes.index("pnta")).sum()) if "pnta" in codes else 0
        return asked, dnk, pnta
    return asked, 0, 0


def _nonresponse(
    frame: pd.DataFrame, dataset: Dataset, labels: Labels, request: PageRequest
) -> Table | None:
    """Don't know and prefer-not-to-answer shares per question, highest first."""
    language = request.language
    found = []
    for description in dataset.descriptions:
        if description.repeat is not None or description.measure not in {
            "categorical",
            "multiple",
            "numeric",
        }:
            continue
        status = _answer_status(frame, description.name, description.measure)
        if status is None or status[0] == 0:
            continue
        asked, dnk, pnta = status
        found.append((description, asked, dnk, pnta, (dnk + pnta) / asked))
    if not found:
        return None
    found.sort(key=lambda item: -item[4])
    rows = tuple(
        (
            Cell(labels.text(d.labels, derived_label(d.name)), "label"),
            Cell(format_count(asked, language), "count"),
            Cell(format_count(dnk, language), "count"),
            Cell(format_count(pnta, language), "count"),
            Cell(format_share(rate, language), "number"),
        )
        for d, asked, dnk, pnta, rate in found
    )
    return Table(
        caption=_("Item non-response: “don't know” and “prefer not to answer”, highest first"),
        head=(
            _("Question"),
            _("Answered"),
            _("Don't know"),
            _("Prefer not to answer"),
            _("Non-response"),
        ),
        rows=rows,
    )


def _batteries(spec: InstrumentSpec) -> list[tuple[str, str, list[str]]]:
    """Groups of questions in one section sharing a rating scale (≥ 4 answers, ≥ 3 questions).

    Ranked questions (1st, 2nd, 3rd need) share a list too, but cannot repeat an answer.
    """
    plan, _problems = estimates.plan_of(spec)
    ranked = {c for i in plan.indicators if i.kind == "ranking" for c in i.columns}
    groups: dict[tuple[str, str], list[str]] = {}
    for question in spec.iter_questions():
        if question.type != "select_one" or question.repeat is not None or question.name in ranked:
            continue
        choices = [
            c for c in spec.choices.get(question.choice_list or "", ()) if c.name not in SPECIAL
        ]
        if len(choices) < 4:
            continue  # yes/no lists repeat honestly
        groups.setdefault((question.section or "", question.choice_list or ""), []).append(
            question.name
        )
    return [
        (section, name, qs) for (section, name), qs in groups.items() if len(qs) >= BATTERY_SIZE
    ]


def _straightlining(
    frame: pd.DataFrame, dataset: Dataset, labels: Labels, request: PageRequest
) -> tuple[Table | None, np.ndarray]:
    """Per rating scale, how many gave one answer throughout; per row, everywhere."""
    language = request.language
    completed = np.zeros(len(frame), dtype=np.int64)
    identical = np.zeros(len(frame), dtype=np.int64)
    rows = []
    for section, _list_name, questions in _batteries(dataset.spec):
        present = [q for q in questions if q in frame.columns]
        if len(present) < BATTERY_SIZE:
            continue
        codes = np.column_stack(
            [frame[q].astype(object).where(frame[q].notna(), None).to_numpy() for q in present]
        )
        answered = np.all(codes != None, axis=1)  # noqa: E711 - elementwise on an object array
        answered &= ~np.any(np.isin(codes, list(SPECIAL)), axis=1)
        same = answered & np.all(codes == codes[:, :1], axis=1)
        completed += answered
        identical += same
        n_answered = int(answered.sum())
        section_spec = dataset.spec.sections_by_name.get(section)
        title = labels.text(section_spec.labels, section) if section_spec else section
        first = dataset.spec.questions_by_name[present[0]]
        rows.append(
            (
                Cell(f"{title} ({len(present)})", "label"),
                Cell(labels.text(first.labels, first.name)),
                Cell(format_count(n_answered, language), "count"),
                Cell(format_count(int(same.sum()), language), "count"),
                Cell(
                    format_share(same.sum() / n_answered if n_answered else float("nan"), language),
                    "number",
                ),
            )
        )
    # One uniform scale is often honest ("no difficulty" six times); every scale alike is not.
    flagged = (completed >= 2) & (identical == completed)
    if not rows:
        return None, flagged
    table = Table(
        caption=_("Straight-lining: the same answer to every question of a rating scale"),
        head=(
            _("Questions"),
            _("First question"),
            _("Answered them all"),
            _("Same answer to all"),
            _("Share"),
        ),
        rows=tuple(rows),
    )
    return table, flagged


def _duplicates(
    frame: pd.DataFrame, dataset: Dataset, names: pd.Series, labels: Labels, request: PageRequest
) -> tuple[Table | None, np.ndarray]:
    """Identical answers, and one volunteer's interviews of the same person profile on one day."""
    language = request.language
    questions = [
        c for c in frame.columns if not c.startswith("_") and not c.startswith(RESPONDENT_PREFIX)
    ]
    flagged = np.zeros(len(frame), dtype=bool)
    groups: list[tuple[str, np.ndarray]] = []
    if questions:
        hashes = pd.util.hash_pandas_object(frame[questions], index=False).to_numpy()
        same = pd.Series(hashes).duplicated(keep=False).to_numpy()
        flagged |= same
        groups += [(str(_("identical answers")), rows) for rows in _group_rows(hashes, same)]
    spec = dataset.spec
    profile = [name for name in ("sex", spec.intake.age_question) if name in frame.columns]
    if profile:
        day = frame["_received_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        keys = pd.DataFrame(
            {
                "volunteer": frame["_volunteer"].fillna(-1).to_numpy(),
                "district": frame["_district"].astype(object).to_numpy(),
                "day": day.astype("datetime64[D]"),
                **{name: frame[name].astype(object).to_numpy() for name in profile},
            }
        )
        known = keys[profile].notna().all(axis=1).to_numpy() & (keys["volunteer"] >= 0).to_numpy()
        hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
        same = pd.Series(hashes).duplicated(keep=False).to_numpy() & known & ~flagged
        flagged |= same
        groups += [
            (str(_("same volunteer, day, district, sex and age")), rows)
            for rows in _group_rows(hashes, same)
        ]
    if not groups:
        return None, flagged
    ids = frame["_submission_id"].to_numpy()
    rows = []
    for kind, members in groups[:LISTED_SUBMISSIONS]:
        first = members[0]
        district = frame["_district"].iat[first]
        rows.append(
            (
                Cell(kind, "label"),
                Cell(format_count(len(members), language), "count"),
                Cell(", ".join(f"#{int(ids[i])}" for i in members[:10])),
                Cell(str(names.iat[first])),
                Cell(labels.value("_district", district) if not is_missing(district) else DASH),
            )
        )
    table = Table(
        caption=_(
            "Suspected duplicates: %(submissions)s submissions in %(groups)s groups "
            "(the first %(n)d groups)",
            submissions=format_count(int(flagged.sum()), language),
            groups=format_count(len(groups), language),
            n=LISTED_SUBMISSIONS,
        ),
        head=(_("Why"), _("Submissions"), _("Submission numbers"), _("Volunteer"), _("District")),
        rows=tuple(rows),
    )
    return table, flagged


def _group_rows(hashes: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """Row positions of each group of equal hashes among the masked rows."""
    positions = np.flatnonzero(mask)
    if not len(positions):
        return []
    order = positions[np.argsort(hashes[positions], kind="stable")]
    _values, starts = np.unique(hashes[order], return_index=True)
    return [np.sort(part) for part in np.split(order, starts[1:])]


def _volunteer_quality(
    frame: pd.DataFrame,
    names: pd.Series,
    short: np.ndarray,
    straight: np.ndarray,
    duplicated: np.ndarray,
    request: PageRequest,
) -> Table:
    """The checks summed per volunteer."""
    language = request.language
    data = pd.DataFrame(
        {
            "name": names.to_numpy(),
            "duration": frame["_duration_min"].to_numpy(dtype=float),
            "short": short,
            "straight": straight,
            "duplicate": duplicated,
        }
    )
    grouped = data.groupby("name", sort=False)
    summary = pd.DataFrame(
        {
            "count": grouped.size(),
            "median": grouped["duration"].median(),
            "short": grouped["short"].sum(),
            "straight": grouped["straight"].sum(),
            "duplicate": grouped["duplicate"].sum(),
        }
    ).sort_values("count", ascending=False)
    rows = tuple(
        (
            Cell(str(name), "label"),
            Cell(format_count(v["count"], language), "count"),
            Cell(format_number(v["median"], language), "number"),
            Cell(format_count(v["short"], language), "count"),
            Cell(format_count(v["straight"], language), "count"),
            Cell(format_count(v["duplicate"], language), "count"),
        )
        for name, v in summary.iterrows()
    )
    return Table(
        caption=_("Checks per volunteer"),
        head=(
            _("Volunteer"),
            _("Submissions"),
            _("Median duration (minutes)"),
            _("Too short"),
            _("Same answer throughout every rating scale"),
            _("Suspected duplicates"),
        ),
        rows=rows,
    )
