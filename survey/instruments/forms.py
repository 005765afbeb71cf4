"""Upload of an XLSForm."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField


class ImportForm(FlaskForm):
    """An XLSForm workbook (.xlsx or .xls), and what the admin confirms about it."""

    xlsform = FileField(
        _l("XLSForm file (.xlsx or .xls)"),
        validators=[
            FileRequired(_l("Choose an .xlsx or .xls file.")),
            FileAllowed(["xlsx", "xls"], _l("Only .xlsx and .xls workbooks can be imported.")),
        ],
    )
    keep_precise_location = BooleanField(
        _l("Keep precise locations (otherwise they are coarsened to about 1 km on arrival)")
    )
    keep_device_ids = BooleanField(
        _l("Keep device and account identifiers (otherwise they are not stored)")
    )
    confirm_changes = BooleanField(
        _l("Publish even though this version removes or retypes questions")
    )

    def kept(self) -> list[str]:
        """The kinds of identifying data confirmed."""
        return [
            kind
            for kind, box in (
                ("precise_location", self.keep_precise_location),
                ("device_ids", self.keep_device_ids),
            )
            if box.data
        ]
