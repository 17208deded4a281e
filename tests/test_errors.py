"""One JSON error format for every failure, cache and request-id headers, probes and the spec."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from api import create_app
from api.checkins.models import CheckIn
from tests import conftest
from tests.test_groups import GROUP

ERROR_KEYS = {"code", "status", "message"}
GRADUATE_BODY = {
    "display_name": "Robin",
    "graduation_date": "2026-11-20",
    "timezone": "Europe/London",
    "substance_use": False,
    "baseline": {"phq9": 7, "gad7": 6},
    "therapist_email": None,
}


def assert_error(response, status: int, *, with_errors: bool = False) -> dict:
    """The one error format: code, status, message and, for validation only, errors."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"errors"}, body
    assert body["code"] == status
    assert isinstance(body["status"], str) and body["status"]
    assert isinstance(body["message"], str) and body["message"]
    if with_errors:
        assert isinstance(body["errors"], dict) and body["errors"], body
        assert "json" not in body["errors"] and "query" not in body["errors"], body
    return body


def test_unknown_route_is_a_json_404(client, as_user, world):
    assert_error(client.get("/no/such/page"), 404)
    assert_error(as_user(world.email("staff")).get("/api/v1/no-such-resource"), 404)


def test_wrong_method_is_a_json_405(as_user, world):
    caller = as_user(world.email("staff"))
    assert_error(caller.delete("/api/v1/me"), 405)
    assert_error(caller.put(f"/api/v1/programs/{world.program.id}/members", json={}), 405)


def test_body_over_64_kib_is_a_json_413(as_user, world):
    body = {"email": "big@example.org", "role": "staff", "padding": "x" * (64 * 1024)}
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/members", json=body
    )
    assert_error(response, 413)


def test_a_body_just_under_the_limit_is_read(as_user, world):
    body = {"email": "big@example.org", "role": "staff", "padding": "x" * (60 * 1024)}
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/members", json=body
    )
    body = assert_error(response, 422, with_errors=True)
    assert set(body["errors"]) == {"padding"}


def test_malformed_json_is_a_json_400(as_user, world):
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/members",
        data='{"email": "a@example.org", "role": ',
        content_type="application/json",
    )
    assert_error(response, 400)


def test_wrong_types_and_unknown_fields_are_422_keyed_by_field(as_user, world):
    body = {
        "display_name": 5,
        "graduation_date": "the 3rd of May",
        "timezone": ["Europe/London"],
        "substance_use": "no",
        "baseline": {"phq9": "7", "gad7": 6},
        "therapist_email": "not-an-email",
        "nickname": "Rob",
    }
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/graduates", json=body
    )
    errors = assert_error(response, 422, with_errors=True)["errors"]
    assert set(errors) == set(body)
    assert set(errors["baseline"]) == {"phq9"}


def test_a_body_that_is_not_an_object_is_422(as_user, world):
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/members", json=["a@example.org", "staff"]
    )
    assert_error(response, 422, with_errors=True)


@pytest.mark.parametrize("page_size", ["101", "0", "lots"])
def test_page_size_out_of_range_is_422(as_user, world, page_size):
    caller = as_user(world.email("staff"))
    url = f"/api/v1/programs/{world.program.id}/members?page_size={page_size}"
    errors = assert_error(caller.get(url), 422, with_errors=True)["errors"]
    assert set(errors) == {"page_size"}


def test_page_size_100_is_allowed(as_user, world):
    url = f"/api/v1/programs/{world.program.id}/members?page_size=100"
    assert as_user(world.email("staff")).get(url).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/programs/{program}/members", "/api/v1/flags"])
def test_a_page_far_past_the_end_is_empty_not_an_overflow(as_user, world, path):
    url = path.format(program=world.program.id) + f"?page={2**63}"
    response = as_user(world.email("staff")).get(url)
    assert response.status_code == 200
    assert response.json == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "sertra\x00line", "managed_by": "Dr. Rivera"},
        {"name": "sertraline", "managed_by": "Dr. Rivera", "\x00": 1},
    ],
)
def test_nul_characters_are_refused_not_a_database_error(as_user, world, db, body):
    url = f"/api/v1/graduates/{world.graduate.id}/plan/medications"
    response = as_user(world.email("therapist_consent")).post(url, json=body)
    assert_error(response, 422)
    assert "NUL" in response.json["message"] or "NUL" in str(response.json.get("errors"))


