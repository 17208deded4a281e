"""Access-matrix rows for the check-in routes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.checkins.models import CheckIn
from api.flags.models import Flag
from tests.personas import row

G = "/api/v1/graduates/{graduate_id}"
RULES = "/api/v1/programs/{program_id}/flag-rules"


def clinical(status: int = 200) -> dict[str, int]:
    """Check-in data: the graduate, staff, and a care-team therapist only with consent."""
    return row(
        403,
        graduate=status,
        other_graduate=404,
        therapist_consent=status,
        therapist_unlinked=404,
        staff=status,
        other_staff=404,
    )


CHECKIN_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("POST", f"{G}/check-ins"): row(403, graduate=201, other_graduate=404),
    ("GET", f"{G}/check-ins"): clinical(),
    ("GET", f"{G}/check-ins/due"): clinical(),
    ("GET", f"{G}/check-ins/{{check_in_id}}"): clinical(),
    ("GET", f"{G}/trends"): clinical(),
}
CHECKIN_BODIES: dict[tuple[str, str], Any] = {
    ("POST", f"{G}/check-ins"): {
        "questionnaire": "phq9",
        "answers": {f"phq9-{i}": 0 for i in range(1, 10)},
        "answered_at": "2026-11-23T14:00:00+00:00",
    },
}
CHECKIN_QUERIES = {("GET", f"{G}/trends"): "?instrument=phq9"}


def checkin_values(world, db, now: datetime) -> dict[str, Any]:
    check_in = CheckIn(
        graduate_id=world.graduate.id,
        questionnaire="gad7",
        form_version="2026.1",
        answered_at=now,
        submitted_at=now,
        answers={f"gad7-{i}": 1 for i in range(1, 8)},
        score=7,
        band="mild",
        subscales=None,
        safety_positive=False,
        part2=False,
    )
    db.add(check_in)
    db.flush()
    return {"check_in_id": check_in.id, **flag_values(world, db, now)}


def flag_rows() -> dict[tuple[str, str], dict[str, int]]:
    """Flags: staff and consenting therapists; a flag one may not see is 404 by id."""
    one = row(
        403,
        therapist_consent=200,
        therapist_no_consent=404,
        therapist_unlinked=404,
        staff=200,
        other_staff=404,
    )
    program_clinicians = row(
        403,
        therapist_consent=200,
        therapist_no_consent=200,
        therapist_unlinked=200,
        staff=200,
        other_staff=404,
    )
    return {
        ("GET", "/api/v1/flags"): row(
            403,
            therapist_consent=200,
            therapist_no_consent=200,
            therapist_unlinked=200,
            staff=200,
            other_staff=200,
        ),
        ("GET", "/api/v1/flags/{flag_id}"): one,
        ("GET", "/api/v1/flags/{flag_id}/events"): one,
        ("POST", "/api/v1/flags/{flag_id}/acknowledge"): one,
        ("POST", "/api/v1/flags/{flag_id}/resolve"): one,
        ("POST", f"{G}/contact-requests"): row(403, graduate=201, other_graduate=404),
        ("GET", RULES): program_clinicians,
        ("PUT", RULES): row(403, staff=200, other_staff=404),
        ("GET", f"{RULES}/versions"): program_clinicians,
    }


CHECKIN_EXPECTED.update(flag_rows())
CHECKIN_BODIES.update(
    {
        ("POST", "/api/v1/flags/{flag_id}/acknowledge"): {"note": "called them"},
        ("POST", "/api/v1/flags/{flag_id}/resolve"): {"outcome": "monitor", "note": "stable"},
        ("PUT", RULES): {"cooldown_days": 10},
    }
)


def flag_values(world, db, now: datetime) -> dict[str, Any]:
    flag = Flag(
        graduate_id=world.graduate.id,
        program_id=world.program.id,
        kind="watch",
        source="mood",
        status="open",
        rule="phq9_rise_from_baseline",
        rules_version="domain-2026.1",
        explanation="PHQ-9 rose.",
        evidence=[],
        details={},
        raised_at=now,
        updated_at=now,
    )
    db.add(flag)
    db.flush()
    return {"flag_id": flag.id}
