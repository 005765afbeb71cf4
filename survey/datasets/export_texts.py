"""The words of an export: labels of recoded and derived values, and the about file's items
and disclosure notes, in the export's language (split from `deidentify`, which decides what
is blanked or recoded; this module only says so)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from flask_babel import gettext as _

from survey.clock import utcnow
from survey.collection.forms import REVIEW_STATUS_LABELS
from survey.datasets.columns import RESPONDENT_PREFIX
from survey.datasets.dataset import Dataset
from survey.datasets.labels import DERIVED_COLUMNS, DERIVED_VALUES, RESPONDENT_LABEL

if TYPE_CHECKING:
    from survey.datasets.deidentify import DisclosureSummary, ExportReport

_BAND = re.compile(r"^(\d+)_(\d+|plus)$")


def _band_label(code: str) -> str:
    low, high = _BAND.fullmatch(code).groups()  # type: ignore[union-attr]
    return f"{low}+" if high == "plus" else f"{low}–{high}"


def _metadata_value_labels(
    tables: Mapping[str, pd.DataFrame], dataset: Dataset
) -> dict[str, dict[str, str]]:
    """Labels, in the current locale, of the codes the instrument does not label: review
    statuses, sources, age bands and the codes of calculated variables."""
    labels: dict[str, dict[str, str]] = {
        "_review_status": {code: str(text) for code, text in REVIEW_STATUS_LABELS.items()},
        "_source": {"web": _("web form"), "openrosa": _("ODK Collect"), "demo": _("demo")},
    }
    calculated = {
        q.name for spec in dataset.specs for q in spec.iter_questions() if q.type == "calculate"
    }
    for frame in tables.values():
        for column in frame.columns:
            series = frame[column]
            if not isinstance(series.dtype, pd.CategoricalDtype):
                continue
            codes = [str(c) for c in series.cat.categories]
            if column.endswith("age_band"):
                labels[column] = {c: _band_label(c) for c in codes if _BAND.fullmatch(c)}
            elif (
                _derived_name(column) in calculated
                or column.removeprefix(RESPONDENT_PREFIX) in calculated
            ):
                labels[column] = {c: str(DERIVED_VALUES[c]) for c in codes if c in DERIVED_VALUES}
    return labels


def _derived_name(column: str) -> str:
    """The derived variable a column holds, whatever table it sits in (`member_generation`,
    `respondent.age_band` → `generation`, `age_band`)."""
    return column.removeprefix(RESPONDENT_PREFIX).removeprefix("member_")


def _derived_column_labels(
    tables: Mapping[str, pd.DataFrame], column_labels: Mapping[str, str], language: str
) -> dict[str, str]:
    """Labels, in the current locale, of calculated columns the XLSForm leaves unlabelled."""
    labels: dict[str, str] = {}
    for frame in tables.values():
        for column in frame.columns:
            name = _derived_name(column)
            derived = DERIVED_COLUMNS.get(name)
            if derived is None or column_labels.get(name, name) != name:
                continue
            labels[column] = str(derived)
            if column.startswith(RESPONDENT_PREFIX):
                labels[column] = f"{RESPONDENT_LABEL[language]}: {derived}"
    return labels


def _label_merged_codes(
    labels: dict[str, dict[str, str]], merged: Mapping[str, Mapping[str, tuple[str, ...]]]
) -> dict[str, dict[str, str]]:
    """A wider code made by global recoding is labelled with the labels of the codes it holds
    ("Ulan district / Glubokoe district"), in the export's language, where they have labels."""
    for column, wider in merged.items():
        for target in (column, RESPONDENT_PREFIX + column):
            known = labels.get(target)
            if not known:
                continue
            for code, held in wider.items():
                if code not in known:
                    known[code] = " / ".join(known.get(c, c) for c in held)
    return labels


