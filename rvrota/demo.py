"""``rvrota demo``: the whole system on embedded defaults, playing a live week.

The demo starts a private local Kafka broker, a fresh SQLite database (unless
``RVROTA_DATABASE_URL`` is set), imports a scenario, creates one user per role,
starts the stream worker(s) and the API as child processes that share one
simulated clock, asks for a first plan and then plays the week: gate counts
every morning, a headcount surge posted by a site manager, an RV breaking down
and coming back (posted by its driver). It stops everything it started on
Ctrl-C / SIGTERM or after ``--duration`` seconds.

The week's script is pure (:mod:`rvrota.week_script`); child processes are
supervised by :mod:`rvrota.supervisor`; this module holds the set-up
(:func:`prepare`: broker, database, users, children), the live loop
(:func:`play`) and the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from core.clock import SimulatedClock
from core.settings import Settings
from fleet.events import PLANS_TOPIC
from rvrota.supervisor import ChildExited, Children
from rvrota.week_script import (
    ScriptedEvent,
    ScriptError,
    WeekScript,
    api_request,
    event_message,
    iso_week,
    live_week,
)

log = logging.getLogger(__name__)

DEFAULT_REGION = "default"


ROLES = ("dispatcher", "site_manager", "driver")

Echo = Callable[[str], None]


class DemoError(RuntimeError):
    """The demo could not start or a part of it died."""


# --- set-up -------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOptions:
    scenario: Path
    speed: float
    duration: float | None
    workers: int
    home: Path
    region: str = DEFAULT_REGION


@dataclass
class Credentials:
    role: str
    name: str
    password: str
    binding: str


@dataclass
class DemoRun:
    """What :func:`prepare` set up and :func:`shutdown` takes down."""

    options: DemoOptions
    run_dir: Path
    settings: Settings
    script: WeekScript
    clock: SimulatedClock
    env: dict[str, str]
    api_url: str
    worker_urls: list[str]
    users: dict[str, Credentials]
    children: Children = field(default_factory=Children)
    broker: Any = None  # streams.kafka_local.BrokerConfig when the demo started a broker


def _rvrota_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "rvrota", *args]


def _child_env(settings: Settings, run: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(run)
    env.setdefault("RVROTA_ENVIRONMENT", settings.environment)
    return env


def _demo_users(script: WeekScript) -> dict[str, Credentials]:
    return {
        "dispatcher": Credentials("dispatcher", "dispatcher", secrets.token_urlsafe(9), "all"),
        "site_manager": Credentials(
            "site_manager", "site-manager", secrets.token_urlsafe(9), script.surge_site
        ),
        "driver": Credentials(
            "driver", "driver", secrets.token_urlsafe(9), script.breakdown_vehicle
        ),
    }


def load_database(
    url: str, scenario: dict[str, Any], region: str, users: Iterable[Credentials]
) -> None:
    """Migrate the database, import the scenario and create the users, in one transaction."""
    from fleet.db import make_engine, session_scope
    from fleet.domain import DomainError
    from fleet.migrate import upgrade
    from fleet.scenario_io import import_scenario
    from fleet.users import create_user, get_user_by_name, rebind_user, set_password

    upgrade(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as db:
            import_scenario(db, scenario, region)
            for user in users:
                sites = [user.binding] if user.role == "site_manager" else []
                vehicle = user.binding if user.role == "driver" else None
                existing = get_user_by_name(db, user.name)
                if existing is None or existing.id is None:
                    create_user(db, user.name, user.role, user.password, sites, vehicle)
                elif existing.role != user.role:
                    raise DemoError(
                        f"the database already has a user {user.name!r} with role "
                        f"{existing.role!r}; use an empty database for the demo"
                    )
                else:  # a demo run before on the same database: new password, same binding
                    set_password(db, existing.id, user.password)
                    rebind_user(db, existing.id, sites, vehicle)
    except DomainError as exc:
        raise DemoError(f"loading the demo data failed: {exc}") from exc
    finally:
        engine.dispose()


def prepare(options: DemoOptions, settings: Settings, echo: Echo) -> DemoRun:
    """Broker, database, scenario, users and child processes; the caller must
    call :func:`shutdown` on the result, whatever happens next."""
    from solver.load import ScenarioError, load_scenario_file

    try:
        load_scenario_file(options.scenario)
    except (ScenarioError, OSError) as exc:
        raise DemoError(f"{options.scenario}: {exc}") from exc
    scenario = json.loads(options.scenario.read_text(encoding="utf-8"))
    try:
        script = live_week(scenario)
    except ScriptError as exc:
        raise DemoError(f"{options.scenario}: {exc}") from exc

    run_dir = (options.home / time.strftime("%Y%m%d-%H%M%S")).resolve()
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = run_dir.with_name(f"{run_dir.name.split('.')[0]}.{suffix}")
    run_dir.mkdir(parents=True)

    if "database_url" in settings.model_fields_set:
        database_url = settings.database_url
    else:
        database_url = f"sqlite:///{run_dir / 'rvrota.db'}"

    external_kafka = "kafka_bootstrap" in settings.model_fields_set
    run = DemoRun(
        options=options,
        run_dir=run_dir,
        settings=settings,
        script=script,
        clock=SimulatedClock(script.clock_start, options.speed),
        env={},
        api_url=f"http://{settings.api_host}:{settings.api_port}",
        worker_urls=[],
        users=_demo_users(script),
    )
    try:
        if external_kafka:
            bootstrap = settings.kafka_bootstrap
            echo(f"Kafka: using {bootstrap} (RVROTA_KAFKA_BOOTSTRAP)")
        else:
            from streams import kafka_local

            broker = kafka_local.BrokerConfig(
                home=run_dir / "kafka",
                port=settings.kafka_port,
                controller_port=settings.kafka_controller_port,
                partitions=settings.kafka_partitions,
            )
            echo(f"Kafka: starting a local broker on {broker.bootstrap} ...")
            run.broker = broker
            try:
                kafka_local.start(broker)
            except kafka_local.KafkaLocalError as exc:
                raise DemoError(
                    f"the local Kafka broker did not start: {exc} (choose other ports with "
                    "RVROTA_KAFKA_PORT / RVROTA_KAFKA_CONTROLLER_PORT, or use a running "
                    "cluster with RVROTA_KAFKA_BOOTSTRAP)"
                ) from exc
            bootstrap = broker.bootstrap

        base_env = {
            "RVROTA_DATABASE_URL": database_url,
            "RVROTA_KAFKA_BOOTSTRAP": bootstrap,
        }
        echo(f"database: {database_url}")
        load_database(database_url, scenario, options.region, run.users.values())
        echo(
            f"imported {options.scenario.name} into region {options.region!r}: "
            f"{len(scenario['sites'])} sites, {len(scenario['vehicles'])} vehicles; "
            f"{len(run.users)} users"
        )

        anchor = time.time()
        run.clock = SimulatedClock(script.clock_start, options.speed, anchor)
        run.env = _child_env(
            settings,
            {
                **base_env,
                "RVROTA_CLOCK_START": script.clock_start.isoformat(),
                "RVROTA_CLOCK_SPEED": repr(options.speed),
                "RVROTA_CLOCK_ANCHOR": repr(anchor),
                "RVROTA_SECRET_KEY": secrets.token_hex(32),
            },
        )
        for i in range(options.workers):
            port = settings.worker_port + i
            env = {**run.env, "RVROTA_WORKER_PORT": str(port)}
            run.children.start(
                f"worker-{i + 1}", _rvrota_command("worker"), env, run_dir / f"worker-{i + 1}.log"
            )
            run.worker_urls.append(f"http://127.0.0.1:{port}")
        run.children.start(
            "api",
            _rvrota_command("serve", "--host", settings.api_host, "--port", str(settings.api_port)),
            run.env,
            run_dir / "api.log",
        )
    except BaseException:
        shutdown(run, echo)
        raise
    return run


def shutdown(run: DemoRun, echo: Echo) -> None:
    """Stop the children, then the broker the demo started. Safe to call twice."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this
    try:
        if run.children.children:
            echo("stopping the API and the worker(s) ...")
            run.children.stop()
        if run.broker is not None:
            from streams import kafka_local

            echo("stopping the Kafka broker ...")
            kafka_local.stop(run.broker)
            run.broker = None
    finally:
        signal.signal(signal.SIGINT, previous)


