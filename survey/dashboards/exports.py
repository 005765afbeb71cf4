"""The analysis plan's results as one tidy table for download (`/dashboard/indicators.csv`,
`survey indicators`): always suppressed as for advocates, and audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from reports.analysis import apply_to_estimates
from reports.analysis.plan import TIDY_COLUMNS
from reports.analysis.rounding import round_published
from reports.analysis.suppression import SUPPRESSED
from reports.formatting import is_missing
from survey.dashboards import estimates
from survey.dashboards import filters as dashboard_filters
from survey.dashboards.estimates import run_estimates
from survey.dashboards.filters import Filters
from survey.dashboards.labels import Labels, category_label
from survey.dashboards.publication import Publication
from survey.datasets.dataset import Dataset
from survey.instruments.models import Instrument
from survey.users.models import User
from survey.users.services import record_audit

EXPORT_COLUMNS = (
    "indicator",
    "indicator_label",
    "group_var",
    "group",
    "group_label",
    "category",
    "category_label",
    "estimate",
    "ci_low",
    "ci_high",
    "n",
    "indicative",
    "suppressed",
)


INTERNAL_COLUMNS = ("kind", "theme", "chapter", "count", "dnk", "pnta", "missing", "effective_n")


HXL_TAGS: Mapping[str, str] = {
    "indicator": "#indicator+code",
    "indicator_label": "#indicator+name",
    "group_var": "#meta+group+type",
    "group": "#meta+group+code",
    "group_label": "#meta+group+name",
    "category": "#indicator+category+code",
    "category_label": "#indicator+category+name",
    "estimate": "#indicator+value+num",
    "ci_low": "#indicator+value+ci_low+num",
    "ci_high": "#indicator+value+ci_high+num",
    "n": "#indicator+denominator+num",
    "indicative": "#meta+indicative",
    "suppressed": "#meta+suppressed",
    "kind": "#indicator+type",
    "theme": "#sector+name",
    "chapter": "#meta+chapter",
    "count": "#indicator+numerator+num",
    "dnk": "#indicator+dnk+num",
    "pnta": "#indicator+pnta+num",
    "missing": "#indicator+missing+num",
    "effective_n": "#indicator+effective_n+num",
}


@dataclass(frozen=True)
class IndicatorExport:
    """The analysis plan's results as one suppressed tidy table, and what went wrong."""

    table: pd.DataFrame
    problems: tuple[str, ...]
    respondents: int
    suppressed_rows: int


def indicator_export(
    dataset: Dataset,
    filters: Filters,
    *,
    language: str,
    k: int,
    public: bool,
    publication: Publication | None = None,
) -> IndicatorExport:
    """Every indicator with its own disaggregations, suppressed as for advocates (always).

    public=True keeps the publishable columns only (no numerator, don't know, prefer not to
    answer or missing counts, no effective n); both forms hide the same cells.
    """
    spec = dataset.spec
    plan, plan_problems = estimates.plan_of(spec)
    selection = dashboard_filters.select_rows(dataset, filters)
    if publication is not None:
        # The advocates' cube as it is: the same figures as their pages
        original, problems = publication.original, list(publication.problems)
        published = round_published(publication.cube.table)
        respondents = publication.respondents(None, None)
    else:
        if len(selection.respondents):
            original, problems = run_estimates(selection, plan, spec, None)
        else:  # nothing selected (demo data left out, say): a header, not a crash
            original, problems = pd.DataFrame(columns=list(TIDY_COLUMNS)), []
        if len(original):
            suppressed = apply_to_estimates(original, k=k)
        else:
            suppressed = original.assign(suppressed=False)
        published = round_published(suppressed)
        respondents = len(selection.respondents)
    labels = Labels(dataset, language)
    indicators = {i.id: i for i in plan.indicators}
    out = pd.DataFrame(
        {
            "indicator": published["indicator"],
            "indicator_label": [
                labels.text(indicators[i].labels, i) for i in published["indicator"]
            ],
            "group_var": published["group_var"],
            "group": published["group"],
            "group_label": [
                "" if var == "" else labels.value(var, group)
                for var, group in zip(published["group_var"], published["group"], strict=True)
            ],
            "category": published["category"],
            "category_label": [
                category_label(indicators[i], c, labels) if c else ""
                for i, c in zip(published["indicator"], published["category"], strict=True)
            ],
            "estimate": published["estimate"],
            "ci_low": published["ci_low"],
            "ci_high": published["ci_high"],
            "n": published["n"],
            "indicative": published["indicative"].astype(bool),
            "suppressed": published[SUPPRESSED].astype(bool),
        }
    )
    if publication is not None:
        # Published on the advocates' pages, under the same suppression
        for name in ("dnk", "pnta", "missing"):
            out[name] = published[name].to_numpy()
    if not public:
        for name in INTERNAL_COLUMNS:
            out[name] = published[name]
    return IndicatorExport(
        table=out.reset_index(drop=True),
        problems=(*plan_problems, *problems),
        respondents=-1 if respondents is None else int(respondents),
        suppressed_rows=int(out["suppressed"].sum()),
    )


def _neutralised(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def write_indicator_csv(table: pd.DataFrame, handle: Any, *, hxl: bool) -> None:
    """The export as CSV (UTF-8; HXL adds the hashtag row under the header)."""
    import csv

    writer = csv.writer(handle, lineterminator="\n")
    columns = list(table.columns)
    writer.writerow(columns)
    if hxl:
        writer.writerow([HXL_TAGS.get(c, "") for c in columns])
    # The same values (indicators, groups, categories, labels, counts) fill most cells: each
    # distinct one is written once. Keyed by type too (True == 1 == 1.0 are written apart).
    written: dict[tuple[type, Any], str] = {}

    def cell(value: Any) -> Any:
        try:
            return written[type(value), value]
        except KeyError:
            text = written[type(value), value] = "" if is_missing(value) else _cell_text(value)
            return text
        except TypeError:  # unhashable
            return "" if is_missing(value) else _cell_text(value)

    writer.writerows(
        [cell(v) for v in record] for record in table.itertuples(index=False, name=None)
    )


def _cell_text(value: Any) -> Any:
    """A value as CSV text (booleans as true/false, whole floats without .0)."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)
    return _neutralised(str(value))


def audit_indicator_export(
    instrument: Instrument,
    filters: Filters,
    export: IndicatorExport,
    *,
    public: bool,
    file_format: str,
    user: User | None,
    via: str,
) -> None:
    """Write the export to the audit log (flushes; the caller commits)."""
    record_audit(
        "export_made",
        user=user,
        target=f"indicators {instrument.form_id}",
        details={
            "kind": "indicators",
            "format": file_format,
            "public": public,
            "suppressed": True,
            "rows": len(export.table),
            "suppressed_rows": export.suppressed_rows,
            "respondents": export.respondents,
            "instrument": instrument.form_id,
            "round": filters.round_id if filters.round_id is not None else "all",
            "review_statuses": list(filters.statuses),
            "include_demo": filters.include_demo,
            "via": via,
        },
    )
