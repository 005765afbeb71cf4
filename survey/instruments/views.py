"""Admin pages: list instruments and import a new version."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from survey.errors import render_error
from survey.extensions import db
from survey.i18n import current_language
from survey.instruments import attachments as form_files
from survey.instruments import services
from survey.instruments.forms import ImportForm
from survey.instruments.xlsform import InstrumentImportError
from survey.users.access import roles_required
from survey.users.models import Role

bp = Blueprint("instruments", __name__, url_prefix="/admin/instruments")

# A form package may unpack to MAX_PACKAGE_BYTES (docs/security.md); its upload is at most that
# (zip never grows stored files much), plus room for the form's other fields.
IMPORT_MAX_BYTES = form_files.MAX_PACKAGE_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def allow_form_packages(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Let the import page take a whole form package, above the app's MAX_CONTENT_LENGTH.

    URL value preprocessors run before every before_request function, including CSRFProtect's,
    which reads the body; a blueprint before_request would set the limit too late.
    """
    # Only for admins: anyone else's large body is refused at the app's limit, unread.
    if endpoint == "instruments.index" and _is_admin():
        request.max_content_length = IMPORT_MAX_BYTES


def _is_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.has_role(Role.ADMIN))


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(_error: RequestEntityTooLarge) -> Any:
    """The import page again, saying how large an upload may be (not the generic 413 page)."""
    db.session.rollback()
    if request.endpoint != "instruments.index" or not _is_admin():
        return render_error(413)
    message = _(
        "The upload is larger than %(size)s MB, more than a form and its files may be. Upload "
        "the workbook and its files as a .zip (at most %(package)s MB unpacked, %(file)s MB per "
        "file).",
        size=IMPORT_MAX_BYTES // (1024 * 1024),
        package=form_files.MAX_PACKAGE_BYTES // (1024 * 1024),
        file=form_files.MAX_FILE_BYTES // (1024 * 1024),
    )
    return render_template(
        "instruments/index.html",
        form=ImportForm(formdata=None),  # the body that was too large is never read
        problems=[message],
        instruments=services.list_instruments(),
    ), 413


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
            for line in warnings:
                flash(line, "info" if isinstance(line, services.SummaryLine) else "warning")
            return redirect(url_for("instruments.index"))
    return render_template(
        "instruments/index.html",
        form=form,
        problems=problems,
        instruments=services.list_instruments(),
    ), (422 if problems or form.errors else 200)
