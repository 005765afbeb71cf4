"""`survey report`: the working paper as a PDF from the command line, settings in a TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from reports.render import PAGE_WARNING, WORD_WARNING
from survey.extensions import db
from survey.reporting import services
from survey.reporting.settings import LANGUAGES, SettingsError, settings_from_mapping
from survey.reporting.snapshot import ReportDataError

EXAMPLE = """\
# Keys mirror the report settings form; only title and submitted_by are required.
title = "Needs of survivors of nuclear testing"
submitted_by = "Our coalition"
symbol = "TPNW/MSP/2025/NGO/23"   # or "" for a draft
date = 2025-03-03
paper_size = "A4"                 # or "Letter"
rounds = ["2025"]                 # empty: all rounds
review_statuses = ["approved", "pending"]
recommendations_states = \"\"\"
- Support the international trust fund for victims and remediation.
\"\"\"
"""


def read_settings_file(path: Path) -> dict[str, Any]:
    """The TOML settings file as a mapping, or a ClickException saying what is wrong."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise click.ClickException(f"Cannot read {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise click.ClickException(f"{path} is not valid TOML: {error}") from error


@click.command("report")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Where to write the PDF.",
)
@click.option(
    "--lang",
    "language",
    type=click.Choice(LANGUAGES),
    default=None,
    help="Language of the paper (overrides the settings file; default en).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A TOML file with the report settings (keys as on the settings form).",
)
@with_appcontext
def report_command(out: Path, language: str | None, settings_file: Path | None) -> None:
    """Generate the working paper as a PDF (kept in the history too) and write it to --out."""
    data = read_settings_file(settings_file) if settings_file is not None else {}
    if language is not None:
        data["language"] = language
    defaults = {"submitted_by": current_app.config.get("REPORT_SUBMITTED_BY", "")}
    try:
        settings = settings_from_mapping(data, today=services.today(), defaults=defaults)
    except SettingsError as error:
        lines = [f"  {name}: {message}" for name, message in error.problems.items()]
        where = f"in {settings_file}" if settings_file is not None else "(no --settings file)"
        hint = "" if settings_file is not None else "\nExample settings file:\n" + EXAMPLE
        raise click.ClickException(
            f"The report settings {where} are not usable:\n" + "\n".join(lines) + hint
        ) from error
    try:
        report, rendered = services.generate_report(settings, None, via="cli")
    except (ReportDataError, services.ReportError) as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    try:
        out.write_bytes(rendered.pdf)
    except OSError as error:
        raise click.ClickException(
            f"Cannot write {out}: {error.strerror or error} (the report is kept in the "
            f"history as report {report.id})."
        ) from error
    click.echo(
        f"Wrote {out} (report {report.id}, {settings.language}, "
        f"{rendered.pages} pages, {rendered.words} words typed in the narrative, "
        f"SHA-256 {report.pdf_sha256})."
    )
    if rendered.pages > PAGE_WARNING:
        click.echo(
            f"Warning: the paper runs {rendered.pages} pages; NGO working papers usually run 4 "
            f"to {PAGE_WARNING}. Most of it is written from the data: no annex, fewer "
            "quotes or narrower data shorten it.",
            err=True,
        )
    if rendered.words > WORD_WARNING:
        click.echo(
            f"Warning: the narrative has more than {WORD_WARNING} words typed (about 5 pages "
            "before the findings).",
            err=True,
        )
    if rendered.missing:
        click.echo(
            f"Warning: no {settings.language} text for these labels; English is printed:",
            err=True,
        )
        for item in rendered.missing:
            click.echo(f"  - {item}", err=True)
