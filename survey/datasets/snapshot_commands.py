"""`survey snapshot status | rebuild | verify`: the columnar snapshot of this host."""

from __future__ import annotations

import time

import click
import pandas as pd
from flask.cli import with_appcontext

from survey.collection.models import REVIEW_STATUSES
from survey.datasets.dataset import load_dataset
from survey.datasets.snapshot import (
    Store,
    catch_up,
    change_feed_installed,
    database_position,
    snapshot_folder,
)
from survey.extensions import db
from survey.instruments.models import Instrument
from survey.instruments.services import find_instrument, list_instruments


def _instruments(form_id: str | None) -> list[Instrument]:
    if form_id is None:
        return [i for i in list_instruments() if i.versions]
    found = find_instrument(form_id)
    if found is None or not found.versions:
        known = ", ".join(i.form_id for i in list_instruments() if i.versions) or "none yet"
        raise click.ClickException(f"No instrument with form id {form_id!r} (known: {known}).")
    return [found]


@click.group("snapshot")
def snapshot_group() -> None:
    """The columnar snapshot of the answers that datasets are read from."""


@snapshot_group.command("status")
@with_appcontext
def status_command() -> None:
    """Where the snapshot is, how far it has caught up, and its files."""
    store = Store(snapshot_folder())
    manifest = store.read_manifest()
    seq, _epoch = database_position()
    click.echo(f"Folder: {store.folder}")
    click.echo(f"Changes in the database: {seq}; in the snapshot: {manifest.seq}")
    if not change_feed_installed():
        click.echo("WARNING: the database's change triggers are missing (see docs/deployment.md).")
    for key, entry in sorted(manifest.instruments.items()):
        size = sum(
            store.table_path(p.name, t).stat().st_size
            for p in entry.parts
            for t in entry.tables
            if store.table_path(p.name, t).exists()
        )
        rows = entry.parts[0].rows if entry.parts else 0
        click.echo(
            f"Instrument {key}: {len(entry.parts)} part(s), base of {rows} submissions, "
            f"{size / 1e6:.1f} MB"
        )


@snapshot_group.command("rebuild")
@click.option("--form-id", help="Only this instrument (default: all).")
@with_appcontext
def rebuild_command(form_id: str | None) -> None:
    """Build the snapshot again from the database (safe while the app runs)."""
    store = Store(snapshot_folder())
    for instrument in _instruments(form_id):
        started = time.perf_counter()
        manifest = catch_up(store, instrument.id, rebuild=True)
        entry = manifest.instruments.get(str(instrument.id))
        rows = entry.parts[0].rows if entry else 0
        click.echo(
            f"{instrument.form_id}: {rows} submissions in {time.perf_counter() - started:.1f} s"
        )
    db.session.rollback()


@snapshot_group.command("verify")
@click.option("--form-id", help="Only this instrument (default: all).")
@with_appcontext
def verify_command(form_id: str | None) -> None:
    """Compare the snapshot with the answers in the database; exit 1 on any difference."""
    problems = []
    if not change_feed_installed():
        problems.append("the database's change triggers are missing: snapshots fall behind")
    every = {"review_statuses": REVIEW_STATUSES, "include_demo": True, "use_cache": False}
    for instrument in _instruments(form_id):
        versions = list(instrument.versions)
        snapshot = load_dataset(versions, **every)
        database = load_dataset(versions, from_database=True, **every)
        tables = [("respondents", snapshot.respondents, database.respondents)]
        tables += [(n, snapshot.repeats.get(n), f) for n, f in database.repeats.items()]
        for name, left, right in tables:
            try:
                assert left is not None, "missing"
                pd.testing.assert_frame_equal(left, right)
            except AssertionError as error:
                first = str(error).strip().splitlines()[0]
                problems.append(f"{instrument.form_id}, {name}: {first}")
        click.echo(f"{instrument.form_id}: {len(snapshot.respondents)} submissions compared")
    if problems:
        for problem in problems:
            click.echo(f"DIFFERENT: {problem}", err=True)
        raise click.exceptions.Exit(1)
    click.echo("The snapshot equals the database.")
