"""`survey export`: microdata to a file from the command line (registered by survey.cli)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES, SurveyRound
from survey.datasets.dataset import load_dataset
from survey.datasets.deidentify import (
    FORMATS,
    LANGUAGES,
    ExportError,
    ExportReport,
    prepare_export,
)
from survey.datasets.exports import audit_export, export_files
from survey.extensions import db
from survey.instruments.models import Instrument
from survey.instruments.services import find_instrument, list_instruments

SUFFIXES = {"csv": (".csv", ".zip"), "xlsx": (".xlsx",), "sav": (".sav", ".zip")}


def _instrument(form_id: str | None) -> Instrument:
    known = [i for i in list_instruments() if i.versions]
    if form_id is None:
        if len(known) == 1:
            return known[0]
        names = ", ".join(i.form_id for i in known) or "none yet"
        raise click.ClickException(f"Choose the instrument with --form-id (known: {names}).")
    instrument = find_instrument(form_id)
    if instrument is None or not instrument.versions:
        names = ", ".join(i.form_id for i in known) or "none yet"
        raise click.ClickException(f"No instrument with form id {form_id!r} (known: {names}).")
    return instrument


def _round(name: str | None) -> SurveyRound | None:
    if name is None:
        return None
    found = db.session.execute(
        select(SurveyRound).where(SurveyRound.name == name)
    ).scalar_one_or_none()
    if found is None:
        names = ", ".join(db.session.execute(select(SurveyRound.name)).scalars()) or "none yet"
        raise click.ClickException(f"No survey round named {name!r} (known: {names}).")
    return found


def _check_out(out: Path, fmt: str, force: bool) -> None:
    if out.suffix.lower() not in SUFFIXES[fmt]:
        allowed = " or ".join(SUFFIXES[fmt])
        raise click.ClickException(f"--out must end with {allowed} for --format {fmt}.")
    if not out.parent.is_dir():
        raise click.ClickException(f"The folder {out.parent} does not exist.")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; add --force to replace it.")


def disclosure_lines(report: ExportReport) -> list[str]:
    """The risk figures, information kept and verdict, as the command prints them."""
    summary = report.disclosure
    if summary is None:
        return []
    lines = [f"disclosure rules: k={summary.k}, global risk at most {summary.max_global_risk:.1%}"]
    for name, risk in (
        ("respondents before", summary.risk_before),
        ("respondents", summary.risk_after),
        ("members", summary.member_risk_after),
    ):
        if risk is not None:
            lines.append(
                f"risk {name}: {risk.records} records, {risk.sample_uniques} sample uniques, "
                f"{risk.records_below_k} below k, max individual {risk.max_individual_risk:.4f}, "
                f"expected re-identifications {risk.expected_reidentifications:.2f}, "
                f"global {risk.global_risk:.2%}"
            )
    for recoding in summary.recodings:
        lines.append(f"recoded: {recoding}")
    for loss in summary.key_losses():
        lines.append(
            f"kept {loss.column}: {loss.available_share:.1%} "
            f"({loss.kept_share:.1%} exactly as answered, {loss.blanked} of {loss.values} blanked)"
        )
    lines.append(
        f"kept together ({', '.join(summary.key_variables)}): "
        f"{summary.key_variables_kept_together:.1%}; rosters cut from their household: "
        f"{summary.rosters_unlinked}"
    )
    verdict = summary.verdict
    lines.append("verdict: " + ("publishable" if verdict.publishable else "REFUSED"))
    for code, figures in (*verdict.refusals, *verdict.warnings):
        lines.append(f"  {code}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    return lines


@click.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="File format.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write. For csv and sav, a .zip holds every table; a .csv/.sav name gets "
    "the roster, codebook and about files beside it (NAME_member.csv, NAME_codebook.csv, …).",
)
@click.option("--labels", is_flag=True, help="Write answer labels instead of codes (csv, xlsx).")
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="Label language."
)
@click.option("--form-id", help="The instrument (needed when there are several).")
@click.option("--round", "round_name", help="Only this survey round (by name).")
@click.option(
    "--status",
    "statuses",
    type=click.Choice(REVIEW_STATUSES),
    multiple=True,
    help="Review statuses to include (repeatable; default: pending and approved).",
)
@click.option("--include-demo", is_flag=True, help="Include demo submissions.")
@click.option(
    "--identified",
    is_flag=True,
    help="Do NOT de-identify: free text, settlements, exact ages, times, volunteers. "
    "For data checks inside the team only.",
)
@click.option("--force", is_flag=True, help="Replace existing files.")
@with_appcontext
def export_command(
    fmt: str,
    out: Path,
    labels: bool,
    lang: str,
    form_id: str | None,
    round_name: str | None,
    statuses: tuple[str, ...],
    include_demo: bool,
    identified: bool,
    force: bool,
) -> None:
    """Export the answers of an instrument (all its versions) for analysis."""
    out = out.expanduser().resolve()
    _check_out(out, fmt, force)
    if labels and fmt == "sav":
        click.echo("note: .sav files always hold codes with value labels; --labels is ignored.")
    instrument = _instrument(form_id)
    survey_round = _round(round_name)
    statuses = statuses or ANALYSED_STATUSES
    if identified:
        click.echo(
            "WARNING: identified export. It can reveal who respondents are: keep it inside "
            "the team and delete it after use.",
            err=True,
        )
    dataset = load_dataset(
        list(instrument.versions),
        rounds=[survey_round] if survey_round is not None else None,
        review_statuses=statuses,
        include_demo=include_demo,
        use_cache=False,  # a one-off process: nothing to reuse
    )
    try:
        prepared = prepare_export(
            dataset,
            fmt=fmt,
            labels=labels and fmt != "sav",
            language=lang,
            deidentify=not identified,
        )
    except ExportError as error:
        raise click.ClickException(str(error)) from None
    for line in disclosure_lines(prepared.report):
        click.echo(line)
    if not prepared.report.publishable:
        raise click.ClickException(
            "REFUSED: the file would not be safe to publish; nothing written."
        )
    if prepared.report.deidentified and prepared.report.rows.get("respondents", 0) == 0:
        raise click.ClickException(
            "The export would be empty: no interview matches, or none could be kept without "
            "revealing who answered; nothing written."
        )
    # Write beside the target first, audit and commit, then move into place: no file leaves
    # without its audit entry.
    folder = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))
    try:
        written = export_files(prepared, fmt, folder / out.name)
        report = prepared.report
        audit_export(
            instrument,
            report,
            round_name=survey_round.name if survey_round is not None else "all",
            review_statuses=statuses,
            include_demo=include_demo,
            user=None,
            via="cli",
            file_format=fmt,
        )
        db.session.commit()
        final = []
        for path in written.values():
            target = out.parent / path.name
            os.replace(path, target)
            final.append(target)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for name, count in report.rows.items():
        click.echo(f"{name}: {count} rows")
    for check in report.checks:
        click.echo(
            f"k-anonymity (k={check.k}) {check.table}: {check.records_at_risk} of "
            f"{check.records} records at risk"
            + (
                f"; {check.records_suppressed} suppressed ({check.values_blanked} values "
                f"blanked), {check.records_dropped} dropped"
                if report.deidentified
                else " (not suppressed: identified export)"
            )
        )
    if dataset.excluded:
        left_out = ", ".join(f"{k}: {v}" for k, v in sorted(dataset.excluded.items()))
        click.echo(f"left out: {left_out}")
    for path in final:
        click.echo(f"wrote {path}")
