"""Login, password and account forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

ROLE_CHOICES = [
    SelectChoice("volunteer", _l("Volunteer")),
    SelectChoice("coordinator", _l("Coordinator")),
    SelectChoice("advocate", _l("Advocate")),
    SelectChoice("admin", _l("Administrator")),
]


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordChangeForm(FlaskForm):
    """One's own password change."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
    )


class UserCreateForm(FlaskForm):
    """A new account; the password is generated and shown once."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default="volunteer")


class UserEditForm(FlaskForm):
    """Role and status of an account."""

    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Active (may log in)"))


class AuditFilterForm(FlaskForm):
    """Filters of the audit log page (GET, no CSRF)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False, default="")
    username = StringField(_l("User"), validators=[Optional(), Length(max=80)])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only its CSRF token is checked."""


class CodeForm(FlaskForm):
    """A one-time code from the authenticator app, or a recovery code."""

    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])


class TwoFactorDisableForm(FlaskForm):
    """Turning two-factor login off needs the password and a current code."""

    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20)])


class DeviceForm(FlaskForm):
    """A new device token: whose phone, and a name to recognise it by."""

    account = SelectField(_l("Account"), choices=[])
    name = StringField(
        _l("Device name (e.g. the phone's label)"), validators=[DataRequired(), Length(max=80)]
    )
