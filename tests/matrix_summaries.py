"""Access-matrix rows for weekly summaries and the FHIR export (joined into
test_access_matrix.EXPECTED)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api.summaries.models import Summary
from tests.matrix_checkins import clinical
from tests.personas import row

THERAPISTS = {"therapist_consent": 200, "therapist_no_consent": 200, "therapist_unlinked": 200}
# A summary belongs to the therapist it was built for; anyone else may not learn it exists.
OWN_SUMMARY = row(403, therapist_consent=200, therapist_no_consent=404, therapist_unlinked=404)

SUMMARY_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/api/v1/summaries/preferences"): row(403, **THERAPISTS),
    ("PUT", "/api/v1/summaries/preferences"): row(403, **THERAPISTS),
    ("GET", "/api/v1/summaries"): row(403, **THERAPISTS),
    ("GET", "/api/v1/summaries/caseload"): row(403, **THERAPISTS),
    ("GET", "/api/v1/summaries/{summary_id}"): OWN_SUMMARY,
    ("POST", "/api/v1/summaries/{summary_id}/read"): OWN_SUMMARY,
    ("GET", "/api/v1/graduates/{graduate_id}/fhir"): clinical(),
}
SUMMARY_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", "/api/v1/summaries/preferences"): {
        "weekday": "tuesday",
        "local_time": "07:30",
        "timezone": "America/Chicago",
    },
}


def summary_values(world, db, now: datetime) -> dict[str, Any]:
    summary = Summary(
        therapist_user_id=world.therapist_consent.user_id,
        graduate_id=world.graduate.id,
        program_id=world.program.id,
        week_of=now.date(),
        period_start=now - timedelta(days=7),
        period_end=now,
        built_at=now,
        headline="Stable",
        headline_rule="stable",
        content={},
    )
    db.add(summary)
    db.flush()
    return {"summary_id": summary.id}
