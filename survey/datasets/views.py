"""The export page: coordinators download de-identified microdata; admins may export identified."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, render_template, request, send_file
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from reports.languages import LANGUAGE_NAMES
from survey.collection import rounds
from survey.collection.forms import REVIEW_STATUS_LABELS
from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES
from survey.datasets.dataset import load_dataset
from survey.datasets.deidentify import (
    ExportError,
    ExportReport,
    PreparedExport,
    prepare_export,
)
from survey.datasets.export_texts import recoding_texts
from survey.datasets.exports import (
    BUNDLE_SUFFIX,
    MIMETYPES,
    audit_export,
    download_name,
    export_bundle,
)
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments import services as instruments
from survey.users.access import roles_required
from survey.users.models import Role

bp = Blueprint("exports", __name__)


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def at_least_one(form: FlaskForm, field: SelectMultipleField) -> None:
    """At least one box ticked (DataRequired would mark every checkbox as required)."""
    if not field.data:
        raise ValidationError(_("Choose at least one review status."))


class ExportForm(FlaskForm):
    """What to export and how."""

    instrument = SelectField(_l("Questionnaire"), validators=[DataRequired()], choices=[])
    file_format = SelectField(
        _l("File format"),
        choices=[
            SelectChoice("csv", _l("CSV (a zip with one file per table)")),
            SelectChoice("xlsx", _l("Excel workbook (XLSX)")),
            SelectChoice("sav", _l("SPSS (a zip with one .sav file per table)")),
        ],
        default="csv",
    )
    values = SelectField(
        _l("Answers as"),
        choices=[SelectChoice("codes", _l("Codes")), SelectChoice("labels", _l("Labels"))],
        default="codes",
    )
    language = SelectField(
        _l("Language of labels"),
        choices=[SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()],
    )
    survey_round = SelectField(_l("Survey round"), choices=[], default="")
    statuses = MultiCheckboxField(
        _l("Review statuses"),
        choices=[SelectChoice(status, label) for status, label in REVIEW_STATUS_LABELS.items()],
        default=list(ANALYSED_STATUSES),
        validators=[at_least_one],
    )
    include_demo = BooleanField(_l("Include demo data"), default=False)
    deidentified = BooleanField(_l("De-identified (recommended)"), default=True)


def _export_form() -> ExportForm:
    form = ExportForm()
    form.instrument.choices = [
        SelectChoice(i.form_id, i.title) for i in instruments.list_instruments() if i.versions
    ]
    form.survey_round.choices = [SelectChoice("", _("All rounds"))] + [
        SelectChoice(str(r.id), r.name) for r in rounds.list_rounds()
    ]
    if not form.is_submitted():
        form.language.data = current_language()
    return form


def disclosure_messages(
    report: ExportReport, labels: Mapping[str, str] | None = None
) -> tuple[list[str], list[str]]:
    """The verdict's refusals and warnings as sentences in the user's language."""
    summary = report.disclosure
    if summary is None:
        return [], []
    tables = {"respondents": _("respondents"), "member": _("household members")}
    refusals = []
    for code, figures in summary.verdict.refusals:
        table = tables.get(str(figures.get("table")), str(figures.get("table")))
        if code == "global_risk":
            refusals.append(
                _(
                    "This file cannot be published: the global re-identification risk of the "
                    "%(table)s table is %(risk)s, above the limit of %(limit)s.",
                    table=table,
                    risk=format_percent(figures["risk"], format="#,##0.00%"),
                    limit=format_percent(figures["limit"], format="#,##0.0%"),
                )
            )
        else:
            refusals.append(
                _(
                    "This file cannot be published: %(records)s records of the %(table)s table "
                    "share their characteristics with fewer than %(k)s others.",
                    records=figures["records"],
                    table=table,
                    k=figures["k"],
                )
            )
    warnings = []
    for code, figures in summary.verdict.warnings:
        if code == "empty":
            warnings.append(
                _(
                    "This export would be empty: no interview matches the choices above, or "
                    "none could be kept without revealing who answered. Change the review "
                    "statuses, the round or the demo data option."
                )
            )
        elif code == "mostly_dropped":
            warnings.append(
                _(
                    "Most interviews would be left out (%(dropped)s of %(records)s) to keep "
                    "respondents anonymous.",
                    dropped=figures["dropped"],
                    records=figures["records"],
                )
            )
        else:
            warnings.append(
                _(
                    "This export would be mostly blanked: only %(share)s of the values of "
                    "%(column)s could be kept. With so few interviews, tables from the dashboard "
                    "may serve better.",
                    share=format_percent(figures["kept_share"], format="#,##0%"),
                    column=(labels or {}).get(figures["column"], figures["column"]),
                )
            )
    return refusals, warnings


def disclosure_figures(
    report: ExportReport, labels: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The figures shown on the page before download, formatted for the user's language."""
    summary = report.disclosure
    if summary is None:
        return {}

    def share(value: float) -> str:
        return format_percent(value, format="#,##0.0%")

    risks = []
    for label, risk in (
        (_("Respondents, before"), summary.risk_before),
        (_("Respondents, as exported"), summary.risk_after),
        (_("Household members, as exported"), summary.member_risk_after),
    ):
        if risk is not None:
            risks.append(
                {
                    "label": label,
                    "records": risk.records,
                    "uniques": risk.sample_uniques,
                    "below_k": risk.records_below_k,
                    "max_risk": format_percent(risk.max_individual_risk, format="#,##0.00%"),
                    "expected": format_decimal(risk.expected_reidentifications, format="#,##0.0"),
                    "global": format_percent(risk.global_risk, format="#,##0.00%"),
                }
            )
    tables = {"respondents": _("respondents"), "member": _("household members")}
    losses = [
        {
            "table": tables.get(loss.table, loss.table),
            "column": (labels or {}).get(loss.column, loss.column),
            "values": loss.values,
            "kept": share(loss.kept_share),
            "recoded": loss.recoded,
            "blanked": loss.blanked,
            "key": loss.table == "respondents" and loss.column in summary.key_variables,
        }
        for loss in summary.losses
        if (loss.table == "respondents" and loss.column in summary.quasi_identifiers)
        or (
            loss.table != "respondents"
            and loss.column in {*summary.member_quasi_identifiers, "roster link"}
        )
    ]
    thin = [
        (labels or {}).get(loss.column, loss.column)
        for loss in summary.losses
        if loss.table == "respondents"
        and loss.column not in summary.key_variables
        and loss.column in summary.quasi_identifiers
        and loss.values
        and loss.kept_share < 0.5
    ]
    return {
        "thin": ", ".join(thin),
        "k": summary.k,
        "limit": share(summary.max_global_risk),
        "global": format_percent(summary.global_risk, format="#,##0.00%"),
        "publishable": summary.verdict.publishable,
        "risks": risks,
        "losses": losses,
        "recodings": recoding_texts(summary, labels),
        "together": share(summary.key_variables_kept_together),
        "key_variables": ", ".join(
            (labels or {}).get(name, name) for name in summary.key_variables
        ),
        "rows": report.rows.get("respondents", 0),
        "member_rows": report.rows.get("member"),
        "dropped": summary.households_dropped,
        "unlinked": summary.rosters_unlinked,
    }


