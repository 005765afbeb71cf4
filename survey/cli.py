"""The `survey` console command: one registry of Birge's command groups, one module per group.

Each command runs in an application built by `create_app` (instance folder and configuration as
for the web app). Only Birge's own commands are offered: no Flask development server, shell or
route listing, no `--app` or `--debug` options, which would only confuse the people running it.
"""

from __future__ import annotations

from typing import Any

import click
from flask.cli import ScriptInfo
from flask_migrate.cli import db as migrations_group

from survey import create_app
from survey.collection.commands import rounds_group
from survey.commands import backup_command, init_command, restore_command, serve_command
from survey.dashboards.commands import indicators_command
from survey.datasets.commands import export_command
from survey.datasets.snapshot_commands import snapshot_group
from survey.demo.commands import demo_data_command
from survey.instruments.commands import instruments_group
from survey.reporting.commands import report_command
from survey.users.commands import audit_command, users_group


class BirgeGroup(click.Group):
    """A command group whose commands find the app through Flask's ScriptInfo, built on demand."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        """Give every command the app factory (a test runner may pass its own app instead)."""
        extra.setdefault("obj", ScriptInfo(create_app=create_app, set_debug_flag=False))
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=BirgeGroup)
def main() -> None:
    """Birge needs-assessment system."""


for command in (
    init_command,
    serve_command,
    instruments_group,
    rounds_group,
    users_group,
    audit_command,
    demo_data_command,
    export_command,
    snapshot_group,
    indicators_command,
    report_command,
    backup_command,
    restore_command,
):
    main.add_command(command)
# Developers write migrations with `survey db revision --autogenerate` (Flask-Migrate).
main.add_command(migrations_group, "db")
