"""The continuing-care plan through the API: built by the care team, read and partly edited
by the graduate, versioned, and refusing what a clinician would not accept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from api.plans.models import Appointment, Medication, Plan, PlanChange, PlanSkill
from tests.matrix_plans import APPOINTMENT, CONTACT, PLAN_BODIES

G = "/api/v1/graduates/{graduate_id}"


@pytest.fixture
def urls(world):
    base = G.format(graduate_id=world.graduate.id)
    return {
        "plan": f"{base}/plan",
        "appointments": f"{base}/plan/appointments",
        "medications": f"{base}/plan/medications",
        "skills": f"{base}/plan/skills",
        "occurrences": f"{base}/appointments/occurrences",
        "base": base,
    }


@pytest.fixture
def therapist(world, as_user):
    return as_user(world.email("therapist_no_consent"))


@pytest.fixture
def graduate(world, as_user):
    return as_user(world.email("graduate"))


def section_body(section: str) -> dict:
    return PLAN_BODIES[("PUT", f"{G}/plan/{section}")]


def counts(db) -> dict[str, int]:
    return {
        model.__name__: db.scalar(select(func.count()).select_from(model))
        for model in (Plan, PlanChange, Appointment, Medication, PlanSkill)
    }


def test_the_care_team_builds_a_full_plan_and_the_graduate_reads_it(
    world, as_user, therapist, graduate, urls
):
    staff = as_user(world.email("staff"))
    assert therapist.post(urls["appointments"], json=APPOINTMENT).status_code == 201
    psychiatry = {
        **APPOINTMENT,
        "kind": "psychiatry",
        "clinician_name": "Dr. Rivera",
        "location": None,
        "video_url": "https://video.example.org/rivera",
        "starts_at_local": "2026-12-02T10:00:00",
        "rrule": "FREQ=MONTHLY;COUNT=6",
    }
    assert staff.post(urls["appointments"], json=psychiatry).status_code == 201
    medication = {
        "name": "sertraline",
        "dose": "50 mg",
        "managed_by": "Dr. Rivera",
        "next_review_date": "2027-01-05",
    }
    assert therapist.post(urls["medications"], json=medication).status_code == 201
    for skill_id, target in (("dbt-tipp", 3), ("mindfulness-box-breathing", 5)):
        response = therapist.post(
            urls["skills"], json={"skill_id": skill_id, "target_per_week": target}
        )
        assert response.status_code == 201, response.json
        assert response.json["title"]
    for section in ("step-down", "contacts"):
        assert (
            therapist.put(f"{urls['plan']}/{section}", json=section_body(section)).status_code
            == 200
        )
    for section in ("warning-signs", "triggers", "safety-plan"):
        response = graduate.put(f"{urls['plan']}/{section}", json=section_body(section))
        assert response.status_code == 200, response.json

    response = graduate.get(urls["plan"])
    assert response.status_code == 200
    plan = response.json
    assert response.headers["ETag"] == f'"plan-{plan["version"]}"'
    assert plan["version"] == 10
    assert [a["kind"] for a in plan["appointments"]] == ["therapy", "psychiatry"]
    assert plan["appointments"][0]["starts_at_local"] == "2026-12-01T17:00"
    assert plan["appointments"][0]["starts_at"] == "2026-12-01T23:00:00+00:00"
    assert plan["medications"][0]["name"] == "sertraline"
    assert {s["skill_id"] for s in plan["skills"]} == {"dbt-tipp", "mindfulness-box-breathing"}
    assert plan["safety_plan"]["people_to_ask"] == [CONTACT]
    assert plan["warning_signs"] == ["sleeping all day"]
    assert plan["step_down"][0]["name"] == "Tuesday group"
    assert plan["contacts"][0]["for_what"] == "appointments"
    assert [line["phone"] for line in plan["crisis_lines"]] == ["988", "911"]
    assert plan["crisis_lines"][0]["text"] == "988"


def test_an_unwritten_plan_reads_as_empty_version_0_with_crisis_lines(graduate, urls):
    plan = graduate.get(urls["plan"]).json
    assert plan["version"] == 0
    assert plan["appointments"] == [] and plan["safety_plan"]["people_to_ask"] == []
    assert {line["phone"] for line in plan["crisis_lines"]} == {"988", "911"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("appointments", APPOINTMENT),
        ("medications", {"name": "lithium", "managed_by": "Dr. Rivera"}),
        ("skills", {"skill_id": "dbt-tipp", "target_per_week": 3}),
    ],
)
def test_the_graduate_cannot_edit_clinician_owned_parts(graduate, urls, db, path, body):
    before = counts(db)
    response = graduate.post(urls[path], json=body)
    assert response.status_code == 403
    assert "care team" in response.json["message"]
    assert counts(db) == before


def test_the_graduate_cannot_replace_step_down(graduate, urls, db):
    before = counts(db)
    response = graduate.put(f"{urls['plan']}/step-down", json=section_body("step-down"))
    assert response.status_code == 403
    assert counts(db) == before


def test_if_match_guards_against_a_racing_edit(graduate, therapist, urls, db):
    first = graduate.put(f"{urls['plan']}/warning-signs", json={"warning_signs": ["a"]})
    tag = first.headers["ETag"]
    second = therapist.put(
        f"{urls['plan']}/triggers", json={"triggers": ["b"]}, headers={"If-Match": tag}
    )
    assert second.status_code == 200
    before = counts(db)
    stale = graduate.put(
        f"{urls['plan']}/warning-signs", json={"warning_signs": ["c"]}, headers={"If-Match": tag}
    )
    assert stale.status_code == 412
    assert stale.json["code"] == 412 and "reload" in stale.json["message"]
    assert counts(db) == before
    assert graduate.get(urls["plan"]).json["warning_signs"] == ["a"]
    garbled = graduate.put(
        f"{urls['plan']}/warning-signs", json={"warning_signs": ["c"]}, headers={"If-Match": "x"}
    )
    assert garbled.status_code == 412


def test_if_none_match_on_the_plan_answers_304(graduate, urls):
    tag = graduate.get(urls["plan"]).headers["ETag"]
    assert graduate.get(urls["plan"], headers={"If-None-Match": tag}).status_code == 304


def test_every_change_is_kept_with_who_and_when(graduate, urls, clock, world, as_user):
    graduate.put(f"{urls['plan']}/warning-signs", json={"warning_signs": ["a"]})
    clock.advance(days=8)
    therapist = as_user(world.email("therapist_no_consent"))  # a fresh token, a week later
    therapist.put(f"{urls['plan']}/warning-signs", json={"warning_signs": ["a", "b"]})
    since = (clock.now() - timedelta(days=7)).isoformat()
    changes = therapist.get(f"{urls['plan']}/changes", query_string={"since": since})
    assert changes.status_code == 200
    [change] = changes.json
    assert change["version"] == 2 and change["section"] == "warning_signs"
    assert change["actor_role"] == "therapist"
    assert change["before"] == ["a"] and change["after"] == ["a", "b"]
    assert len(therapist.get(f"{urls['plan']}/changes").json) == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rrule": "FREQ=WEEKLY"}, "rrule"),
        ({"rrule": "FREQ=MINUTELY;COUNT=10"}, "rrule"),
        ({"rrule": "FREQ=DAILY;COUNT=1000"}, "rrule"),
        ({"rrule": "not a rule"}, "rrule"),
        ({"starts_at_local": "2027-03-14T02:30:00"}, "starts_at_local"),  # skipped by DST
        ({"starts_at_local": "2026-11-01T01:30:00"}, "starts_at_local"),  # happens twice
        ({"starts_at_local": "2026-12-01T17:00:00-06:00"}, "starts_at_local"),
        ({"location": None, "video_url": None}, "location"),
        ({"video_url": "http://insecure.example.org"}, "video_url"),
        ({"kind": "surgery"}, "kind"),
        ({"duration_minutes": 0}, "duration_minutes"),
    ],
)
def test_bad_appointments_are_refused_and_nothing_is_written(therapist, urls, db, changes, field):
    before = counts(db)
    response = therapist.post(urls["appointments"], json={**APPOINTMENT, **changes})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert counts(db) == before


@pytest.mark.parametrize(
    ("section", "body", "field"),
    [
        (
            "safety-plan",
            {
                "safety_plan": {
                    **section_body("safety-plan")["safety_plan"],
                    "people_to_ask": [{"name": "Ana"}],
                }
            },
            "safety_plan",
        ),
        (
            "safety-plan",
            {
                "safety_plan": {
                    **section_body("safety-plan")["safety_plan"],
                    "professionals": [{"name": "Dr", "phone": "call me"}],
                }
            },
            "safety_plan",
        ),
        ("contacts", {"contacts": [{"name": "Clinic", "for_what": "x"}]}, "contacts"),
        ("warning-signs", {"warning_signs": ["x" * 201]}, "warning_signs"),
        ("warning-signs", {"warning_signs": "tired"}, "warning_signs"),
    ],
)
def test_bad_sections_are_refused(graduate, urls, db, section, body, field):
    before = counts(db)
    response = graduate.put(f"{urls['plan']}/{section}", json=body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert counts(db) == before


def test_unknown_skill_is_refused(therapist, urls, db):
    before = counts(db)
    response = therapist.post(
        urls["skills"], json={"skill_id": "no-such-skill", "target_per_week": 2}
    )
    assert response.status_code == 422
    assert "skill_id" in response.json["errors"]
    assert counts(db) == before


def test_the_same_skill_twice_is_a_conflict(therapist, urls):
    body = {"skill_id": "dbt-tipp", "target_per_week": 2}
    assert therapist.post(urls["skills"], json=body).status_code == 201
    assert therapist.post(urls["skills"], json=body).status_code == 409


def test_weekly_appointments_keep_their_wall_clock_time_across_dst(therapist, urls):
    body = {**APPOINTMENT, "starts_at_local": "2026-10-27T17:00:00"}
    assert therapist.post(urls["appointments"], json=body).status_code == 201
    found = therapist.get(
        urls["occurrences"],
        query_string={"from": "2026-10-20T00:00:00Z", "to": "2026-11-12T00:00:00Z"},
    ).json
    assert [o["starts_at"] for o in found] == [
        "2026-10-27T22:00:00+00:00",  # 17:00 CDT
        "2026-11-03T23:00:00+00:00",  # 17:00 CST
        "2026-11-10T23:00:00+00:00",
    ]


def test_the_graduate_reports_occurrences(therapist, graduate, urls, clock):
    body = {**APPOINTMENT, "starts_at_local": "2026-11-03T17:00:00"}
    appointment = therapist.post(urls["appointments"], json=body).json
    reports = f"{urls['base']}/appointments/{appointment['id']}/reports"
    past = {"occurrence_start": "2026-11-17T23:00:00+00:00", "status": "attended"}
    assert graduate.post(reports, json=past).status_code == 200
    assert graduate.post(reports, json={**past, "status": "missed"}).json["status"] == "missed"
    future = {"occurrence_start": "2026-12-01T23:00:00+00:00", "status": "attended"}
    assert graduate.post(reports, json=future).status_code == 422
    assert graduate.post(reports, json={**future, "status": "rescheduled"}).status_code == 200
    wrong = {"occurrence_start": "2026-11-17T22:00:00+00:00", "status": "attended"}
    assert graduate.post(reports, json=wrong).status_code == 422
    window = {"from": "2026-11-17T00:00:00Z", "to": "2026-11-18T00:00:00Z"}
    [occurrence] = graduate.get(urls["occurrences"], query_string=window).json
    assert occurrence["report"] == "missed"


def test_practice_is_logged_for_skills_in_the_plan(therapist, graduate, urls, clock):
    therapist.post(urls["skills"], json={"skill_id": "dbt-tipp", "target_per_week": 3})
    practice = f"{urls['base']}/skills/dbt-tipp/practice"
    logged = graduate.post(practice, json={"done": True, "helpfulness": 8})
    assert logged.status_code == 201 and logged.json["helpfulness"] == 8
    assert graduate.post(practice, json={"done": True, "helpfulness": 11}).status_code == 422
    assert graduate.post(practice, json={"done": "yes"}).status_code == 422
    too_old = (clock.now() - timedelta(days=8)).isoformat()
    assert graduate.post(practice, json={"done": True, "practiced_at": too_old}).status_code == 422
    other = f"{urls['base']}/skills/rp-urge-surfing/practice"
    assert graduate.post(other, json={"done": True}).status_code == 404


def test_a_therapists_plan_read_is_audited(therapist, as_user, world, urls):
    therapist.get(urls["plan"])
    events = (
        as_user(world.email("staff"))
        .get(
            f"/api/v1/programs/{world.program.id}/audit-events",
            query_string={"action": "plan.read"},
        )
        .json
    )
    assert [(e["actor_role"], e["outcome"]) for e in events] == [("therapist", "allowed")]


def test_medication_names_never_reach_the_logs(therapist, urls, caplog):
    caplog.set_level("DEBUG")
    body = {
        "name": "clozapine-planted",
        "dose": "200 mg",
        "managed_by": "Dr. Rivera",
        "next_review_date": str(date(2027, 1, 5)),
    }
    assert therapist.post(urls["medications"], json=body).status_code == 201
    assert "clozapine-planted" not in caplog.text


def test_updating_and_removing_items_bumps_the_version(therapist, urls):
    created = therapist.post(urls["medications"], json={"name": "a", "managed_by": "b"}).json
    item = f"{urls['medications']}/{created['id']}"
    updated = therapist.put(item, json={"name": "a", "dose": "5 mg", "managed_by": "b"})
    assert updated.status_code == 200 and updated.json["dose"] == "5 mg"
    assert therapist.delete(item).status_code == 204
    assert therapist.delete(item).status_code == 404
    assert therapist.get(urls["plan"]).json["version"] == 3


def test_the_programs_crisis_lines_and_phone_appear_in_every_plan(world, as_user, graduate, urls):
    staff = as_user(world.email("staff"))
    program_url = f"/api/v1/programs/{world.program.id}"
    lines = [
        {"name": "988 Suicide & Crisis Lifeline", "phone": "988", "text": "988"},
        {"name": "Campus crisis team", "phone": "+1 555 0111", "text": None},
    ]
    changed = staff.patch(program_url, json={"phone": "+1 555 0123", "crisis_lines": lines})
    assert changed.status_code == 200, changed.json
    plan = graduate.get(urls["plan"]).json
    assert plan["crisis_lines"] == lines
    assert plan["program_phone"] == "+1 555 0123"
    assert as_user(world.email("coordinator")).get(program_url).json["phone"] == "+1 555 0123"


@pytest.mark.parametrize(
    "body",
    [
        {"crisis_lines": []},
        {"crisis_lines": [{"name": "Line", "phone": "call us"}]},
        {"phone": "none"},
        {"name": ""},
        {"unknown": 1},
    ],
)
def test_bad_program_settings_are_refused(world, as_user, body):
    staff = as_user(world.email("staff"))
    response = staff.patch(f"/api/v1/programs/{world.program.id}", json=body)
    assert response.status_code == 422
    lines = staff.get(f"/api/v1/programs/{world.program.id}").json["crisis_lines"]
    assert [line["phone"] for line in lines] == ["988", "911"]
