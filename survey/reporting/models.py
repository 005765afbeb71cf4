"""Generated working papers (the history) and quotations approved for publication."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey.clock import utcnow
from survey.extensions import db
from survey.users.models import User


class GeneratedReport(db.Model):
    """One generated paper: who, when, the settings and the data snapshot it was built from.

    The PDF itself is kept under `instance/reports/<id>.pdf` (the document as filed); the
    settings and snapshot regenerate it byte for byte, which `pdf_sha256` lets anyone verify.
    The snapshot holds suppressed aggregates, labels and approved quotes only: no answers.
    """

    __tablename__ = "generated_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    settings: Mapped[dict] = mapped_column(JSON)
    snapshot: Mapped[dict] = mapped_column(JSON)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    word_count: Mapped[int] = mapped_column(Integer)
    # Cut from the advocates' publication: only these are listed and opened for advocates.
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), index=True)

    created_by: Mapped[User | None] = relationship()


class ApprovedQuote(db.Model):
    """A coordinator's approval to quote one free-text answer of one submission.

    The words stay in the submission (they are never copied here), so withdrawing the
    submission deletes the approval with it (ON DELETE CASCADE) and no new paper can quote a
    withdrawn respondent. A paper already generated keeps, in its snapshot, the words it
    published: a filed UN document cannot be unpublished, and regenerating it must give the
    same bytes. That tension is why approval is explicit and per answer, never automatic:
    the coordinator decides, knowing that a published quote outlives a later withdrawal.
    """

    __tablename__ = "approved_quotes"
    __table_args__ = (
        UniqueConstraint("submission_id", "question", name="uq_approved_quotes_answer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(100))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The coordinator's translations of the answer (paper language → text), printed after the
    # original in papers of another language. The words stay the respondent's: only the
    # translation is ours.
    translations: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")

    approved_by: Mapped[User | None] = relationship()