# --- the live week ------------------------------------------------------------


@dataclass
class Progress:
    plans: list[dict[str, Any]] = field(default_factory=list)
    events_sent: int = 0
    api_errors: int = 0


def _plan_summary(plan: dict[str, Any]) -> str:
    stats = plan.get("stats") or {}
    sessions = plan.get("sessions") or []
    objective = stats.get("objective")
    gap = stats.get("gap")
    parts = [
        f"plan v{plan.get('version', '?')} for {plan.get('region', '?')} {plan.get('week', '?')}",
        f"{len(sessions)} sessions",
    ]
    if isinstance(objective, int | float):
        parts.append(f"objective {objective:,.1f}")
    if isinstance(gap, int | float):
        parts.append(f"gap {gap:.2%}")
    unserved = plan.get("unserved")
    if isinstance(unserved, list):
        parts.append(f"{len(unserved)} sites unserved")
    return ", ".join(parts)


async def _watch_plans(bootstrap: str, progress: Progress, echo: Echo, clock: Any) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        PLANS_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async for message in consumer:
            try:
                plan = json.loads(message.value or b"{}")
            except ValueError:
                log.warning("not JSON on %s at offset %d", PLANS_TOPIC, message.offset)
                continue
            if not isinstance(plan, dict):
                continue
            progress.plans.append(plan)
            echo(f"[{_sim(clock.now())}] published: {_plan_summary(plan)}")
    finally:
        await consumer.stop()


