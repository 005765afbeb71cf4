"""The XLSForm conformance corpus: its forms, what each uses, and what pyxform and ODK make of it.

    .venv/bin/python -m tests.survey.instruments.corpus.survey_corpus --refresh
        recompute manifest.csv: pyxform's conversion, features, ODK's engine on each form
    .venv/bin/python -m tests.survey.instruments.corpus.survey_corpus --known-gaps
        rewrite known_gaps.csv: import every form into a scratch Birge database, list the misses
    .venv/bin/python -m tests.survey.instruments.corpus.survey_corpus --report
        print the baseline figures (forms, organisations, conversions, imports, timings)

Everything here reads the workbooks through pyxform, the reference implementation of XLSForm, so
the manifest describes the forms as ODK and KoboToolbox see them, not as Birge does.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
MANIFEST = CORPUS / "manifest.csv"
SOURCES = CORPUS / "SOURCES.csv"
KNOWN_GAPS = CORPUS / "known_gaps.csv"
FORM_SUFFIXES = (".xlsx", ".xls")
MEDIA_SUFFIX = "-media"

MANIFEST_COLUMNS = [
    "form",
    "sha256",
    "survey_rows",
    "choices_rows",
    "pyxform_converts",
    "pyxform_message",
    "out_of_scope",
    "engine_loads",
    "engine_message",
    "question_types",
    "max_repeat_depth",
    "max_group_depth",
    "appearances",
    "functions",
    "settings",
    "sheets",
    "external_files",
    "label_piping",
]

# Columns whose cells are XPath expressions (pyxform's names and aliases, lower case).
EXPRESSION_COLUMNS = {
    "relevant",
    "relevance",
    "constraint",
    "calculation",
    "calculate",
    "choice_filter",
    "repeat_count",
    "default",
    "required",
    "readonly",
    "read_only",
    "trigger",
}
# Multi-word type spellings pyxform accepts, normalised to one token.
TYPE_SPELLINGS = [
    "select_one_from_file",
    "select_multiple_from_file",
    "select one from file",
    "select multiple from file",
    "select_one_external",
    "select all that apply",
    "select_one",
    "select one",
    "select_multiple",
    "select multiple",
    "begin_group",
    "begin group",
    "end_group",
    "end group",
    "begin_repeat",
    "begin repeat",
    "end_repeat",
    "end repeat",
    "begin_loop",
    "begin loop",
    "end_loop",
    "end loop",
    "phone number",
]
FUNCTION_CALL = re.compile(r"(?<![\w$:{.\-/@])([A-Za-z_][\w\-]*(?::[\w\-]+)?)\s*\(")
NOT_FUNCTIONS = {"and", "or", "div", "mod"}
PULLDATA = re.compile(r"pulldata\s*\(\s*['\"]([^'\"]+)['\"]")
REFERENCE = re.compile(r"\$\{[^}]+\}")
PYXFORM_ROW = re.compile(r"\[row : (\d+)\]")
ODK_SYNTAX_ERROR = "Expression has syntax error"
NAMES_A_SHEET = re.compile(r"\bsheet\b", re.IGNORECASE)
# What an out-of-scope refusal must talk about, by reason (issue 9: "refuse them with a
# sentence that says why"). The generic "this sheet/column is not supported" says what, not why.
OUT_OF_SCOPE_WORDS = {
    "entities sheet": ("entit",),
    "encrypted form (public_key)": ("encrypt",),
}
GENERIC_REFUSAL = re.compile(r"this (sheet|column) is not supported\.?$", re.IGNORECASE)


@dataclass
class Conversion:
    """pyxform's verdict on one workbook."""

    converts: bool
    message: str
    xform: str | None
    seconds: float
    warnings: list[str] = field(default_factory=list)


def corpus_forms() -> list[str]:
    """Every workbook of the corpus, as a path relative to the corpus folder, sorted."""
    forms = []
    for path in CORPUS.rglob("*"):
        if path.suffix.lower() not in FORM_SUFFIXES or path.name.startswith("~$"):
            continue
        if any(part.endswith(MEDIA_SUFFIX) for part in path.relative_to(CORPUS).parts[:-1]):
            continue
        forms.append(path.relative_to(CORPUS).as_posix())
    return sorted(forms)


