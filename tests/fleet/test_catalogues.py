"""Walk the catalogues and the code that uses them: no text for people lacks a language.

Every message id is in both ``fleet/locale`` catalogues with words and the same
placeholders; every key the pages, scripts, error answers and plan reasons use exists; every
id the service shows (roles, states, vehicle and plan statuses, slots, weekdays, reason
codes) has a label; every fixed error detail the API raises has its words.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from fleet import error_messages, messages
from fleet.domain import PlanStatus, Role, SessionState, VehicleStatus
from fleet.reason_words import REASON_CODES

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"
# every script of the pages (the vendored libraries aside)
SCRIPTS = sorted((API / "static").glob("*.js"))
TEMPLATES = sorted((API / "templates").glob("*.html"))


def keys(lang: str) -> dict[str, str]:
    return messages.catalogue(lang)


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_both_catalogues_hold_the_same_messages_with_words() -> None:
    zh, en = keys("zh"), keys("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert zh[key].strip() and en[key].strip(), key
        if key != "date.format":
            assert fields(zh[key]) == fields(en[key]), key


def test_chinese_words_are_chinese_and_english_words_english() -> None:
    cjk = re.compile(r"[\u4e00-\u9fff]")
    zh, en = keys("zh"), keys("en")
    for key, text in en.items():
        assert not cjk.search(text), (key, text)
    bare = {k: re.sub(r"\{\w+\}", "", t) for k, t in zh.items()}  # the words without fields
    latin_only = [k for k, t in bare.items() if not cjk.search(t) and re.search(r"[a-z]{3,}", t)]
    allowed = {"page.driver.geo"}  # "geo:" is a link scheme
    assert not set(latin_only) - allowed, set(latin_only) - allowed


def used_in_scripts() -> set[str]:
    found: set[str] = set()
    for path in SCRIPTS:
        text = path.read_text(encoding="utf-8")
        # a key ending in "." is a family ("state." + id): test_every_id_shown_has_a_label
        found |= {
            k
            for k in re.findall(r"\b(?:W1|WS|W|P|has)\(\"([a-z_.\-]+)\"", text)
            if not k.endswith(".")
        }
    return found


def used_in_templates() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"\bt\([\"']([a-z_.\-]+)[\"']\)", text))
    return found


def test_every_key_of_the_pages_and_scripts_exists() -> None:
    zh = keys("zh")
    script_keys = used_in_scripts()
    template_keys = used_in_templates()
    assert len(script_keys) > 60 and len(template_keys) > 60  # the scan finds them
    missing = {k for k in script_keys | template_keys if f"page.{k}" not in zh}
    assert not missing, missing


@pytest.mark.parametrize(
    ("family", "ids"),
    [
        ("page.role", [r.value for r in Role]),
        ("page.state", [s.value for s in SessionState]),
        ("page.vstatus", [s.value for s in VehicleStatus]),
        ("vstatus", [s.value for s in VehicleStatus]),
        ("page.plan", [s.value for s in PlanStatus] + ["in_force"]),
        ("page.weekday", [str(d) for d in range(7)]),
        ("weekday", [str(d) for d in range(7)]),
        ("page.slot", ["lunch", "evening", "morning", "afternoon"]),
        ("slot", ["lunch", "evening", "morning", "afternoon"]),
        ("reason", list(REASON_CODES)),
        ("amenity", ["library", "chess", "cinema", "childcare", "gym"]),
        ("page.topic", ["rvrota.site-headcounts", "rvrota.vehicle-status", "rvrota.plan-requests"]),
        ("page.js.stat", ["workers_reached", "km", "sessions"]),
    ],
)
def test_every_id_shown_has_a_label(family: str, ids: list[str]) -> None:
    zh = keys("zh")
    assert not [i for i in ids if f"{family}.{i}" not in zh]


def test_the_planner_gives_only_reason_codes_that_have_words() -> None:
    source = (ROOT / "solver" / "reasons.py").read_text(encoding="utf-8")
    codes = set(re.findall(r"Reason\(\s*\"([a-z_]+)\"", source))
    assert len(codes) >= 10
    assert codes <= set(REASON_CODES), codes - set(REASON_CODES)


def _literal_calls(name: str) -> set[str]:
    """Every literal string passed first to ``name(...)`` in api/."""
    found: set[str] = set()
    for path in API.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == name
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_every_fixed_error_detail_has_words() -> None:
    fixed = _literal_calls("forbidden") | _literal_calls("unauthorized")
    assert "dispatchers only" in fixed and "not your vehicle" in fixed
    assert not fixed - set(error_messages.FIXED), fixed - set(error_messages.FIXED)
    zh = keys("zh")
    assert not [k for k in error_messages.FIXED.values() if f"error.{k}" not in zh]


def test_every_thing_not_found_has_a_label() -> None:
    things = _literal_calls("not_found")
    assert {"site", "vehicle", "session"} <= things
    zh = keys("zh")
    assert not [t for t in things if f"thing.{t.replace(' ', '_')}" not in zh]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_error_messages_in_each_language(lang: str) -> None:
    say = error_messages.error_message
    assert say(403, "dispatchers only", lang) == keys(lang)["error.dispatchers_only"]
    found = say(404, "site 'S9' not found", lang)
    assert "S9" in found and keys(lang)["thing.site"] in found
    field = say(422, [{"loc": ["query", "week"], "msg": "x", "type": "missing"}], lang)
    assert field.startswith(keys(lang)["field.week"]) and keys(lang)["error.type.missing"] in field
    both = say(403, "dispatchers only", None)
    zh, en = keys("zh")["error.dispatchers_only"], keys("en")["error.dispatchers_only"]
    assert both == f"{zh} · {en}"
    assert say(409, "上一版 · the last one", lang) == ("上一版" if lang == "zh" else "the last one")


CJK = re.compile(r"[\u4e00-\u9fff]")
# the texts of these are made from the catalogues only: no Chinese (so no "中文 / English"
# pair) may be written in them (the language switch names Chinese in its own words)
WORDED = [
    *SCRIPTS,
    *TEMPLATES,
    API / "export.py",
    API / "feeds.py",
    API / "report_files.py",
    API / "page_words.py",
    API / "checkin_page.py",
]


@pytest.mark.parametrize("path", WORDED, ids=lambda p: p.name)
def test_no_text_for_people_is_written_inline(path: Path) -> None:
    """A page, script, file or feed has no words of its own: all come from the catalogues."""
    text = path.read_text(encoding="utf-8").replace("中文", "")
    assert not CJK.findall(text), (path.name, CJK.findall(text)[:10])


def test_every_label_of_files_and_feeds_exists() -> None:
    used = _literal_calls("label") | _literal_calls("words")
    assert {"file.feed.description", "file.report.title"} <= used  # the scan finds them
    zh = keys("zh")
    assert not [k for k in used if k not in zh], [k for k in used if k not in zh]
    families = ["file.export.", "file.report.", "file.feed.state.", "file.feed.prefix."]
    for family in families:
        assert any(k.startswith(family) for k in zh), family


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_files_and_feeds_speak_one_language(lang: str) -> None:
    """The week's export, a calendar entry and the report's headings in one language."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from api import export, feeds, report_files

    tz = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 11, 24, 18, 0, tzinfo=tz)
    row = {
        "date": date(2026, 11, 24), "start": start, "end": start + timedelta(hours=2),
        "slot": "evening", "state": "missed", "vehicle": "RV2", "site": "S020",
        "site_name": "S020", "headcount": 40, "pinned": True,
    }  # fmt: skip
    texts = export.headings(lang) + [str(v) for v in export.export_rows([row], lang)[0]]
    session = feeds.FeedSession(
        id=1, vehicle="RV2", site="S020", site_name=None, address=None, lat=24.9, lon=118.6,
        day=1, date=row["date"], slot="evening", start=start, end=row["end"], state="missed",
    )  # fmt: skip
    texts += [feeds.summary(session, lang), feeds.state_text("missed", lang)]
    texts += list(report_files.chart_titles(lang).values())
    joined = " ".join(texts)
    if lang == "en":
        assert not CJK.search(joined), joined
        assert "Missed" in joined and "evening" in joined
    else:
        assert CJK.search(joined) and not re.search(r"\b(Missed|evening|Date|Pinned)\b", joined)


