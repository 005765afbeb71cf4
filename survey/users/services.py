"""Account operations and the audit log. Services flush; the caller commits."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from survey.extensions import db
from survey.users.models import AuditEntry, Role, User, utcnow

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A user-facing problem with an account operation."""


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")


def create_user(username: str, password: str, role: Role | str = Role.VOLUNTEER) -> User:
    """Create an account; the username must be free and the role known."""
    username = username.strip()
    if not username or len(username) > 80:
        raise AccountError("A username of 1 to 80 characters is required.")
    if str(role) not in {r.value for r in Role}:
        raise AccountError(
            f"Unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}."
        )
    if find_user(username) is not None:
        raise AccountError(f"The username {username!r} is taken.")
    check_password_strength(password)
    user = User(username=username, password_hash=hash_password(password), role=str(role))
    db.session.add(user)
    db.session.flush()
    return user


def find_user(username: str) -> User | None:
    """The account with this username, if any."""
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def authenticate(username: str, password: str) -> User | None:
    """The active account matching the credentials, or None."""
    user = find_user(username.strip())
    if user is None or not user.active:
        _hasher.hash(password)  # same cost whether or not the account exists
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def generate_password() -> str:
    """A random password that is easy to type from a printout."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(3))


def record_audit(
    action: str,
    *,
    user: User | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append an audit entry (who, what, when); callers never pass answers."""
    entry = AuditEntry(
        action=action,
        user_id=user.id if user is not None and user.id is not None else None,
        username=user.username if user is not None else None,
        target=target,
        details=dict(details) if details else None,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def is_known_role(role: str) -> bool:
    """True when role names one of the four roles."""
    return role in {r.value for r in Role}
