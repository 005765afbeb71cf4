"""Admin pages: list instruments and import a new version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from survey.extensions import db
from survey.i18n import current_language
from survey.instruments import services
from survey.instruments.forms import ImportForm
from survey.instruments.xlsform import InstrumentImportError
from survey.users.access import roles_required
from survey.users.models import Role

bp = Blueprint("instruments", __name__, url_prefix="/admin/instruments")


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def index() -> Any:
    """Instruments with their versions, and the import form."""
    form = ImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        upload = form.xlsform.data
        try:
            version, warnings = services.import_instrument(
                upload.read(),
                upload.filename or "form.xlsx",
                current_user._get_current_object(),
                keep=form.kept(),
                confirm_changes=form.confirm_changes.data,
                attachments=form.attachment_files(),
            )
            db.session.commit()
        except InstrumentImportError as error:
            db.session.rollback()
            problems = error.problems
        else:
            flash(
                _(
                    "Imported %(title)s, version %(version)s.",
                    title=services.spec_for(version).title_in(current_language()),
                    version=version.version,
                ),
                "success",
            )
            for warning in warnings:
                flash(warning, "warning")
            return redirect(url_for("instruments.index"))
    return render_template(
        "instruments/index.html",
        form=form,
        problems=problems,
        instruments=services.list_instruments(),
    ), (422 if problems or form.errors else 200)
