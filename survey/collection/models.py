"""Survey rounds, submissions and refusal counts."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.extensions import db
from survey.instruments.models import InstrumentVersion
from survey.users.models import User


class ReviewStatus(enum.StrEnum):
    """Where a submission stands in review (a rejected one goes back to its volunteer)."""

    PENDING = "pending"
    APPROVED = "approved"
    ON_HOLD = "on_hold"
    REJECTED = "rejected"


REVIEW_STATUSES = tuple(status.value for status in ReviewStatus)
# What analyses, dashboards and exports include unless asked otherwise.
ANALYSED_STATUSES = (ReviewStatus.PENDING.value, ReviewStatus.APPROVED.value)


def published_statuses(include_pending: bool) -> tuple[str, ...]:
    """Review statuses advocates' outputs may draw on: approved, and pending if allowed."""
    if include_pending:
        return ANALYSED_STATUSES
    return (ReviewStatus.APPROVED.value,)


class SurveyRound(db.Model):
    """A named campaign with dates, e.g. "2025"; every submission belongs to one."""

    __tablename__ = "survey_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Submission(db.Model):
    """One interview's answers (codes, never labels), pinned to its instrument version."""

    __tablename__ = "submissions"
    # The review queue reads one status in order of arrival, with or without demo data
    # (collection/review.py); its counts per status are read from the same indexes.
    __table_args__ = (
        Index("ix_submissions_review_status_received_at", "review_status", "received_at"),
        Index(
            "ix_submissions_demo_review_status_received_at",
            "is_demo",
            "review_status",
            "received_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64), unique=True)
    receipt_code: Mapped[str] = mapped_column(String(16), unique=True)
    instrument_version_id: Mapped[int] = mapped_column(
        ForeignKey("instrument_versions.id"), index=True
    )
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id"), index=True)
    entered_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    answers: Mapped[dict] = mapped_column(JSON)
    answers_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(20), default="web")
    district: Mapped[str | None] = mapped_column(String(100), index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    review_status: Mapped[str] = mapped_column(
        String(20), default=ReviewStatus.PENDING.value, index=True
    )
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    is_demo: Mapped[bool] = mapped_column(default=False, index=True)
    # Set by the database's triggers on every insert and update (see SnapshotSequence); never
    # written by the application.
    change_seq: Mapped[int] = mapped_column(BigInteger, server_default="0", index=True)

    instrument_version: Mapped[InstrumentVersion] = relationship()
    survey_round: Mapped[SurveyRound] = relationship()
    entered_by: Mapped[User | None] = relationship(foreign_keys=[entered_by_id])

    @property
    def held_code(self) -> str:
        """The receipt code the respondent holds (a shared device code without its scope)."""
        return self.receipt_code.split("/", 1)[0]

    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    versions: Mapped[list[SubmissionVersion]] = relationship(
        back_populates="submission",
        order_by="SubmissionVersion.number",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class SubmissionVersion(db.Model):
    """An earlier state of a corrected submission: who changed what, when and why."""

    __tablename__ = "submission_versions"
    __table_args__ = (
        UniqueConstraint("submission_id", "number", name="uq_submission_versions_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column()
    answers: Mapped[dict] = mapped_column(JSON)
    changed_fields: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str] = mapped_column(Text)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="versions")
    changed_by: Mapped[User | None] = relationship()


class SubmissionMedia(db.Model):
    """A photo, recording or file answering a media question. Identifying data: it stays on the
    server (no export, dashboard or report carries it) and goes with its submission on withdrawal
    (ON DELETE CASCADE). The answer of the question is `filename`."""

    __tablename__ = "submission_media"
    __table_args__ = (
        UniqueConstraint("submission_id", "filename", name="uq_submission_media_filename"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Refusal(db.Model):
    """An interview that ended at consent or age: no answers, only where, when and why.

    The random instance_id makes a resent refusal count once; it identifies no one.
    """

    __tablename__ = "refusals"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(64), unique=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id"), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(String(20))


class SnapshotSequence(db.Model):
    """The one counter every change of a submission bumps (database triggers, same transaction).

    A writer holds this row's lock from its bump to its commit, so numbers become visible in
    order: a process that has read value N has every change up to N within reach
    (`submissions.change_seq`, `submission_removals.seq`), which is how columnar snapshots on any
    host tell that they are behind and catch up.
    """

    __tablename__ = "snapshot_sequence"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)
    # Replaced when a backup is restored: numbers may then repeat with other contents.
    epoch: Mapped[str | None] = mapped_column(String(32))


class SubmissionRemoval(db.Model):
    """A deleted (withdrawn) submission's id and the change number of its deletion; no answers."""

    __tablename__ = "submission_removals"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    submission_id: Mapped[int] = mapped_column()
    instrument_version_id: Mapped[int] = mapped_column()
