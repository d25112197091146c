"""Property-based testing over the OpenAPI schema (schemathesis) against a real server.

Every operation is called with generated data as a dispatcher (who may call all of them):
no answer is a 5xx, every status code is documented, and every body matches its schema.
The example count is kept modest so the run stays well under two minutes.
"""

from __future__ import annotations

from collections.abc import Iterator
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

from api.app import create_app
from core.clock import FixedClock
from fleet.db import make_engine
from tests.api.conftest import TAISHANG, api_settings
from tests.api.live import live_server
from tests.api.seeding import NOW, PASSWORD, seed

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Iterator[str]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('schema')) / 'api.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    engine.dispose()
    app = create_app(api_settings(url, kafka_bootstrap), clock=FixedClock(NOW))
    with live_server(app) as base:
        yield base


@pytest.fixture(scope="module")
def dispatcher_headers(server: str) -> dict[str, str]:
    r = httpx.post(
        f"{server}/api/v1/auth/token", data={"username": "dispatcher", "password": PASSWORD}
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


# The schema is the app's own document; building the app wires nothing (no lifespan here).
# The event stream stays open for minutes by design; its own tests (the authorization
# matrix, the pages' browser tests) call it.
schema = schemathesis.openapi.from_dict(
    create_app(api_settings("sqlite://", "127.0.0.1:1")).openapi()
).exclude(path="/api/v1/me/stream")


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(
    case: schemathesis.Case, server: str, dispatcher_headers: dict[str, str]
) -> None:
    """No 5xx; documented status codes, content types and response bodies."""
    case.call_and_validate(
        base_url=server,
        headers=dispatcher_headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
