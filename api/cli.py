"""Commands of this package for the ``rvrota`` console script: ``serve``."""

from __future__ import annotations

import os

import typer

MAX_DEFAULT_WORKERS = 4  # a container may see all of a big host's CPUs


def default_workers(database_url: str) -> int:
    """Worker processes when neither ``--workers`` nor RVROTA_API_WORKERS says.

    PostgreSQL: one per CPU this process may run on, at most 4 (the GIL keeps a process
    on one core; the relays share the outbox through a lease). SQLite: one, as its
    outbox relay is one process's (two would publish the same rows twice).
    """
    if database_url.startswith("sqlite"):
        return 1
    return max(1, min(MAX_DEFAULT_WORKERS, len(os.sched_getaffinity(0))))


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""

    @app.command("serve")
    def serve(
        host: str | None = typer.Option(None, "--host", help="default: RVROTA_API_HOST"),
        port: int | None = typer.Option(None, "--port", help="default: RVROTA_API_PORT"),
        workers: int | None = typer.Option(
            None,
            "--workers",
            min=1,
            help="default: RVROTA_API_WORKERS, else 1 per CPU (max 4; SQLite: 1)",
        ),
    ) -> None:
        """The HTTP API and the web pages (uvicorn)."""
        import sys

        import uvicorn

        from api.app import create_app
        from core.settings import get_settings

        # Requests hop between the event loop and worker threads; a shorter GIL switch
        # interval than the default 5 ms cuts the tail latency of those hops (bench/api.py).
        sys.setswitchinterval(0.0005)
        settings = get_settings()
        the_host = host or settings.api_host
        the_port = port or settings.api_port
        if workers is None:
            workers = settings.api_workers or default_workers(settings.database_url)
        typer.echo(f"rvrota API on http://{the_host}:{the_port} (pages: /login, docs: /docs)")
        if workers > 1:  # each process builds its own app from the environment
            uvicorn.run(
                "api.app:app_from_environment",
                factory=True,
                workers=workers,
                host=the_host,
                port=the_port,
                log_config=None,
                access_log=False,
            )
            return
        uvicorn.run(
            create_app(settings),
            host=the_host,
            port=the_port,
            log_config=None,
            access_log=False,
        )
