"""Accounts and the audit log."""

from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from survey.clock import utcnow
from survey.extensions import db


class Role(enum.StrEnum):
    """What a person may do; ordered from least to most access."""

    VOLUNTEER = "volunteer"
    COORDINATOR = "coordinator"
    ADVOCATE = "advocate"
    ADMIN = "admin"


class User(UserMixin, db.Model):
    """A person who logs in: volunteer, coordinator, advocate or admin."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.VOLUNTEER.value)
    language: Mapped[str | None] = mapped_column(String(5), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Set for accounts given a generated password: the first login asks for a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Base32 TOTP secret once two-factor login is confirmed; recovery codes as keyed hashes.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    recovery_code_hashes: Mapped[list | None] = mapped_column(JSON)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.active

    def has_role(self, *roles: Role | str) -> bool:
        """True for admins and for the roles named."""
        return self.role == Role.ADMIN or self.role in {str(r) for r in roles}


class AuditEntry(db.Model):
    """One line of the append-only audit log. Never holds answers."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict | None] = mapped_column(JSON)


class UserSession(db.Model):
    """A browser's login: the cookie holds only a random id, this row its SHA-256."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Shown on "My sessions" so a person recognises their own browsers; never an address.
    user_agent: Mapped[str | None] = mapped_column(String(200))


class LoginCounter(db.Model):
    """Failed logins per account name and attempts per network address, shared by all workers.

    Keys are keyed hashes (never a typed username or an address): 'name:…' or 'addr:…'.
    """

    __tablename__ = "login_counters"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Device(db.Model):
    """A phone configured for ODK Collect with a token instead of a password (one per device)."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
