"""The workers' phone pages, no password: the check-in page ``/checkin?t=...`` (the QR
token is the credential) and a site's visits ``/visits/{site_id}`` (book a place, see and
cancel one's bookings, told when the plan moved or cancelled them; the question box)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.pages import templates

router = APIRouter(include_in_schema=False)


@router.get("/checkin", response_class=HTMLResponse)
def checkin_page(request: Request) -> HTMLResponse:
    return _phone_page(request, "checkin.html")


@router.get("/visits/{site_id}", response_class=HTMLResponse)
def visits_page(request: Request, site_id: str) -> HTMLResponse:
    return _phone_page(request, "visits.html")


def _phone_page(request: Request, template: str) -> HTMLResponse:
    response = templates().TemplateResponse(request, template, {})
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays off other hosts
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response
