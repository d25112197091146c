"""The ``demo`` command's signature, registered by the console script: the demo itself
(``rvrota.demo``, which imports the service's settings and the stream contracts) is
imported only when the command runs, so that other commands start without it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCENARIO = REPO.parent / "shared" / "scenarios" / "taishang-week.json"
DEFAULT_SPEED = 720.0  # one simulated hour every 5 real seconds: a week in 14 minutes
DEFAULT_HOME = Path("var") / "demo"


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root app."""

    @app.command("demo")
    def demo(
        scenario: Annotated[
            Path,
            typer.Argument(help="scenario file (rvrota.scenario/1)", show_default=False),
        ] = DEFAULT_SCENARIO,
        speed: Annotated[
            float, typer.Option("--speed", min=0.001, help="simulated seconds per real second")
        ] = DEFAULT_SPEED,
        duration: Annotated[
            float | None,
            typer.Option("--duration", min=1, help="stop by itself after this many real seconds"),
        ] = None,
        workers: Annotated[
            int, typer.Option("--workers", min=1, max=16, help="stream workers")
        ] = 1,
        home: Annotated[
            Path, typer.Option("--home", help="where each run's database and logs go")
        ] = DEFAULT_HOME,
    ) -> None:
        """The whole system on embedded defaults, playing a live week at a fast clock."""
        from core.settings import get_settings
        from rvrota.demo import DemoOptions, run_demo

        options = DemoOptions(
            scenario=scenario, speed=speed, duration=duration, workers=workers, home=home
        )
        code = run_demo(options, get_settings(), typer.echo)
        raise typer.Exit(code)
