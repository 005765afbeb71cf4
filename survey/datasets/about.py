"""The about file of an export, in the export's language: each item keeps its stable name (for
scripts) and gains a description a reader understands; the values were worded in that language
when the export was prepared (deidentify.about_items)."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import force_locale
from flask_babel import gettext as _

from survey.datasets.deidentify import PreparedExport


def _fixed() -> dict[str, str]:
    return {
        "instrument": _("Instrument"),
        "versions": _("Instrument versions"),
        "generated_at_utc": _("Generated at (UTC)"),
        "deidentified": _("De-identified"),
        "values": _("Answers written as"),
        "language": _("Language of the labels"),
        "review_statuses": _("Review statuses included"),
        "include_demo": _("Demo interviews included"),
        "excluded": _("Interviews left out"),
        "dropped_columns": _("Columns dropped"),
        "risk_method": _("Method of the risk estimate"),
        "max_global_risk": _("Highest global risk allowed"),
        "global_recoding": _("Global recoding"),
        "households_dropped": _("Households dropped"),
        "roster_rows_dropped": _("Household members dropped"),
        "rosters_cut_from_household": _("Household members cut from their household"),
        "key_variables_kept_together": _("Key variables kept together"),
        "verdict": _("Verdict"),
    }


def _per_table() -> dict[str, Callable[[str], str]]:
    return {
        "rows_": lambda t: _("Rows: %(table)s", table=t),
        "k_anonymity_": lambda t: _("k-anonymity: %(table)s", table=t),
        "records_at_risk_": lambda t: _("Records at risk: %(table)s", table=t),
        "records_suppressed_": lambda t: _("Records with values blanked: %(table)s", table=t),
        "values_blanked_": lambda t: _("Values blanked: %(table)s", table=t),
        "records_dropped_": lambda t: _("Records dropped: %(table)s", table=t),
        "sample_uniques_": lambda t: _("Sample uniques: %(table)s", table=t),
        "records_below_k_": lambda t: _("Records below k: %(table)s", table=t),
        "max_individual_risk_": lambda t: _("Highest individual risk: %(table)s", table=t),
        "expected_reidentifications_": lambda t: _(
            "Expected re-identifications: %(table)s", table=t
        ),
        "global_risk_": lambda t: _("Global risk: %(table)s", table=t),
        "note_": lambda t: _("Note: %(code)s", code=_note_title(t)),
    }


def _note_title(code: str) -> str:
    """What a refusal or warning of the verdict is about (its code when this version does not
    know it)."""
    return {
        "global_risk": _("global risk above the limit"),
        "below_k": _("records below k"),
        "empty": _("nothing to export"),
        "mostly_dropped": _("most interviews left out"),
        "mostly_blanked": _("a key variable mostly blanked"),
    }.get(code, code)


def _table(name: str) -> str:
    return {
        "respondents": _("respondents"),
        "respondents_before": _("respondents, before suppression"),
        "member": _("household members"),
    }.get(name, name)


def about_description(item: str, column_labels: dict[str, str]) -> str:
    """What an about item means, in the current locale (its name when it is unknown)."""
    fixed = _fixed()
    if item in fixed:
        return fixed[item]
    if item.startswith("information_loss_"):
        table, _dot, column = item.removeprefix("information_loss_").partition(".")
        return _(
            "Information loss: %(table)s, %(column)s",
            table=_table(table),
            column=_("link to the household")
            if column == "roster link"
            else column_labels.get(column, column),
        )
    for prefix, describe in _per_table().items():
        if item.startswith(prefix):
            rest = item.removeprefix(prefix)
            return describe(rest if prefix == "note_" else _table(rest))
    return item


def about_rows(prepared: PreparedExport) -> list[tuple[str, str, str]]:
    """The about table with its header: item, description and value, in the export's language."""
    labels = dict(prepared.column_labels)
    with force_locale(prepared.report.language):
        header = ("item", _("description"), _("value"))
        return [
            header,
            *((item, about_description(item, labels), value) for item, value in prepared.about),
        ]
