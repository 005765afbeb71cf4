"""The audit log in words: each action and detail named in the reader's language, values shown
as a person reads them (yes/no rather than True/False, lists joined, nested values spelled out)."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

ACTIONS = {
    "backup_made": _l("Backup made"),
    "backup_restored": _l("Backup restored"),
    "device_issued": _l("Device key issued"),
    "device_revoked": _l("Device key revoked"),
    "district_targets_changed": _l("District targets changed"),
    "export_made": _l("Export made"),
    "instrument_imported": _l("Questionnaire imported"),
    "login": _l("Logged in"),
    "login_failed": _l("Failed login"),
    "logout": _l("Logged out"),
    "password_changed": _l("Password changed"),
    "password_reset": _l("Password reset"),
    "quote_approved": _l("Quote approved"),
    "quote_revoked": _l("Quote approval withdrawn"),
    "quote_translated": _l("Quote translations saved"),
    "receipt_code_shared": _l("Receipt code from a device kept, shared with another interview"),
    "report_downloaded": _l("Report downloaded"),
    "report_generated": _l("Report generated"),
    "report_regenerated": _l("Report regenerated"),
    "sessions_ended": _l("Sessions ended"),
    "submission_corrected": _l("Submission corrected"),
    "submission_created": _l("Submission saved"),
    "submission_media_viewed": _l("Photo or file of a submission downloaded"),
    "submission_reviewed": _l("Submission reviewed"),
    "submission_withdrawn": _l("Submission withdrawn"),
    "user_changed": _l("Account changed"),
    "user_created": _l("Account created"),
    "two_factor_disabled": _l("Two-factor login turned off"),
    "two_factor_enabled": _l("Two-factor login turned on"),
}
DETAILS = {
    "active": _l("active"),
    "changed": _l("changed"),
    "fields": _l("fields"),
    "holders": _l("interviews holding the code"),
    "file": _l("file"),
    "filename": _l("file"),
    "format": _l("format"),
    "identical": _l("identical"),
    "instrument": _l("questionnaire"),
    "kind": _l("kind"),
    "locked": _l("locked"),
    "public": _l("public"),
    "question": _l("question"),
    "role": _l("role"),
    "round": _l("round"),
    "source": _l("source"),
    "status": _l("status"),
    "submission": _l("submission"),
    "suppressed": _l("suppressed"),
    "version": _l("version"),
    "via": _l("via"),
    "account": _l("account"),
    "count": _l("count"),
    "everywhere": _l("everywhere"),
    "languages": _l("languages"),
    "name": _l("name"),
    "second_factor": _l("second factor"),
}


def action_label(action: str) -> str:
    """An action's name in the interface language (its code when it has no name yet)."""
    label = ACTIONS.get(action)
    return str(label) if label is not None else action


def readable_value(value: Any) -> str:
    """A detail's value as a person reads it."""
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(readable_value(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{detail_label(k)}: {readable_value(v)}" for k, v in value.items())
    return str(value)


def detail_label(key: str) -> str:
    """A detail's name in the interface language."""
    label = DETAILS.get(key)
    return str(label) if label is not None else key.replace("_", " ")