def about_items(
    dataset: Dataset,
    report: ExportReport,
    k: int,
    column_labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[tuple[str, str], ...]:
    """The about file's (item, value) rows; values in the current locale's words, and columns
    (codes) named by their labels when `column_labels` (`value_labels`) are given (an export
    with labels)."""
    filters = dataset.filters
    named = _naming(column_labels)
    statuses = [str(REVIEW_STATUS_LABELS.get(s, s)) for s in filters.review_statuses]
    excluded = ", ".join(f"{_excluded_reason(r)}: {n}" for r, n in sorted(dataset.excluded.items()))
    rows: list[tuple[str, str]] = [
        (
            "instrument",
            f"{dataset.spec.form_id}: {dataset.spec.title_in(report.language)}",
        ),
        ("versions", ", ".join(s.version for s in dataset.specs)),
        ("generated_at_utc", utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")),
        (
            "deidentified",
            _("yes") if report.deidentified else _("NO: identified data, keep private"),
        ),
        ("values", _("labels") if report.labels else _("codes")),
        ("language", report.language),
        ("review_statuses", ", ".join(statuses)),
        ("include_demo", _("yes") if filters.include_demo else _("no")),
        ("excluded", excluded or _("none")),
    ]
    for name, count in report.rows.items():
        rows.append((f"rows_{name}", str(count)))
    if report.dropped_columns:
        rows.append(("dropped_columns", named(report.dropped_columns)))
    for check in report.checks:
        rows += [
            (
                f"k_anonymity_{check.table}",
                _("k=%(k)s over %(columns)s", k=k, columns=named(check.quasi_identifiers)),
            ),
            (f"records_at_risk_{check.table}", str(check.records_at_risk)),
            (f"records_suppressed_{check.table}", str(check.records_suppressed)),
            (f"values_blanked_{check.table}", str(check.values_blanked)),
            (f"records_dropped_{check.table}", str(check.records_dropped)),
        ]
    if report.disclosure is not None:
        rows += disclosure_items(report.disclosure, column_labels, value_labels)
    return tuple(rows)


def _naming(column_labels: Mapping[str, str] | None) -> Any:
    """Columns joined by their labels (with "; ", labels have commas) or by their names."""
    if column_labels is None:
        return lambda columns: ", ".join(columns)
    return lambda columns: "; ".join(column_labels.get(c, c) for c in columns)


def _risk_basis(summary: DisclosureSummary) -> str:
    if summary.weight:
        return _("sampling weights (%(column)s)", column=summary.weight)
    if summary.sampling_fraction is not None:
        return _("sampling fraction %(fraction)s", fraction=f"{summary.sampling_fraction:g}")
    return summary.risk_basis


def _excluded_reason(reason: str) -> str:
    if reason == "demo":
        return _("demo")
    return str(REVIEW_STATUS_LABELS.get(reason, reason))


SHARES = {"risk", "limit", "kept_share"}


def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def disclosure_items(
    summary: DisclosureSummary,
    column_labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """The risk and information-loss figures, as sdcMicro reports them, for the about file."""
    named = _naming(column_labels)
    recodings = recoding_texts(summary, column_labels, value_labels)
    rows: list[tuple[str, str]] = [
        (
            "risk_method",
            _("Benedetti-Franconi individual risk, %(basis)s", basis=_risk_basis(summary)),
        ),
        ("max_global_risk", _percent(summary.max_global_risk)),
    ]
    for name, risk in (
        ("respondents_before", summary.risk_before),
        ("respondents", summary.risk_after),
        ("member", summary.member_risk_after),
    ):
        if risk is None:
            continue
        rows += [
            (f"sample_uniques_{name}", str(risk.sample_uniques)),
            (f"records_below_k_{name}", str(risk.records_below_k)),
            (f"max_individual_risk_{name}", f"{risk.max_individual_risk:.4f}"),
            (f"expected_reidentifications_{name}", f"{risk.expected_reidentifications:.2f}"),
            (f"global_risk_{name}", _percent(risk.global_risk)),
        ]
    rows += [
        ("global_recoding", "; ".join(recodings) or _("none")),
        ("households_dropped", str(summary.households_dropped)),
        ("roster_rows_dropped", str(summary.members_dropped)),
        ("rosters_cut_from_household", str(summary.rosters_unlinked)),
        (
            "key_variables_kept_together",
            f"{named(summary.key_variables)}: {_percent(summary.key_variables_kept_together)}",
        ),
    ]
    for loss in summary.losses:
        rows.append(
            (
                f"information_loss_{loss.table}.{loss.column}",
                _(
                    "kept %(share)s (%(kept)s of %(values)s); recoded %(recoded)s; "
                    "blanked %(blanked)s",
                    share=_percent(loss.kept_share),
                    kept=loss.kept,
                    values=loss.values,
                    recoded=loss.recoded,
                    blanked=loss.blanked,
                ),
            )
        )
    verdict = summary.verdict
    rows.append(("verdict", _("publishable") if verdict.publishable else _("REFUSED")))
    for code, figures in (*verdict.refusals, *verdict.warnings):
        rows.append((f"note_{code}", note_text(code, figures, column_labels)))
    return rows


def _table_name(table: Any) -> str:
    names = {"respondents": _("respondents"), "member": _("household members")}
    return names.get(str(table), str(table))


def note_text(
    code: str, figures: Mapping[str, Any], column_labels: Mapping[str, str] | None = None
) -> str:
    """The figures of a verdict's refusal or warning, worded in the current locale."""
    if code == "global_risk":
        return _(
            "%(table)s: global risk %(risk)s, limit %(limit)s",
            table=_table_name(figures["table"]),
            risk=_percent(figures["risk"]),
            limit=_percent(figures["limit"]),
        )
    if code == "below_k":
        return _(
            "%(table)s: %(records)s records share their characteristics with fewer than "
            "%(k)s others",
            table=_table_name(figures["table"]),
            records=figures["records"],
            k=figures["k"],
        )
    if code == "empty":
        return _("%(records)s interviews, none kept", records=figures["records"])
    if code == "mostly_dropped":
        return _(
            "%(dropped)s of %(records)s interviews left out",
            dropped=figures["dropped"],
            records=figures["records"],
        )
    if code == "mostly_blanked":
        column = str(figures["column"])
        return _(
            "%(column)s: %(share)s of the values kept",
            column=(column_labels or {}).get(column, column),
            share=_percent(figures["kept_share"]),
        )
    # A code this version does not know yet: its figures as the engine gives them
    return ", ".join(
        f"{key}={_percent(value) if key in SHARES else value}" for key, value in figures.items()
    )


def recoding_texts(
    summary: DisclosureSummary,
    column_labels: Mapping[str, str] | None = None,
    value_labels: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """The global recodings applied, worded in the current locale; columns and codes by their
    labels when these are given."""
    return [
        _recoding_text(recoding, column_labels or {}, value_labels or {})
        for recoding in summary.applied_recodings
    ]


def _recoding_text(
    recoding: Any, column_labels: Mapping[str, str], value_labels: Mapping[str, Mapping[str, str]]
) -> str:
    column = column_labels.get(recoding.column, recoding.column)
    if recoding.merge_rare:
        return _("%(column)s: rare values merged into the wider area they belong to", column=column)
    if recoding.mapping is not None:
        labels = value_labels.get(recoding.column) or value_labels.get(
            RESPONDENT_PREFIX + recoding.column, {}
        )

        def label(code: str) -> str:
            if code in labels:
                return labels[code]
            # Bands held by a wider band are gone from the table, and so from its labels
            return _band_label(code) if _BAND.fullmatch(code) else code

        groups: dict[str, list[str]] = {}
        for code, wider in recoding.mapping.items():
            groups.setdefault(wider, []).append(label(code))
        merged = []
        for wider, held in groups.items():
            if label(wider) == " / ".join(held):  # labelled by the codes it holds: say it once
                merged.append(_("%(codes)s merged", codes=" + ".join(held)))
            else:
                merged.append(
                    _("%(codes)s merged into %(wider)s", codes=" + ".join(held), wider=label(wider))
                )
        return f"{column}: {'; '.join(merged)}"
    if recoding.top_code is not None:
        return _(
            "%(column)s: top-coded at %(value)s (%(value)s or more)",
            column=column,
            value=f"{recoding.top_code:g}",
        )
    bands = ", ".join(f"{lo}–{hi}" if hi is not None else f"{lo}+" for lo, hi in recoding.bands)
    return _(
        "%(column)s: %(source)s in bands %(bands)s",
        column=column,
        source=column_labels.get(recoding.source, recoding.source),
        bands=bands,
    )
