"""Upload of an XLSForm."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired, MultipleFileField
from wtforms import BooleanField


class ImportForm(FlaskForm):
    """An XLSForm workbook (.xlsx or .xls), and what the admin confirms about it."""

    xlsform = FileField(
        _l("XLSForm file (.xlsx or .xls), or a .zip of the workbook and its files"),
        validators=[
            FileRequired(_l("Choose an .xlsx or .xls file, or a .zip.")),
            FileAllowed(
                ["xlsx", "xls", "zip"],
                _l("Only .xlsx and .xls workbooks, or a .zip holding one, can be imported."),
            ),
        ],
    )
    attachments = MultipleFileField(
        _l("Form attachments (CSV, GeoJSON, XML, media files the form refers to)")
    )
    keep_precise_location = BooleanField(
        _l("Keep precise locations (otherwise they are coarsened to about 1 km on arrival)")
    )
    keep_device_ids = BooleanField(
        _l("Keep device and account identifiers (otherwise they are not stored)")
    )
    keep_media = BooleanField(
        _l(
            "This form collects photos, audio, video or files: keep them on the server "
            "(otherwise the import is refused)"
        )
    )
    keep_phone_numbers = BooleanField(
        _l(
            "This form asks for phone numbers: keep them in its free-text answers "
            "(otherwise an answer holding one is refused)"
        )
    )
    confirm_changes = BooleanField(
        _l("Publish even though this version removes or retypes questions")
    )

    def attachment_files(self) -> dict[str, bytes]:
        """The attachments uploaded beside the workbook, by file name."""
        return {
            upload.filename: upload.read()
            for upload in self.attachments.data or []
            if getattr(upload, "filename", None)
        }

    def kept(self) -> list[str]:
        """The kinds of identifying data confirmed."""
        return [
            kind
            for kind, box in (
                ("precise_location", self.keep_precise_location),
                ("device_ids", self.keep_device_ids),
                ("media", self.keep_media),
                ("phone_numbers", self.keep_phone_numbers),
            )
            if box.data
        ]