# pydantic's error types no request can meet (Python objects, call arguments, internals)
NOT_FROM_REQUESTS = {
    "no_such_attribute", "needs_python_object", "recursion_loop", "frozen_instance",
    "get_attribute_error", "dataclass_type", "dataclass_exact_type",
    "default_factory_not_called", "iteration_error", "set_item_not_hashable",
    "bytes_invalid_encoding", "missing_sentinel_error", "is_instance_of", "is_subclass_of",
    "callable_type", "arguments_type", "missing_argument", "unexpected_keyword_argument",
    "missing_keyword_only_argument", "unexpected_positional_argument",
    "missing_positional_only_argument", "multiple_argument_values", "complex_type",
    "complex_str_parsing",
}  # fmt: skip


def test_every_validation_error_type_has_words() -> None:
    """A 422's reason is said by pydantic's error type: each type a request can meet has
    words in both catalogues (a new pydantic type fails here until it is worded)."""
    import typing

    from pydantic_core.core_schema import ErrorType

    types = set(typing.get_args(ErrorType))
    assert len(types) > 90 and types >= NOT_FROM_REQUESTS
    zh = keys("zh")
    missing = sorted(t for t in types - NOT_FROM_REQUESTS if f"error.type.{t}" not in zh)
    assert not missing, missing


