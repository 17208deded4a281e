"""A program's step-up rules as versioned data: defaults, a change, validation, and flags
that cite the version that raised them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.programs.models import Program
from tests.test_flag_jobs import run_jobs  # noqa: F401  (fixture)
from tests.test_flags import Story, gad7, phq9


@pytest.fixture
def story(db, as_user, clock):
    return Story(db, as_user, clock)


def rules_url(story: Story) -> str:
    return f"/api/v1/programs/{story.program_id}/flag-rules"


def put(story: Story, body: dict, who: str = "staff"):
    return story.as_user(story.emails[who]).put(rules_url(story), json=body)


def test_a_new_program_runs_domain_defaults(story):
    response = story.as_user(story.emails["therapist"]).get(rules_url(story))
    assert response.status_code == 200
    assert response.json["number"] == 0
    assert response.json["version"] == "domain-2026.1"
    settings = response.json["settings"]
    assert settings["rise"] == {"phq9": 5, "gad7": 4}
    assert settings["moderate_at"] == 10
    assert settings["severe_at"] == {"phq9": 20, "gad7": 15}
    assert settings["cooldown_days"] == 7
    assert (settings["escalate_urgent_minutes"], settings["escalate_step_up_hours"]) == (60, 24)
    assert settings["inactive_days"] == {"month1": 7, "months2_3": 7, "months4_6": 14}
    assert response.json["changed_at"] is None


def test_a_change_is_a_new_version_and_flags_cite_it(story):
    story.check_in("gad7", gad7(8))  # +4 from a baseline of 4: a watch under the defaults
    [before] = story.flags()
    assert before["rules_version"] == "domain-2026.1"
    story.resolve(before["id"], "no_action")

    changed = put(story, {"rise": {"phq9": 3, "gad7": 4}, "cooldown_days": 0})
    assert changed.status_code == 200, changed.json
    assert (changed.json["number"], changed.json["version"]) == (1, "program-v1")
    assert changed.json["settings"]["moderate_at"] == 10  # left out: the default

    story.week()
    story.check_in("phq9", phq9(9))  # +3: a watch only under the program's rule (cooldown 0)
    [after] = story.flags()
    assert after["rules_version"] == "program-v1"
    assert after["details"]["threshold"] == 3

    versions = story.as_user(story.emails["staff"]).get(f"{rules_url(story)}/versions")
    assert [v["number"] for v in versions.json] == [1]
    assert versions.json[0]["settings"]["rise"]["phq9"] == 3


def test_versions_are_kept_newest_first(story):
    for days in (5, 6, 7):
        assert put(story, {"cooldown_days": days}).status_code == 200
    versions = story.as_user(story.emails["therapist"]).get(f"{rules_url(story)}/versions")
    assert [v["number"] for v in versions.json] == [3, 2, 1]
    assert [v["settings"]["cooldown_days"] for v in versions.json] == [7, 6, 5]
    current = story.as_user(story.emails["therapist"]).get(rules_url(story)).json
    assert current["number"] == 3 and current["changed_at"] is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"escalate_urgent_minutes": 90}, "escalate_urgent_minutes"),  # later than DOMAIN's hour
        ({"escalate_step_up_hours": 48}, "escalate_step_up_hours"),
        ({"rise": {"phq9": 0, "gad7": 4}}, "rise"),
        ({"rise": {"phq9": 5}}, "rise"),
        ({"cooldown_days": -1}, "cooldown_days"),
        ({"severe_at": {"phq9": 9, "gad7": 15}}, "severe_at"),  # not above moderate_at
        ({"inactive_days": {"month1": 1, "months2_3": 7, "months4_6": 14}}, "inactive_days"),
        ({"on_call_emails": ["not-an-email"]}, "on_call_emails"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(story, body, field):
    response = put(story, body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert story.as_user(story.emails["staff"]).get(rules_url(story)).json["number"] == 0


def test_on_call_people_must_be_program_staff(story):
    response = put(story, {"on_call_emails": [story.emails["therapist"]]})
    assert response.status_code == 422
    assert "on_call_emails" in response.json["errors"]
    ok = put(story, {"on_call_emails": [story.emails["staff"].upper()]})
    assert ok.status_code == 200
    assert ok.json["settings"]["on_call_emails"] == [story.emails["staff"].upper()]


def test_only_staff_change_the_rules(story):
    assert put(story, {"cooldown_days": 3}, who="therapist").status_code == 403


def test_a_program_may_escalate_sooner(story, run_jobs):  # noqa: F811
    assert put(story, {"escalate_urgent_minutes": 15}).status_code == 200
    story.check_in("phq9", phq9(3, item9=1))
    story.clock.advance(minutes=16)
    run_jobs()
    [flag] = story.flags("staff")
    assert flag["kind"] == "urgent" and flag["escalated_at"] is not None


def test_a_program_may_shorten_inactivity(story, run_jobs):  # noqa: F811
    days = {"month1": 3, "months2_3": 7, "months4_6": 14}
    assert put(story, {"inactive_days": days}).status_code == 200
    story.clock.advance(days=4)
    run_jobs()
    [flag] = story.flags()
    assert flag["rule"] == "no_app_activity" and flag["details"]["limit"] == 3


def test_one_program_s_rules_do_not_touch_another(story, db, as_user, clock):
    other = Story(db, as_user, clock)
    assert put(story, {"rise": {"phq9": 2, "gad7": 2}}).status_code == 200
    other.check_in("phq9", phq9(9))  # +3: nothing under the defaults
    assert other.flags() == []
    number = select(Program.flag_rules_version).where(Program.id == other.program_id)
    assert db.scalar(number) == 0


def test_escalations_go_to_the_named_on_call_staff_only(story, run_jobs, db):  # noqa: F811
    from api.programs.models import Program, Role
    from tests import factories

    program = db.get(Program, story.program_id)
    second = factories.member(db, program, Role.STAFF)
    db.commit()
    assert story.as_user(second.email).get("/api/v1/me").status_code == 200  # signs in
    assert put(story, {"on_call_emails": [second.email]}).status_code == 200
    story.check_in("phq9", phq9(3, item9=1))
    story.clock.advance(minutes=61)
    run_jobs()
    on_call = story.as_user(second.email).get("/api/v1/me/notifications").json
    assert [item["kind"] for item in on_call] == ["escalation", "alert"]  # alerted, escalated
    assert story.as_user(story.emails["staff"]).get("/api/v1/me/notifications").json == []
