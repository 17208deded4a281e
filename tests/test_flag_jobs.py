"""The time-based rules, run by `flask jobs run-once` with the clock frozen and moved."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.scheduler import run_job
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


def test_refused_requests_are_app_activity(story, run_jobs):
    """A phone whose clock runs 20 minutes fast has every daily refused for a week (and asks
    for what is not a graduate's): the graduate still used the app every day."""
    daily = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}
    for _ in range(8):
        story.clock.advance(days=1)
        graduate = story.as_user(story.email)
        refused = graduate.post(
            f"/api/v1/graduates/{story.graduate_id}/check-ins",
            json={
                "questionnaire": "daily",
                "answers": daily,
                "answered_at": (story.clock.now() + timedelta(minutes=20)).isoformat(),
            },
        )
        assert refused.status_code == 422
        assert graduate.get("/api/v1/flags").status_code == 403  # not for graduates
        run_jobs()
    assert "no_app_activity" not in {flag["rule"] for flag in story.flags("staff")}


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


def test_one_flags_escalation_never_replaces_anothers(app, story, run_jobs):
    """Two urgent flags escalated in separate runs before a dispatcher passes: staff get
    both, not only the newer one."""
    story.check_in("phq9", phq9(2, item9=1))
    story.clock.advance(minutes=10)
    story.check_in("phq9", phq9(2, item9=1))
    story.clock.advance(minutes=51)
    assert run_job(app, "flags.escalate") == 1
    story.clock.advance(minutes=10)
    assert run_job(app, "flags.escalate") == 1
    run_jobs()  # the dispatch pass
    inbox = story.as_user(story.emails["staff"]).get("/api/v1/me/notifications").json
    escalations = [item for item in inbox if item["kind"] == "escalation"]
    assert sorted(item["link"] for item in escalations) == sorted(f["id"] for f in story.flags())


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


def miss_two_weekly_appointments(story, as_user) -> None:
    """A weekly appointment from Nov 4; two weeks on, the graduate reports both missed and
    answers the forms due (only the appointments are a signal)."""
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


def test_two_missed_appointments(story, run_jobs, as_user):
    miss_two_weekly_appointments(story, as_user)
    run_jobs()
    [flag] = story.flags()
    assert flag["rule"] == "appointments_missed_twice"
    assert flag["details"]["missed"] == ["2026-11-04T16:00:00+00:00", "2026-11-11T16:00:00+00:00"]


def live_days(story, days: int, *, answer: tuple[str, ...] = ("bam",)) -> list[dict]:
    """Open the app every day (the due list), answering only the forms in `answer` when
    due; returns each day's due list."""
    seen = []
    for _ in range(days):
        story.clock.advance(days=1)
        due = story.as_user(story.email).get(f"/api/v1/graduates/{story.graduate_id}/check-ins/due")
        assert due.status_code == 200, due.json
        seen.append({entry["questionnaire"]: entry for entry in due.json})
        bodies = {"phq9": phq9(6), "gad7": gad7(4), "bam": bam(0)}
        for form in answer:
            if form in seen[-1]:
                story.check_in(form, bodies[form])
    return seen


def test_forms_missed_during_a_watch_count_on_the_weekly_cadence_in_force(story, run_jobs):
    """Months 4-6 with a watch open: PHQ-9 and GAD-7 are due weekly (105 is not a
    fortnightly date); skipping them on days 105 and 112 is disengagement during a watch,
    found on day 115, not two weeks later."""
    story.clock.advance(days=97)  # day 98, a fortnightly due date
    story.check_in("phq9", phq9(12))  # a watch
    story.check_in("gad7", gad7(4))
    story.check_in("bam", bam(0))
    [watch] = story.flags()
    seen = live_days(story, 17)  # to day 115
    assert seen[105 - 99]["phq9"]["due_date"] == "2027-02-15"  # the list the graduate saw
    assert seen[105 - 99]["gad7"]["due_date"] == "2027-02-15"
    run_jobs()
    [step_up] = story.flags()
    assert (step_up["kind"], step_up["rule"], step_up["source"]) == (
        "step_up",
        "disengaged_during_watch",
        "mood",
    )
    assert step_up["details"]["disengagement_rule"] in ("phq9_missed_twice", "gad7_missed_twice")
    assert step_up["details"]["missed_due_dates"] == ["2027-02-15", "2027-02-22"]
    [superseded] = story.flags("staff", status="resolved")
    assert superseded["id"] == watch["id"]


def test_the_bam_stays_every_two_weeks_after_month_6(story, run_jobs):
    story.clock.advance(days=181)  # day 182: every form answered
    for form, body in (("phq9", phq9(6)), ("gad7", gad7(4)), ("bam", bam(0))):
        story.check_in(form, body)
    seen = live_days(story, 31, answer=("phq9", "gad7"))  # to day 213; BAM skipped
    assert seen[196 - 183]["bam"]["due_date"] == "2027-05-17"
    run_jobs()
    [flag] = story.flags()
    assert (flag["kind"], flag["rule"], flag["source"]) == (
        "disengaged",
        "bam_missed_twice",
        "substance_use",
    )
    assert flag["details"]["missed_due_dates"] == ["2027-05-17", "2027-05-31"]
    assert story.flags("partial") == []  # Part 2: not for a therapist without that consent


def test_missed_forms_a_clinician_resolved_are_not_raised_again(story, run_jobs):
    """Months 4-6, PHQ-9 and GAD-7 fortnightly: the pair missed on days 112 and 126 is
    raised once; after it is resolved and the cooldown ends, the same pair does not come
    back. Missing day 140 too makes a new pair, which is raised."""
    story.clock.advance(days=97)  # day 98, a fortnightly due date: everything answered
    for form, body in (("phq9", phq9(6)), ("gad7", gad7(4)), ("bam", bam(0))):
        story.check_in(form, body)
    live_days(story, 32)  # to day 130: BAM answered, PHQ-9 and GAD-7 skipped
    run_jobs()
    [flag] = story.flags()
    assert flag["details"]["missed_due_dates"] == ["2027-02-22", "2027-03-08"]
    story.resolve(flag["id"])
    live_days(story, 10)  # day 140: the cooldown is over, no new due date has closed
    run_jobs()
    assert story.flags() == []
    live_days(story, 4)  # day 144: the day-140 forms closed unanswered
    run_jobs()
    [again] = story.flags()
    assert again["details"]["missed_due_dates"] == ["2027-03-08", "2027-03-22"]


def test_missed_appointments_a_clinician_resolved_are_not_raised_again(story, run_jobs, as_user):
    miss_two_weekly_appointments(story, as_user)
    run_jobs()
    [flag] = story.flags()
    story.resolve(flag["id"])
    keep_active_and_answer_forms(story, 9)  # past the cooldown, no new report
    run_jobs()
    assert story.flags() == []
