"""The `survey` console command: one registry of Birge's command groups, one module per group.

Each command runs in an application built by `create_app` (instance folder and configuration as
for the web app). Only Birge's own commands are offered: no Flask development server, shell or
route listing, no `--app` or `--debug` options, which would only confuse the people running it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# One BLAS thread (set before numpy loads OpenBLAS, which reads it once): the analysis' matrices
# are small (the suppression audit's null spaces, 50 × 90), where a second thread only waits on
# the first; a command or web worker has one core's worth of work. An operator's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click
from flask.cli import ScriptInfo

from survey import create_app

# Each command's module is imported when that command runs (or help lists it): `survey report`
# does not load Alembic (Flask-Migrate's `db` group), the exports, demo or instrument modules.
COMMANDS = {
    "init": ("survey.commands", "init_command"),
    "serve": ("survey.commands", "serve_command"),
    "instruments": ("survey.instruments.commands", "instruments_group"),
    "rounds": ("survey.collection.commands", "rounds_group"),
    "users": ("survey.users.commands", "users_group"),
    "audit": ("survey.users.commands", "audit_command"),
    "demo-data": ("survey.demo.commands", "demo_data_command"),
    "export": ("survey.datasets.commands", "export_command"),
    "snapshot": ("survey.datasets.snapshot_commands", "snapshot_group"),
    "indicators": ("survey.dashboards.commands", "indicators_command"),
    "report": ("survey.reporting.commands", "report_command"),
    "backup": ("survey.commands", "backup_command"),
    "restore": ("survey.commands", "restore_command"),
    # Developers write migrations with `survey db revision --autogenerate` (Flask-Migrate).
    "db": ("flask_migrate.cli", "db"),
}


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

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without importing its module."""
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, its module imported on first use."""
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=BirgeGroup)
def main() -> None:
    """Birge needs-assessment system."""
