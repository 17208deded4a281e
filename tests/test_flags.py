"""Step-up flags through the API: timelines over weeks with the clock frozen and moved."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.flags.models import Flag
from api.programs.models import Role
from api.users.models import User
from tests import factories

GRADUATION = date(2026, 11, 2)


def phq9(total: int, item9: int = 0) -> dict[str, int]:
    answers = {f"phq9-{i}": 0 for i in range(1, 10)}
    remaining = total - item9
    for i in range(1, 9):
        answers[f"phq9-{i}"] = min(3, remaining)
        remaining -= answers[f"phq9-{i}"]
    answers["phq9-9"] = item9
    assert remaining == 0
    return answers


def gad7(total: int) -> dict[str, int]:
    answers, remaining = {}, total
    for i in range(1, 8):
        answers[f"gad7-{i}"] = min(3, remaining)
        remaining -= answers[f"gad7-{i}"]
    return answers


def bam(use_days: int = 0) -> dict[str, int]:
    return {f"bam-{i}": 0 for i in range(1, 18)} | {"bam-4": use_days}


class Story:
    """One graduate, their consenting therapist and staff, and a clock to move."""

    def __init__(self, db, as_user, clock, *, phq9_baseline=6, gad7_baseline=4, part2=True):
        self.db, self.as_user, self.clock = db, as_user, clock
        program = factories.program(db)
        therapist = factories.member(db, program, Role.THERAPIST)
        partial = factories.member(db, program, Role.THERAPIST)
        staff = factories.member(db, program, Role.STAFF)
        # Emails, not rows: a refused request rolls the session back and expires its rows.
        self.emails = {"therapist": therapist.email, "partial": partial.email, "staff": staff.email}
        self.email = factories.unique_email("grad")
        graduate = factories.graduate(
            db,
            program,
            email=self.email,
            therapists=(therapist, partial),
            graduation_date=GRADUATION,
            substance_use=True,
            phq9=phq9_baseline,
            gad7=gad7_baseline,
        )
        factories.consent(db, graduate, therapist, substance_use=part2)
        factories.consent(db, graduate, partial)
        db.commit()
        self.graduate_id, self.program_id = graduate.id, program.id
        clock.set(clock.now().replace(year=2026, month=11, day=3, hour=18))

    def week(self, weeks: int = 1) -> None:
        self.clock.advance(days=7 * weeks)

    def check_in(self, questionnaire: str, answers: dict) -> dict:
        response = self.as_user(self.email).post(
            f"/api/v1/graduates/{self.graduate_id}/check-ins",
            json={
                "questionnaire": questionnaire,
                "answers": answers,
                "answered_at": self.clock.now().isoformat(),
            },
        )
        assert response.status_code == 201, response.json
        return response.json

    def flags(self, who: str = "therapist", **query) -> list[dict]:
        response = self.as_user(self.emails[who]).get("/api/v1/flags", query_string=query)
        assert response.status_code == 200, response.json
        return response.json

    def kinds(self, **query) -> list[str]:
        return [flag["kind"] for flag in self.flags("staff", **query)]

    def resolve(self, flag_id: str, outcome: str = "monitor") -> dict:
        response = self.as_user(self.emails["therapist"]).post(
            f"/api/v1/flags/{flag_id}/resolve", json={"outcome": outcome, "note": "Talked today."}
        )
        assert response.status_code == 200, response.json
        return response.json


@pytest.fixture
def story(db, as_user, clock):
    return Story(db, as_user, clock)


def test_stable_scores_raise_nothing(story):
    for score in (6, 7, 5, 8):
        story.check_in("phq9", phq9(score))
        story.check_in("gad7", gad7(4))
        story.week()
    assert story.kinds() == []


def test_a_single_spike_stays_a_watch(story):
    story.check_in("phq9", phq9(12))
    story.week()
    story.check_in("phq9", phq9(7))
    [flag] = story.flags()
    assert (flag["kind"], flag["rule"], flag["source"]) == (
        "watch",
        "phq9_rise_from_baseline",
        "mood",
    )
    assert flag["explanation"] == "PHQ-9 rose from 6 at discharge to 12 (6 points)."
    assert flag["details"]["baseline"] == 6 and flag["rules_version"] == "domain-2026.1"
    assert len(flag["evidence"]) == 1


def test_a_steady_decline_becomes_a_step_up_and_supersedes_the_watch(story):
    first = story.check_in("phq9", phq9(11))
    story.week()
    second = story.check_in("phq9", phq9(13))
    story.week()
    third = story.check_in("phq9", phq9(14))
    open_flags = story.flags()
    [step_up] = open_flags
    assert step_up["kind"] == "step_up" and step_up["rule"] == "phq9_watch_twice"
    assert step_up["explanation"] == (
        "PHQ-9 rose from 6 at discharge to 13 and 14 on the last two check-ins."
    )
    # Raised on the second check-in, updated (not duplicated) by the third.
    assert step_up["evidence"] == [first["id"], second["id"], third["id"]]
    assert step_up["updated_at"] > step_up["raised_at"]
    [watch] = story.flags("staff", status="resolved")
    assert watch["outcome"] == "superseded" and watch["superseded_by"] == step_up["id"]


def test_item_9_with_a_low_total_is_urgent_every_time(story):
    story.check_in("phq9", phq9(2, item9=1))
    story.check_in("phq9", phq9(2, item9=1))
    urgent = [flag for flag in story.flags() if flag["kind"] == "urgent"]
    assert len(urgent) == 2
    assert "question 9" in urgent[0]["explanation"]


def test_slow_drift_is_caught_against_the_baseline(story):
    for score in (7, 8, 9, 10, 11):
        story.check_in("phq9", phq9(score))
        story.week(2)
    kinds = story.kinds()
    assert kinds == ["step_up"]  # 11 then ... drift: 10 newly moderate, 11 is 5 above baseline


def test_anxiety_only_decline(story):
    story.check_in("phq9", phq9(6))
    story.check_in("gad7", gad7(9))
    story.week()
    story.check_in("phq9", phq9(6))
    story.check_in("gad7", gad7(10))
    [flag] = story.flags()
    assert flag["rule"] == "gad7_watch_twice"
    assert flag["explanation"] == (
        "GAD-7 rose from 4 at discharge to 9 and 10 on the last two check-ins."
    )


def test_a_substance_use_lapse_with_stable_mood_is_part_2(story):
    story.check_in("phq9", phq9(6))
    story.check_in("bam", bam(0))
    story.week()
    story.check_in("bam", bam(2))
    [flag] = story.flags()
    assert (flag["kind"], flag["source"], flag["rule"]) == ("watch", "substance_use", "bam_new_use")
    assert story.flags("partial") == []  # no Part 2 consent: not even that it exists
    assert (
        story.as_user(story.emails["partial"]).get(f"/api/v1/flags/{flag['id']}").status_code == 404
    )
    story.week()
    story.check_in("bam", bam(1))
    assert [f["kind"] for f in story.flags()] == ["step_up"]


def test_high_baseline_severe_cap_and_cooldown_after_a_resolution(db, as_user, clock):
    story = Story(db, as_user, clock, phq9_baseline=18)
    story.check_in("phq9", phq9(19))
    assert story.kinds() == []  # only one point above a high baseline
    story.week()
    story.check_in("phq9", phq9(21))
    [flag] = story.flags()
    assert (flag["kind"], flag["rule"]) == ("step_up", "phq9_severe")
    story.resolve(flag["id"], "more_outpatient")
    story.clock.advance(days=3)
    story.check_in("phq9", phq9(22))
    assert story.kinds() == []  # cooling down for 7 days after the clinician's decision
    story.clock.advance(days=5)
    story.check_in("phq9", phq9(22))
    assert story.kinds() == ["step_up"]


def test_a_more_severe_kind_breaks_through_a_cooldown(story):
    story.check_in("phq9", phq9(12))
    [watch] = story.flags()
    story.resolve(watch["id"])
    story.check_in("phq9", phq9(2, item9=2))
    story.check_in("phq9", phq9(20))
    assert set(story.kinds()) == {"urgent", "step_up"}


def test_acknowledge_then_resolve_and_the_409s(story):
    story.check_in("phq9", phq9(12))
    [flag] = story.flags()
    therapist = story.as_user(story.emails["therapist"])
    url = f"/api/v1/flags/{flag['id']}"
    first = therapist.post(f"{url}/acknowledge", json={"note": "Calling tomorrow"})
    again = therapist.post(f"{url}/acknowledge", json={})
    assert first.json["status"] == again.json["status"] == "acknowledged"
    assert first.json["acknowledged_at"] == again.json["acknowledged_at"]
    assert story.flags()[0]["status"] == "acknowledged"
    resolved = therapist.post(
        f"{url}/resolve", json={"outcome": "stepped_up", "note": "Back to IOP"}
    )
    assert (resolved.json["outcome"], resolved.json["note"]) == ("stepped_up", "Back to IOP")
    assert (
        therapist.post(f"{url}/resolve", json={"outcome": "monitor", "note": "x"}).status_code
        == 409
    )
    assert therapist.post(f"{url}/acknowledge", json={}).status_code == 409
    assert story.flags() == []
    events = therapist.get(f"{url}/events").json
    assert [e["action"] for e in events] == ["raised", "acknowledged", "resolved"]
    assert events[0]["actor_user_id"] is None and events[2]["details"] == {"outcome": "stepped_up"}
    assert events[1]["details"] == {"note": "Calling tomorrow"}
    bad = therapist.post(f"{url}/resolve", json={"outcome": "failure", "note": "x"})
    assert bad.status_code in (409, 422)


def test_flags_are_listed_most_severe_then_oldest(story):
    story.check_in("phq9", phq9(12))
    story.check_in("phq9", phq9(3, item9=1))
    story.as_user(story.email).post(f"/api/v1/graduates/{story.graduate_id}/contact-requests")
    assert story.kinds() == ["urgent", "watch", "contact_request"]


def test_contact_request_tells_the_care_team_without_alarm(story):
    response = story.as_user(story.email).post(
        f"/api/v1/graduates/{story.graduate_id}/contact-requests"
    )
    assert response.status_code == 201
    assert "care team" in response.json["message"]
    story.as_user(story.email).post(f"/api/v1/graduates/{story.graduate_id}/contact-requests")
    assert story.kinds() == ["contact_request"]


def _staff_phone(story, db):
    """Someone the alert can reach: the care team is told only then (tests/test_alerts.py)."""
    factories.device(db, db.scalar(select(User.id).where(User.email == story.emails["staff"])))
    db.commit()


def test_the_safety_reply_says_the_care_team_was_told(story, db):
    _staff_phone(story, db)
    reply = story.check_in(
        "daily",
        {"daily-mood": 2, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0, "daily-safe": 0},
    )
    assert "care team know" in reply["safety"]["message"]
    assert story.kinds() == ["urgent"]


def test_a_refused_positive_submission_still_raises_an_urgent_flag(story, db):
    _staff_phone(story, db)
    answers = phq9(2, item9=3)
    del answers["phq9-2"]
    response = story.as_user(story.email).post(
        f"/api/v1/graduates/{story.graduate_id}/check-ins",
        json={
            "questionnaire": "phq9",
            "answers": answers,
            "answered_at": story.clock.now().isoformat(),
        },
    )
    assert response.status_code == 422
    assert "care team know" in response.json["safety"]["message"]
    [flag] = story.flags()
    assert flag["kind"] == "urgent" and flag["evidence"] == []
    assert flag["details"]["refused"]["code"] == 422


@pytest.mark.parametrize(
    "questionnaire, answers",
    [
        ("bam", bam() | {"bam-6": 9, "daily-safe": 0}),  # one bad BAM answer
        ("bam", bam() | {"daily-safe": 0}),  # a BAM body with a daily item
        ("daily", bam() | {"daily-safe": 0}),  # BAM items under another form's name
    ],
)
def test_a_refused_bam_submissions_urgent_flag_does_not_reveal_the_bam(
    story, questionnaire, answers
):
    response = story.as_user(story.email).post(
        f"/api/v1/graduates/{story.graduate_id}/check-ins",
        json={
            "questionnaire": questionnaire,
            "answers": answers,
            "answered_at": story.clock.now().isoformat(),
        },
    )
    assert response.status_code == 422 and response.json["safety"]["positive"]
    # The therapist without the Part 2 consent is told (urgent flags go to every consenting
    # reader), and nothing they read names the BAM or substance-use care.
    [flag] = story.flags("partial")
    assert (flag["kind"], flag["source"], flag["evidence"]) == ("urgent", "mood", [])
    assert flag["details"]["refused"]["code"] == 422
    seen = json.dumps(flag).lower()
    assert "bam" not in seen and "substance" not in seen
    assert [f["id"] for f in story.flags("therapist")] == [flag["id"]]


def late_check_in(story: Story, questionnaire: str, answers: dict, answered_day: int) -> dict:
    """A check-in answered offline on `answered_day` (days since graduation) that arrives now."""
    answered_at = story.clock.now().replace(
        year=GRADUATION.year, month=GRADUATION.month, day=GRADUATION.day
    ) + timedelta(days=answered_day)
    response = story.as_user(story.email).post(
        f"/api/v1/graduates/{story.graduate_id}/check-ins",
        json={
            "questionnaire": questionnaire,
            "answers": answers,
            "answered_at": answered_at.isoformat(),
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def test_a_late_check_in_re_evaluates_the_one_answered_after_it(story):
    story.clock.advance(days=6)  # day 7
    story.check_in("phq9", phq9(6))
    story.week()  # day 14
    twelve = story.check_in("phq9", phq9(12))
    [watch] = story.flags()
    story.clock.advance(days=1)  # day 15: the 13 answered offline on day 13 arrives
    thirteen = late_check_in(story, "phq9", phq9(13), answered_day=13)
    # By answer time the last two (13, then 12) are both watch conditions: a step-up.
    [step_up] = story.flags()
    assert (step_up["kind"], step_up["rule"]) == ("step_up", "phq9_watch_twice")
    assert step_up["evidence"] == [thirteen["id"], twelve["id"]]
    assert step_up["details"]["scores"] == [13, 12]
    assert step_up["explanation"] == (
        "PHQ-9 rose from 6 at discharge to 13 and 12 on the last two check-ins."
    )
    [superseded] = story.flags("staff", status="resolved")
    assert superseded["id"] == watch["id"]
    assert (superseded["outcome"], superseded["superseded_by"]) == ("superseded", step_up["id"])


def test_re_evaluating_later_check_ins_raises_nothing_twice(story):
    story.clock.advance(days=13)
    story.check_in("phq9", phq9(12, item9=1))  # urgent and watch
    story.clock.advance(hours=1)
    story.check_in("phq9", phq9(7))
    before = {f["id"]: f for f in story.flags("staff")}
    assert sorted(f["kind"] for f in before.values()) == ["urgent", "watch"]
    story.clock.advance(days=1)
    late_check_in(story, "phq9", phq9(7), answered_day=10)  # nothing new by answer time
    after = {f["id"]: f for f in story.flags("staff")}
    assert after == before  # no second urgent flag, the watch untouched
    assert story.flags("staff", status="resolved") == []


def test_the_database_allows_one_open_flag_per_kind(story, db):
    story.check_in("phq9", phq9(12))
    existing = db.scalar(select(Flag).where(Flag.kind == "watch"))
    twin = Flag(
        graduate_id=existing.graduate_id,
        program_id=existing.program_id,
        kind="watch",
        source="mood",
        status="open",
        rule="x",
        rules_version="x",
        explanation="x",
        evidence=[],
        details={},
        raised_at=existing.raised_at,
        updated_at=existing.raised_at,
    )
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(twin)
        db.flush()


def test_graduates_and_coordinators_cannot_list_flags(story, world, as_user):
    assert as_user(story.email).get("/api/v1/flags").status_code == 403
    assert as_user(world.email("coordinator")).get("/api/v1/flags").status_code == 403


def test_a_therapists_flag_list_is_audited_per_graduate(story):
    story.check_in("phq9", phq9(12))
    story.flags("therapist")
    events = (
        story.as_user(story.emails["staff"])
        .get(
            f"/api/v1/programs/{story.program_id}/audit-events",
            query_string={"action": "flag.list"},
        )
        .json
    )
    assert [(e["actor_role"], e["graduate_id"]) for e in events] == [
        ("therapist", str(story.graduate_id))
    ]
