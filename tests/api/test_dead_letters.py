"""What PostgreSQL cannot store is 422 at the API, naming the field; dispatchers (and only
they) list dead letters and replay them to their topic. Real database and real broker."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta

import pytest

from fleet import dead_letters, events
from fleet.db import session_scope
from tests.api.conftest import Harness, topic_messages
from tests.api.seeding import NOW

pytestmark = pytest.mark.kafka

# bodies as a client sends them: NUL and lone surrogates as JSON \u escapes
POISON = [
    ("/vehicles/{vehicle}/status", '{"status": "available", "note": "ok\\u0000note"}', "note"),
    ("/vehicles/{vehicle}/status", '{"status": "available", "note": "a\\ud800b"}', "note"),
    ("/vehicles/{vehicle}/status", '{"status": "available", "note": "\\udfff"}', "note"),
    (
        "/vehicles/{vehicle}/status",
        '{"status": "available", "observed_at": "1970-01-01T00:00:00+00:00"}',
        "observed_at",
    ),
    (
        "/vehicles/{vehicle}/status",
        '{"status": "breakdown", "until": "1990-01-01T00:00:00+08:00"}',
        "until",
    ),
    (
        "/sites/{site}/headcounts",
        '{"count": 5, "observed_at": "1970-01-01T00:00:00Z"}',
        "observed_at",
    ),
    ("/sites/{site}/headcounts", '{"count": 5, "observed_at": 0}', "observed_at"),
    # a NUL anywhere in the URL is refused before routing (api.limits), naming the path
    ("/sites/S%00001/headcounts", '{"count": 5}', "path"),
    ("/vehicles/RV%001/status", '{"status": "available"}', "path"),
]


@pytest.mark.parametrize(("path", "body", "field"), POISON, ids=[f for _, _, f in POISON])
def test_what_postgresql_cannot_store_is_422_naming_the_field(
    harness: Harness, path: str, body: str, field: str
) -> None:
    s = harness.seeded
    url = "/api/v1" + path.replace("{site}", s.own_site).replace("{vehicle}", s.own_vehicle)
    r = harness.client.post(
        url,
        content=body.encode(),
        headers={**harness.headers["dispatcher"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    locs = [[str(x) for x in d["loc"]] for d in r.json()["detail"]]
    assert any(field in loc for loc in locs), locs


def test_a_fine_note_with_an_emoji_and_a_time_in_2000s_is_accepted(harness: Harness) -> None:
    s = harness.seeded
    r = harness.client.post(
        f"/api/v1/vehicles/{s.own_vehicle}/status",
        content=b'{"status": "available", "note": "ok \\ud83d\\ude9a"}',
        headers={**harness.headers["dispatcher"], "Content-Type": "application/json"},
    )
    assert r.status_code == 202, r.text


def _letter(value: bytes, key: bytes | None, offset: int) -> events.DeadLetter:
    return events.DeadLetter.of(
        value,
        key,
        events.HEADCOUNTS_TOPIC,
        1,
        offset,
        events.EventRejected("site_id", "no site 'S404'"),
        NOW - timedelta(minutes=offset % 7),
    )


def test_dispatcher_lists_and_replays_a_dead_letter(harness: Harness) -> None:
    """The view shows reason, topic, time and the original; a replay produces the original
    bytes with the original key to the original topic, once per call; storing a letter
    again for its position (a redelivery) keeps one row."""
    h = harness
    d = h.headers["dispatcher"]
    eid = f"dl-{uuid.uuid4()}"
    value = json.dumps(
        {"event_id": eid, "site_id": "S001", "count": 7, "observed_at": NOW.isoformat()}
    ).encode()
    base = uuid.uuid4().int % 10**9
    big = b"{" + b"x" * (events.KEEP_ORIGINAL_BYTES + 10)
    with session_scope(h.engine) as db:
        assert dead_letters.store(db, [_letter(value, b"S001", base)]) == 1
        assert dead_letters.store(db, [_letter(value, b"S001", base)]) == 0
        dead_letters.store(db, [_letter(big, b"S001", base + 1)])
    r = h.client.get(f"/api/v1/dead-letters?topic={events.HEADCOUNTS_TOPIC}&limit=200", headers=d)
    assert r.status_code == 200, r.text
    mine = {x["offset"]: x for x in r.json() if x["offset"] in (base, base + 1)}
    assert set(mine) == {base, base + 1}
    letter = mine[base]
    assert letter["topic"] == events.HEADCOUNTS_TOPIC and letter["field"] == "site_id"
    assert letter["reason"] == "site_id: no site 'S404'" and letter["rejected_at"]
    assert base64.b64decode(letter["original"]) == value
    assert letter["original_text"] == value.decode() and not letter["truncated"]
    assert mine[base + 1]["truncated"] and mine[base + 1]["original_size"] == len(big)
    other = h.client.get("/api/v1/dead-letters?topic=rvrota.vehicle-status", headers=d).json()
    assert all(x["topic"] == "rvrota.vehicle-status" for x in other)
    assert len(h.client.get("/api/v1/dead-letters?limit=1", headers=d).json()) == 1

    r = h.client.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=d)
    assert r.status_code == 202, r.text
    assert r.json()["replays"] == 1 and r.json()["topic"] == events.HEADCOUNTS_TOPIC
    replayed = [
        (k, v)
        for k, v in topic_messages(h.bootstrap, events.HEADCOUNTS_TOPIC, h.engine)
        if v == value
    ]
    assert replayed == [(b"S001", value)]
    listed = h.client.get("/api/v1/dead-letters?limit=200", headers=d).json()
    assert next(x for x in listed if x["id"] == letter["id"])["replays"] == 1

    cut = h.client.post(f"/api/v1/dead-letters/{mine[base + 1]['id']}/replay", headers=d)
    assert cut.status_code == 409 and "cut" in cut.text
    assert h.client.post("/api/v1/dead-letters/2000000000/replay", headers=d).status_code == 404


@pytest.mark.parametrize("role", ["site_manager", "driver", None])
def test_only_dispatchers_reach_dead_letters(harness: Harness, role: str | None) -> None:
    """Site managers and drivers get 403, a caller without a token 401; nothing replayed."""
    h = harness
    offset = uuid.uuid4().int % 10**9
    with session_scope(h.engine) as db:
        dead_letters.store(db, [_letter(b"{}", b"S001", offset)])
        listed = dead_letters.list_dead_letters(db, limit=200)
        letter_id = next(r.id for r in listed if r.offset == offset)
    headers = h.headers[role] if role else {}
    expected = 403 if role else 401
    assert h.client.get("/api/v1/dead-letters", headers=headers).status_code == expected
    r = h.client.post(f"/api/v1/dead-letters/{letter_id}/replay", headers=headers)
    assert r.status_code == expected
    with session_scope(h.engine) as db:
        record = dead_letters.get_dead_letter(db, letter_id)
        assert record is not None and record.replays == 0
