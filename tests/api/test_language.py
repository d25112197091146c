"""Each user's language (PATCH /me) and the texts made in it: plan reasons, errors, refusals.

On real SQLite and PostgreSQL: the choice is kept, wins over Accept-Language, and without a
choice Accept-Language is honoured (neither: both languages, Chinese first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.api.conftest import Harness

pytestmark = pytest.mark.kafka
CJK = re.compile(r"[\u4e00-\u9fff]")
SOLVER_WORDS = ("objective", "marginal", "day 0", "day 1", "day 2", "day 3", "frozen", "outranked")


@pytest.fixture
def chosen(harness: Harness) -> Iterator[Harness]:
    """The harness; every user's language is unset again afterwards (the harness is shared)."""
    yield harness
    for role in ("dispatcher", "site_manager", "driver"):
        r = harness.client.patch(
            "/api/v1/me", json={"language": None}, headers=harness.headers[role]
        )
        assert r.status_code == 200, r.text


def set_language(h: Harness, role: str, language: str | None) -> dict[str, object]:
    r = h.client.patch("/api/v1/me", json={"language": language}, headers=h.headers[role])
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def reasons(h: Harness, headers: dict[str, str]) -> list[dict[str, str]]:
    s = h.seeded
    r = h.client.get(
        "/api/v1/plans/current", params={"region": s.region, "week": s.week}, headers=headers
    )
    assert r.status_code == 200, r.text
    unserved: list[dict[str, str]] = r.json()["unserved"]
    assert unserved, "the sample week leaves sites unserved"
    return unserved


def test_the_choice_is_kept_and_read_back(chosen: Harness) -> None:
    h = chosen
    assert h.client.get("/api/v1/me", headers=h.headers["driver"]).json()["language"] is None
    assert set_language(h, "driver", "en")["language"] == "en"
    assert h.client.get("/api/v1/me", headers=h.headers["driver"]).json()["language"] == "en"
    # kept in the database: a new sign-in sees it too
    again = h.login("driver")
    assert h.client.get("/api/v1/me", headers=again).json()["language"] == "en"
    # nobody else's choice changed
    for role in ("dispatcher", "site_manager"):
        assert h.client.get("/api/v1/me", headers=h.headers[role]).json()["language"] is None
    assert set_language(h, "driver", None)["language"] is None


@pytest.mark.parametrize("body", [{"language": "fr"}, {"language": 3}, {"lang": "en"}, {}])
def test_a_bad_language_is_422_naming_the_field(chosen: Harness, body: dict[str, object]) -> None:
    r = chosen.client.patch("/api/v1/me", json=body, headers=chosen.headers["dispatcher"])
    assert r.status_code == 422, r.text
    fields = {str(d["loc"][-1]) for d in r.json()["detail"]}
    assert fields & {"language", "lang"}, r.text
    assert r.json()["message"]  # and in people's words


def test_without_a_token_it_is_401(chosen: Harness) -> None:
    r = chosen.client.patch("/api/v1/me", json={"language": "en"})
    assert r.status_code == 401
    assert r.json()["message"].startswith("请先登录")  # no language known: both, Chinese first


def test_plan_reasons_name_sites_and_dates_in_the_users_language(chosen: Harness) -> None:
    h = chosen
    headers = h.headers["dispatcher"]
    set_language(h, "dispatcher", "en")
    en = reasons(h, {**headers, "Accept-Language": "zh-CN"})  # the choice wins over the header
    set_language(h, "dispatcher", "zh")
    zh = reasons(h, {**headers, "Accept-Language": "en"})
    assert [u["site"] for u in en] == [u["site"] for u in zh]
    for u_en, u_zh in zip(en, zh, strict=True):
        assert u_en["code"] and u_en["code"] == u_zh["code"]
        assert not CJK.search(u_en["reason"].replace(u_en["site_name"] or "", "")), u_en
        assert CJK.search(u_zh["reason"]), u_zh
        for word in SOLVER_WORDS:
            assert word not in u_en["reason"], (word, u_en["reason"])
        assert (u_en["site_name"] or u_en["site"]) in u_en["reason"]
    fits = next(u for u in en if u["code"] == "fits")
    # the sample week starts Monday 23 Nov: every date is a weekday and a day of November
    assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} Nov", fits["reason"]), fits
    fits_zh = next(u for u in zh if u["code"] == "fits")
    assert re.search(r"11月\d{1,2}日（周.）", fits_zh["reason"]), fits_zh


def test_accept_language_is_honoured_while_no_language_is_chosen(chosen: Harness) -> None:
    h = chosen
    headers = h.headers["dispatcher"]
    en = reasons(h, {**headers, "Accept-Language": "en-GB,en;q=0.8"})
    zh = reasons(h, {**headers, "Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    both = reasons(h, {**headers, "Accept-Language": "fr"})
    for a, b, c in zip(en, zh, both, strict=True):
        assert c["reason"] == f"{b['reason']} · {a['reason']}"


def test_errors_carry_a_message_in_the_users_language(chosen: Harness) -> None:
    h = chosen
    s = h.seeded
    path = f"/api/v1/sites/{s.other_site}/visits"
    r = h.client.get(path, headers={**h.headers["site_manager"], "Accept-Language": "en"})
    assert r.status_code == 403
    assert r.json()["detail"] == "not one of your sites"  # the contract's detail stays
    assert r.json()["message"] == "this is not one of your sites"
    set_language(h, "site_manager", "zh")
    r = h.client.get(path, headers={**h.headers["site_manager"], "Accept-Language": "en"})
    assert r.json()["message"] == "这不是你负责的工地"
    r = h.client.get(
        "/api/v1/sites/S404", headers=h.headers["dispatcher"] | {"Accept-Language": "en"}
    )
    assert r.status_code == 404 and r.json()["message"] == "site S404 not found"
    set_language(h, "dispatcher", "zh")
    r = h.client.get("/api/v1/sites/S404", headers=h.headers["dispatcher"])
    assert r.json()["message"] == "找不到工地 S404"
    r = h.client.get("/api/v1/plans", params={"week": "2026-W99"}, headers=h.headers["dispatcher"])
    assert r.status_code == 422 and r.json()["message"].startswith("周：")


def test_a_bad_body_is_refused_in_the_users_words_with_its_limits(chosen: Harness) -> None:
    """pydantic's reasons (by error type, with the limit) and our validators' reasons are
    said in the user's language; ``detail`` keeps pydantic's ``type`` and ``loc``."""
    h = chosen
    path = f"/api/v1/sites/{h.seeded.own_site}/headcounts"
    body = {"count": 100001, "observed_at": "2026-11-23T08:00:00", "shift": "dawn"}
    set_language(h, "site_manager", "zh")
    r = h.client.post(path, json=body, headers=h.headers["site_manager"])
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert {tuple(d["loc"]) for d in detail} == {
        ("body", "count"),
        ("body", "observed_at"),
        ("body", "shift"),
    }
    assert {d["type"] for d in detail} == {"less_than_equal", "value_error", "literal_error"}
    said = r.json()["message"]
    assert "人数：不能大于 100000" in said
    assert "必须带时区" in said and "'day' 或 'night'" in said
    assert not re.search(r"[A-Za-z]{4,}", said.replace("night", "")), said
    set_language(h, "site_manager", "en")
    said = h.client.post(path, json=body, headers=h.headers["site_manager"]).json()["message"]
    assert "count: must be at most 100000" in said and "must carry a UTC offset" in said
    assert not CJK.search(said)
