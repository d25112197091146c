"""The ``rvrota`` console script.

The root command is assembled when ``main`` runs: each package contributes its
commands through ``register(app)`` in its ``cli`` module, registered here by
name, and heavy imports (OR-Tools, Faust, FastAPI) happen inside the commands
that need them.
"""

from __future__ import annotations

import typer

from api import cli as api_cli
from fleet import cli as fleet_cli
from rvrota import demo_command
from solver import cli as solver_cli
from streams import cli as streams_cli


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="rvrota",
        help="Scheduling service for mobile shared workers' homes.",
        no_args_is_help=True,
        add_completion=False,
    )

    @app.callback()
    def _root(
        log_json: bool = typer.Option(False, "--log-json", help="log as JSON lines"),
    ) -> None:
        from pydantic import ValidationError

        from core.logs import configure_logging
        from core.settings import get_settings

        try:
            settings = get_settings()
        except ValidationError as exc:  # e.g. the placeholder secret: say which and stop
            for error in exc.errors():
                typer.echo(f"error: {error['msg'].removeprefix('Value error, ')}", err=True)
            raise typer.Exit(2) from exc
        configure_logging(settings.log_level, log_json or settings.log_json)

    solver_cli.register(app)
    fleet_cli.register(app)
    streams_cli.register(app)
    api_cli.register(app)
    demo_command.register(app)
    return app


def main() -> None:
    build_app()()
