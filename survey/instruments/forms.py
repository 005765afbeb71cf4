"""Upload of an XLSForm."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired


class ImportForm(FlaskForm):
    """An .xlsx XLSForm file."""

    xlsform = FileField(
        _l("XLSForm file (.xlsx)"),
        validators=[
            FileRequired(_l("Choose an .xlsx file.")),
            FileAllowed(["xlsx"], _l("Only .xlsx workbooks can be imported.")),
        ],
    )
