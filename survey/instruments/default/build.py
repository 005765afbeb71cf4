"""Build the default instrument's XLSForm from its CSV sources.

The CSV files next to this module are the diffable source of truth:

- ``survey.csv``, ``choices.csv``, ``settings.csv``: the three XLSForm sheets, columns exactly as
  XLSForm headers;
- ``settlements.csv``: reference data (settlement -> district -> region, kk/ru/en names, zone of
  radiation risk under the 1992 law, ``verify`` flag). The ``settlement`` choice list is generated
  from it, with one ``<district>_other`` row ("Other settlement (not in the list)") per district.

Run ``python -m survey.instruments.default.build [OUT_PATH]`` to rewrite
``birge_needs_assessment.xlsx``. The output is byte-for-byte reproducible: the workbook
properties and the zip entry timestamps are fixed.
"""

from __future__ import annotations

import csv
import datetime
import io
import sys
import zipfile
from pathlib import Path

from openpyxl import Workbook
from openpyxl.writer.excel import ExcelWriter

HERE = Path(__file__).resolve().parent
XLSX_PATH = HERE / "birge_needs_assessment.xlsx"

LANGUAGES = ("Kazakh (kk)", "Russian (ru)", "English (en)")
ZONES = ("extreme", "maximum", "increased", "minimal", "preferential")
SETTLEMENT_COLUMNS = (
    "settlement",
    "district",
    "region",
    "name_kk",
    "name_ru",
    "name_en",
    "zone",
    "verify",
)
OTHER_SETTLEMENT_LABELS = (
    "Тізімде жоқ басқа елді мекен",
    "Другой населённый пункт (нет в списке)",
    "Other settlement (not in the list)",
)
# Fixed so that rebuilding from unchanged CSVs gives identical bytes.
FIXED_TIMESTAMP = datetime.datetime(2025, 1, 1, 0, 0, 0)
ZIP_TIMESTAMP = (2025, 1, 1, 0, 0, 0)


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Read a UTF-8 CSV file into its header and a list of row dicts (all values strings)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        rows = [{key: (value or "") for key, value in row.items()} for row in reader]
    return header, rows


def settlement_choice_rows(
    choice_header: list[str],
    choice_rows: list[dict[str, str]],
    settlements: list[dict[str, str]],
) -> list[dict[str, str]]:
    """Rows of the ``settlement`` choice list, district by district, each ending with ``_other``.

    Raises ``ValueError`` when the reference data disagrees with the ``district`` list.
    """
    if "district" not in choice_header:
        raise ValueError("choices.csv needs a 'district' filter column for the settlement list")
    districts = [row for row in choice_rows if row["list_name"] == "district"]
    region_of = {row["name"]: row["region"] for row in districts}
    seen: set[str] = set()
    for row in settlements:
        code = row["settlement"]
        if code in seen:
            raise ValueError(f"settlement code {code!r} is duplicated")
        seen.add(code)
        if row["district"] not in region_of:
            raise ValueError(f"settlement {code!r}: unknown district {row['district']!r}")
        if region_of[row["district"]] != row["region"]:
            raise ValueError(
                f"settlement {code!r}: region {row['region']!r} does not match district "
                f"{row['district']!r} (region {region_of[row['district']]!r})"
            )
        if row["zone"] and row["zone"] not in ZONES:
            raise ValueError(f"settlement {code!r}: unknown zone {row['zone']!r}")
        if row["verify"] not in ("yes", "no"):
            raise ValueError(f"settlement {code!r}: verify must be 'yes' or 'no'")

    out: list[dict[str, str]] = []
    for district in districts:
        code = district["name"]
        labelled = [
            (row["settlement"], (row["name_kk"], row["name_ru"], row["name_en"]))
            for row in settlements
            if row["district"] == code
        ]
        labelled.append((f"{code}_other", OTHER_SETTLEMENT_LABELS))
        for name, labels in labelled:
            if name in seen and name.endswith("_other"):
                raise ValueError(f"settlement code {name!r} clashes with a generated code")
            row = dict.fromkeys(choice_header, "")
            row["list_name"] = "settlement"
            row["name"] = name
            for language, label in zip(LANGUAGES, labels, strict=True):
                row[f"label::{language}"] = label
            row["district"] = code
            out.append(row)
    return out


def sheets(source_dir: Path = HERE) -> dict[str, list[list[str]]]:
    """The XLSForm sheets (and the analysis plan's) as rows (header first), from the CSVs."""
    survey_header, survey_rows = read_csv(source_dir / "survey.csv")
    choice_header, choice_rows = read_csv(source_dir / "choices.csv")
    settings_header, settings_rows = read_csv(source_dir / "settings.csv")
    settlement_header, settlements = read_csv(source_dir / "settlements.csv")
    if tuple(settlement_header) != SETTLEMENT_COLUMNS:
        raise ValueError(f"settlements.csv columns must be {', '.join(SETTLEMENT_COLUMNS)}")
    if any(row["list_name"] == "settlement" for row in choice_rows):
        raise ValueError("the settlement list is generated from settlements.csv, not choices.csv")

    all_choices = choice_rows + settlement_choice_rows(choice_header, choice_rows, settlements)
    plan = {}
    # The analysis plan (DOMAIN.md §5) travels with the form as two extra sheets.
    for name in ("analysis", "severity"):
        if (source_dir / f"{name}.csv").exists():
            header, rows = read_csv(source_dir / f"{name}.csv")
            plan[name] = [header, *([row[c] for c in header] for row in rows)]
    return {
        "survey": [survey_header, *([row[c] for c in survey_header] for row in survey_rows)],
        "choices": [choice_header, *([row[c] for c in choice_header] for row in all_choices)],
        "settings": [
            settings_header,
            *([row[c] for c in settings_header] for row in settings_rows),
        ],
        **plan,
    }


def workbook(source_dir: Path = HERE) -> Workbook:
    """An openpyxl workbook with the sheets survey, choices and settings (text cells only)."""
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets(source_dir).items():
        ws = wb.create_sheet(title)
        for row in rows:
            # Empty cells stay empty; every value is written as text (codes such as "1" too).
            ws.append([value if value != "" else None for value in row])
    props = wb.properties
    props.creator = "Birge survey: survey/instruments/default/build.py"
    props.title = "birge_needs_assessment"
    props.created = FIXED_TIMESTAMP
    props.modified = FIXED_TIMESTAMP
    props.lastModifiedBy = None
    return wb


def _deterministic_bytes(wb: Workbook) -> bytes:
    """Serialise the workbook without openpyxl's "now" timestamps (core.xml and zip entries)."""
    raw = io.BytesIO()
    # save_workbook() would overwrite properties.modified with the current time.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).save()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def build(out_path: Path | str = XLSX_PATH, source_dir: Path = HERE) -> Path:
    """Write the XLSForm built from the CSV sources in ``source_dir`` to ``out_path``."""
    out_path = Path(out_path)
    data = _deterministic_bytes(workbook(source_dir))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(data)
    return out_path


if __name__ == "__main__":
    written = build(sys.argv[1] if len(sys.argv) > 1 else XLSX_PATH)
    print(written)