@bp.route("/exports", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def index() -> Any:
    """The export form. "Check" shows the disclosure figures and the verdict; "Download" sends
    the file (audited before it leaves) unless the verdict refuses it or it would be empty."""
    form = _export_form()
    is_admin = current_user.has_role(Role.ADMIN)
    report: ExportReport | None = None
    labels: Mapping[str, str] = {}
    refusals: list[str] = []
    warnings: list[str] = []
    if form.validate_on_submit():
        # Only an admin may turn de-identification off; for anyone else it stays on.
        deidentify = bool(form.deidentified.data) or not is_admin
        try:
            prepared = _prepare(form, deidentify)
            report = prepared.report
            # Columns are named as in the file the analyst will open: by their codes.
            labels = {}
            refusals, warnings = disclosure_messages(report, labels)
            empty = report.rows.get("respondents", 0) == 0
            wants_file = request.form.get("action", "download") == "download"
            confirmed = request.form.get("confirmed") == "yes"
            if wants_file and not refusals and not empty and (confirmed or not warnings):
                return _download(form, prepared, deidentify)
            if wants_file and empty and not warnings:
                warnings.append(_("This export would be empty: there is nothing to download."))
        except ExportError as error:
            db.session.rollback()
            form.file_format.errors = [str(error)]
    status = 422 if form.errors else 200
    return render_template(
        "exports/index.html",
        form=form,
        is_admin=is_admin,
        report=report,
        refusals=refusals,
        warnings=warnings,
        figures=disclosure_figures(report, labels) if report is not None else {},
    ), status


def _prepare(form: ExportForm, deidentify: bool) -> PreparedExport:
    instrument = instruments.find_instrument(form.instrument.data or "")
    if instrument is None or not instrument.versions:
        raise ExportError(_("This questionnaire has no version to export."))
    round_ids = [int(form.survey_round.data)] if form.survey_round.data else None
    statuses = [s for s in (form.statuses.data or []) if s in REVIEW_STATUSES]
    fmt = form.file_format.data or "csv"
    dataset = load_dataset(
        list(instrument.versions),
        rounds=round_ids,
        review_statuses=statuses,
        include_demo=bool(form.include_demo.data),
    )
    return prepare_export(
        dataset,
        fmt=fmt,
        labels=form.values.data == "labels",
        language=form.language.data or "en",
        deidentify=deidentify,
    )


def _download(form: ExportForm, prepared: PreparedExport, deidentify: bool) -> Any:
    instrument = instruments.find_instrument(form.instrument.data or "")
    assert instrument is not None  # _prepare found it
    round_ids = [int(form.survey_round.data)] if form.survey_round.data else None
    statuses = [s for s in (form.statuses.data or []) if s in REVIEW_STATUSES]
    fmt = form.file_format.data or "csv"
    # An unnamed temporary file: the microdata never sits under a name on disk.
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
    try:
        report = export_bundle(prepared, fmt, handle)
    except Exception:
        handle.close()
        raise
    audit_export(
        instrument,
        report,
        round_name=round_ids[0] if round_ids else "all",
        review_statuses=statuses,
        include_demo=bool(form.include_demo.data),
        user=current_user._get_current_object(),
        via="web",
    )
    db.session.commit()
    handle.seek(0)
    response = send_file(
        handle,
        mimetype=MIMETYPES[BUNDLE_SUFFIX[fmt]],
        as_attachment=True,
        download_name=download_name(instrument.form_id, fmt, deidentify),
        max_age=0,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
