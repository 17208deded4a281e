"""Every route in the OpenAPI spec x every kind of caller gets exactly what the rules allow.

A route missing from EXPECTED fails `test_every_route_is_in_the_matrix`, so new routes
must join the matrix. Statuses come from API.md: no tie to the graduate or program -> 404,
a tie without the right -> 403, a route not for the caller's role -> 403, no token -> 401.
"""

from __future__ import annotations

from typing import Any

import pytest

from api import create_app
from api.graduates import enrollment
from tests.matrix_checkins import (
    CHECKIN_BODIES,
    CHECKIN_EXPECTED,
    CHECKIN_QUERIES,
    checkin_values,
)
from tests.matrix_content import CONTENT_BODIES, CONTENT_EXPECTED, content_values
from tests.matrix_groups import (
    GROUP_BODIES,
    GROUP_EXPECTED,
    GROUP_PATH_VALUES,
    GROUP_QUERIES,
    group_values,
)
from tests.matrix_notifications import (
    NOTIFICATION_BODIES,
    NOTIFICATION_EXPECTED,
    notification_values,
)
from tests.matrix_plans import PLAN_BODIES, PLAN_EXPECTED, QUERIES, plan_values
from tests.matrix_privacy import PRIVACY_BODIES, PRIVACY_EXPECTED
from tests.matrix_reminders import REMINDER_BODIES, REMINDER_EXPECTED
from tests.matrix_summaries import SUMMARY_BODIES, SUMMARY_EXPECTED, summary_values
from tests.personas import PERSONAS, everyone, row

EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/healthz"): everyone(200),
    ("GET", "/readyz"): everyone(200),
    ("GET", "/api/v1/me"): row(200),
    ("POST", "/api/v1/me/sign-out-everywhere"): row(204),
    ("GET", "/api/v1/programs/{program_id}"): row(
        200, graduate=403, other_graduate=403, other_staff=404
    ),
    ("PATCH", "/api/v1/programs/{program_id}"): row(403, staff=200, other_staff=404),
    ("GET", "/api/v1/programs/{program_id}/members"): row(403, staff=200, other_staff=404),
    ("POST", "/api/v1/programs/{program_id}/members"): row(403, staff=201, other_staff=404),
    ("GET", "/api/v1/programs/{program_id}/graduates"): row(
        403,
        staff=200,
        other_staff=404,
        therapist_consent=200,
        therapist_no_consent=200,
        therapist_unlinked=200,
    ),
    ("POST", "/api/v1/programs/{program_id}/graduates"): row(403, staff=201, other_staff=404),
    ("GET", "/api/v1/programs/{program_id}/audit-events"): row(403, staff=200, other_staff=404),
    ("GET", "/api/v1/graduates/{graduate_id}"): row(
        403,
        graduate=200,
        other_graduate=404,
        staff=200,
        other_staff=404,
        therapist_consent=200,
        therapist_no_consent=200,
        therapist_unlinked=404,
    ),
    ("POST", "/api/v1/graduates/{graduate_id}/enrollment-code"): row(
        403, staff=201, other_staff=404
    ),
    ("GET", "/api/v1/graduates/{graduate_id}/care-team"): row(
        403, graduate=200, other_graduate=404, staff=200, other_staff=404
    ),
    ("POST", "/api/v1/graduates/{graduate_id}/care-team"): row(403, staff=201, other_staff=404),
    ("DELETE", "/api/v1/graduates/{graduate_id}/care-team/{member_id}"): row(
        403, staff=204, other_staff=404
    ),
    ("POST", "/api/v1/enrollments"): row(200, graduate=409, other_graduate=409),
    ("GET", "/api/v1/graduates/{graduate_id}/consents"): row(
        403, graduate=200, other_graduate=404, staff=200, other_staff=404
    ),
    ("PUT", "/api/v1/graduates/{graduate_id}/consents/{therapist_user_id}"): row(
        403, graduate=200, other_graduate=404
    ),
    ("DELETE", "/api/v1/graduates/{graduate_id}/consents/{therapist_user_id}"): row(
        403, graduate=204, other_graduate=404
    ),
}

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/programs/{program_id}/members"): {
        "email": "new.coordinator@example.org",
        "role": "coordinator",
    },
    ("POST", "/api/v1/programs/{program_id}/graduates"): {
        "display_name": "Robin",
        "graduation_date": "2026-11-20",
        "timezone": "Europe/London",
        "substance_use": False,
        "baseline": {"phq9": 7, "gad7": 6},
        "therapist_email": None,
    },
    ("PATCH", "/api/v1/programs/{program_id}"): {"phone": "+1 555 0100"},
    ("POST", "/api/v1/graduates/{graduate_id}/care-team"): {"email": "new.therapist@example.org"},
    ("PUT", "/api/v1/graduates/{graduate_id}/consents/{therapist_user_id}"): {
        "share_check_ins": True,
        "share_substance_use": True,
    },
}


