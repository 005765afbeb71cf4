"""Device tokens: ODK Collect configured by a QR code, with no password on the phone.

Like ODK Central's App Users, a coordinator issues a token for one device of one account; the
phone scans a QR code holding ODK Collect's settings (zlib-compressed JSON, base64) whose server
URL carries the token: <base>/key/<token>. The token is random (256 bits), so it is stored as
SHA-256 and checked with one indexed look-up per request, no argon2. Revoking one device leaves
the others working.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import zlib
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from survey.extensions import db
from survey.users.models import Device, User, utcnow
from survey.users.services import AccountError
from survey.users.tokens import new_token, token_hash

# Writing last_used_at on every submission would add a write per request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedDevice:
    """A new device and its token (shown once, in the QR code)."""

    device: Device
    token: str


def issue_device(user: User, name: str, issued_by: User) -> IssuedDevice:
    """Create a device token for user's phone named name. Flushes."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise AccountError(_l("Name the device in 1 to 80 characters."))
    if not user.active:
        raise AccountError(_l("This account is disabled."))
    token = new_token(32)
    device = Device(
        name=name, user_id=user.id, token_sha256=token_hash(token), created_by_id=issued_by.id
    )
    db.session.add(device)
    db.session.flush()
    return IssuedDevice(device, token)


def device_for_token(token: str, now: dt.datetime | None = None) -> tuple[Device, User] | None:
    """The live device and its active account for a token, or None. May flush last_used_at."""
    if not token or len(token) > 100:
        return None
    row = db.session.execute(
        select(Device, User)
        .join(User, User.id == Device.user_id)
        .where(Device.token_sha256 == token_hash(token), Device.revoked_at.is_(None))
    ).first()
    if row is None or not row[1].active:
        return None
    device, user = row
    now = now or utcnow()
    last = device.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=dt.UTC)
    if last is None or now - last > LAST_USED_RESOLUTION:
        device.last_used_at = now
        db.session.flush()
    return device, user


def revoke_device(device: Device, now: dt.datetime | None = None) -> bool:
    """Revoke one device (False when it already was). Flushes."""
    result = db.session.execute(
        update(Device)
        .where(Device.id == device.id, Device.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    db.session.refresh(device)
    return bool(result.rowcount)


def devices_of(users: list[User]) -> list[Device]:
    """Devices (live and revoked) of these accounts, newest first."""
    ids = [u.id for u in users]
    return list(
        db.session.execute(
            select(Device).where(Device.user_id.in_(ids)).order_by(Device.created_at.desc())
        ).scalars()
    )


def collect_settings(server_url: str, username: str, project_name: str) -> dict:
    """ODK Collect's settings document for a QR code."""
    return {
        "general": {"server_url": server_url, "username": username},
        "admin": {},
        "project": {"name": project_name, "icon": "B"},
    }


def collect_qr_payload(settings: dict) -> str:
    """The text ODK Collect reads from a settings QR code: zlib-compressed JSON in base64."""
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def read_qr_payload(payload: str) -> dict:
    """The settings in a QR payload (the inverse of collect_qr_payload)."""
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))
