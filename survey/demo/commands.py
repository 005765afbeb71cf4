"""`survey demo-data`: synthetic demo submissions from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from survey.extensions import db


@click.command("demo-data")
@click.option(
    "--n", "count", required=True, type=click.IntRange(1, 2_000_000), help="How many to add."
)
@click.option("--seed", required=True, type=int, help="The same seed gives the same data.")
@click.option("--form-id", default="birge_needs_assessment", show_default=True)
@click.option("--round", "round_name", help="Round name (default: the current round).")
@with_appcontext
def demo_data_command(count: int, seed: int, form_id: str, round_name: str | None) -> None:
    """Add synthetic demo submissions (marked is_demo) made with the instrument's latest version."""
    import time

    from survey.collection.models import SurveyRound
    from survey.collection.rounds import current_round
    from survey.demo import DemoDataError, write_demo_data
    from survey.instruments.services import find_instrument, latest_version

    instrument = find_instrument(form_id)
    version = latest_version(instrument) if instrument is not None else None
    if version is None:
        raise click.ClickException(
            f"No instrument with form id {form_id!r}. See 'survey instruments list'."
        )
    if round_name is not None:
        survey_round = db.session.execute(
            select(SurveyRound).where(SurveyRound.name == round_name)
        ).scalar_one_or_none()
        if survey_round is None:
            raise click.ClickException(
                f"No survey round named {round_name!r}. See 'survey rounds list'."
            )
    else:
        survey_round = current_round()
        if survey_round is None:
            raise click.ClickException("No survey round has started. Add one: 'survey rounds add'.")
    started = time.perf_counter()
    try:
        written = write_demo_data(version, survey_round, count, seed)
    except DemoDataError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    elapsed = time.perf_counter() - started
    already = count - written
    click.echo(
        f"Wrote {written} demo submissions ({form_id} {version.version}, round "
        f"{survey_round.name}) in {elapsed:.1f} s"
        + (f"; {already} from this seed were already stored." if already else ".")
    )