def _spec_operations() -> list[tuple[str, str]]:
    app = create_app({"COMPANION_ENV": "test", "DATABASE_URL": "sqlite://"})
    spec = app.test_client().get("/api/openapi.json").json
    app.extensions["companion"].db.dispose()
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


OPERATIONS = _spec_operations()
EXPECTED.update(PLAN_EXPECTED)
EXPECTED.update(CHECKIN_EXPECTED)
BODIES.update(PLAN_BODIES)
BODIES.update(CHECKIN_BODIES)
EXPECTED.update(CONTENT_EXPECTED)
BODIES.update(CONTENT_BODIES)
EXPECTED.update(GROUP_EXPECTED)
BODIES.update(GROUP_BODIES)
EXPECTED.update(SUMMARY_EXPECTED)
BODIES.update(SUMMARY_BODIES)
EXPECTED.update(NOTIFICATION_EXPECTED)
BODIES.update(NOTIFICATION_BODIES)
EXPECTED.update(REMINDER_EXPECTED)
BODIES.update(REMINDER_BODIES)
EXPECTED.update(PRIVACY_EXPECTED)
BODIES.update(PRIVACY_BODIES)


def test_every_route_is_in_the_matrix():
    assert set(OPERATIONS) == set(EXPECTED), "add new routes to EXPECTED (and BODIES)"


def _url(operation: tuple[str, str], world, db, clock) -> str:
    values = {
        "program_id": world.program.id,
        "graduate_id": world.graduate.id,
        "member_id": world.care_team_entry.id,
        "therapist_user_id": world.therapist_consent.user_id,
        **content_values(),
        **plan_values(world, db, clock.now()),
        **checkin_values(world, db, clock.now()),
        **group_values(world, db, clock.now()),
        **summary_values(world, db, clock.now()),
        **notification_values(world, db, clock.now()),
        **GROUP_PATH_VALUES.get(operation, {}),
    }
    path = operation[1].format(**{key: str(value) for key, value in values.items()})
    return path + {**QUERIES, **CHECKIN_QUERIES, **GROUP_QUERIES}.get(operation, "")


def _body(operation: tuple[str, str], world, db, clock) -> Any:
    if operation == ("POST", "/api/v1/enrollments"):
        graduate = _unenrolled_graduate(world, db)
        return {"code": enrollment.issue(session=db, graduate_id=graduate.id, now=clock.now())}
    return BODIES.get(operation)


def _unenrolled_graduate(world, db):
    from tests import factories

    graduate = factories.graduate(db, world.program)
    graduate.user_id = None
    db.flush()
    return graduate


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=" ".join)
def test_access(operation, persona, world, as_user, db, clock):
    method = operation[0]
    expected = EXPECTED[operation][persona]
    caller = as_user(world.email(persona))
    body = _body(operation, world, db, clock)
    response = caller.open(method, _url(operation, world, db, clock), json=body)
    assert response.status_code == expected, (persona, response.get_json())
    if expected >= 400:
        assert set(response.json) >= {"code", "status", "message"}