def form_path(form: str) -> Path:
    """The workbook of a corpus form."""
    return CORPUS / form


def media_folder(form: str) -> Path | None:
    """The folder of form attachments (CSV, XML, media) next to a form, ODK's `<name>-media`."""
    path = form_path(form)
    folder = path.with_name(path.stem + MEDIA_SUFFIX)
    return folder if folder.is_dir() else None


def attachments_of(form: str) -> dict[str, bytes]:
    """The files of a form's media folder, by name, as an admin uploads them with the form."""
    folder = media_folder(form)
    if folder is None:
        return {}
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


# Identifying data an admin confirms at import beyond photos and files (issue 9, part 6): the
# kinds each form needs, as its questions ask for them.
KEEP = {
    # leader_number asks for the community leader's phone number (a regex() constraint).
    "pyxform/bug_example_xls/UCL_Biomass_Plot_Form.xlsx": ("media", "phone_numbers"),
}


def keep_of(form: str) -> tuple[str, ...]:
    """The kinds of identifying data the admin confirms when importing the form."""
    return KEEP.get(form, ("media",))


def sha256_of(form: str) -> str:
    """The SHA-256 of a workbook's bytes."""
    return hashlib.sha256(form_path(form).read_bytes()).hexdigest()


@contextmanager
def _quiet() -> Iterator[None]:
    # Workbooks of all ages make openpyxl and xlrd warn (unknown extensions, data validation).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def convert_with_pyxform(form: str) -> Conversion:
    """Convert a corpus workbook as `xls2xform` does (form name from the file name)."""
    from pyxform.xls2xform import convert

    started = time.perf_counter()
    collected: list[str] = []
    try:
        with _quiet():
            result = convert(xlsform=str(form_path(form)), warnings=collected)
    except Exception as error:  # pyxform refuses with PyXFormError, broken workbooks with others
        name = type(error).__name__
        message = _one_line(str(error)) or name
        if name != "PyXFormError":
            message = f"{name}: {message}"
        return Conversion(False, message, None, time.perf_counter() - started, collected)
    return Conversion(True, "", result.xform, time.perf_counter() - started, collected)


def _cells(rows: Iterable[dict], columns: Iterable[str]) -> Iterator[str]:
    wanted = set(columns)
    for row in rows:
        for key, value in row.items():
            if _column(key) in wanted and value not in (None, ""):
                yield str(value)


def _column(header: object) -> str:
    name = str(header).strip().lower()
    name = name.removeprefix("bind::").removeprefix("body::")
    return name.split("::")[0].split(":")[0] if "label" in name or "hint" in name else name


def _normal_type(cell: str) -> tuple[str, str]:
    text = " ".join(cell.strip().lower().split())
    for spelling in TYPE_SPELLINGS:
        if text == spelling or text.startswith(spelling + " "):
            return spelling.replace(" ", "_"), text[len(spelling) :].strip()
    token, _, rest = text.partition(" ")
    return token, rest