def test_every_field_of_a_request_body_has_a_label() -> None:
    import importlib
    import inspect
    import pkgutil

    import api.routes
    from api.schemas import Strict

    names: set[str] = set()
    modules = ["api.schemas", "api.draft_schemas", "api.edit_schemas"] + [
        f"api.routes.{m.name}" for m in pkgutil.iter_modules(api.routes.__path__)
    ]
    for name in modules:
        for thing in vars(importlib.import_module(name)).values():
            if inspect.isclass(thing) and issubclass(thing, Strict) and thing is not Strict:
                names |= set(thing.model_fields)
    assert len(names) > 40
    zh = keys("zh")
    assert not sorted(n for n in names if f"field.{n}" not in zh)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_422_from_pydantic_speaks_the_users_language(lang: str) -> None:
    """Real pydantic errors of a request body, worded by type with their limits; our own
    validators' reasons by their words; ``type`` and ``loc`` untouched."""
    from pydantic import ValidationError

    from api.schemas import HeadcountCreate

    try:
        HeadcountCreate.model_validate(
            {"count": -1, "observed_at": "2026-11-23T08:00:00", "shift": "x" * 200, "odd": 1}
        )
    except ValidationError as exc:
        errors = exc.errors()
    else:
        raise AssertionError("the body is bad")
    kinds = {e["type"] for e in errors}
    assert kinds == {"greater_than_equal", "extra_forbidden", "literal_error", "value_error"}
    said = error_messages.error_message(422, errors, lang)
    cat = keys(lang)
    assert cat["field.count"] in said and cat["field.shift"] in said
    assert cat["error.type.greater_than_equal"].format(ge=0) in said
    assert "Input should" not in said and "String should" not in said
    assert cat["error.reason.utc_offset"] in said  # our validator's reason, in its words
    assert ("'day' 或 'night'" if lang == "zh" else "'day' or 'night'") in said
    if lang == "zh":
        assert not re.search(r"\b(should|must|carry|offset|or)\b", said), said
    assert {e["loc"] for e in errors} == {("count",), ("observed_at",), ("shift",), ("odd",)}


# Chinese written in the code of api/ and fleet/ (comments and docstrings aside): only these
# names, which are data or developers' documentation, never words said to people
CHINESE_IN_CODE = {
    "fleet/members.py": {"会员号", "姓名"},  # the member list's accepted column headers
    "api/schemas.py": {"高德", "百度"},  # the map apps' names in the OpenAPI description
    "api/app.py": {"流动共享职工之家", "工地"},  # the OpenAPI description's glossary
}
CODE = sorted(
    p
    for top in ("api", "fleet")
    for p in (ROOT / top).rglob("*.py")
    if "locale" not in p.relative_to(ROOT).parts
)


