"""The workers' phone pages, no password: the check-in page ``/checkin?t=...`` (the QR
token is the credential) and a site's visits ``/visits/{site_id}`` (book a place, see and
cancel one's bookings, told when the plan moved or cancelled them; the question box).

Their words are the catalogues' ``page.phone.*``, ``page.checkin.*``, ``page.visits.*``
(and ``page.amenity.*``), in the language of ``?lang=``, else of the Accept-Language,
else Chinese (``api.page_words.phone_language``); each page shows a switch.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.page_words import language_links, phone_language, t, words_json
from api.pages import templates

router = APIRouter(include_in_schema=False)
SCRIPT_WORDS = {
    "checkin.html": ("phone.", "checkin."),
    "visits.html": ("phone.", "visits."),
}


@router.get("/checkin", response_class=HTMLResponse)
def checkin_page(request: Request) -> HTMLResponse:
    return _phone_page(request, "checkin.html")


@router.get("/visits/{site_id}", response_class=HTMLResponse)
def visits_page(request: Request, site_id: str) -> HTMLResponse:
    return _phone_page(request, "visits.html")


def _phone_page(request: Request, template: str) -> HTMLResponse:
    lang = phone_language(request)

    def words(key: str) -> str:
        return t(key, lang)

    context = {
        "t": words,
        "lang": lang,
        "html_lang": {"zh": "zh-CN", "en": "en"}[lang],
        "words_json": words_json(lang, SCRIPT_WORDS[template]),
        "language_links": language_links(request),
    }
    response = templates().TemplateResponse(request, template, context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays off other hosts
    response.headers["Content-Language"] = lang
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'"
    )
    return response
