"""`survey rounds add|list`: survey rounds (campaigns) from the command line."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from survey.extensions import db


@click.group("rounds")
def rounds_group() -> None:
    """Survey rounds (campaigns)."""


@rounds_group.command("add")
@click.argument("name")
@click.option("--starts", "starts_on", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--ends", "ends_on", type=click.DateTime(["%Y-%m-%d"]))
@with_appcontext
def rounds_add(name: str, starts_on: dt.datetime, ends_on: dt.datetime | None) -> None:
    """Add a survey round."""
    from survey.collection.rounds import RoundError, create_round

    try:
        create_round(name, starts_on.date(), ends_on.date() if ends_on else None)
    except RoundError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(f"Added round {name}.")


@rounds_group.command("list")
@with_appcontext
def rounds_list() -> None:
    """List survey rounds."""
    from survey.collection.rounds import list_rounds

    for survey_round in list_rounds():
        click.echo(f"{survey_round.name}\t{survey_round.starts_on}\t{survey_round.ends_on or ''}")
