"""Web pages: server-rendered shells (Jinja2) that call the same /api/v1 with the user's token.

The token lives in the tab's sessionStorage and goes out as a bearer header, so
no cookie authenticates anything and cross-site requests cannot act for the user.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """The page templates, loaded on first use (nothing is built at import)."""
    return Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


PAGES = {
    "login": ("登录 Sign in", None),
    "board": ("调度台 Dispatch board", "dispatcher"),
    "site": ("工地 Site", "site_manager"),
    "driver": ("司机 Driver", "driver"),
    "report": ("服务报告 Service report", "dispatcher"),
}


def _page(request: Request, name: str) -> HTMLResponse:
    title, role = PAGES[name]
    response = templates().TemplateResponse(
        request, f"{name}.html", {"title": title, "page": name, "role": role}
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/login")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login")


@router.get("/board", response_class=HTMLResponse)
def board_page(request: Request) -> HTMLResponse:
    return _page(request, "board")


@router.get("/site", response_class=HTMLResponse)
def site_page(request: Request) -> HTMLResponse:
    return _page(request, "site")


@router.get("/driver", response_class=HTMLResponse)
def driver_page(request: Request) -> HTMLResponse:
    return _page(request, "driver")


@router.get("/driver-sw.js")
def driver_service_worker() -> FileResponse:
    """The driver page's offline service worker, served from the root so that its scope
    covers the page and the API calls it keeps (``api/static/driver_sw.js``)."""
    path = Path(__file__).resolve().parent / "static" / "driver_sw.js"
    return FileResponse(
        path,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )
@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request) -> HTMLResponse:
    return _page(request, "report")
