"""``rvrota workers ...``: the workers' side from the command line (retention, members)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger(__name__)
workers_app = typer.Typer(help="The workers' side: personal data retention, the member list.")


@workers_app.command("prune")
def prune_command(
    days: Annotated[
        int,
        typer.Option("--days", help="keep this many days (default: RVROTA_RETENTION_DAYS)", min=0),
    ] = 0,
) -> None:
    """Remove member numbers and device ids older than the retention period (counts stay)."""
    from core.clock import clock_from_settings
    from core.settings import get_settings
    from fleet.db import make_engine, session_scope
    from fleet.retention import prune_personal_data

    settings = get_settings()
    keep = days or settings.retention_days
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as db:
            done = prune_personal_data(db, clock_from_settings(settings).now(), keep)
    finally:
        engine.dispose()
    log.info("personal data older than %d days removed: %s", keep, done)
    typer.echo(
        f"older than {keep} days: {done.checkins} check-ins, {done.credits} point credits, "
        f"{done.bookings} bookings, {done.questions} questions anonymised; "
        f"{done.dead_letters} check-in dead letters and {done.throttle_windows} throttle "
        "windows deleted"
    )


@workers_app.command("import-members")
def import_members_command(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="the member list (CSV)")
    ],
) -> None:
    """Import the union's member list (CSV: member_no or 会员号, optional name or 姓名)."""
    from core.clock import clock_from_settings
    from core.settings import get_settings
    from fleet import members
    from fleet.db import make_engine, session_scope

    settings = get_settings()
    try:
        rows = members.parse_member_csv(path.read_text(encoding="utf-8"))
    except (members.MemberListError, UnicodeDecodeError) as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(1) from exc
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as db:
            done = members.import_members(
                db, rows, settings.points_per_checkin, clock_from_settings(settings).now()
            )
    finally:
        engine.dispose()
    typer.echo(f"{done.added} added, {done.updated} updated, {done.credited} check-ins credited")
