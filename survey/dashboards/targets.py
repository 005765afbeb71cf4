"""Interview targets per district and round, set by coordinators on the overview page."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from survey.dashboards.models import DistrictTarget
from survey.extensions import db
from survey.instruments.models import Instrument
from survey.users.models import User
from survey.users.services import record_audit


def targets_for(instrument_id: int, round_id: int | None) -> dict[str, int]:
    """District code → target for one round of an instrument."""
    if round_id is None:
        return {}
    rows = db.session.execute(
        select(DistrictTarget.district, DistrictTarget.target).where(
            DistrictTarget.instrument_id == instrument_id, DistrictTarget.round_id == round_id
        )
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def save_targets(
    instrument: Instrument, round_id: int, targets: Mapping[str, int | None], user: User | None
) -> int:
    """Set (or, with None, remove) district targets; returns how many changed. Flushes only."""
    existing = {
        row.district: row
        for row in db.session.execute(
            select(DistrictTarget).where(
                DistrictTarget.instrument_id == instrument.id, DistrictTarget.round_id == round_id
            )
        ).scalars()
    }
    changed = 0
    for district, target in targets.items():
        row = existing.get(district)
        if target is None:
            if row is not None:
                db.session.delete(row)
                changed += 1
        elif row is None:
            db.session.add(
                DistrictTarget(
                    instrument_id=instrument.id,
                    round_id=round_id,
                    district=district,
                    target=target,
                    updated_by_id=user.id if user is not None else None,
                )
            )
            changed += 1
        elif row.target != target:
            row.target = target
            row.updated_by_id = user.id if user is not None else None
            changed += 1
    db.session.flush()
    if changed:
        record_audit(
            "district_targets_changed",
            user=user,
            target=f"instrument {instrument.form_id}",
            details={"round": round_id, "changed": changed},
        )
    return changed
