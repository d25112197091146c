"""Web pages: server-rendered shells (Jinja2) that call the same /api/v1 with the user's token.

The token lives in the tab's sessionStorage and goes out as a bearer header, so
no cookie authenticates anything and cross-site requests cannot act for the user.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api.page_words import page_language, t, words_json

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """The page templates, loaded on first use (nothing is built at import)."""
    return Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))


PAGES = {
    "login": None,
    "board": "dispatcher",
    "site": "site_manager",
    "driver": "driver",
    "report": "dispatcher",
}


def _page(request: Request, name: str) -> HTMLResponse:
    role = PAGES[name]
    lang = page_language(request)

    def words(key: str) -> str:
        return t(key, lang)

    context = {
        "title": words(f"title.{name}"),
        "page": name,
        "role": role,
        "t": words,
        "lang": lang,
        "html_lang": {"zh": "zh-CN", "en": "en"}.get(lang or "", "zh-CN"),
        "words_json": words_json(lang),
    }
    tiles, tile_origin = _tiles(request)
    context["map_tiles"] = tiles or ""
    context["map_attribution"] = getattr(_settings(request), "map_tile_attribution", "")
    response = templates().TemplateResponse(request, f"{name}.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    images = "'self' data:" + (f" {tile_origin}" if tile_origin else "")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; img-src {images}; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response


def _settings(request: Request) -> object:
    services = getattr(request.app.state, "services", None)
    return getattr(services, "settings", None)


def _tiles(request: Request) -> tuple[str | None, str | None]:
    """The map's tile URL template and, for one on another host, its origin (for the CSP)."""
    url = getattr(_settings(request), "map_tile_url", None)
    if not url:
        return None, None
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return url, f"{parts.scheme}://{parts.netloc}"
    return url, None


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