def describe(form: str) -> dict[str, str]:
    """What a workbook uses: sheets, rows, types, nesting, appearances, functions, files."""
    from pyxform.xls2json_backends import get_xlsform

    try:
        with _quiet():
            data = get_xlsform(str(form_path(form)))
    except Exception as error:
        return {"sheets": f"unreadable: {_one_line(str(error), 120)}"}
    survey = list(data.survey or [])
    choices = list(data.choices or [])
    settings = list(data.settings or [])
    entities = list(data.entities or [])
    types: set[str] = set()
    appearances: set[str] = set()
    functions: set[str] = set()
    files: set[str] = set()
    stack: list[str] = []
    max_repeat = max_group = 0
    piping = False
    for row in survey:
        row_types = [str(v) for k, v in row.items() if _column(k) == "type" and v]
        if not row_types:
            continue
        kind, rest = _normal_type(row_types[0])
        types.add(kind)
        if kind.endswith("_from_file") and rest:
            files.add(rest.split()[0])
        if kind == "select_one_external":
            files.add("itemsets.csv")
        if kind.startswith("begin_"):
            stack.append(kind)
            max_group = max(max_group, len(stack))
            max_repeat = max(max_repeat, sum(k != "begin_group" for k in stack))
        elif kind.startswith("end_") and stack:
            stack.pop()
        for value in _cells([row], ["appearance"]):
            appearances.update(value.split())
        for value in _cells([row], EXPRESSION_COLUMNS):
            functions.update(
                name for name in FUNCTION_CALL.findall(value) if name.lower() not in NOT_FUNCTIONS
            )
            files.update(name + ".csv" for name in PULLDATA.findall(value))
        if any(REFERENCE.search(v) for v in _cells([row], ["label", "hint"])):
            piping = True
    for value in _cells(choices, ["choice_filter"]):
        functions.update(FUNCTION_CALL.findall(value))
    settings_used = sorted(
        {str(k).strip() for row in settings[:1] for k, v in row.items() if v not in (None, "")}
    )
    sheets = sorted(str(name).strip().lower() for name in (data.sheet_names or []))
    public_key = any(
        str(k).strip().lower() == "public_key" and v not in (None, "")
        for row in settings[:1]
        for k, v in row.items()
    )
    reasons = []
    if entities:
        reasons.append("entities sheet")
    if public_key:
        reasons.append("encrypted form (public_key)")
    return {
        "survey_rows": str(len(survey)),
        "choices_rows": str(len(choices)),
        "out_of_scope": "; ".join(reasons),
        "question_types": " ".join(sorted(types)),
        "max_repeat_depth": str(max_repeat),
        "max_group_depth": str(max_group),
        "appearances": " ".join(sorted(appearances)),
        "functions": " ".join(sorted(functions)),
        "settings": " ".join(settings_used),
        "sheets": " | ".join(sheets),
        "external_files": " ".join(sorted(files)),
        "label_piping": "yes" if piping else "no",
    }


def odk_cannot_parse(row: dict[str, str]) -> bool:
    """Whether ODK's engine refuses the form for an expression it cannot parse."""
    return row.get("engine_loads") == "no" and row.get("engine_message", "").startswith(
        ODK_SYNTAX_ERROR
    )


def birge_check(
    form: str, row: dict[str, str], importer: Callable[[bytes, str], object]
) -> str | None:
    """None when Birge treats the form as issue 9 requires, else what it does instead.

    A form pyxform converts and that is in scope must import; an out-of-scope form (entities,
    public_key) must be refused with a sentence saying why; a form pyxform refuses must be
    refused with messages that each name a sheet, and name pyxform's row where pyxform has one
    (a file pyxform cannot open at all, whose manifest 'sheets' says "unreadable", with
    messages that name the file).
    pyxform does not parse expressions: a form whose expression ODK's engine cannot parse either
    (engine_message "Expression has syntax error") is refused like a form pyxform refuses.
    `importer(data, filename)` is Birge's import (survey.instruments.services.import_instrument).
    """
    from survey.instruments.xlsform import InstrumentImportError

    path = form_path(form)
    odk_refuses = odk_cannot_parse(row)
    converts = row["pyxform_converts"] == "yes" and not odk_refuses
    try:
        with _quiet():
            importer(path.read_bytes(), path.name)
    except InstrumentImportError as error:
        problems = [str(problem) for problem in error.problems]
        text = " ".join(problems)
        if converts and not row["out_of_scope"]:
            return "refused: " + _one_line(text, 240)
        if converts:
            # The file name does not count ("transportation_encrypted.xls" says nothing).
            reasons = " ".join(
                problem.replace(path.name, "")
                for problem in problems
                if not GENERIC_REFUSAL.search(problem)
            ).lower()
            for reason in row["out_of_scope"].split("; "):
                if not any(word in reasons for word in OUT_OF_SCOPE_WORDS[reason]):
                    return f"refused without saying why ({reason}): " + _one_line(text, 200)
            return None
        # Where pyxform opens no sheet of the file at all (an .xls under an .xlsx name), a
        # refusal that names the file is located too.
        whole_file = row["sheets"].startswith("unreadable:")
        unlocated = [
            problem
            for problem in problems
            if not NAMES_A_SHEET.search(problem) and not (whole_file and path.name in problem)
        ]
        if unlocated:
            return "refusal names no sheet: " + _one_line(unlocated[0], 200)
        match = PYXFORM_ROW.search(row["pyxform_message"])
        if match and not any(re.search(rf"\brow {match.group(1)}\b", p) for p in problems):
            return f"refusal does not name pyxform's row {match.group(1)}: " + _one_line(text, 200)
        return None
    except Exception as error:  # a crash is a finding too: record it, do not stop the run
        return f"crashed: {type(error).__name__}: {_one_line(str(error), 200)}"
    if odk_refuses:
        return "imported a form ODK cannot read (" + _one_line(row["engine_message"], 120) + ")"
    if not converts:
        return "imported a form pyxform refuses (" + _one_line(row["pyxform_message"], 120) + ")"
    if row["out_of_scope"]:
        return f"imported an out-of-scope form ({row['out_of_scope']})"
    return None


