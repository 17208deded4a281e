"""GET …/today: the phase by local day after graduation, what is due, and cheap polling."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from api.programs.models import Role
from tests import factories
from tests.matrix_plans import APPOINTMENT

# 05:00 UTC is still the previous evening in Los Angeles: the local day decides.
LATE_EVENING_LA = datetime.fromisoformat("2026-11-23T05:00:00+00:00")
LOCAL_TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("days", "phase"),
    [
        (0, "month1"),
        (30, "month1"),
        (31, "months2_3"),
        (91, "months2_3"),
        (92, "months4_6"),
        (183, "months4_6"),
        (184, "maintenance"),
    ],
)
def test_phase_by_days_after_graduation_in_the_graduates_zone(db, as_user, clock, days, phase):
    clock.set(LATE_EVENING_LA)
    program = factories.program(db)
    email = factories.unique_email("grad")
    graduate = factories.graduate(
        db,
        program,
        email=email,
        timezone="America/Los_Angeles",
        graduation_date=LOCAL_TODAY - timedelta(days=days),
    )
    db.commit()
    response = as_user(email).get(f"/api/v1/graduates/{graduate.id}/today")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["date"] == "2026-11-22"
    assert body["days_since_graduation"] == days
    assert body["phase"] == phase
    assert body["phase_card"]["title"]
    assert body["safety_plan_url"].endswith("/plan#safety_plan")


@pytest.fixture
def setting(db, as_user):
    program = factories.program(db)
    therapist = factories.member(db, program, Role.THERAPIST)
    email = factories.unique_email("grad")
    graduate = factories.graduate(
        db,
        program,
        email=email,
        therapists=(therapist,),
        graduation_date=date(2026, 11, 16),
        timezone="America/Chicago",
    )
    db.commit()
    base = f"/api/v1/graduates/{graduate.id}"
    return as_user(email), as_user(therapist.email), base


def test_today_lists_appointments_skills_and_check_ins_due(setting, clock):
    graduate, therapist, base = setting  # graduated 7 days ago: the first weekly forms are due
    today_at_five = {**APPOINTMENT, "starts_at_local": "2026-11-23T17:00:00", "rrule": None}
    assert therapist.post(f"{base}/plan/appointments", json=today_at_five).status_code == 201
    tomorrow = {**today_at_five, "starts_at_local": "2026-11-24T17:00:00"}
    assert therapist.post(f"{base}/plan/appointments", json=tomorrow).status_code == 201
    therapist.post(f"{base}/plan/skills", json={"skill_id": "dbt-tipp", "target_per_week": 3})

    body = graduate.get(f"{base}/today").json
    assert [a["starts_at"] for a in body["appointments"]] == ["2026-11-23T23:00:00+00:00"]
    assert [(s["skill_id"], s["done_this_week"]) for s in body["skills_due"]] == [("dbt-tipp", 0)]
    due = {c["questionnaire"]: c for c in body["check_ins_due"]}
    assert set(due) == {"daily", "phq9", "gad7"}
    assert due["daily"]["optional"] is False
    assert due["phq9"]["closes_at"] == "2026-11-26T06:00:00+00:00"

    graduate.post(f"{base}/skills/dbt-tipp/practice", json={"done": True, "helpfulness": 6})
    assert graduate.get(f"{base}/today").json["skills_due"] == []


def test_substance_use_care_adds_the_bam(db, as_user):
    program = factories.program(db)
    email = factories.unique_email("grad")
    graduate = factories.graduate(
        db, program, email=email, graduation_date=date(2026, 11, 16), substance_use=True
    )
    db.commit()
    due = as_user(email).get(f"/api/v1/graduates/{graduate.id}/today").json["check_ins_due"]
    assert "bam" in {c["questionnaire"] for c in due}


def test_today_supports_if_none_match(setting, clock):
    graduate, therapist, base = setting
    first = graduate.get(f"{base}/today")
    tag = first.headers["ETag"]
    assert graduate.get(f"{base}/today", headers={"If-None-Match": tag}).status_code == 304
    therapist.post(f"{base}/plan/skills", json={"skill_id": "dbt-tipp", "target_per_week": 3})
    changed = graduate.get(f"{base}/today", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