def _sim(moment: datetime) -> str:
    return moment.strftime("%a %Y-%m-%d %H:%M")


async def _wait_ready(run: DemoRun, timeout: float = 180.0) -> None:
    import httpx

    urls = [run.api_url + "/readyz", *(u + "/readyz" for u in run.worker_urls)]
    pending = set(urls)
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            run.children.check()
            if time.monotonic() > deadline:
                raise DemoError(f"not ready after {timeout:.0f} s: {', '.join(sorted(pending))}")
            for url in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        pending.discard(url)
            await asyncio.sleep(0.5)


async def _login(client: Any, user: Credentials) -> str:
    response = await client.post(
        "/api/v1/auth/token", data={"username": user.name, "password": user.password}
    )
    if response.status_code != 200:
        raise DemoError(f"login as {user.name} failed: {response.status_code} {response.text}")
    return str(response.json()["access_token"])


async def play(run: DemoRun, echo: Echo, progress_every: float = 5.0) -> Progress:
    """Wait for the children, ask for a first plan, play the week until the
    duration is over (or forever)."""
    import httpx
    from aiokafka import AIOKafkaProducer

    options = run.options
    script = run.script
    clock = run.clock
    bootstrap = run.env["RVROTA_KAFKA_BOOTSTRAP"]
    started = time.monotonic()
    stop_at = None if options.duration is None else started + options.duration
    progress = Progress()

    await _wait_ready(run)
    echo(f"ready after {time.monotonic() - started:.1f} s; simulated time {_sim(clock.now())}")

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    watcher = asyncio.create_task(_watch_plans(bootstrap, progress, echo, clock))
    async with httpx.AsyncClient(base_url=run.api_url, timeout=15.0) as client:
        try:
            tokens = {role: await _login(client, user) for role, user in run.users.items()}
            week = iso_week(script.clock_start.date())
            response = await client.post(
                "/api/v1/plans",
                json={"region": options.region, "week": week},
                headers={"Authorization": f"Bearer {tokens['dispatcher']}"},
            )
            if response.status_code >= 300:
                raise DemoError(f"asking for a first plan failed: {response.status_code}")
            echo(f"asked for a first plan of {options.region} {week}")

            queue = list(script.events)
            next_progress = time.monotonic() + progress_every
            first_plan_deadline = time.monotonic() + 300.0
            week_over_said = False
            while stop_at is None or time.monotonic() < stop_at:
                run.children.check()
                if watcher.done():
                    watcher.result()  # re-raise what stopped the plan watcher
                now = clock.now()
                if progress.plans:
                    while queue and queue[0].at <= now:
                        event = queue.pop(0)
                        await _send(event, producer, client, tokens, progress, echo, clock)
                elif time.monotonic() > first_plan_deadline:
                    raise DemoError("no plan was published within 300 s")
                # (nothing happens before the first plan is out: every event then
                # has a plan to change)
                if time.monotonic() >= next_progress:
                    next_progress += progress_every
                    if not progress.plans:
                        coming = "waiting for the first plan"
                    elif queue:
                        coming = f"next: {queue[0].label} at {_sim(queue[0].at)}"
                    else:
                        coming = ""
                    echo(
                        f"[{_sim(now)}] plans published {len(progress.plans)}, "
                        f"events sent {progress.events_sent}. {coming}".rstrip()
                    )
                if not queue and now >= script.week_end and not week_over_said:
                    echo("the demo week is over; the system keeps running until Ctrl-C")
                    week_over_said = True
                await asyncio.sleep(0.2)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            await producer.stop()
    return progress


