"""`rvrota serve` starts the API and the pages from the settings in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fleet.db import make_engine
from tests.api.conftest import SECRET, TAISHANG
from tests.api.live import free_port
from tests.api.seeding import PASSWORD, seed


def test_rvrota_serve_answers_on_the_given_port(tmp_path: Path) -> None:
    """The console command serves /healthz, the login page and a login on --host/--port."""
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(url)
    seed(engine, TAISHANG)
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "RVROTA_DATABASE_URL": url,
        "RVROTA_SECRET_KEY": SECRET,
        "RVROTA_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
        "RVROTA_ENVIRONMENT": "production",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "rvrota", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "rvrota serve did not answer"
            time.sleep(0.2)
        assert "登录" in httpx.get(f"{base}/login").text
        r = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "driver", "password": PASSWORD}
        )
        assert r.status_code == 200 and r.json()["role"] == "driver"
        ready = httpx.get(f"{base}/readyz")  # no broker at that address: writes still accepted
        assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    finally:
        server.terminate()
        server.wait(20)


@pytest.mark.parametrize("environment", ["development", "production"])
def test_serve_refuses_the_placeholder_secret(tmp_path: Path, environment: str) -> None:
    """A configured placeholder key stops the API at start, in every environment."""
    env = {
        **os.environ,
        "RVROTA_ENVIRONMENT": environment,
        "RVROTA_SECRET_KEY": "change-me-in-production",
    }
    result = subprocess.run(
        [sys.executable, "-m", "rvrota", "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "RVROTA_SECRET_KEY is the placeholder" in result.stderr
    assert "Traceback" not in result.stderr
