"""The OpenAPI docs page, served whole from this app: no CDN, so it works offline.

Swagger UI's files come from the ``swagger-ui-py`` package (its ``static`` folder, a
build of swagger-ui-dist); the page and its start-up script are ours, with no inline
script or style, so a Content-Security-Policy of 'self' lets it run.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.page_words import page_language, t
from api.pages import templates

SWAGGER_UI_MOUNT = "/static/swagger-ui"
# nothing but this app's own files (Swagger UI draws its icons as data: images)
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'"
)


def swagger_ui_files() -> Path:
    """Where the installed Swagger UI bundle lives (imported on use, not at import time)."""
    import swagger_ui

    return Path(swagger_ui.__file__).resolve().parent / "static"


router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """Swagger UI for /openapi.json, from the app's own static files (its title in the
    page's language: the ``rvrota_lang`` cookie, else both)."""
    lang = page_language(request)
    context = {
        "openapi_url": request.app.openapi_url,
        "swagger": SWAGGER_UI_MOUNT,
        "title": t("title.docs", lang),
        "html_lang": {"zh": "zh-CN", "en": "en"}.get(lang or "", "zh-CN"),
    }
    response = templates().TemplateResponse(request, "docs.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = CSP
    return response


def mount_docs(app: FastAPI) -> None:
    """Add /docs and the Swagger UI files to ``app`` (built with ``docs_url=None``)."""
    app.mount(SWAGGER_UI_MOUNT, StaticFiles(directory=swagger_ui_files()), name="swagger-ui")
    app.include_router(router)