async def _send(
    event: ScriptedEvent,
    producer: Any,
    client: Any,
    tokens: dict[str, str],
    progress: Progress,
    echo: Echo,
    clock: Any,
) -> None:
    event_id = str(uuid.uuid4())
    if event.via == "gate":
        topic, key, value = event_message(event, event_id)
        await producer.send_and_wait(topic, value, key=key)
    else:
        path, body = api_request(event)
        response = await client.post(
            path,
            json=body,
            headers={"Authorization": f"Bearer {tokens[event.via]}", "Idempotency-Key": event_id},
        )
        if response.status_code != 202:
            progress.api_errors += 1
            echo(f"[{_sim(clock.now())}] {event.label}: API answered {response.status_code}")
            return
        echo(f"[{_sim(clock.now())}] {event.via.replace('_', ' ')}: {event.label}")
    progress.events_sent += 1


# --- the command --------------------------------------------------------------


def _print_banner(run: DemoRun, echo: Echo) -> None:
    echo("")
    echo("rvrota demo is running")
    echo(f"  board (dispatcher):   {run.api_url}/board")
    echo(f"  site (site manager):  {run.api_url}/site")
    echo(f"  driver:               {run.api_url}/driver")
    echo(f"  API docs:             {run.api_url}/docs")
    echo("  users (role, name, password, bound to):")
    for user in run.users.values():
        echo(f"    {user.role:<13} {user.name:<13} {user.password}  {user.binding}")
    echo(
        f"  clock: {_sim(run.script.clock_start)} {run.script.clock_start.tzname()} "
        f"at {run.options.speed:g}x; logs in {run.run_dir}"
    )
    script = run.script
    surge = next(e for e in script.events if e.via == "site_manager")
    echo(
        f"  script: surge at {script.surge_site} {surge.at.isoformat()}, "
        f"{script.breakdown_vehicle} breaks down {script.breakdown_at.isoformat()} "
        f"and returns {script.return_at.isoformat()}"
    )
    echo("  Ctrl-C stops everything.")
    echo("")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def _raise(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(options: DemoOptions, settings: Settings, echo: Echo) -> int:
    """The whole demo; returns the exit code."""
    for noisy in ("httpx", "alembic", "aiokafka"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with _sigterm_as_interrupt():
        try:
            run = prepare(options, settings, echo)
        except KeyboardInterrupt:
            echo("interrupted during start-up; everything started was stopped")
            return 130
        except (DemoError, ChildExited) as exc:
            echo(f"demo: {exc}")
            return 1
        try:
            _print_banner(run, echo)
            progress = asyncio.run(play(run, echo))
            echo(f"done: {len(progress.plans)} plans published, {progress.events_sent} events sent")
            return 0
        except KeyboardInterrupt:
            echo("interrupted")
            return 0
        except (DemoError, ChildExited) as exc:
            echo(f"demo: {exc}")
            return 1
        finally:
            shutdown(run, echo)
            echo("all stopped")