# A lone surrogate is valid JSON ("\\ud800") but no database can store it as text.
LONE_SURROGATE = "Ro\\ud800bin"
DAILY_UNSAFE = {
    "questionnaire": "daily",
    "answers": {
        "daily-mood": 5,
        "phq2-1": 0,
        "phq2-2": 0,
        "gad2-1": 0,
        "gad2-2": 0,
        "daily-safe": 0,
    },
    "answered_at": "2026-11-23T15:00:00+00:00",
}


def _raw_json(value: Any) -> str:
    """JSON text with any lone surrogate escaped, as a client would send it."""
    return json.dumps(value).replace(json.dumps(LONE_SURROGATE), f'"{LONE_SURROGATE}"')


def _surrogate_requests(world, as_user) -> list[tuple[Any, str, str, dict]]:
    """The four routes the review found: graduate name, announcement, medication, program."""
    staff, coordinator = as_user(world.email("staff")), as_user(world.email("coordinator"))
    group = coordinator.post(f"/api/v1/programs/{world.program.id}/groups", json=GROUP)
    assert group.status_code == 201, group.json
    return [
        (
            staff,
            "POST",
            f"/api/v1/programs/{world.program.id}/graduates",
            {**GRADUATE_BODY, "display_name": LONE_SURROGATE},
        ),
        (
            coordinator,
            "POST",
            f"/api/v1/groups/{group.json['id']}/announcements",
            {"title": "News", "body": LONE_SURROGATE},
        ),
        (
            as_user(world.email("therapist_consent")),
            "POST",
            f"/api/v1/graduates/{world.graduate.id}/plan/medications",
            {"name": LONE_SURROGATE, "managed_by": "Dr. Rivera"},
        ),
        (staff, "PATCH", f"/api/v1/programs/{world.program.id}", {"name": LONE_SURROGATE}),
    ]


def test_a_lone_surrogate_in_text_is_a_422_not_a_database_error(as_user, world):
    for caller, method, url, body in _surrogate_requests(world, as_user):
        response = caller.open(method, url, data=_raw_json(body), content_type="application/json")
        refused = assert_error(response, 422, with_errors=True)
        assert "surrogate" in refused["message"], (url, refused)


def test_a_lone_surrogate_in_a_key_is_refused_too(as_user, world):
    body = {**GRADUATE_BODY, LONE_SURROGATE: 1}
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/graduates",
        data=_raw_json(body),
        content_type="application/json",
    )
    assert_error(response, 422, with_errors=True)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_body_nested_5000_deep_is_a_json_400(as_user, world, opener):
    closer = "]" if opener == "[" else "}"
    deep = opener * 5000 + "1" + closer * 5000
    for caller, url in [
        (as_user(world.email("staff")), f"/api/v1/programs/{world.program.id}/members"),
        (as_user(world.email("graduate")), f"/api/v1/graduates/{world.graduate.id}/check-ins"),
    ]:
        response = caller.post(url, data=deep, content_type="application/json")
        assert "nested too deeply" in assert_error(response, 400)["message"]


def test_nesting_past_what_any_body_needs_is_a_422(as_user, world):
    """Deep enough to parse, far deeper than any of our bodies: refused by the schemas."""
    response = as_user(world.email("staff")).post(
        f"/api/v1/programs/{world.program.id}/graduates",
        json={
            **GRADUATE_BODY,
            "baseline": {"phq9": 7, "gad7": 6, "x": json.loads("[" * 40 + "]" * 40)},
        },
    )
    assert "nested" in assert_error(response, 422, with_errors=True)["message"]


@pytest.mark.parametrize(
    "oddity",
    [
        {"answers": {**DAILY_UNSAFE["answers"], LONE_SURROGATE: 1}},
        {"extra": json.loads("[" * 500 + "]" * 500)},
        {"extra": "\x00"},
    ],
    ids=["surrogate key", "500 deep", "NUL"],
)
def test_an_unsafe_check_in_keeps_its_safety_block_whatever_else_is_wrong(as_user, world, oddity):
    response = as_user(world.email("graduate")).post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins",
        data=_raw_json({**DAILY_UNSAFE, **oddity}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.json
    assert response.json["safety"]["positive"] is True


@pytest.mark.parametrize(
    "tail",
    [', "extra": ' + "[" * 5000 + "]" * 5000 + "}", ', "extra": }', ","],
    ids=["5000 deep", "malformed", "truncated"],
)
def test_an_unsafe_check_in_too_broken_to_parse_still_gets_its_safety_block(as_user, world, tail):
    text = json.dumps(DAILY_UNSAFE)[:-1] + tail
    response = as_user(world.email("graduate")).post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins",
        data=text,
        content_type="application/json",
    )
    assert response.status_code == 400, response.json
    assert response.json["safety"]["positive"] is True
    assert response.json["safety"]["resources"]


