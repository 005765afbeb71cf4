"""Import instruments and load their specs. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from sqlalchemy import func, select

from survey.extensions import db
from survey.instruments.models import Instrument, InstrumentVersion
from survey.instruments.spec import InstrumentSpec
from survey.instruments.xlsform import ImportedForm, InstrumentImportError, load_xlsform
from survey.users.models import User
from survey.users.services import record_audit

DEFAULT_INSTRUMENT = Path(__file__).parent / "default" / "birge_needs_assessment.xlsx"

_spec_cache: dict[tuple[int, str, str], InstrumentSpec] = {}
_spec_lock = threading.Lock()


def import_instrument(
    data: bytes, filename: str, imported_by: User | None = None
) -> tuple[InstrumentVersion, list[str]]:
    """Import an XLSForm as a new version of its form_id; return it and pyxform's warnings."""
    imported: ImportedForm = load_xlsform(data, filename)
    spec = imported.spec
    instrument = db.session.execute(
        select(Instrument).where(Instrument.form_id == spec.form_id)
    ).scalar_one_or_none()
    if instrument is None:
        instrument = Instrument(form_id=spec.form_id, title=spec.title)
        db.session.add(instrument)
        db.session.flush()
    digest = hashlib.sha256(data).hexdigest()
    existing = {v.version: v for v in instrument.versions}
    version = spec.version
    if version in existing:
        same = existing[version].sha256 == digest
        raise InstrumentImportError(
            [
                f"Version '{version}' of form '{spec.form_id}' was already imported"
                + (" from this very file." if same else ".")
                + " Change 'version' on the settings sheet (for example to a later date) and "
                "import again; existing submissions keep the version they were entered with."
            ]
        )
    sequence = (
        db.session.execute(
            select(func.max(InstrumentVersion.sequence)).where(
                InstrumentVersion.instrument_id == instrument.id
            )
        ).scalar()
        or 0
    ) + 1
    row = InstrumentVersion(
        instrument=instrument,
        version=version,
        sequence=sequence,
        title=spec.title,
        definition=spec.to_json(),
        xform=imported.xform,
        xlsform=data,
        filename=Path(filename).name[:255] or "form.xlsx",
        sha256=digest,
        imported_by_id=imported_by.id if imported_by is not None else None,
    )
    instrument.title = spec.title
    db.session.add(row)
    db.session.flush()
    record_audit(
        "instrument_imported",
        user=imported_by,
        target=f"{spec.form_id} {version}",
        details={"filename": row.filename, "sha256": digest},
    )
    return row, imported.warnings


def import_default_instrument(imported_by: User | None = None) -> InstrumentVersion | None:
    """Load the shipped needs-assessment XLSForm unless this exact file is already imported."""
    data = DEFAULT_INSTRUMENT.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    already = db.session.execute(
        select(InstrumentVersion).where(InstrumentVersion.sha256 == digest)
    ).scalar_one_or_none()
    if already is not None:
        return None
    version, _warnings = import_instrument(data, DEFAULT_INSTRUMENT.name, imported_by)
    return version


def spec_for(version: InstrumentVersion) -> InstrumentSpec:
    """The parsed spec of a version, cached: versions never change once imported."""
    with _spec_lock:
        key = (version.id, version.sha256, version.version)
        spec = _spec_cache.get(key)
        if spec is None:
            spec = InstrumentSpec.from_json(version.definition)
            _spec_cache[key] = spec
        return spec


def list_instruments() -> list[Instrument]:
    """All instruments, by title."""
    return list(db.session.execute(select(Instrument).order_by(Instrument.title)).scalars())


def latest_version(instrument: Instrument) -> InstrumentVersion | None:
    """The most recently imported version: new interviews use it."""
    return instrument.versions[-1] if instrument.versions else None


def find_instrument(form_id: str) -> Instrument | None:
    """The instrument with this form_id."""
    return db.session.execute(
        select(Instrument).where(Instrument.form_id == form_id)
    ).scalar_one_or_none()


def get_version(version_id: int) -> InstrumentVersion | None:
    """A version by id."""
    return db.session.get(InstrumentVersion, version_id)
