"""Property-based testing over the OpenAPI schema (schemathesis) against real servers.

Every operation is called with generated data as each role (dispatcher, site manager,
driver) and anonymously, the dispatcher also on PostgreSQL: no answer is a 5xx, every
status code is documented, and every body matches its schema. A stateful run chains the
dispatcher's calls (ids from one answer go into the next). Example counts are bounded so
the whole file stays within a few minutes.

The dispatcher fuzzes a server of its own (it may reset passwords, rebind or disable
users, which would end the other roles' tokens); each call carries a token minted for
the dispatcher's current token version, so a fuzzed reset of its own password does not
turn the rest of the run into 401s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine
from sqlmodel import select

from api.app import create_app
from api.security import Principal, issue_token
from core.clock import FixedClock
from fleet.db import make_engine, session_scope
from fleet.domain import Role
from fleet.models import User
from tests.api.conftest import SECRET, TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed
from tests.fixtures.db import drop_postgres_database, fresh_postgres_database

pytestmark = pytest.mark.kafka
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ROLE_USERS = {"site_manager": "manager", "driver": "driver"}


@dataclass
class Server:
    base: str
    engine: Engine
    database: Path | None = None  # SQLite only: the live file and its seeded copy
    pristine: Path | None = None

    def restore(self) -> None:
        """Put the database back as seeded (SQLite's online backup; the server stays up)."""
        assert self.database is not None and self.pristine is not None
        source = sqlite3.connect(self.pristine)
        target = sqlite3.connect(self.database, timeout=30)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()


def _serve(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, name: str
) -> Iterator[Server]:
    folder = Path(tmp_path_factory.mktemp(name))
    url = f"sqlite:///{folder / 'api.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    pristine = folder / "seeded.db"
    live, copy = sqlite3.connect(folder / "api.db"), sqlite3.connect(pristine)
    try:
        live.backup(copy)
    finally:
        live.close()
        copy.close()
    app_settings = api_settings(url, kafka_bootstrap).model_copy(
        update={"login_max_failures": 10_000, "login_client_max_failures": 10_000}
    )
    app = create_app(app_settings, clock=FixedClock(NOW))
    try:
        with live_server(app) as base:
            yield Server(base, engine, folder / "api.db", pristine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def dispatcher_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Server]:
    yield from _serve(tmp_path_factory, kafka_bootstrap, "schema-dispatcher")


@pytest.fixture(scope="module")
def postgres_server(kafka_bootstrap: str) -> Iterator[Server]:
    """The dispatcher's fuzzing once more on PostgreSQL (what it cannot store must be 4xx)."""
    url, name = fresh_postgres_database()
    engine = make_engine(url)
    try:
        seed(engine, TAISHANG)
        app_settings = api_settings(url, kafka_bootstrap).model_copy(
            update={"login_max_failures": 10_000, "login_client_max_failures": 10_000}
        )
        with live_server(create_app(app_settings, clock=FixedClock(NOW))) as base:
            yield Server(base, engine)
    finally:
        engine.dispose()
        drop_postgres_database(name)


@pytest.fixture(scope="module")
def others_server(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[Server]:
    yield from _serve(tmp_path_factory, kafka_bootstrap, "schema-others")


def dispatcher_headers(server: Server) -> dict[str, str]:
    """A token for the seeded dispatcher at its current token version (minted per call)."""
    with session_scope(server.engine) as db:
        user = db.exec(select(User).where(User.name == "dispatcher")).one()
        assert user.id is not None
        principal = Principal(user.id, user.name, Role.DISPATCHER)
        token = issue_token(principal, SECRET, datetime.now(UTC), 30, user.token_version)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def role_headers(others_server: Server) -> dict[str, dict[str, str]]:
    """A signed-in token per non-dispatcher role, and none for anonymous callers."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for role, name in ROLE_USERS.items():
        r = httpx.post(
            f"{others_server.base}/api/v1/auth/token",
            data={"username": name, "password": PASSWORD},
        )
        r.raise_for_status()
        headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return headers


# The schema is the app's own document; building the app wires nothing (no lifespan here).
# The event stream stays open for minutes by design; its own tests (the authorization
# matrix, the pages' browser tests) call it.
schema = schemathesis.openapi.from_dict(
    create_app(api_settings("sqlite://", "127.0.0.1:1")).openapi()
).exclude(path="/api/v1/me/stream")
FUZZ = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_dispatcher_calls_conform(case: schemathesis.Case, dispatcher_server: Server) -> None:
    """As a dispatcher (who may call everything): no 5xx; documented codes and bodies."""
    case.call_and_validate(
        base_url=dispatcher_server.base,
        headers=dispatcher_headers(dispatcher_server),
        checks=CHECKS,
    )


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_dispatcher_calls_conform_on_postgresql(
    case: schemathesis.Case, postgres_server: Server
) -> None:
    case.call_and_validate(
        base_url=postgres_server.base, headers=dispatcher_headers(postgres_server), checks=CHECKS
    )


@pytest.mark.parametrize("role", ["site_manager", "driver", "anonymous"])
@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_other_roles_calls_conform(
    case: schemathesis.Case,
    role: str,
    others_server: Server,
    role_headers: dict[str, dict[str, str]],
) -> None:
    """As a site manager, a driver and anonymously: no 5xx; 401/403 where not theirs."""
    case.call_and_validate(base_url=others_server.base, headers=role_headers[role], checks=CHECKS)


def _workflow(server: Server, headers: Callable[[], dict[str, str]]) -> type:
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # every scenario starts from the seeded state, so that the same calls get the
            # same answers (Hypothesis replays scenarios and expects that)
            server.restore()

        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
            return {"base_url": server.base, "headers": headers()}

        def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    return Workflow


def test_dispatcher_workflows_conform(dispatcher_server: Server) -> None:
    """Stateful: chains of calls with ids taken from earlier answers; no 5xx anywhere."""
    workflow = _workflow(dispatcher_server, lambda: dispatcher_headers(dispatcher_server))
    workflow.run(
        settings=settings(
            max_examples=25,
            stateful_step_count=8,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
    )
