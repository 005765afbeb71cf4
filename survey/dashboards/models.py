"""Interview targets per district, for "progress against a target" on the overview page."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from survey.clock import utcnow
from survey.extensions import db


class DistrictTarget(db.Model):
    """How many interviews a round of an instrument aims for in one district (code as stored)."""

    __tablename__ = "district_targets"
    __table_args__ = (
        UniqueConstraint("instrument_id", "round_id", "district", name="uq_district_targets_scope"),
        CheckConstraint("target >= 0", name="target_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The unique constraint's index starts with instrument_id: no index of its own needed.
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instruments.id", ondelete="CASCADE"))
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    district: Mapped[str] = mapped_column(String(100))
    target: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
