"""Instruments (XLSForms) and their imported versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.extensions import db


class Instrument(db.Model):
    """A questionnaire identified by its XLSForm form_id."""

    __tablename__ = "instruments"

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    versions: Mapped[list[InstrumentVersion]] = relationship(
        back_populates="instrument", order_by="InstrumentVersion.sequence"
    )


class InstrumentVersion(db.Model):
    """One import of an XLSForm; submissions stay pinned to the version they were entered with."""

    __tablename__ = "instrument_versions"
    __table_args__ = (
        UniqueConstraint("instrument_id", "version", name="uq_instrument_versions_version"),
        UniqueConstraint("instrument_id", "sequence", name="uq_instrument_versions_sequence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    # Large and immutable: loaded only when used (the spec itself is cached per process).
    definition: Mapped[dict] = mapped_column(JSON, deferred=True)
    xform: Mapped[str] = mapped_column(Text, deferred=True)
    xlsform: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    instrument: Mapped[Instrument] = relationship(back_populates="versions")


class InstrumentAttachment(db.Model):
    """A file that comes with a version (CSV, GeoJSON, XML, media): the web form reads it, and
    ODK Collect downloads it through the version's manifest. Immutable, like the version."""

    __tablename__ = "instrument_attachments"
    __table_args__ = (
        UniqueConstraint("version_id", "filename", name="uq_instrument_attachments_filename"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
