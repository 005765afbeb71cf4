"""`survey instruments import|list`: XLSForms from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from survey.extensions import db


@click.group("instruments")
def instruments_group() -> None:
    """Import and list instruments (XLSForms)."""


@instruments_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keep",
    multiple=True,
    # xlsform.IDENTIFYING_KINDS, spelled out: importing pyxform would slow every command down.
    type=click.Choice(["precise_location", "device_ids", "media", "phone_numbers"]),
    help="Identifying data the form must keep (otherwise coarsened, not stored or refused).",
)
@click.option(
    "--attach",
    "attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file the form refers to (CSV, GeoJSON, XML, media); repeat for each file.",
)
@click.option(
    "--confirm-changes",
    is_flag=True,
    help="Publish a version that removes or retypes questions of the previous one.",
)
@with_appcontext
def instruments_import(
    path: Path, keep: tuple[str, ...], attach: tuple[Path, ...], confirm_changes: bool
) -> None:
    """Import an XLSForm (.xlsx or .xls, or a .zip of it and its files) as a new version."""
    from survey.instruments.services import SummaryLine, import_instrument
    from survey.instruments.xlsform import InstrumentImportError

    try:
        version, warnings = import_instrument(
            path.read_bytes(),
            path.name,
            keep=keep,
            confirm_changes=confirm_changes,
            attachments={file.name: file.read_bytes() for file in attach},
        )
    except InstrumentImportError as error:
        db.session.rollback()
        raise click.ClickException(
            "The file was not imported:\n  " + "\n  ".join(error.problems)
        ) from None
    db.session.commit()
    click.echo(f"Imported {version.instrument.form_id} version {version.version}.")
    # The summary states facts (intake rules, screening, locations); only warnings say so.
    for line in warnings:
        if isinstance(line, SummaryLine):
            click.echo(f"  {line}")
        else:
            click.echo(f"warning: {line}", err=True)


@instruments_group.command("list")
@with_appcontext
def instruments_list() -> None:
    """List instruments and their versions."""
    from survey.instruments.services import list_instruments

    instruments = list_instruments()
    if not instruments:
        click.echo("No instrument yet. Run 'survey init' or 'survey instruments import FILE'.")
    for instrument in instruments:
        versions = ", ".join(v.version for v in instrument.versions)
        click.echo(f"{instrument.form_id}\t{instrument.title}\tversions: {versions}")
