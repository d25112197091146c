"""Commands of the fleet package: ``db upgrade``, ``import``, ``export-scenario``, ``users add``."""

from __future__ import annotations

import typer

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="target revision"),
) -> None:
    """Apply migrations to RVROTA_DATABASE_URL."""
    from fleet.migrate import upgrade
    from rvrota.settings import get_settings

    url = get_settings().database_url
    upgrade(url, revision)
    typer.echo(f"database at {revision}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(db_app, name="db")
