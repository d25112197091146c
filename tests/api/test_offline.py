"""Offline: every page, the API docs included, loads only from this app's own host.

Real headless Chromium with every request to another host aborted (and recorded): the
docs render the API's operations from the app's own static files, and no page (login,
board, site, driver, docs) asks for anything elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from tests.api.test_pages import Site, sign_in, web  # noqa: F401  (the live server fixture)

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def block_other_hosts(page: Page, base: str) -> list[str]:
    """Abort every request to another host than ``base``'s; the aborted URLs are returned."""
    own = urlsplit(base).netloc
    elsewhere: list[str] = []

    def handle(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own:
            elsewhere.append(url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.context.route("**/*", handle)
    return elsewhere


def test_docs_render_the_operations_with_no_network(web: Site, page: Page) -> None:  # noqa: F811
    elsewhere = block_other_hosts(page, web.base)
    page.goto(f"{web.base}/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=20000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/schedule").first).to_be_visible()
    paths = web_paths(web)
    assert operations.count() == paths, "every operation of /openapi.json is drawn"
    expect(page.locator("#swagger-ui .info .title")).to_contain_text("rvrota")
    assert elsewhere == []


def web_paths(site: Site) -> int:
    import httpx

    schema = httpx.get(f"{site.base}/openapi.json").json()
    return sum(len(ops) for ops in schema["paths"].values())


def test_docs_are_not_fetched_from_a_cdn(web: Site) -> None:  # noqa: F811
    import httpx

    html = httpx.get(f"{web.base}/docs").text
    assert "/static/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "<script>" not in html
    assert httpx.get(f"{web.base}/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert httpx.get(f"{web.base}/redoc").status_code == 404  # ReDoc needed a CDN: dropped


@pytest.mark.parametrize(
    ("user", "landing", "ready"),
    [
        (None, "/login", "#login-form"),
        ("dispatcher", "/board", "#grid td.busy"),
        ("manager", "/site", "#visits li.visit"),
        ("driver", "/driver", "#link-amap[href^='http']"),
        (None, "/docs", ".opblock"),
    ],
)
def test_no_page_requests_another_host(
    web: Site,  # noqa: F811
    page: Page,
    user: str | None,
    landing: str,
    ready: str,
) -> None:
    elsewhere = block_other_hosts(page, web.base)
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    if user is None:
        page.goto(f"{web.base}{landing}")
    else:
        sign_in(page, web, user, landing)
    expect(page.locator(ready).first).to_be_attached(timeout=20000)
    # the driver and site pages keep a change stream open (GET /me/stream), so the network
    # never idles: wait for the load, then a moment for what the page asks for later
    page.wait_for_load_state("load")
    page.wait_for_timeout(1500)
    assert requested, "the page made requests"
    assert elsewhere == [], f"{landing} asked other hosts for {elsewhere}"
