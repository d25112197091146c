"""Signing keys and token versions: no default secret, rotation, stale tokens die at once.

On real SQLite and PostgreSQL, with the app started without ``RVROTA_SECRET_KEY`` (the
key is made at first start and kept in the database) unless a test says otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from api.app import create_app
from core.clock import FixedClock
from core.settings import PLACEHOLDER_SECRET, Settings, get_settings
from fleet.db import session_scope
from fleet.models import SigningKey
from rvrota.cli import build_app
from tests.api.conftest import Harness, api_settings, database, running_harness
from tests.api.seeding import NOW, PASSWORD

pytestmark = pytest.mark.kafka
ROLES = ("dispatcher", "site_manager", "driver")


@pytest.fixture(params=["sqlite", "postgresql"])
def keyless(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str
) -> Iterator[Harness]:
    """A fresh app as installed: RVROTA_SECRET_KEY at its default (SQLite and PostgreSQL)."""
    default_key = Settings.model_fields["secret_key"].default
    with (
        database(request.param, tmp_path) as url,
        running_harness(url, kafka_bootstrap, secret_key=default_key) as h,
    ):
        yield h


def forged(secret: str, user_id: int, role: str, **extra: object) -> dict[str, str]:
    claims = {
        "sub": str(user_id),
        "role": role,
        "aud": "rvrota-api",
        "exp": int(time.time()) + 3600,
        **extra,
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}"}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_placeholder_tokens_are_refused_without_a_configured_key(keyless: Harness) -> None:
    """Issue 10 (2): a token forged with the placeholder key reads nothing (401), any role."""
    h = keyless
    for role in ROLES:
        user_id = h.seeded.users[role]
        for headers in (
            forged(PLACEHOLDER_SECRET, user_id, role),
            forged(PLACEHOLDER_SECRET, user_id, role, ver=0),
        ):
            for path in ("/api/v1/users", "/api/v1/me", "/api/v1/schedule"):
                assert h.client.get(path, headers=headers).status_code == 401, (role, path)
    # the real tokens work, and the key they are signed with is a random one in the database
    assert h.client.get("/api/v1/users", headers=h.headers["dispatcher"]).status_code == 200
    with session_scope(h.engine) as db:
        keys = list(db.exec(select(SigningKey)))
    assert len(keys) == 1 and len(keys[0].secret) >= 64 and keys[0].secret != PLACEHOLDER_SECRET
    kid = jwt.get_unverified_header(h.headers["dispatcher"]["Authorization"][7:])["kid"]
    assert kid == str(keys[0].id)


def test_replicas_share_the_database_key(keyless: Harness) -> None:
    """A second API on the same database accepts the first one's tokens and signs alike."""
    other = create_app(
        api_settings(keyless.url, keyless.bootstrap).model_copy(update={"secret_key": None}),
        clock=FixedClock(NOW),
    )
    with TestClient(other) as second:
        for role in ROLES:
            assert second.get("/api/v1/me", headers=keyless.headers[role]).status_code == 200
        token = second.post(
            "/api/v1/auth/token", data={"username": "driver", "password": PASSWORD}
        ).json()["access_token"]
    me = keyless.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "driver"
    with session_scope(keyless.engine) as db:
        assert len(list(db.exec(select(SigningKey)))) == 1


