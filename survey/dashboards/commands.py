"""`survey indicators`: the analysis plan's results as one tidy, suppressed table (CSV or HXL)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from sqlalchemy import select

from reports.languages import LANGUAGES
from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES, SurveyRound
from survey.dashboards.exports import audit_indicator_export, indicator_export, write_indicator_csv
from survey.dashboards.filters import Filters, dashboard_instruments
from survey.dashboards.publication import public_scope, publication
from survey.datasets.dataset import load_dataset
from survey.extensions import db
from survey.instruments.models import Instrument


def _instrument(form_id: str | None) -> Instrument:
    """The instrument named by --form-id, or the only one."""
    known = dashboard_instruments()
    names = ", ".join(i.form_id for i in known) or "none yet"
    if form_id is None:
        if len(known) == 1:
            return known[0]
        raise click.ClickException(f"Choose the instrument with --form-id (known: {names}).")
    found = next((i for i in known if i.form_id == form_id), None)
    if found is None:
        raise click.ClickException(f"No instrument with form id {form_id!r} (known: {names}).")
    return found


def _round_id(name: str | None) -> int | None:
    """The id of the round named by --round (None for all rounds)."""
    if name is None:
        return None
    found = db.session.execute(select(SurveyRound.id).where(SurveyRound.name == name)).scalar()
    if found is None:
        names = ", ".join(db.session.execute(select(SurveyRound.name)).scalars()) or "none yet"
        raise click.ClickException(f"No survey round named {name!r} (known: {names}).")
    return int(found)


def _format(out: Path) -> str:
    """csv or hxl, from the name of the output file."""
    name = out.name.lower()
    if name.endswith(".hxl.csv"):
        return "hxl"
    if name.endswith(".csv"):
        return "csv"
    raise click.ClickException("--out must end with .csv, or .hxl.csv for HXL hashtags.")


@click.command("indicators")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write: NAME.csv, or NAME.hxl.csv for a second row of HXL hashtags.",
)
@click.option(
    "--public",
    is_flag=True,
    help="Only the columns advocates may publish (no numerators, don't-know or missing "
    "counts). Small cells are hidden in every export, with or without this flag.",
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
    "--lang",
    type=click.Choice(LANGUAGES),
    default="en",
    show_default=True,
    help="Language of the label columns.",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
@with_appcontext
def indicators_command(
    out: Path,
    public: bool,
    form_id: str | None,
    round_name: str | None,
    statuses: tuple[str, ...],
    include_demo: bool,
    lang: str,
    force: bool,
) -> None:
    """Write every indicator of the analysis plan (estimate, 95% CI, n) as one tidy table.

    Counts from 1 to k-1 (SUPPRESSION_K) and the cells that would reveal them are always
    hidden: their estimate, CI and n are left empty and `suppressed` is true.
    """
    out = out.expanduser().resolve()
    file_format = _format(out)
    if not out.parent.is_dir():
        raise click.ClickException(f"The folder {out.parent} does not exist.")
    if out.exists() and not force:
        raise click.ClickException(f"{out} exists; add --force to replace it.")
    instrument = _instrument(form_id)
    filters = Filters(
        round_id=_round_id(round_name),
        statuses=tuple(s for s in REVIEW_STATUSES if s in (statuses or ANALYSED_STATUSES)),
        include_demo=include_demo,
    )
    dataset = load_dataset(
        list(instrument.versions),
        review_statuses=REVIEW_STATUSES,
        include_demo=True,
        use_cache=False,  # a one-off process: nothing to reuse
    )
    k = int(current_app.config.get("SUPPRESSION_K", 5))
    cut = None
    if public:
        # The advocates' publication itself: its statuses, demo data and round, never others
        if statuses:
            raise click.ClickException(
                "--public writes the advocates' publication: it takes no --status (it holds "
                "the interviews their pages hold: approved, pending where PUBLISH_PENDING "
                "allows, demo data only where PUBLISH_DEMO allows)."
            )
        public_statuses, public_demo = public_scope()
        filters = Filters(
            round_id=filters.round_id, statuses=public_statuses, include_demo=public_demo
        )
        cut = publication(instrument, dataset, filters.round_id, k)
    with force_locale(lang):
        export = indicator_export(
            dataset, filters, language=lang, k=k, public=public, publication=cut
        )
    # Written beside the target, audited and committed, then moved into place: no file
    # leaves without its audit entry.
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, replaced or removed
        "w", encoding="utf-8", newline="", dir=out.parent, prefix=".indicators-", delete=False
    )
    try:
        with handle:
            if file_format == "csv":
                handle.write("\ufeff")  # a byte-order mark, so Excel reads Kazakh and Russian
            write_indicator_csv(export.table, handle, hxl=file_format == "hxl")
        audit_indicator_export(
            instrument,
            filters,
            export,
            public=public,
            file_format=file_format,
            user=None,
            via="cli",
        )
        db.session.commit()
        os.replace(handle.name, out)
    finally:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
    for problem in export.problems:
        click.echo(f"not computed: {problem}", err=True)
    click.echo(
        f"{len(export.table)} rows ({export.suppressed_rows} suppressed, k={k}) from "
        f"{export.respondents} submissions"
    )
    click.echo(f"wrote {out}")
