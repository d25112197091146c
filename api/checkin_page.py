"""The phone check-in page ``/checkin?t=...``: no password (the QR token is the credential)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.pages import templates

router = APIRouter(include_in_schema=False)


@router.get("/checkin", response_class=HTMLResponse)
def checkin_page(request: Request) -> HTMLResponse:
    response = templates().TemplateResponse(request, "checkin.html", {})
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays off other hosts
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response