def manifest_row(form: str, conversion: Conversion) -> dict[str, str]:
    """The manifest columns that pyxform and the workbook decide (not the engine's)."""
    row = {column: "" for column in MANIFEST_COLUMNS}
    row.update(describe(form))
    row["form"] = form
    row["sha256"] = sha256_of(form)
    row["pyxform_converts"] = "yes" if conversion.converts else "no"
    row["pyxform_message"] = conversion.message
    return row


def inspect_form(form: str) -> tuple[Conversion, dict[str, str]]:
    """pyxform's conversion of a form and its manifest row (picklable, for a process pool)."""
    conversion = convert_with_pyxform(form)
    return conversion, manifest_row(form, conversion)


def read_manifest() -> dict[str, dict[str, str]]:
    """manifest.csv by form."""
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return {row["form"]: row for row in csv.DictReader(handle)}


def read_sources() -> dict[str, dict[str, str]]:
    """SOURCES.csv by file."""
    with SOURCES.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def read_known_gaps() -> dict[str, str]:
    """known_gaps.csv: form → what blocks its import into Birge today."""
    if not KNOWN_GAPS.exists():
        return {}
    with KNOWN_GAPS.open(newline="", encoding="utf-8") as handle:
        return {row["form"]: row["blocked_by"] for row in csv.DictReader(handle)}


def write_csv(path: Path, columns: list[str], rows: Iterable[dict[str, str]]) -> None:
    """Write rows with a fixed column order and Unix line ends (stable diffs)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def engine_jobs(conversions: dict[str, Conversion], folder: Path) -> list[dict]:
    """Write each convertible form's XForm to `folder`; the jobs for tests/odk/fill.mjs."""
    jobs = []
    for index, (form, conversion) in enumerate(sorted(conversions.items())):
        if conversion.xform is None:
            continue
        target = folder / f"{index:03d}-{form_path(form).stem}.xml"
        target.write_text(conversion.xform, encoding="utf-8")
        media = media_folder(form)
        jobs.append(
            {
                "id": form,
                "form": str(target),
                "attachments": str(media) if media else None,
                "repeats": 2,
                # Attachments a source repository does not publish (FMTM's GeoJSON of the
                # features to map, for one) load as empty, as ODK Collect does without them.
                "missing": "BLANK",
            }
        )
    return jobs


def engine_verdict(result: dict) -> tuple[str, str]:
    """(engine_loads, engine_message) for the manifest from one fill.mjs result."""
    notes = []
    if result.get("form_attachments_missing"):
        missing = " ".join(sorted(set(result["form_attachments_missing"])))
        notes.append(f"attachments not in the source repository, loaded empty: {missing}")
    if result["status"] == "invalid":
        notes.append("serialised with violations: " + "; ".join(result["errors"]))
    if result["status"] in ("ok", "invalid"):
        return "yes", _one_line(" | ".join(notes), 400)
    return "no", _one_line(" | ".join([*result["errors"], *notes]) or result["status"], 400)


def refresh() -> None:
    """Recompute manifest.csv from the workbooks, pyxform and ODK's engine."""
    from tests.odk_engine import fill_batch

    forms = corpus_forms()
    inspected = {form: inspect_form(form) for form in forms}
    conversions = {form: conversion for form, (conversion, _row) in inspected.items()}
    rows = {form: row for form, (_conversion, row) in inspected.items()}
    with tempfile.TemporaryDirectory() as folder:
        jobs = engine_jobs(conversions, Path(folder))
        results = fill_batch(jobs, timeout=900)
    for job, result in zip(jobs, results, strict=True):
        rows[job["id"]]["engine_loads"], rows[job["id"]]["engine_message"] = engine_verdict(result)
    for form in forms:
        if conversions[form].xform is None:
            rows[form]["engine_loads"] = "n/a"
    write_csv(MANIFEST, MANIFEST_COLUMNS, (rows[form] for form in forms))
    print(f"{len(forms)} forms written to {MANIFEST.relative_to(CORPUS.parents[3])}")