def test_an_idempotency_key_over_200_characters_is_a_422_with_the_safety_block(as_user, world, db):
    caller = as_user(world.email("graduate"))
    url = f"/api/v1/graduates/{world.graduate.id}/check-ins"
    too_long = caller.post(url, json=DAILY_UNSAFE, headers={"Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422, too_long.json
    assert set(too_long.json["errors"]) == {"Idempotency-Key"}
    assert too_long.json["safety"]["positive"] is True
    assert db.scalar(select(func.count()).select_from(CheckIn)) == 0

    stored = caller.post(url, json=DAILY_UNSAFE, headers={"Idempotency-Key": "k" * 200})
    assert stored.status_code == 201, stored.json
    again = caller.post(url, json=DAILY_UNSAFE, headers={"Idempotency-Key": "k" * 200})
    assert again.status_code == 201 and again.json["id"] == stored.json["id"]


@pytest.fixture
def crashing_app(migrated_url: str, session_clock) -> Iterator[Flask]:
    """A separate app (its own engine on the migrated database) with a route that fails."""
    application = create_app(conftest.test_config(migrated_url, session_clock))

    @application.get("/api/v1/test-crash")
    def crash():
        raise RuntimeError("secret-internal-detail in /srv/companion/api/db.py")

    yield application
    application.extensions["companion"].db.dispose()


def test_an_unhandled_exception_is_a_json_500_without_internals(crashing_app):
    response = crashing_app.test_client().get(
        "/api/v1/test-crash", headers={"X-Request-ID": "trace-me-500"}
    )
    body = assert_error(response, 500)
    text = response.get_data(as_text=True)
    for leak in ("secret-internal-detail", "RuntimeError", "Traceback", "/srv/", ".py"):
        assert leak not in text
    assert response.headers["X-Request-ID"] == "trace-me-500"
    assert "trace-me-500" in body["message"]
    assert response.headers["Cache-Control"] == "no-store"


def test_a_500_without_incoming_request_id_gets_a_generated_one(crashing_app):
    response = crashing_app.test_client().get("/api/v1/test-crash")
    assert_error(response, 500)
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert request_id in response.get_json()["message"]


def test_request_id_is_echoed_when_safe_and_replaced_when_not(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123.x_y"}).headers[
        "X-Request-ID"
    ] == ("abc-123.x_y")
    replaced = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_api_v1_responses_are_not_cached(client, as_user, world):
    caller = as_user(world.email("staff"))
    responses = [
        caller.get("/api/v1/me"),
        caller.get(f"/api/v1/programs/{world.program.id}/members"),
        client.get("/api/v1/me"),  # 401
        caller.get("/api/v1/no-such-resource"),  # 404
        caller.post(f"/api/v1/programs/{world.program.id}/members", json={}),  # 422
    ]
    assert [r.status_code for r in responses] == [200, 200, 401, 404, 422]
    for response in responses:
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Request-ID"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_answer_without_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# The calendar feed's secret address is its key: calendar apps cannot send a bearer token.
PUBLIC_V1 = {"/api/v1/calendar/{token}.ics", "/api/v1/group-calendar/{token}.ics"}


def test_openapi_declares_bearer_auth_on_every_v1_operation(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    default = spec.get("security", [])
    v1_operations = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            security = operation.get("security", default)
            if path in PUBLIC_V1:
                assert security == [], (method, path)
            elif path.startswith("/api/v1/"):
                v1_operations += 1
                assert security == [{"bearerAuth": []}], (method, path)
            elif path in ("/healthz", "/readyz"):
                assert security == [], (method, path)
    assert v1_operations >= 10
    assert spec["paths"]["/healthz"]["get"].get("security", default) == []
