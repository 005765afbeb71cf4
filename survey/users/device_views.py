"""Device tokens for ODK Collect: issue one per phone (shown once as a QR code), revoke one."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from survey.extensions import db
from survey.users import devices, services
from survey.users import two_factor as qr
from survey.users.access import roles_required
from survey.users.forms import ConfirmForm, DeviceForm
from survey.users.models import Device, Role, User
from survey.users.views import bp, may_manage

# Accounts that may send interviews from a phone.
DEVICE_ROLES = (Role.VOLUNTEER.value, Role.COORDINATOR.value)


def _accounts() -> list[User]:
    return [
        u for u in services.list_users() if u.active and u.role in DEVICE_ROLES and may_manage(u)
    ]


@bp.route("/admin/devices", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def device_list() -> str | tuple[str, int] | Response:
    """Phones configured with a token: issue one (QR code shown once) or revoke one."""
    accounts = _accounts()
    form = DeviceForm()
    form.account.choices = [(str(u.id), u.username) for u in accounts]
    issued = None
    actor = current_user._get_current_object()
    if form.validate_on_submit():
        user = next((u for u in accounts if str(u.id) == form.account.data), None)
        if user is None:
            abort(404)
        try:
            issued = devices.issue_device(user, form.name.data or "", actor)
        except services.AccountError as error:
            db.session.rollback()
            form.name.errors = [str(error)]
        else:
            services.record_audit(
                "device_issued",
                user=actor,
                target=f"device {issued.device.id}",
                details={"account": user.username, "name": issued.device.name},
            )
            db.session.commit()
    qr_view = None
    if issued is not None:
        server_url = url_for(
            "openrosa_key.submission_check", token=issued.token, _external=True
        ).removesuffix("/submission")
        user = db.session.get(User, issued.device.user_id)
        settings = devices.collect_settings(
            server_url, user.username if user else "", current_app.config["PROJECT_NAME"]
        )
        payload = devices.collect_qr_payload(settings)
        qr_view = {
            "device": issued.device,
            "username": user.username if user else "",
            "server_url": server_url,
            "payload": payload,
            "svg": Markup(qr.qr_svg(payload)),  # noqa: S704 - segno's SVG of our own payload
        }
    return render_template(
        "users/devices.html",
        form=form,
        issued=qr_view,
        devices=devices.devices_of(accounts),
        usernames={u.id: u.username for u in accounts},
        revoke_form=ConfirmForm(),
    ), (422 if form.errors else 200)


@bp.route("/admin/devices/<int:device_id>/revoke", methods=["POST"])
@roles_required(Role.COORDINATOR)
def device_revoke(device_id: int) -> Response:
    """Revoke one device: its token is refused from the next request on."""

    device = db.session.get(Device, device_id)
    owner = db.session.get(User, device.user_id) if device is not None else None
    if device is None or owner is None or not may_manage(owner):
        abort(404)
    if ConfirmForm().validate_on_submit() and devices.revoke_device(device):
        services.record_audit(
            "device_revoked",
            user=current_user._get_current_object(),
            target=f"device {device.id}",
            details={"account": owner.username, "name": device.name},
        )
        db.session.commit()
        flash(_("The device %(name)s can no longer connect.", name=device.name), "success")
    return redirect(url_for("users.device_list"))