def _strings_of_code(tree: ast.AST) -> list[str]:
    """Every string constant of the module but its docstrings (f-strings' literal parts too)."""
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def chinese_in_code(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed = CHINESE_IN_CODE.get(str(path.relative_to(ROOT)), set())
    found = [
        run for text in _strings_of_code(tree) for run in re.findall(r"[\u4e00-\u9fff]+", text)
    ]
    return [run for run in found if run not in allowed]


def test_no_chinese_is_written_in_the_code_of_api_and_fleet() -> None:
    """Words for people live in the catalogues: a detail, a reason or a throttle's text
    written in Chinese (a "中文 · English" pair) in a .py file of api/ or fleet/ fails."""
    assert len(CODE) > 50
    found = {str(p.relative_to(ROOT)): chinese_in_code(p) for p in CODE}
    assert not {p: runs for p, runs in found.items() if runs}


def test_the_scan_for_chinese_in_code_sees_strings_not_docstrings_or_comments(
    tmp_path: Path,
) -> None:
    ast_ok = ast.parse('"""模块说明"""\n# 注释\ndef f():\n    """说明"""\n    return 1\n')
    assert not [t for t in _strings_of_code(ast_ok) if CJK.search(t)]
    bad = ast.parse('def f(n):\n    raise ValueError(f"至少 {n} 个字符 · at least {n}")\n')
    assert [t for t in _strings_of_code(bad) if CJK.search(t)]


# one reason of each kind fleet's rules and the API's validators give (the values filled in
# as the code fills them); each must have its words in both languages
SAMPLE_REASONS = [
    "holds a NUL character (at 3)",
    "holds a lone surrogate (at 0)",
    "1999-12-31 is before 2000-01-01",
    "2101-01-01 is after 2100-12-31",
    "is before from",
    "must carry a UTC offset, e.g. 2026-11-23T08:05:00+08:00",
    "give pinned, or a move (vehicle, site, date, slot)",
    "pinned and a move cannot be given together",
    "is too long",
    "too many check-ins for this device; try again in 12 s",
    "too many check-ins for this token; try again in 12 s",
    "too many questions from this phone; try again in 3 min",
    "too many bookings from this phone; try again in 40 s",
    "only this week and the next two can be re-planned (2026-W48, 2026-W49, 2026-W50)",
    "week 2026-W48 has no plan in force to compare with",
    "plan 7 is of north 2026-W49, not south 2026-W48",
    "region 'north' has no slots",
    "plan 7 is published, not held",
    "a newer version of north 2026-W48 is in force",
    "needs vehicle, site, day and slot",
    "'x' is not an integer",
    "session 12 is cancelled",
    "session 12 is done, not planned",
    "the live state of 2026-W48 is not a valid scenario: $.sites: at least one",
    "the week with these changes is not valid: $.sites: at least one",
    "no slot 'brunch' in 2026-W48",
    "no site 'S9' in this week",
    "no RV 'RV9' in this week",
    "no slot 'brunch' in this week",
    "'2026-13-01' is not a date (YYYY-MM-DD)",
    "2026-12-25 is not a day of this week",
    "not a day of this week",
    "name at least one date",
    "a whole number of workers from 0 to 100,000",
    "name the town",
    "no site of this week is in 'Atlantis'",
    "the version's sessions",
    "at most 200 changes in one draft",
    "week 2026-W48 has no plan in force yet",
    "this draft is already published",
    "this draft is already dropped",
    "'2026-W60' is not a week of the calendar",
    "the range is longer than 370 days",
    "several regions exist: name one",
    "dispatchers cannot disable or demote themselves",
    "dispatchers cannot disable themselves",
    "an amenity id of 1 to 64 characters",
    "D1 is the depot of RV1, RV2; move them first",
    "the original (2000000 bytes) was kept cut; it cannot be replayed",
    "nests deeper than 32 levels",
    "is required with source qr",
    "must be 1 with source qr (got 3)",
    "2026-11-23T12:00:00+08:00 is more than 300 s after now (2026-11-23T11:00:00+08:00)",
    "2026-11-23T12:00:00+08:00 is outside the session's check-in window "
    "2026-11-23T08:00:00+08:00 .. 2026-11-23T10:00:00+08:00",
    "'sauna' is not one of the vehicle's amenities (chess, gym)",
    "'S2' is not the message's site 'S1'",
    "session 12 is named twice",
    "the draft's changes cannot all hold: RV1 cannot be at Bridge lot 3 on Mon 23 Nov",
    "no site 'S9'",
    "no vehicle 'RV9'",
    "unknown region 'x'",
    "unknown depot 'D9'",
    "no user 12",
    "no region 'x'",
    "no session 12 in force",
    "'S1' is taken",
    "may not be null",
    "must not be empty",
    "is empty",
    "is longer than 500 characters",
    "'fr' is not one of zh, en",
    "'2026-48' is not an ISO week like 2026-W48",
    "'2026-W53': 2026 has weeks 1..52",
    "9 is not in 0..6",
    "'Mars/Olympus' is not an IANA time zone",
    "'8h' is not HH:MM",
    "'24:30' is past the end of the day",
    "0 must be >= 1",
    "window 2026-11-23T08:00:00+08:00..2026-11-23T08:00:00+08:00 is empty",
    "a site manager needs at least one site",
    "only drivers are bound to a vehicle",
    "a driver needs a vehicle",
    "only site managers are bound to sites",
    "a dispatcher is not bound to sites or a vehicle",
    "a user 'ana' already exists",
    "must be later than observed_at",
    "'flying' is not a vehicle status",
    "at least 10 characters",
    "at most 128 characters",
    "one of the most common passwords; choose another",
    "this is similar to a commonly used password; choose a longer one",
    "RV1 has no 'sauna'",
    "must be 0..3 for gym",
    "'sauna' is not bookable here (only: chess, gym)",
    "is empty or too long",
    "is signed with a key that is not (or no longer) accepted",
    "is not a valid check-in token (BadSignature)",
    "names no session",
    "names no session in force",
    "is valid only from 2026-11-23T08:00:00+08:00 to 2026-11-23T10:00:00+08:00 "
    "(now 2026-11-23T11:00:00+08:00)",
    "the file is empty",
    "no member_no / 会员号 column in the header",
    "more than 5000 members",
    "is not UTF-8 text",
    "line 4: is too long",
]


def _raised_reasons() -> list[str]:
    """Reasons the rules give, got by breaking them (the pure ones: no database needed)."""
    from fleet import domain, passwords

    found: list[str] = []
    for broken in (
        lambda: passwords.check("short"),
        lambda: passwords.check("x" * 1000),
        lambda: passwords.check("password1234"),
        lambda: passwords.check("aaaaaaaaaaaa"),
        lambda: domain.parse_iso_week("2026-48"),
        lambda: domain.parse_iso_week("2025-W53"),
        lambda: domain.zone("Mars/Olympus"),
    ):
        with pytest.raises(domain.DomainError) as caught:
            broken()
        found.append(str(caught.value).partition(": ")[2])
    return found


def _static_rule_reasons() -> set[str]:
    """The reasons written whole ("field: why", no values) in a rule refusal in fleet/."""
    raisers = {"DomainError", "UnknownReference", "WeakPassword", "EditRefused"}
    found: set[str] = set()
    for path in (ROOT / "fleet").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in raisers
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and ": " in node.args[0].value
            ):
                found.add(node.args[0].value.partition(": ")[2])
    return found


