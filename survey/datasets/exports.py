"""What the export page and `survey export` hand out: a bundle (a zip of CSV or SAV files, or one
XLSX workbook) or files side by side, with the codebook and the `about` table.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from survey.datasets.about import about_rows
from survey.datasets.codebook import codebook_rows
from survey.datasets.dataset import Dataset
from survey.datasets.deidentify import ExportReport, PreparedExport
from survey.datasets.spss import export_sav, sav_columns, write_sav_table
from survey.datasets.writers import (
    PathOrFile,
    binary_target,
    export_csv,
    export_xlsx,
    prepared_export,
    write_csv_table,
    write_rows_csv,
)
from survey.instruments.models import Instrument
from survey.instruments.services import spec_for
from survey.users.models import User
from survey.users.services import record_audit

BUNDLE_SUFFIX = {"csv": ".zip", "xlsx": ".xlsx", "sav": ".zip"}


MIMETYPES = {
    ".zip": "application/zip",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".csv": "text/csv",
    ".sav": "application/x-spss-sav",
}


def export_bundle(
    source: Dataset | PreparedExport, fmt: str, out: PathOrFile, **options: Any
) -> ExportReport:
    """The whole export as one file: a workbook (xlsx) or a zip of every table (csv, sav).

    A zip holds `respondents.<ext>`, `<repeat>.<ext>` per repeat, `codebook.csv`, `about.csv`.
    """
    prepared = prepared_export(source, fmt, options)
    if fmt == "xlsx":
        return export_xlsx(prepared, out)
    sav = sav_columns(prepared) if fmt == "sav" else None
    with (
        binary_target(out) as handle,
        zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        for table in prepared.tables:
            with archive.open(f"{table}.{fmt}", "w", force_zip64=True) as member:
                if fmt == "csv":
                    write_csv_table(prepared, table, member)
                else:
                    assert sav is not None
                    write_sav_table(prepared, table, member, sav)
        with archive.open("codebook.csv", "w") as member:
            write_rows_csv(codebook_rows(prepared, sav), member)
        with archive.open("about.csv", "w") as member:
            write_rows_csv(about_rows(prepared), member)
    return prepared.report


def sibling_paths(out: Path, tables: Sequence[str], fmt: str) -> dict[str, Path]:
    """Where each table of a multi-file export goes next to `out` (out holds respondents)."""
    paths = {"respondents": out}
    for table in tables:
        if table != "respondents":
            paths[table] = out.with_name(f"{out.stem}_{table}{out.suffix or '.' + fmt}")
    paths["codebook"] = out.with_name(f"{out.stem}_codebook.csv")
    paths["about"] = out.with_name(f"{out.stem}_about.csv")
    return paths


def export_files(prepared: PreparedExport, fmt: str, out: Path) -> dict[str, Path]:
    """Write an export to `out` (a .zip bundle, a workbook, or a file per table beside it)."""
    prepared = replace(prepared, report=replace(prepared.report, format=fmt))
    if fmt == "xlsx" or out.suffix.lower() == ".zip":
        export_bundle(prepared, fmt, out)
        return {"export": out}
    paths = sibling_paths(out, list(prepared.tables), fmt)
    repeats = {t: paths[t] for t in prepared.tables if t != "respondents"}
    if fmt == "csv":
        export_csv(
            prepared,
            out,
            repeat_outs=repeats,
            codebook_out=paths["codebook"],
            about_out=paths["about"],
        )
    else:
        export_sav(prepared, out, repeat_outs=repeats, codebook_out=paths["codebook"])
        write_rows_csv(about_rows(prepared), paths["about"])
    return paths


def download_name(form_id: str, fmt: str, deidentified: bool, today: dt.date | None = None) -> str:
    """The file name of a download, e.g. birge_needs_assessment_2025-03-01_deidentified.zip."""
    today = today or dt.date.today()
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", form_id) or "export"
    kind = "deidentified" if deidentified else "IDENTIFIED"
    return f"{safe}_{today.isoformat()}_{kind}{BUNDLE_SUFFIX[fmt]}"


def exported_identifying_data(instrument: Instrument, *, deidentified: bool) -> list[str]:
    """The kinds of identifying data the admin confirmed at import (of any version) that an
    export of the instrument may carry: media never (files stay on the server), phone numbers
    in free text only in an identified export (de-identification drops free text)."""
    kept = {kind for v in instrument.versions for kind in spec_for(v).identifying_kept}
    kept.discard("media")
    if deidentified:
        kept.discard("phone_numbers")
    return sorted(kept)


def audit_export(
    instrument: Instrument,
    report: ExportReport,
    *,
    round_name: str | int,
    review_statuses: Sequence[str],
    include_demo: bool,
    user: User | None,
    via: str,
    file_format: str | None = None,
) -> None:
    """Write an export of microdata to the audit log (flushes; the caller commits before the
    file leaves). The entry says what was exported and how, never an answer."""
    details: dict[str, Any] = {**report.audit_details()}
    if file_format is not None:
        details["format"] = file_format
    kept = exported_identifying_data(instrument, deidentified=report.deidentified)
    if kept:
        details["identifying_data"] = kept
    details.update(
        {
            "instrument": instrument.form_id,
            "versions": [v.version for v in instrument.versions],
            "round": round_name,
            "review_statuses": list(review_statuses),
            "include_demo": include_demo,
            "via": via,
        }
    )
    target = f"instrument {instrument.form_id}"
    record_audit("export_made", user=user, target=target, details=details)
