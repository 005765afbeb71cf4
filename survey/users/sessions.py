"""Server-side login sessions: started at login, checked on every request, ended for good.

The browser's cookie carries a random session id; the database keeps only its SHA-256. Ending a
session (logout, "log out everywhere", a password change or reset, a role change, disabling the
account) marks the row, so a copied cookie is refused from then on. A session also ends after
an idle time and, however busy, after an absolute lifetime.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from survey.extensions import db
from survey.users.models import User, UserSession, utcnow
from survey.users.tokens import new_token, token_hash

# Writing last_seen_at on every request would turn each page view into a write.
TOUCH_INTERVAL = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class Lifetime:
    """How long a session may stay idle, and how long it may last at most."""

    idle: dt.timedelta
    absolute: dt.timedelta


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def start_session(user: User, user_agent: str | None = None) -> str:
    """Open a session for user; returns the id for the cookie (stored only as a hash). Flushes."""
    token = new_token()
    db.session.add(
        UserSession(
            user_id=user.id,
            token_sha256=token_hash(token),
            user_agent=(user_agent or "")[:200] or None,
        )
    )
    db.session.flush()
    return token


def check_session(
    token: str, user_id: int, lifetime: Lifetime, now: dt.datetime | None = None
) -> tuple[UserSession | None, str]:
    """(the live session, '') or (None, why: 'unknown', 'ended', 'idle', 'expired'). Flushes."""
    found = check(token, user_id, lifetime, now)
    return found.record, found.reason


@dataclass(frozen=True)
class SessionCheck:
    """What check found: the live session (or None and why), and whether it wrote the row."""

    record: UserSession | None
    reason: str
    wrote: bool  # the touch of last_seen_at, or the end of an idle or expired session


def check(
    token: str, user_id: int, lifetime: Lifetime, now: dt.datetime | None = None
) -> SessionCheck:
    """check_session, also saying whether the row was written (flushed): only then is there
    anything for the caller to commit."""
    now = now or utcnow()
    record = db.session.execute(
        select(UserSession).where(UserSession.token_sha256 == token_hash(token))
    ).scalar_one_or_none()
    if record is None or record.user_id != user_id:
        return SessionCheck(None, "unknown", wrote=False)
    if record.ended_at is not None:
        return SessionCheck(None, "ended", wrote=False)
    reason = ""
    if now - _aware(record.created_at) > lifetime.absolute:
        reason = "expired"
    elif now - _aware(record.last_seen_at) > lifetime.idle:
        reason = "idle"
    if reason:
        record.ended_at = now
        db.session.flush()
        return SessionCheck(None, reason, wrote=True)
    if now - _aware(record.last_seen_at) > TOUCH_INTERVAL:
        record.last_seen_at = now
        db.session.flush()
        return SessionCheck(record, "", wrote=True)
    return SessionCheck(record, "", wrote=False)


def end_session(token: str, now: dt.datetime | None = None) -> None:
    """End the session with this cookie id (logout). Flushes."""
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_sha256 == token_hash(token), UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )


def end_session_by_id(user: User, session_id: int, now: dt.datetime | None = None) -> bool:
    """End one of user's own sessions by its row id; False when there is none. Flushes."""
    result = db.session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.ended_at.is_(None),
        )
        .values(ended_at=now or utcnow())
    )
    return bool(result.rowcount)


def end_all_sessions(user: User, now: dt.datetime | None = None) -> int:
    """End every session of user (returns how many were live). Flushes."""
    result = db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=now or utcnow())
    )
    return int(result.rowcount or 0)


def active_sessions(
    user: User, lifetime: Lifetime, now: dt.datetime | None = None
) -> list[UserSession]:
    """User's sessions that still admit requests, most recently used first."""
    now = now or utcnow()
    rows = db.session.execute(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    ).scalars()
    return [
        row
        for row in rows
        if now - _aware(row.created_at) <= lifetime.absolute
        and now - _aware(row.last_seen_at) <= lifetime.idle
    ]