def _table_key(reason: str) -> str | None:
    return next((key for pattern, key in error_messages.REASONS if pattern.match(reason)), None)


def test_every_rule_reason_has_words_in_both_languages() -> None:
    """A rule's or validator's reason is said in people's words, never only in English
    inside "不符合要求(...)"; and every reason the table knows is reached by a sample."""
    reasons = [*SAMPLE_REASONS, *_raised_reasons(), *sorted(_static_rule_reasons())]
    only_english = []
    for reason in reasons:
        item = {"loc": ["body", "name"], "msg": f"Value error, {reason}", "type": "value_error"}
        zh = error_messages.error_message(422, [item], "zh")
        en = error_messages.error_message(422, [item], "en")
        if keys("zh")["error.reason.other"].format(reason=reason) in zh:
            only_english.append(reason)
            continue
        assert CJK.search(zh.replace("会员号", "")), (reason, zh)
        assert not CJK.search(en.replace("会员号", "")), (reason, en)
        assert "{" not in zh and "{" not in en, (reason, zh, en)
    assert not only_english, only_english
    reached = {_table_key(r) for r in reasons}
    table = {key for _, key in error_messages.REASONS}
    assert not table - reached, table - reached
    zh_keys, en_keys = keys("zh"), keys("en")
    ids = {k if k.startswith("text.") else f"error.reason.{k}" for k in table}
    missing = [k for k in ids if k not in zh_keys.keys() & en_keys.keys()]
    assert not missing, missing


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_details_with_values_are_english_and_said_in_each_language(lang: str) -> None:
    say = error_messages.error_message
    sign_in = say(429, "too many failed sign-ins; try again in 30 s", lang)
    large = say(413, "request body larger than 65536 bytes", lang)
    assert "30" in sign_in and "65536" in large
    assert bool(CJK.search(sign_in)) == (lang == "zh") == bool(CJK.search(large))
    thing = say(
        422, [{"loc": ["body", "site_id"], "msg": "no site 'S9'", "type": "value_error"}], lang
    )
    assert "S9" in thing and keys(lang)["thing.site"] in thing
    line = say(
        422, [{"loc": ["body", "name"], "msg": "line 4: is too long", "type": "value_error"}], lang
    )
    assert "4" in line and keys(lang)["error.reason.too_long"] in line
