"""A real uvicorn server in a background thread, for schemathesis and the browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Page
from sqlalchemy.engine import Engine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: FastAPI, timeout: float = 30.0) -> Iterator[str]:
    """Serve ``app`` on a free local port (lifespan included); yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def text_without_site_names(shown: Page, engine: Engine) -> str:
    """A page's visible text without the site names (a name stays as the union wrote it)
    and without the language switch's "中文" (each language is named in its own words)."""
    from sqlmodel import select

    from fleet.db import session_scope
    from fleet.models import Site

    text = shown.locator("body").inner_text()
    with session_scope(engine) as db:
        for site in db.exec(select(Site)):
            text = text.replace(site.name or "", "")
    return text.replace("中文", "")