def refresh_known_gaps() -> None:
    """Import every form into a scratch Birge database; write known_gaps.csv from the misses."""
    from flask_migrate import upgrade

    from survey import create_app
    from survey.extensions import db
    from survey.instruments.services import import_instrument

    manifest = read_manifest()
    gaps = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "corpus-known-gaps",
                "DATABASE_URL": f"sqlite:///{folder}/corpus.sqlite3",
            },
            instance_path=f"{folder}/instance",
        )
        with app.app_context():
            upgrade(directory=str(CORPUS.parents[3] / "survey" / "migrations"))
            for form in sorted(manifest):
                files = attachments_of(form)
                problem = birge_check(
                    form,
                    manifest[form],
                    # As the tests import: with the form's files, and the identifying data
                    # (photos, phone numbers) it needs confirmed by the admin.
                    lambda data, name, files=files, form=form: import_instrument(
                        data, name, attachments=files, keep=keep_of(form)
                    ),
                )
                db.session.rollback()
                if problem is not None:
                    gaps.append({"form": form, "blocked_by": problem})
            db.engine.dispose()
    write_csv(KNOWN_GAPS, ["form", "blocked_by"], gaps)
    print(f"{len(gaps)} of {len(manifest)} forms are known gaps")


def report() -> None:
    """Print the baseline figures of the corpus."""
    manifest = read_manifest()
    sources = read_sources()
    gaps = read_known_gaps()
    forms = sorted(manifest)
    organisations = {sources[f]["organisation"] for f in forms if f in sources}
    repositories = {sources[f]["repository"] for f in forms if f in sources}
    converts = [f for f in forms if manifest[f]["pyxform_converts"] == "yes"]
    in_scope = [f for f in converts if not manifest[f]["out_of_scope"]]
    loads = [f for f in converts if manifest[f]["engine_loads"] == "yes"]
    imports = [f for f in in_scope if f not in gaps]
    pyxform_examples = [f for f in forms if f.startswith("pyxform/")]
    largest = max(forms, key=lambda f: int(manifest[f]["survey_rows"] or 0))
    started = time.perf_counter()
    convert_with_pyxform(largest)
    seconds = time.perf_counter() - started
    real = len(forms) - len(pyxform_examples)
    print(
        f"forms: {len(forms)} ({real} real-world forms + {len(pyxform_examples)} pyxform examples)"
    )
    print(f"organisations: {len(organisations)}; repositories: {len(repositories)}")
    print(f"pyxform converts: {len(converts)} of {len(forms)}")
    print(f"out of scope (entities, public_key) among those: {len(converts) - len(in_scope)}")
    print(f"ODK's engine loads, fills and serialises: {len(loads)} of {len(converts)}")
    print(f"Birge imports today: {len(imports)} of {len(in_scope)} in-scope convertible forms")
    real_imports = [f for f in imports if not f.startswith("pyxform/")]
    real_in_scope = [f for f in in_scope if not f.startswith("pyxform/")]
    print(f"  of which real-world forms: {len(real_imports)} of {len(real_in_scope)}")
    print(
        "Birge as issue 9 requires (imports, or refuses rightly): "
        f"{len(forms) - len(gaps)} of {len(forms)}"
    )
    print(
        f"largest form: {largest}, {manifest[largest]['survey_rows']} survey rows, "
        f"pyxform conversion {seconds:.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: --refresh or --report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refresh", action="store_true", help="recompute manifest.csv")
    parser.add_argument(
        "--known-gaps", action="store_true", help="rewrite known_gaps.csv from Birge's imports"
    )
    parser.add_argument("--report", action="store_true", help="print the baseline figures")
    options = parser.parse_args(argv)
    if options.refresh:
        refresh()
    if options.known_gaps:
        refresh_known_gaps()
    if options.report or not (options.refresh or options.known_gaps):
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
