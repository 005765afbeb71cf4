"""Account operations and the audit log. Services flush; the caller commits."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import select

from survey.extensions import db
from survey.users import throttle
from survey.users.models import AuditEntry, Role, User, utcnow
from survey.users.sessions import end_all_sessions
from survey.users.tokens import keyed_hash

MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")


class AccountError(ValueError):
    """A user-facing problem with an account operation (message may be lazily translated)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class LoginAttempt:
    """The result of a login: the user, or why not (locked until a time)."""

    user: User | None
    locked_until: dt.datetime | None = None
    known: bool = False  # whether the name belongs to an account (for the audit log only)


@functools.cache
def _hasher_costing(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """argon2id at the configured cost (PASSWORD_HASH_COST; argon2-cffi's defaults by default)."""
    cost = current_app.config["PASSWORD_HASH_COST"]
    return _hasher_costing(cost["time_cost"], cost["memory_cost"], cost["parallelism"])


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher().hash(password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords too common to allow (lower-cased)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def check_password_strength(password: str, username: str = "") -> None:
    """Refuse short, common or guessable passwords."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            lazy_ngettext(
                "The password must have at least %(num)d character.",
                "The password must have at least %(num)d characters.",
                MIN_PASSWORD_LENGTH,
            )
        )
    lowered = password.lower()
    if (
        lowered in common_passwords()
        or len(set(lowered)) <= 2
        or (username and username.lower() in lowered)
    ):
        raise AccountError(_l("This password is too easy to guess. Choose another one."))


def _check_role(role: str) -> None:
    if role not in {r.value for r in Role}:
        raise AccountError(
            _l("Unknown role %(role)s; use one of: %(roles)s.", role=role, roles=", ".join(Role))
        )


def create_user(
    username: str, password: str, role: Role | str = Role.VOLUNTEER, *, generated: bool = False
) -> User:
    """Create an account; the username must be free and the role known.

    generated: the password was made by the server and shown to someone else, so the owner
    must replace it at the first login.
    """
    username = username.strip()
    if not username or len(username) > 80 or any(c.isspace() for c in username):
        raise AccountError(_l("A username of 1 to 80 characters without spaces is required."))
    _check_role(str(role))
    if find_user(username) is not None:
        raise AccountError(_l("The username %(name)s is taken.", name=username))
    check_password_strength(password, username)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=str(role),
        must_change_password=generated,
    )
    db.session.add(user)
    db.session.flush()
    return user


def find_user(username: str) -> User | None:
    """The account with this username, if any."""
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def list_users() -> list[User]:
    """All accounts by username."""
    return list(db.session.execute(select(User).order_by(User.username)).scalars())


def authenticate(username: str, password: str, now: dt.datetime | None = None) -> LoginAttempt:
    """Check credentials; failures are counted per name and lock it for a while after too many.

    A failure is counted atomically and committed at once, so simultaneous guesses from any
    number of workers all count and the MAX_FAILED_LOGINS-th locks the name; a locked name is
    refused without checking the password. Unknown names are counted and answered exactly like
    real ones. A correct password writes nothing unless failures were counted before it (HTTP
    Basic checks the password on every request).
    """
    now = now or utcnow()
    name = username.strip()
    key = throttle.name_key(name)
    standing = throttle.current(key, now)
    user = find_user(name) if name else None
    known = user is not None
    if standing is not None and standing.locked_until is not None:
        return LoginAttempt(None, standing.locked_until, known=known)
    if user is None or not user.active:
        _hasher().hash(password)  # same cost whether or not the account exists
        return _failed(key, now, known)
    try:
        _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return _failed(key, now, known=True)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if standing is not None:
        throttle.clear(key)
    user.last_login_at = now
    return LoginAttempt(user, known=True)


def _failed(key: str, now: dt.datetime, known: bool) -> LoginAttempt:
    counted = throttle.count_attempt(
        key, limit=MAX_FAILED_LOGINS, window=LOCKOUT, lock_for=LOCKOUT, now=now
    )
    db.session.commit()  # visible to every worker before this request answers
    return LoginAttempt(None, counted.locked_until, known=known)


def login_rate_exceeded(address: str, per_minute: int, now: dt.datetime | None = None) -> bool:
    """Count a login attempt from a network address; True beyond per_minute. Commits."""
    counted = throttle.count_attempt(
        throttle.address_key(address),
        limit=per_minute,
        window=dt.timedelta(minutes=1),
        lock_for=dt.timedelta(minutes=1),
        now=now or utcnow(),
    )
    db.session.commit()
    return counted.over(per_minute)


def failed_login_details(username: str, attempt: LoginAttempt, **extra: Any) -> dict[str, Any]:
    """What the audit log keeps of a failed login: a keyed hash of the name, never the name."""
    return {
        "name_hash": keyed_hash(username.strip().casefold(), "audit-name")[:16],
        "known_account": attempt.known,
        "locked": attempt.locked_until is not None,
        **extra,
    }


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite returns naive datetimes; every stored datetime is UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def password_matches(user: User, password: str) -> bool:
    """Whether password is user's current one (no counting: the user is logged in)."""
    try:
        return _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def second_factor_locked(user: User, now: dt.datetime | None = None) -> bool:
    """Count a code attempt for user; True once too many were wrong. Commits the count."""
    counted = throttle.count_attempt(
        f"totp:{user.id}",
        limit=MAX_FAILED_LOGINS,
        window=LOCKOUT,
        lock_for=LOCKOUT,
        now=now or utcnow(),
    )
    db.session.commit()
    return counted.over(MAX_FAILED_LOGINS)


def second_factor_passed(user: User) -> None:
    """Forget the code attempts of user after a correct one. Flushes."""
    throttle.clear(f"totp:{user.id}")


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password, proving the current one."""
    try:
        _hasher().verify(user.password_hash, current)
    except (VerificationError, InvalidHashError):
        raise AccountError(_l("The current password is wrong.")) from None
    set_password(user, new)


def set_password(user: User, new: str, *, generated: bool = False) -> None:
    """Set a new password (admin reset or own change): unlock it and end every session.

    A generated password (shown to an admin) must be replaced at the next login.
    """
    check_password_strength(new, user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = generated
    throttle.clear(throttle.name_key(user.username))
    end_all_sessions(user)
    db.session.flush()


def set_role(user: User, role: str) -> None:
    """Give an account another role (its sessions end); the last admin keeps the role."""
    _check_role(role)
    if role == user.role:
        return
    if user.role == Role.ADMIN and user.active and _active_admins() <= 1:
        raise AccountError(_l("The last active administrator cannot give up the role."))
    user.role = role
    end_all_sessions(user)


def set_active(user: User, active: bool) -> None:
    """Disable (ending its sessions) or re-enable an account; the last active admin stays."""
    if not active and user.role == Role.ADMIN and user.active and _active_admins() <= 1:
        raise AccountError(_l("The last active administrator cannot be disabled."))
    user.active = active
    if not active:
        end_all_sessions(user)


def _active_admins() -> int:
    return len(
        db.session.execute(
            select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True))
        ).all()
    )


# No l/I/1, O/0, S/5, Z/2, B/8: the password is read off a screen or a printout.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz34679"  # noqa: S105 - an alphabet


def generate_password() -> str:
    """A random password, easy to type from a printout: 4 groups of 4, about 77 bits."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))


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


def audit_entries(
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    action: str | None = None,
    username: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEntry]:
    """Audit entries, newest first, filtered."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if action:
        query = query.where(AuditEntry.action == action)
    if username:
        query = query.where(AuditEntry.username == username)
    return list(db.session.execute(query.limit(limit).offset(offset)).scalars())


def audit_actions() -> list[str]:
    """Every action name present in the log, for the filter."""
    return list(
        db.session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
        .scalars()
        .all()
    )
