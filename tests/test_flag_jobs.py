"""The time-based rules, run by `flask jobs run-once` with the clock frozen and moved."""

from __future__ import annotations

import pytest

from tests.test_flags import Story, bam, gad7, phq9


@pytest.fixture
def run_jobs(app):
    def run() -> str:
        result = app.test_cli_runner().invoke(args=["jobs", "run-once"])
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.fixture
def story(db, as_user, clock):
    return Story(db, as_user, clock)


def keep_active_and_answer_forms(story, days: int, *, forms: bool = True) -> None:
    """Open the app every day; answer PHQ-9 and GAD-7 when they are due."""
    for _ in range(days):
        story.clock.advance(days=1)
        due = story.as_user(story.email).get(f"/api/v1/graduates/{story.graduate_id}/check-ins/due")
        if forms:
            names = {entry["questionnaire"] for entry in due.json}
            if "phq9" in names:
                story.check_in("phq9", phq9(6))
            if "gad7" in names:
                story.check_in("gad7", gad7(4))
            if "bam" in names:
                story.check_in("bam", bam(0))


def test_engaged_without_daily_check_ins_raises_nothing(story, run_jobs):
    keep_active_and_answer_forms(story, 30)
    run_jobs()
    assert [f["explanation"] for f in story.flags()] == []  # missed dailies never count


def test_two_missed_due_dates_of_a_full_form(story, run_jobs):
    keep_active_and_answer_forms(story, 20, forms=False)
    run_jobs()
    flags = {flag["source"]: flag for flag in story.flags()}
    assert set(flags) == {"mood", "substance_use"}  # Part 2 evidence never mixes into mood
    flag = flags["mood"]
    assert flag["kind"] == "disengaged"
    assert flag["rule"] in ("phq9_missed_twice", "gad7_missed_twice")
    assert flags["substance_use"]["rule"] == "bam_missed_twice"
    assert flag["evidence"] == []
    assert len(flag["details"]["missed_due_dates"]) == 2


def test_a_week_without_opening_the_app_in_month_1(story, run_jobs):
    story.clock.advance(days=2)
    story.check_in("phq9", phq9(6))
    story.clock.advance(days=6)
    run_jobs()
    assert story.kinds() == []
    story.clock.advance(days=1)
    run_jobs()
    [flag] = story.flags()
    assert flag["rule"] == "no_app_activity" and flag["details"]["limit"] == 7


def test_after_month_6_only_missed_forms_count(story, run_jobs):
    story.clock.advance(days=200)
    story.check_in("phq9", phq9(6))
    story.check_in("gad7", gad7(4))
    story.clock.advance(days=10)
    run_jobs()
    assert "no_app_activity" not in {flag["rule"] for flag in story.flags()}


def test_disengagement_during_a_watch_escalates_it_to_a_step_up(story, run_jobs):
    story.clock.advance(days=1)
    story.check_in("phq9", phq9(12))
    [watch] = story.flags()
    story.clock.advance(days=8)
    run_jobs()
    [step_up] = story.flags()
    assert (step_up["kind"], step_up["rule"]) == ("step_up", "disengaged_during_watch")
    [superseded] = story.flags("staff", status="resolved")
    assert superseded["id"] == watch["id"] and superseded["outcome"] == "superseded"


def test_urgent_flags_escalate_after_an_hour_at_any_hour(story, run_jobs):
    story.clock.set(story.clock.now().replace(hour=8))  # 02:00 in Chicago
    story.check_in("phq9", phq9(2, item9=1))
    story.clock.advance(minutes=59)
    run_jobs()
    assert story.flags()[0]["escalated_at"] is None
    story.clock.advance(minutes=2)
    run_jobs()
    assert story.flags()[0]["escalated_at"] is not None


def test_an_escalation_is_pushed_to_staff_with_nothing_clinical_in_it(story, run_jobs):
    story.check_in("phq9", phq9(2, item9=1))
    story.clock.advance(minutes=61)
    run_jobs()  # escalates, then the dispatch pass delivers
    inbox = story.as_user(story.emails["staff"]).get("/api/v1/me/notifications").json
    # The alert at the flag's raising (tests/test_alerts.py), then the escalation.
    assert [item["kind"] for item in inbox] == ["escalation", "alert"]
    assert inbox[0]["title"] == "Needs your attention"
    assert "PHQ" not in str(inbox[0]) and "safety" not in str(inbox[0]).lower()
    therapist = story.as_user(story.emails["therapist"]).get("/api/v1/me/notifications").json
    assert [item["kind"] for item in therapist] == ["alert"]  # escalations go to staff
    run_jobs()  # escalated once: pushed once
    assert len(story.as_user(story.emails["staff"]).get("/api/v1/me/notifications").json) == 2


def test_an_acknowledged_urgent_flag_does_not_escalate(story, run_jobs):
    story.check_in("phq9", phq9(2, item9=1))
    [flag] = story.flags()
    story.as_user(story.emails["therapist"]).post(
        f"/api/v1/flags/{flag['id']}/acknowledge", json={}
    )
    story.clock.advance(hours=2)
    run_jobs()
    assert story.flags()[0]["escalated_at"] is None


def test_step_ups_escalate_after_a_day(story, run_jobs):
    story.check_in("phq9", phq9(21))
    story.clock.advance(hours=23)
    run_jobs()
    assert story.flags()[0]["escalated_at"] is None
    story.clock.advance(hours=2)
    run_jobs()
    assert story.flags()[0]["escalated_at"] is not None


def test_two_missed_appointments(story, run_jobs, as_user):
    therapist = as_user(story.emails["therapist"])
    base = f"/api/v1/graduates/{story.graduate_id}"
    appointment = therapist.post(
        f"{base}/plan/appointments",
        json={
            "kind": "therapy",
            "clinician_name": "Dr. Lee",
            "location": "Clinic",
            "starts_at_local": "2026-11-04T10:00:00",
            "rrule": "FREQ=WEEKLY;COUNT=8",
        },
    ).json
    story.clock.advance(days=14)
    reports = f"{base}/appointments/{appointment['id']}/reports"
    for start in ("2026-11-04T16:00:00+00:00", "2026-11-11T16:00:00+00:00"):
        response = as_user(story.email).post(
            reports, json={"occurrence_start": start, "status": "missed"}
        )
        assert response.status_code == 200, response.json
    story.check_in("phq9", phq9(6))
    story.check_in("gad7", gad7(4))
    run_jobs()
    [flag] = story.flags()
    assert flag["rule"] == "appointments_missed_twice"
    assert flag["details"]["missed"] == ["2026-11-04T16:00:00+00:00", "2026-11-11T16:00:00+00:00"]
