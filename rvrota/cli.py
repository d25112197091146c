"""The ``rvrota`` console script.

The root command is assembled when ``main`` runs: each package contributes its
commands through ``register(app)`` in its ``cli`` module, and heavy imports
(OR-Tools, Faust, FastAPI) happen inside the commands that need them.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = ("solver.cli", "fleet.cli", "streams.cli", "api.cli", "rvrota.demo")


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
        from rvrota.logs import configure_logging
        from rvrota.settings import get_settings

        settings = get_settings()
        configure_logging(settings.log_level, log_json or settings.log_json)

    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(app)
    return app


def main() -> None:
    build_app()()
