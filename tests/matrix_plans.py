"""Access-matrix rows for the plan routes (joined into test_access_matrix.EXPECTED)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from api.plans import calendar
from api.plans.models import Appointment, Medication, PlanSkill
from tests.personas import PERSONAS, row


def reads(status: int = 200) -> dict[str, int]:
    """The graduate, their staff and their care team (consent or not); no one else."""
    return row(
        403,
        graduate=status,
        other_graduate=404,
        therapist_consent=status,
        therapist_no_consent=status,
        therapist_unlinked=404,
        staff=status,
        other_staff=404,
    )


def care(status: int) -> dict[str, int]:
    """Clinician-owned parts: the care team and staff; the graduate gets a clear 403."""
    return {**reads(status), "graduate": 403}


def own(status: int) -> dict[str, int]:
    """The graduate's own actions: anyone else is refused by role or, another graduate, 404."""
    return row(403, graduate=status, other_graduate=404)


G = "/api/v1/graduates/{graduate_id}"
PLAN_EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", f"{G}/plan"): reads(),
    ("PUT", f"{G}/plan/warning-signs"): reads(),
    ("PUT", f"{G}/plan/triggers"): reads(),
    ("PUT", f"{G}/plan/safety-plan"): reads(),
    ("PUT", f"{G}/plan/contacts"): reads(),
    ("PUT", f"{G}/plan/step-down"): care(200),
    ("GET", f"{G}/plan/changes"): reads(),
    ("POST", f"{G}/plan/appointments"): care(201),
    ("PUT", f"{G}/plan/appointments/{{appointment_id}}"): care(200),
    ("DELETE", f"{G}/plan/appointments/{{appointment_id}}"): care(204),
    ("GET", f"{G}/appointments/occurrences"): reads(),
    ("POST", f"{G}/appointments/{{appointment_id}}/reports"): own(200),
    ("POST", f"{G}/plan/medications"): care(201),
    ("PUT", f"{G}/plan/medications/{{medication_id}}"): care(200),
    ("DELETE", f"{G}/plan/medications/{{medication_id}}"): care(204),
    ("POST", f"{G}/plan/skills"): care(201),
    ("PUT", f"{G}/plan/skills/{{skill_id}}"): care(200),
    ("DELETE", f"{G}/plan/skills/{{skill_id}}"): care(204),
    ("POST", f"{G}/skills/{{skill_id}}/practice"): own(201),
    ("GET", f"{G}/today"): reads(),
    ("POST", f"{G}/calendar-feed"): own(201),
    ("DELETE", f"{G}/calendar-feed"): own(204),
    ("GET", "/api/v1/calendar/{token}.ics"): dict.fromkeys(PERSONAS, 200),
}

APPOINTMENT = {
    "kind": "therapy",
    "clinician_name": "Dr. Lee",
    "location": "Suite 4, 100 Main St",
    "starts_at_local": "2026-12-01T17:00:00",
    "rrule": "FREQ=WEEKLY;COUNT=12",
}
CONTACT = {"name": "Ana", "phone": "+1 555 0100", "relationship": "sister"}
PLAN_BODIES: dict[tuple[str, str], Any] = {
    ("PUT", f"{G}/plan/warning-signs"): {"warning_signs": ["sleeping all day"]},
    ("PUT", f"{G}/plan/triggers"): {"triggers": ["anniversaries"]},
    ("PUT", f"{G}/plan/safety-plan"): {
        "safety_plan": {
            "warning_signs": ["not answering texts"],
            "internal_coping": ["box breathing"],
            "distractions": [CONTACT],
            "distraction_places": ["the library"],
            "people_to_ask": [CONTACT],
            "professionals": [{"name": "Dr. Lee", "phone": "+1 555 0199"}],
            "environment_safety": ["keep medicines with Ana"],
        }
    },
    ("PUT", f"{G}/plan/contacts"): {
        "contacts": [{"name": "Clinic", "for_what": "appointments", "phone": "+1 555 0142"}]
    },
    ("PUT", f"{G}/plan/step-down"): {
        "step_down": [{"kind": "aftercare_group", "name": "Tuesday group", "schedule": "Tue 6pm"}]
    },
    ("POST", f"{G}/plan/appointments"): APPOINTMENT,
    ("PUT", f"{G}/plan/appointments/{{appointment_id}}"): APPOINTMENT,
    ("POST", f"{G}/appointments/{{appointment_id}}/reports"): {
        "occurrence_start": "2026-11-17T23:00:00+00:00",
        "status": "attended",
    },
    ("POST", f"{G}/plan/medications"): {"name": "sertraline", "managed_by": "Dr. Rivera"},
    ("PUT", f"{G}/plan/medications/{{medication_id}}"): {
        "name": "sertraline",
        "dose": "50 mg",
        "managed_by": "Dr. Rivera",
    },
    ("POST", f"{G}/plan/skills"): {"skill_id": "mindfulness-box-breathing", "target_per_week": 3},
    ("PUT", f"{G}/plan/skills/{{skill_id}}"): {"target_per_week": 5},
    ("POST", f"{G}/skills/{{skill_id}}/practice"): {"done": True, "helpfulness": 7},
    ("POST", f"{G}/calendar-feed"): {"show_place": False},
}
QUERIES = {
    ("GET", f"{G}/appointments/occurrences"): "?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
}


def plan_values(world, db, now: datetime) -> dict[str, Any]:
    """Path values for the plan routes: a weekly appointment that began before now, a
    medication, a skill in the plan and a live calendar-feed token."""
    graduate_id: uuid.UUID = world.graduate.id
    appointment = Appointment(
        graduate_id=graduate_id,
        kind="therapy",
        clinician_name="Dr. Lee",
        location="Clinic",
        video_url=None,
        starts_at=datetime.fromisoformat("2026-11-03T23:00:00+00:00"),
        timezone="America/Chicago",
        duration_minutes=50,
        rrule="FREQ=WEEKLY;COUNT=12",
        created_at=now,
    )
    medication = Medication(
        graduate_id=graduate_id,
        name="sertraline",
        dose=None,
        managed_by="Dr. Rivera",
        next_review_date=date(2027, 1, 5),
        created_at=now,
    )
    skill = PlanSkill(
        graduate_id=graduate_id,
        skill_id="dbt-tipp",
        target_per_week=3,
        created_at=now - timedelta(days=1),
    )
    db.add_all([appointment, medication, skill])
    db.flush()
    token, _ = calendar.issue(session=db, graduate_id=graduate_id, show_place=False, now=now)
    return {
        "appointment_id": appointment.id,
        "medication_id": medication.id,
        "skill_id": skill.skill_id,
        "token": token,
    }
