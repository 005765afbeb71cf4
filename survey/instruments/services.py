"""Import instruments and load their specs. Services flush; the caller commits."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, select

from survey.extensions import db
from survey.instruments import attachments as form_files
from survey.instruments.models import Instrument, InstrumentAttachment, InstrumentVersion
from survey.instruments.pattern_text import asks_for_phone_number
from survey.instruments.spec import InstrumentSpec
from survey.instruments.xlsform import (
    IDENTIFYING_KINDS,
    ImportedForm,
    InstrumentImportError,
    load_xlsform,
)
from survey.users.models import User
from survey.users.services import record_audit

DEFAULT_INSTRUMENT = Path(__file__).parent / "default" / "birge_needs_assessment.xlsx"

# Which kind of identifying data each question type collects (issue 9, part 6).
IDENTIFYING_TYPES = {
    "text": "free_text",
    "geopoint": "precise_location",
    "geotrace": "precise_location",
    "geoshape": "precise_location",
    "start_geopoint": "precise_location",
    "deviceid": "device_ids",
    "subscriberid": "device_ids",
    "simserial": "device_ids",
    "phonenumber": "device_ids",
    "username": "device_ids",
    "email": "device_ids",
    "image": "media",
    "audio": "media",
    "video": "media",
    "file": "media",
}

_spec_cache: dict[tuple[int, str, str], InstrumentSpec] = {}
_spec_lock = threading.Lock()


def identifying_questions(spec: InstrumentSpec) -> dict[str, list[str]]:
    """Questions that collect identifying data, by kind (free text, location, device ids, media,
    and the text questions that ask for phone numbers)."""
    kinds: dict[str, list[str]] = {}
    for question in spec.iter_questions():
        kind = IDENTIFYING_TYPES.get(question.type)
        if kind:
            kinds.setdefault(kind, []).append(question.name)
        if asks_for_phone_number(question):
            kinds.setdefault("phone_numbers", []).append(question.name)
    return kinds


@functools.lru_cache(maxsize=128)
def phone_number_questions(spec: InstrumentSpec) -> tuple[str, ...]:
    """The text questions whose answers may hold phone numbers once the admin confirmed
    'phone_numbers' at import: those that ask for one (pattern_text.asks_for_phone_number), or
    every text question of a form where none does."""
    texts = [q for q in spec.iter_questions() if q.type == "text"]
    asking = [q.name for q in texts if asks_for_phone_number(q)]
    return tuple(asking or (q.name for q in texts))


class SummaryLine(str):
    """A fact of the import summary (intake rules, screening, locations, attachments), told
    to the admin as such; every other line import_instrument returns is a warning."""

    __slots__ = ()


def import_summary(spec: InstrumentSpec) -> list[str]:
    """What an admin must know about a form at import: its intake rules and identifying data
    (SummaryLine facts)."""
    intake = spec.intake
    lines = []
    rules = []
    if intake.consent_question:
        rules.append(
            _(
                "an interview whose '%(question)s' is not '%(value)s' stores nothing but a "
                "refusal count",
                question=intake.consent_question,
                value=intake.consent_value,
            )
        )
    if intake.age_question:
        rules.append(
            _(
                "a respondent whose '%(question)s' is under %(age)s is refused",
                question=intake.age_question,
                age=intake.minimum_age,
            )
        )
    if intake.district_question:
        rules.append(_("refusals are counted by '%(question)s'", question=intake.district_question))
    lines.append(
        _("Intake rules: %(rules)s.", rules="; ".join(rules))
        if rules
        else _(
            "Intake rules: none (the settings sheet declares no consent, age or district question)."
        )
    )
    kept = set(spec.identifying_kept)
    for kind, names in identifying_questions(spec).items():
        listed = ", ".join(names)
        if kind == "free_text":
            lines.append(
                _(
                    "Free text (%(questions)s) is screened for ID numbers and e-mail addresses, "
                    "and for phone numbers outside the questions that keep them.",
                    questions=listed,
                )
                if "phone_numbers" in kept
                else _(
                    "Free text (%(questions)s) is screened for ID numbers, phone numbers and "
                    "e-mail addresses.",
                    questions=listed,
                )
            )
            if "phone_numbers" in kept:
                lines.append(
                    _(
                        "Phone numbers in free text (%(questions)s): kept, as confirmed at "
                        "import; never in de-identified exports, dashboards or reports, and "
                        "listed in the audit of each export that includes them.",
                        questions=", ".join(phone_number_questions(spec)),
                    )
                )
        elif kind == "phone_numbers" and kind not in kept:
            lines.append(
                _(
                    "Phone numbers (%(questions)s): these questions seem to ask for one, and "
                    "an answer holding a phone number is refused unless phone numbers are "
                    "confirmed at import.",
                    questions=listed,
                )
            )
        elif kind == "precise_location":
            lines.append(
                _(
                    "Locations (%(questions)s): kept precise, as confirmed at import.",
                    questions=listed,
                )
                if kind in kept
                else _(
                    "Locations (%(questions)s): coarsened on arrival to a grid of about 1 km.",
                    questions=listed,
                )
            )
        elif kind == "media":
            lines.append(
                _(
                    "Photos, audio, video and files (%(questions)s): kept on the server only, as "
                    "confirmed at import; never exported, shown on dashboards or in reports, and "
                    "deleted with a withdrawal.",
                    questions=listed,
                )
            )
        elif kind == "device_ids":
            lines.append(
                _(
                    "Device and account identifiers (%(questions)s): kept, as confirmed at import.",
                    questions=listed,
                )
                if kind in kept
                else _(
                    "Device and account identifiers (%(questions)s): not stored.",
                    questions=listed,
                )
            )
    return [SummaryLine(line) for line in lines]


def version_changes(previous: InstrumentSpec, new: InstrumentSpec) -> list[str]:
    """Questions a new version removes or gives another type (answers of them stop matching)."""
    old = {q.name: q for q in previous.iter_questions() if q.type != "note"}
    now = {q.name: q for q in new.iter_questions() if q.type != "note"}
    changes = [
        _(
            "The question '%(name)s' is removed (it was %(type)s in version %(version)s).",
            name=name,
            type=q.type,
            version=previous.version,
        )
        for name, q in old.items()
        if name not in now
    ]
    changes.extend(
        _(
            "The question '%(name)s' changes type from %(old)s to %(new)s.",
            name=name,
            old=q.type,
            new=now[name].type,
        )
        for name, q in old.items()
        if name in now and now[name].type != q.type
    )
    return changes


class VersionChangesNeedConfirmation(InstrumentImportError):
    """The new version removes or retypes questions; the admin must confirm before publishing."""


def import_instrument(
    data: bytes,
    filename: str,
    imported_by: User | None = None,
    *,
    keep: Iterable[str] = (),
    confirm_changes: bool = False,
    attachments: Mapping[str, bytes] | None = None,
) -> tuple[InstrumentVersion, list[str]]:
    """Import an XLSForm as a new version of its form_id; return it and what to tell the admin
    (the summary's facts as SummaryLine, then the warnings).

    `data` is the workbook, or a .zip holding the workbook and its files; `attachments` are
    files uploaded beside the workbook (CSV, GeoJSON, XML, media), by name. `keep` lists the
    kinds of identifying data the admin confirmed (xlsform.IDENTIFYING_KINDS: 'precise_location',
    'device_ids', 'media', 'phone_numbers'); a version that removes or retypes questions of the
    previous one is refused (VersionChangesNeedConfirmation, listing the changes) unless
    `confirm_changes`.
    """
    data, filename, files = _unpack(data, filename, attachments or {})
    imported: ImportedForm = load_xlsform(
        data, filename, files, media_confirmed="media" in set(keep)
    )
    unknown = sorted(set(keep) - set(IDENTIFYING_KINDS))
    if unknown:
        raise InstrumentImportError(
            [_("Unknown kind of identifying data: %(kinds)s.", kinds=", ".join(unknown))]
        )
    # A kind is kept only where the form collects it; phone numbers wherever it has free text.
    collected = set(identifying_questions(imported.spec))
    if "free_text" in collected:
        collected.add("phone_numbers")
    spec = dataclasses.replace(
        imported.spec,
        identifying_kept=tuple(k for k in IDENTIFYING_KINDS if k in set(keep) and k in collected),
    )
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
    if instrument.versions and not confirm_changes and version not in existing:
        changes = version_changes(spec_for(instrument.versions[-1]), spec)
        if changes:
            raise VersionChangesNeedConfirmation(
                [
                    *changes,
                    _(
                        "Answers already stored keep these questions, but new interviews will "
                        "not have them. Confirm the changes to publish this version."
                    ),
                ]
            )
    if version in existing:
        same = existing[version].sha256 == digest
        raise InstrumentImportError(
            [
                (
                    _(
                        "Version '%(version)s' of form '%(form)s' was already imported from this "
                        "very file.",
                        version=version,
                        form=spec.form_id,
                    )
                    if same
                    else _(
                        "Version '%(version)s' of form '%(form)s' was already imported.",
                        version=version,
                        form=spec.form_id,
                    )
                )
                + " "
                + _(
                    "Change 'version' on the settings sheet (for example to a later date) and "
                    "import again; existing submissions keep the version they were entered with."
                )
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
    for name, content in sorted(imported.files.items()):
        db.session.add(
            InstrumentAttachment(
                version_id=row.id,
                filename=name,
                content_type=form_files.content_type(name),
                md5=form_files.md5_of(content),
                size=len(content),
                data=content,
            )
        )
    db.session.flush()
    record_audit(
        "instrument_imported",
        user=imported_by,
        target=f"{spec.form_id} {version}",
        details={
            "filename": row.filename,
            "sha256": digest,
            **({"attachments": sorted(imported.files)} if imported.files else {}),
        },
    )
    summary = import_summary(spec)
    if imported.files:
        summary.append(
            SummaryLine(_("Attachments: %(names)s.", names=", ".join(sorted(imported.files))))
        )
    return row, [*summary, *imported.warnings]


def _unpack(
    data: bytes, filename: str, attachments: Mapping[str, bytes]
) -> tuple[bytes, str, dict[str, bytes]]:
    """The workbook, its name and its files, from a .zip or from a workbook and its files."""
    files: dict[str, bytes] = {}
    try:
        if form_files.is_form_package(data, filename):
            package = form_files.read_package(data)
            data, filename, files = package.workbook, package.filename, dict(package.files)
        for name, content in attachments.items():
            clean = Path(name.replace("\\", "/")).name
            form_files.check_attachment(clean, content)
            files[clean] = content
    except form_files.AttachmentError as error:
        raise InstrumentImportError([str(error)]) from None
    if len(files) > form_files.MAX_FILES:
        raise InstrumentImportError(
            [_("At most %(limit)s attachments are accepted.", limit=form_files.MAX_FILES)]
        )
    return data, filename, files


def attachments_of(version: InstrumentVersion) -> list[InstrumentAttachment]:
    """The files of a version (without their bytes), by name."""
    return list(
        db.session.execute(
            select(InstrumentAttachment)
            .where(InstrumentAttachment.version_id == version.id)
            .order_by(InstrumentAttachment.filename)
        ).scalars()
    )


def versions_with_attachments(version_ids: Iterable[int]) -> set[int]:
    """Which of these versions have attachments (one query for a whole form list)."""
    ids = list(version_ids)
    if not ids:
        return set()
    return set(
        db.session.execute(
            select(InstrumentAttachment.version_id)
            .where(InstrumentAttachment.version_id.in_(ids))
            .distinct()
        ).scalars()
    )


def attachment(version: InstrumentVersion, filename: str) -> InstrumentAttachment | None:
    """One file of a version, by name."""
    return db.session.execute(
        select(InstrumentAttachment).where(
            InstrumentAttachment.version_id == version.id,
            InstrumentAttachment.filename == filename,
        )
    ).scalar_one_or_none()


def import_default_instrument(imported_by: User | None = None) -> InstrumentVersion | None:
    """Load the shipped needs-assessment XLSForm unless this exact file is already imported."""
    data = DEFAULT_INSTRUMENT.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    already = db.session.execute(
        select(InstrumentVersion).where(InstrumentVersion.sha256 == digest)
    ).scalar_one_or_none()
    if already is not None:
        return None
    shipped = load_xlsform(data, DEFAULT_INSTRUMENT.name).spec
    instrument = find_instrument(shipped.form_id)
    if instrument is not None and any(v.version == shipped.version for v in instrument.versions):
        return None  # the same version, shipped again with only settings declared
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
