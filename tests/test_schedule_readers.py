"""Who sees which check-in schedule. The graduate, staff and a therapist with the Part 2
consent see the schedule every watch and step-up shaped (DOMAIN.md); a therapist with the
check-in consent only sees it as if the BAM and substance-use flags did not exist, in the due
list, /today and the weekly summary; a care-team therapist with no consent sees no
check-in data at all, /today included."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from api.graduates.models import CareTeamMember, Graduate
from api.programs.models import Program, Role
from jobs.scheduler import run_job
from tests import factories
from tests.test_flags import Story, bam, gad7, phq9

# The Monday slot (08:00 in Chicago) closing the week of days 42-49 after graduation.
DAY_49_SLOT = datetime(2026, 12, 21, 15, 0, tzinfo=UTC)
CLINICAL_READERS = ("graduate", "staff", "therapist")  # the therapist: with Part 2 consent


@pytest.fixture
def story(db, as_user, clock):
    """Story's graduate in substance-use care, its Part 2 therapist, "partial" (check-ins
    only) and staff, plus "unconsented": on the care team, no consent at all."""
    told = Story(db, as_user, clock)
    unconsented = factories.member(db, db.get(Program, told.program_id), Role.THERAPIST)
    graduate = db.scalar(select(Graduate).where(Graduate.id == told.graduate_id))
    db.add(CareTeamMember(graduate_id=graduate.id, membership=unconsented, created_at=clock.now()))
    db.commit()
    told.emails |= {"unconsented": unconsented.email, "graduate": told.email}
    return told


def due(story: Story, who: str) -> dict[str, dict]:
    response = story.as_user(story.emails[who]).get(
        f"/api/v1/graduates/{story.graduate_id}/check-ins/due"
    )
    assert response.status_code == 200, (who, response.json)
    return {entry["questionnaire"]: entry for entry in response.json}


def today(story: Story, who: str) -> dict:
    response = story.as_user(story.emails[who]).get(f"/api/v1/graduates/{story.graduate_id}/today")
    assert response.status_code == 200, (who, response.json)
    return response.json


def today_due(story: Story, who: str) -> dict[str, dict]:
    return {entry["questionnaire"]: entry for entry in today(story, who)["check_ins_due"]}


def substance_watch_on_day_42(story: Story) -> None:
    """Months 2-3 (fortnightly forms, optional daily): PHQ-9 and GAD-7 answered on their due
    date, and a BAM with use, the first after graduation: a substance-use watch."""
    story.clock.advance(days=41)
    story.check_in("phq9", phq9(6))
    story.check_in("gad7", gad7(4))
    story.check_in("bam", bam(2))
    assert [(f["kind"], f["source"]) for f in story.flags()] == [("watch", "substance_use")]
    assert story.flags("partial") == []


def test_the_bam_is_never_listed_to_a_reader_without_the_part2_consent(story):
    story.clock.advance(days=6)  # day 7: the first weekly forms, the BAM among them
    for who in CLINICAL_READERS:
        assert set(due(story, who)) == {"daily", "phq9", "gad7", "bam"}, who
        assert set(today_due(story, who)) == {"daily", "phq9", "gad7", "bam"}, who
    before = (due(story, "partial"), today_due(story, "partial"))
    assert set(before[0]) == set(before[1]) == {"daily", "phq9", "gad7"}
    story.check_in("bam", bam(0))
    assert "bam" not in due(story, "graduate")
    # Nothing moved for the reader who may not know the BAM exists.
    assert (due(story, "partial"), today_due(story, "partial")) == before


def test_today_without_the_check_in_consent_has_no_check_in_data(story):
    story.clock.advance(days=3)
    story.check_in("daily", {"daily-mood": 4, "phq2-1": 2, "phq2-2": 2, "gad2-1": 0, "gad2-2": 0})
    assert due(story, "graduate")["phq9"]["reason"] == "screen"
    response = story.as_user(story.emails["unconsented"]).get(
        f"/api/v1/graduates/{story.graduate_id}/check-ins/due"
    )
    assert response.status_code == 403
    body = today(story, "unconsented")
    assert body["check_ins_due"] is None  # no screens, no daily done or not, no intensity
    assert body["phase"] == "month1" and body["safety_plan_url"]  # the rest of /today stays
    assert today(story, "partial")["check_ins_due"] is not None


def test_a_substance_use_watch_moves_nothing_a_reader_without_part2_sees(story):
    substance_watch_on_day_42(story)
    story.clock.advance(days=7)  # day 49: not a fortnightly date
    for who in CLINICAL_READERS:
        # Month-1 intensity, as DOMAIN.md says, for the graduate and those who may know why.
        listed = due(story, who)
        assert set(listed) == {"daily", "phq9", "gad7", "bam"}, who
        assert listed["phq9"]["due_date"] == "2026-12-21" and not listed["daily"]["optional"]
        assert today_due(story, who) == listed
    for listed in (due(story, "partial"), today_due(story, "partial")):
        assert set(listed) == {"daily"} and listed["daily"]["optional"] is True


def test_the_weekly_summary_keeps_what_a_substance_use_flag_changed_in_part2(story, app):
    substance_watch_on_day_42(story)
    story.clock.set(DAY_49_SLOT)
    assert run_job(app, "summaries.weekly") == 2  # the two consenting therapists

    def content(who: str) -> dict:
        reader = story.as_user(story.emails[who])
        [item] = reader.get("/api/v1/summaries").json
        return reader.get(f"/api/v1/summaries/{item['id']}").json["content"]

    shared = content("partial")
    assert shared["check_ins"]["month1_intensity"] is False
    assert shared["check_ins"]["daily"]["expected"] is False
    assert shared["check_ins"]["forms"] == []  # day 49 is due only under month-1 intensity
    text = json.dumps(shared).lower()
    assert "substance" not in text and "bam" not in text

    full = content("therapist")
    assert full["check_ins"]["month1_intensity"] is True
    assert full["check_ins"]["daily"]["expected"] is True
    assert full["check_ins"]["forms"] == [
        {"questionnaire": "phq9", "due_date": "2026-12-21", "status": "open"},
        {"questionnaire": "gad7", "due_date": "2026-12-21", "status": "open"},
    ]
    assert full["substance_use"]["forms"] == [
        {"questionnaire": "bam", "due_date": "2026-12-21", "status": "open"}
    ]
    assert "check_ins" not in full["substance_use"]
    assert story.as_user(story.emails["unconsented"]).get("/api/v1/summaries").json == []

    # The Part 2 consent withdrawn after the build: the schedule it shaped goes with it.
    therapist_id = story.as_user(story.emails["therapist"]).get("/api/v1/me").json["id"]
    response = story.as_user(story.email).put(
        f"/api/v1/graduates/{story.graduate_id}/consents/{therapist_id}",
        json={"share_check_ins": True, "share_substance_use": False},
    )
    assert response.status_code == 200
    after = content("therapist")
    assert "substance_use" not in after and after["check_ins"] == shared["check_ins"]


def test_forms_missed_only_on_a_substance_use_watchs_cadence_are_part2(story, app):
    """PHQ-9 and GAD-7 missed on days 49 and 56: due weekly only because of the substance-use
    watch (56 alone on the fortnightly cadence). Disengagement during that watch: a Part 2
    step-up, which a therapist without that consent never sees."""
    substance_watch_on_day_42(story)
    for _ in range(17):  # to day 59: the app opened daily, only the BAM answered
        story.clock.advance(days=1)
        if "bam" in due(story, "graduate"):
            story.check_in("bam", bam(0))
    assert run_job(app, "flags.time-rules") >= 1
    [step_up] = story.flags()
    assert (step_up["kind"], step_up["source"], step_up["rule"]) == (
        "step_up",
        "substance_use",
        "disengaged_during_watch",
    )
    assert step_up["details"]["missed_due_dates"] == ["2026-12-21", "2026-12-28"]
    assert story.flags("partial") == []
    assert {f["source"] for f in story.flags("staff")} == {"substance_use"}
