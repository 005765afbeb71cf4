"""The export page: coordinators download de-identified microdata; admins may export identified."""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, render_template, send_file
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
from survey.datasets.deidentify import ExportError, prepare_export
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


@bp.route("/exports", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def index() -> Any:
    """The export form; a valid POST downloads the file (audited before it leaves)."""
    form = _export_form()
    is_admin = current_user.has_role(Role.ADMIN)
    if form.validate_on_submit():
        # Only an admin may turn de-identification off; for anyone else it stays on.
        deidentify = bool(form.deidentified.data) or not is_admin
        try:
            return _download(form, deidentify)
        except ExportError as error:
            db.session.rollback()
            form.file_format.errors = [str(error)]
    return render_template("exports/index.html", form=form, is_admin=is_admin), (
        422 if form.errors else 200
    )


def _download(form: ExportForm, deidentify: bool) -> Any:
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
    prepared = prepare_export(
        dataset,
        fmt=fmt,
        labels=form.values.data == "labels",
        language=form.language.data or "en",
        deidentify=deidentify,
    )
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
