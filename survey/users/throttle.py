"""Login counters in the database: account lockout and a per-address rate limit for all workers.

Each counted event is one atomic statement (INSERT … ON CONFLICT DO UPDATE … RETURNING, on
SQLite ≥ 3.35 and PostgreSQL alike), so concurrent failures in any number of worker processes
each get their own count and the limit-th one sets the lock: no lost update leaves an account
open. Keys are keyed hashes: an unknown name is counted exactly like a real one, so the answer
never tells whether an account exists.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import DateTime, and_, case, delete, literal, null, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from survey.extensions import db
from survey.users.models import LoginCounter
from survey.users.tokens import keyed_hash


@dataclass(frozen=True)
class Count:
    """One counted attempt: its number within the window, and the lock if one is set."""

    count: int
    locked_until: dt.datetime | None

    def over(self, limit: int) -> bool:
        """Whether this attempt is beyond the limit (and must not be checked)."""
        return self.count > limit


def name_key(username: str) -> str:
    """The counter key of an account name as typed (case and spaces ignored)."""
    return "name:" + keyed_hash(username.strip().casefold(), "login-name")[:64]


def address_key(address: str) -> str:
    """The counter key of a client address."""
    return "addr:" + keyed_hash(address, "login-address")[:64]


def count_attempt(
    key: str, *, limit: int, window: dt.timedelta, lock_for: dt.timedelta, now: dt.datetime
) -> Count:
    """Count one attempt under key atomically; the limit-th attempt sets a lock for lock_for.

    A window (or a lock) that has run out starts the count again at 1.
    """
    table = LoginCounter.__table__
    c = table.c
    expired = or_(
        and_(c.locked_until.is_not(None), c.locked_until <= now),
        and_(c.locked_until.is_(None), c.window_start <= now - window),
    )
    new_count = case((expired, 1), else_=c.count + 1)
    until = literal(now + lock_for, DateTime(timezone=True))
    lock = case(
        (expired, null()),
        (and_(c.locked_until.is_(None), c.count + 1 >= limit), until),
        else_=c.locked_until,
    )
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(key=key, count=1, window_start=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[c.key],
            set_={
                "count": new_count,
                "window_start": case(
                    (expired, literal(now, DateTime(timezone=True))), else_=c.window_start
                ),
                "locked_until": lock,
            },
        )
        .returning(c.count, c.locked_until)
    )
    count, locked_until = db.session.execute(statement).one()
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=dt.UTC)  # SQLite returns naive UTC
    return Count(count, locked_until)


def current(key: str, now: dt.datetime) -> Count | None:
    """The count under key as it stands (None: nothing counted), without counting."""
    row = db.session.execute(
        select(LoginCounter.count, LoginCounter.locked_until).where(LoginCounter.key == key)
    ).first()
    if row is None:
        return None
    locked_until = row.locked_until
    if locked_until is not None and locked_until.tzinfo is None:
        locked_until = locked_until.replace(tzinfo=dt.UTC)
    if locked_until is not None and locked_until <= now:
        locked_until = None
    return Count(row.count, locked_until)


def clear(key: str) -> None:
    """Forget the count under key (a successful login, a password reset)."""
    db.session.execute(delete(LoginCounter).where(LoginCounter.key == key))
