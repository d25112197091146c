"""The driver page offline, in real headless Chromium: once opened with a network, its
service worker keeps the page and its answers, so with the network cut a reload still
shows the next stop, today's stops and the change list, and says that it is offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.api.test_pages import Site, api_get, sign_in, web  # noqa: F401  (the live server)

pytestmark = [pytest.mark.browser, pytest.mark.kafka]


def test_the_driver_page_reads_offline_from_what_it_kept(
    web: Site,  # noqa: F811
    phone_page: Page,
) -> None:
    page = phone_page
    sign_in(page, web, "driver", "/driver")
    stop = api_get(web, "driver", f"/vehicles/{web.seeded.own_vehicle}/next-stop")
    assert isinstance(stop, dict)
    expect(page.locator("#stop-site")).to_have_text(stop["site"]["name"])
    # the service worker takes the page over, then a visit with a network fills its cache
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30_000)
    page.reload()
    expect(page.locator("#stop-site")).to_have_text(stop["site"]["name"])
    expect(page.locator("#offline-line")).to_be_hidden()
    window = page.locator("#stop-window").inner_text()
    assert "11:30" in window
    vehicle = api_get(web, "driver", f"/vehicles/{web.seeded.own_vehicle}")
    assert isinstance(vehicle, dict)
    schedule = api_get(web, "driver", f"/schedule?region={vehicle['region']}")
    assert isinstance(schedule, dict)
    today = [
        s
        for s in schedule["sessions"]
        if s["vehicle"] == web.seeded.own_vehicle and s["date"] == schedule["now"][:10]
    ]
    assert today, "the seeded week gives the driver's RV stops today"
    stops = page.locator("#today-stops li")
    expect(stops).to_have_count(len(today))
    expect(stops.first).to_contain_text(today[0]["site_name"] or today[0]["site"])
    listed = stops.all_inner_texts()

    page.context.set_offline(True)
    try:
        page.reload()
        expect(page.locator("#stop-site")).to_have_text(stop["site"]["name"])
        expect(page.locator("#stop-window")).to_have_text(window)
        expect(page.locator("#today-stops li")).to_have_text(listed)
        expect(page.locator("#offline-line")).to_be_visible()
        expect(page.locator("#offline-line")).to_contain_text("Offline")
        # a report cannot go out offline, and the page says so instead of pretending
        page.get_by_role("button", name="已到达 Arrived").click()
        expect(page.locator("#message")).not_to_contain_text("Reported")
    finally:
        page.context.set_offline(False)
    page.reload()
    expect(page.locator("#offline-line")).to_be_hidden()
