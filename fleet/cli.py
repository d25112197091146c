"""Commands of the fleet package: ``db upgrade``, ``import``, ``export-scenario``, ``users add``,
``secret rotate``.

Commands only parse input, open one transaction and call the service functions; an error
in the input exits non-zero with the field named and leaves the database unchanged.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users: dispatchers, site managers, drivers.", no_args_is_help=True)
secret_app = typer.Typer(help="The key that signs access tokens.", no_args_is_help=True)

EXIT_INVALID = 2


def _fail(message: str, code: int = EXIT_INVALID) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _database_url() -> str:
    from core.settings import get_settings

    return get_settings().database_url


def _migrated_engine(url: str) -> Any:
    """An engine on ``url`` with the schema at the newest migration."""
    from fleet.db import make_engine
    from fleet.migrate import upgrade

    alembic_log = logging.getLogger("alembic")
    level = alembic_log.level
    alembic_log.setLevel(logging.WARNING)  # an implicit upgrade is not news
    try:
        upgrade(url)
    finally:
        alembic_log.setLevel(level)
    return make_engine(url)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
) -> None:
    """Apply migrations to RVROTA_DATABASE_URL."""
    from fleet.migrate import upgrade

    upgrade(_database_url(), revision)
    typer.echo(f"database at {revision}")


def import_command(
    scenario_file: Annotated[Path, typer.Argument(help="scenario JSON (rotation-format.md)")],
    region: Annotated[
        str, typer.Option("--region", help="region the depots, sites, vehicles join")
    ] = "default",
) -> None:
    """Load depots, sites and vehicles of a scenario into the database (idempotent)."""
    from fleet.db import session_scope
    from fleet.domain import DomainError
    from fleet.scenario_io import import_scenario
    from solver.load import ScenarioError, parse_scenario

    try:
        data = json.loads(scenario_file.read_text(encoding="utf-8"))
        parse_scenario(data)
    except OSError as exc:
        raise _fail(f"{scenario_file}: cannot read: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(f"{scenario_file}: $: not valid JSON: {exc}") from exc
    except ScenarioError as exc:
        raise _fail(f"{scenario_file}: {exc.path}: {exc.reason}") from exc
    engine = _migrated_engine(_database_url())
    try:
        with session_scope(engine) as db:
            summary = import_scenario(db, data, region)
    except (ScenarioError, DomainError) as exc:
        raise _fail(f"{scenario_file}: {exc}") from exc
    finally:
        engine.dispose()
    typer.echo(
        f"region {summary.region} ({summary.week}): {len(summary.depots)} depots, "
        f"{len(summary.sites)} sites, {len(summary.vehicles)} vehicles"
    )


def export_command(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W48")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="scenario file to write ('-': stdout)")
    ],
    region: Annotated[str, typer.Option("--region", help="region to export")] = "default",
) -> None:
    """Write the live state of a region's week as a scenario (at the service clock's now)."""
    from core.clock import clock_from_settings
    from core.settings import get_settings
    from fleet.db import make_engine, session_scope
    from fleet.domain import DomainError, parse_iso_week
    from fleet.scenario_io import build_scenario

    try:
        parse_iso_week(week)
    except DomainError as exc:
        raise _fail(str(exc)) from exc
    settings = get_settings()
    now = clock_from_settings(settings).now()
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as db:
            doc = build_scenario(db, region, week, now, apply_cancellations=False)
    except DomainError as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
    text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    if str(output) == "-":
        sys.stdout.write(text)
        return
    _write_atomically(output, text)
    typer.echo(
        f"wrote {output}: {len(doc['sites'])} sites, {len(doc['vehicles'])} vehicles", err=True
    )


def _write_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing (a temporary file renamed into place)."""
    directory = path.resolve().parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_password() -> str:
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option("--role", help="dispatcher | site_manager | driver")],
    site: Annotated[
        list[str] | None, typer.Option("--site", help="bound site (site managers; repeatable)")
    ] = None,
    vehicle: Annotated[
        str | None, typer.Option("--vehicle", help="bound vehicle (drivers)")
    ] = None,
) -> None:
    """Create a user; the password is read from stdin (or prompted) and stored hashed."""
    from core.clock import WallClock
    from fleet import audit
    from fleet.db import session_scope
    from fleet.domain import DomainError
    from fleet.users import create_user

    password = _read_password()
    engine = _migrated_engine(_database_url())
    try:
        with session_scope(engine) as db:
            user = create_user(db, name, role, password, sites=site or [], vehicle=vehicle)
            user_id, user_role = user.id, user.role
            audit.record(
                db,
                audit.Action.USER_CREATED,
                user.name,
                WallClock().now(),
                actor="rvrota users add",
                detail={"user_id": user_id, "role": user_role, "sites": site or []},
            )
    except DomainError as exc:
        raise _fail(str(exc)) from exc
    finally:
        engine.dispose()
    typer.echo(f"user {name} ({user_role}) created with id {user_id}")


@secret_app.command("rotate")
def secret_rotate(
    grace_minutes: Annotated[
        float,
        typer.Option(
            "--grace-minutes",
            min=0,
            help="how long tokens signed with the old key keep working (default: they stop now)",
        ),
    ] = 0.0,
) -> None:
    """A new token signing key in the database; every API replica uses it within seconds.

    Tokens signed with the older keys stop working now, or after --grace-minutes. Only for
    a service without RVROTA_SECRET_KEY (with it, change the setting and restart).
    """
    from datetime import timedelta

    from core.clock import WallClock
    from core.settings import get_settings
    from fleet import signing_keys
    from fleet.db import make_engine, session_scope

    if get_settings().secret_key:
        raise _fail(
            "RVROTA_SECRET_KEY is set, so the key is not in the database: "
            "set a new RVROTA_SECRET_KEY and restart the API to rotate it"
        )
    engine = make_engine(_database_url())  # the database the API runs on (migrated already)
    try:
        with session_scope(engine) as db:
            key = signing_keys.rotate(db, WallClock().now(), timedelta(minutes=grace_minutes))
    finally:
        engine.dispose()
    ends = "now" if grace_minutes == 0 else f"in {grace_minutes:g} minutes"
    typer.echo(f"signing key {key.kid} in use; tokens signed with older keys stop {ends}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(db_app, name="db")
    app.add_typer(users_app, name="users")
    app.add_typer(secret_app, name="secret")
    from fleet.workers_cli import workers_app

    app.add_typer(workers_app, name="workers")
    app.command("import")(import_command)
    app.command("export-scenario")(export_command)