def _rotate(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("RVROTA_DATABASE_URL", url)
    monkeypatch.delenv("RVROTA_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(build_app(), ["secret", "rotate", *args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


def _status_within(h: Harness, headers: dict[str, str], wanted: int, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while True:
        status = h.client.get("/api/v1/me", headers=headers).status_code
        if status == wanted or time.monotonic() > deadline:
            return status
        time.sleep(0.25)


def test_rotation_ends_old_tokens(keyless: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rvrota secret rotate`: old tokens 401 within the refresh (5 s); new sign-ins work."""
    h = keyless
    old = h.headers["site_manager"]
    assert "stop now" in _rotate(h.url, monkeypatch)
    assert _status_within(h, old, 401, 8.0) == 401
    fresh = h.login("manager")
    assert h.client.get("/api/v1/me", headers=fresh).status_code == 200
    assert fresh["Authorization"] != old["Authorization"]


def test_rotation_with_grace_keeps_old_tokens(
    keyless: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --grace-minutes the old key keeps working (until then); the new one signs."""
    h = keyless
    old = h.headers["driver"]
    assert "in 30 minutes" in _rotate(h.url, monkeypatch, "--grace-minutes", "30")
    time.sleep(5.5)  # past the key refresh of the running app
    assert h.client.get("/api/v1/me", headers=old).status_code == 200
    new = h.login("driver")
    assert (
        jwt.get_unverified_header(new["Authorization"][7:])["kid"]
        != (jwt.get_unverified_header(old["Authorization"][7:])["kid"])
    )
    assert h.client.get("/api/v1/me", headers=new).status_code == 200


def test_rotate_refuses_when_the_key_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RVROTA_SECRET_KEY", "x" * 40)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(build_app(), ["secret", "rotate"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "RVROTA_SECRET_KEY is set" in result.output


@pytest.mark.parametrize("change", ["password", "rebind", "role", "disable"])
def test_old_tokens_die_when_the_account_changes(keyless: Harness, change: str) -> None:
    """Issue 10 (4): a reset, rebind, role change or disable makes earlier tokens 401 at once."""
    h = keyless
    d = h.headers["dispatcher"]
    manager_id = h.seeded.users["site_manager"]
    old = h.headers["site_manager"]
    assert h.client.get("/api/v1/me", headers=old).status_code == 200
    body: dict[str, object] = {
        "password": {"password": "a-new-long-secret-7"},
        "rebind": {"sites": [h.seeded.own_site]},
        "role": {"role": "driver", "vehicle": h.seeded.other_vehicle},
        "disable": {"disabled": True},
    }[change]
    r = h.client.patch(f"/api/v1/users/{manager_id}", json=body, headers=d)
    assert r.status_code == 200, r.text
    for path in ("/api/v1/me", f"/api/v1/sites/{h.seeded.own_site}", "/api/v1/schedule"):
        r = h.client.get(path, headers=old)
        assert r.status_code == 401, (path, r.text)
    # the other roles' tokens are untouched
    for role in ("dispatcher", "driver"):
        assert h.client.get("/api/v1/me", headers=h.headers[role]).status_code == 200
    if change == "password":
        assert h.client.get(
            "/api/v1/me", headers=h.login("manager", "a-new-long-secret-7")
        ).is_success


def test_a_no_op_update_keeps_tokens(keyless: Harness) -> None:
    """Rebinding to the same sites changes nothing, so the token stays valid."""
    h = keyless
    manager_id = h.seeded.users["site_manager"]
    sites = h.client.get("/api/v1/me", headers=h.headers["site_manager"]).json()["sites"]
    r = h.client.patch(
        f"/api/v1/users/{manager_id}", json={"sites": sites}, headers=h.headers["dispatcher"]
    )
    assert r.status_code == 200
    assert h.client.get("/api/v1/me", headers=h.headers["site_manager"]).status_code == 200


def test_configured_key_signs_and_foreign_kids_are_refused(sqlite_harness: Harness) -> None:
    """With RVROTA_SECRET_KEY the setting signs; a token naming a database key id is refused."""
    from tests.api.conftest import SECRET

    h = sqlite_harness
    token = h.headers["driver"]["Authorization"][7:]
    assert "kid" not in jwt.get_unverified_header(token)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="rvrota-api")
    assert claims["ver"] == 0
    other_kid = jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "1"})
    assert (
        h.client.get("/api/v1/me", headers={"Authorization": f"Bearer {other_kid}"}).status_code
        == 401
    )
    anonymous = h.client.get("/api/v1/me")
    assert anonymous.status_code == 401
