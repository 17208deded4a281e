"""Weekly summaries: built by the jobs process at each therapist's slot with a frozen clock,
read back under consent, Part 2 gated at build and at read time, printable as HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from api.audit.models import AuditEvent
from api.flags.models import Flag
from api.notifications.models import Notification
from api.summaries import service
from api.summaries.builder import PART2_NOTICE
from api.summaries.models import Summary
from jobs.scheduler import run_job
from tests import factories
from tests.test_flags import Story, bam, gad7, phq9

MONDAY_AFTER = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # slot: Monday 08:00 Chicago = 14:00Z


def at(clock, day: int, hour: int = 18) -> None:
    clock.set(datetime(2026, 11, day, hour, 0, tzinfo=UTC))


@pytest.fixture
def story(db, as_user, clock):
    return Story(db, as_user, clock)


@pytest.fixture
def build(app, clock):
    def run(when: datetime = MONDAY_AFTER) -> int:
        clock.set(when)
        return run_job(app, "summaries.weekly")

    return run


def anxious_three_weeks(story: Story) -> None:
    """GAD-7 climbs from a discharge 4 to 11 over three weeks; BAM use in the last one."""
    for day, phq, gad, use in ((9, 6, 5, 0), (16, 7, 8, 0), (23, 7, 11, 2)):
        at(story.clock, day)
        story.check_in("phq9", phq9(phq))
        story.check_in("gad7", gad7(gad))
        story.check_in("bam", bam(use))


def inbox(story: Story, who: str = "therapist", **query) -> list[dict]:
    response = story.as_user(story.emails[who]).get("/api/v1/summaries", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def read(story: Story, summary_id: str, who: str = "therapist", **kwargs):
    return story.as_user(story.emails[who]).get(f"/api/v1/summaries/{summary_id}", **kwargs)


def user_id(story: Story, who: str) -> str:
    return story.as_user(story.emails[who]).get("/api/v1/me").json["id"]


def test_the_weekly_job_builds_one_summary_per_consenting_therapist_once(story, build, db):
    anxious_three_weeks(story)
    assert build(MONDAY_AFTER - timedelta(hours=1, minutes=1)) == 0  # a minute before the slot
    assert build() == 2  # the therapist and the one without Part 2 consent
    assert build() == 0  # a re-run of the same week builds nothing
    assert build(MONDAY_AFTER + timedelta(hours=3)) == 0
    count = db.scalar(select(func.count()).select_from(Summary))
    assert count >= 2
    [item] = inbox(story)
    assert item["headline"] == "Worsening anxiety over 3 weeks"
    assert item["headline_rule"] == "worsening"
    assert item["week_of"] == "2026-11-30"
    assert item["read_at"] is None


def test_content_of_a_week(story, build):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story)
    response = read(story, item["id"])
    assert response.status_code == 200
    content = response.json["content"]
    assert content["period"] == {
        "start": "2026-11-23T14:00:00+00:00",
        "end": "2026-11-30T14:00:00+00:00",
    }
    gad = content["scores"]["gad7"]
    assert gad["latest"]["score"] == 11 and gad["latest"]["band"] == "moderate"
    assert gad["baseline"] == 4 and gad["change_vs_baseline"] == 7
    assert gad["change_vs_last_week"] == 3
    assert [p["score"] for p in gad["trend"]] == [5, 8, 11]
    assert content["scores"]["phq9"]["change_vs_last_week"] == 0
    assert content["safety"]["item9"] == [{"answered_at": "2026-11-23T18:00:00+00:00", "answer": 0}]
    # The open watch/step-up brings month-1 intensity back: both forms due on day 28.
    assert content["check_ins"]["month1_intensity"] is True
    assert {(f["questionnaire"], f["status"]) for f in content["check_ins"]["forms"]} == {
        ("phq9", "open"),
        ("gad7", "open"),
    }
    assert content["check_ins"]["daily"] == {"days_completed": 0, "days": 7, "expected": True}
    assert content["appointments"] == {"attended": 0, "missed": 0, "rescheduled": 0}
    assert content["group_attendance"] == {"present": 0, "absent": 0, "excused": 0}
    assert [f["kind"] for f in content["flags"]] == ["step_up"]
    part2 = content["substance_use"]
    assert part2["notice"] == PART2_NOTICE
    assert "42 CFR part 2" in part2["notice"]
    assert [b["use"] for b in part2["bam"]] == [2]
    assert [f["kind"] for f in part2["flags"]] == ["watch"]


def test_without_part2_consent_a_summary_says_nothing_of_substance_use(story, build):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story, "partial")
    content = read(story, item["id"], "partial").json["content"]
    text = json.dumps(content).lower()
    assert "substance_use" not in content
    for word in ("substance", "bam", "part 2", "cfr", "hidden"):
        assert word not in text
    html = read(story, item["id"], "partial", headers={"Accept": "text/html"}).get_data(True)
    assert "substance" not in html.lower() and "42 CFR" not in html


def test_withdrawn_consent_hides_old_summaries_and_stops_new_ones(story, build):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story)
    graduate = story.as_user(story.email)
    therapist_id = user_id(story, "therapist")
    assert (
        graduate.delete(
            f"/api/v1/graduates/{story.graduate_id}/consents/{therapist_id}"
        ).status_code
        == 204
    )
    assert read(story, item["id"]).status_code == 404
    assert (
        story.as_user(story.emails["therapist"])
        .post(f"/api/v1/summaries/{item['id']}/read")
        .status_code
        == 404
    )
    assert inbox(story) == []
    assert build(MONDAY_AFTER + timedelta(days=7)) == 1  # the partial therapist only
    assert inbox(story) == []
    assert len(inbox(story, "partial")) == 2


def test_withdrawing_only_the_part2_consent_drops_that_section_at_once(story, build):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story)
    assert "substance_use" in read(story, item["id"]).json["content"]
    therapist_id = user_id(story, "therapist")
    response = story.as_user(story.email).put(
        f"/api/v1/graduates/{story.graduate_id}/consents/{therapist_id}",
        json={"share_check_ins": True, "share_substance_use": False},
    )
    assert response.status_code == 200
    assert "substance_use" not in read(story, item["id"]).json["content"]


def test_stopped_checking_in(story, build):
    at(story.clock, 20, 14)
    story.check_in("gad7", gad7(4))
    build()
    assert inbox(story)[0]["headline"] == "Stopped checking in 10 days ago"


def test_never_checked_in(story, build):
    build()
    assert inbox(story)[0]["headline"] == "No check-ins since graduation 28 days ago"


def test_a_safety_answer_this_week_leads(story, build):
    at(story.clock, 25)
    story.check_in("phq9", phq9(8, item9=1))
    build()
    [item] = inbox(story)
    assert item["headline_rule"] == "safety"
    safety = read(story, item["id"]).json["content"]["safety"]
    assert safety["item9_positive"] == 1
    assert safety["item9"][0]["answer"] == 1


def test_unread_first_then_newest_and_marking_read(story, build, clock):
    anxious_three_weeks(story)
    build()
    first = inbox(story)[0]
    build(MONDAY_AFTER + timedelta(days=7))
    second = inbox(story)[0]
    assert second["week_of"] == "2026-12-07"
    therapist = story.as_user(story.emails["therapist"])
    marked = therapist.post(f"/api/v1/summaries/{second['id']}/read")
    assert marked.status_code == 200
    assert marked.json["read_at"] == clock.now().isoformat()
    clock.advance(hours=1)
    again = therapist.post(f"/api/v1/summaries/{second['id']}/read")
    assert again.json["read_at"] == marked.json["read_at"]  # the first time is kept
    assert [s["id"] for s in inbox(story)] == [first["id"], second["id"]]
    assert [s["id"] for s in inbox(story, graduate_id=story.graduate_id)] == [
        first["id"],
        second["id"],
    ]


def test_reads_are_audited(story, build, db):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story)
    read(story, item["id"])
    actions = set(
        db.scalars(select(AuditEvent.action).where(AuditEvent.graduate_id == story.graduate_id))
    )
    assert {"summary.list", "summary.read"} <= actions


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_printable_html_page_with_an_inline_chart(story, build):
    anxious_three_weeks(story)
    build()
    [item] = inbox(story)
    response = read(story, item["id"], headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = Page()
    page.feed(response.get_data(as_text=True))
    names = [tag for tag, _ in page.tags]
    assert "svg" in names and "style" in names
    assert "script" not in names and "link" not in names and "img" not in names
    assert not [a for _, a in page.tags if "src" in a or (a.get("href") or "").startswith("http")]
    series = {a["data-instrument"] for tag, a in page.tags if tag == "polyline"}
    assert series == {"phq9", "gad7"}
    assert sum(1 for tag, a in page.tags if a.get("class") == "baseline") == 2
    assert any(a.get("class") == "band-edge" for _, a in page.tags)
    text = " ".join(page.text)
    assert "Worsening anxiety over 3 weeks" in text
    assert "42 CFR part 2" in text  # this therapist has the Part 2 consent
    # JSON stays the default
    assert read(story, item["id"]).json["headline"] == item["headline"]


def test_preferences_default_then_chosen_slot(story, build):
    therapist = story.as_user(story.emails["therapist"])
    assert therapist.get("/api/v1/summaries/preferences").json == {
        "weekday": "monday",
        "local_time": "08:00",
        "timezone": "America/Chicago",  # where the caseload lives
        "default": True,
    }
    body = {"weekday": "tuesday", "local_time": "07:30", "timezone": "Europe/London"}
    saved = therapist.put("/api/v1/summaries/preferences", json=body)
    assert saved.status_code == 200 and saved.json == {**body, "default": False}
    bad = therapist.put("/api/v1/summaries/preferences", json={**body, "timezone": "Mars/Base"})
    assert bad.status_code == 422
    build()  # Monday: only the partial therapist's slot has come
    assert inbox(story) == []
    build(datetime(2026, 12, 1, 7, 29, tzinfo=UTC))
    assert inbox(story) == []  # 07:29 in London; last Tuesday's slot is too old to build
    build(datetime(2026, 12, 1, 7, 31, tzinfo=UTC))
    [item] = inbox(story)
    assert item["week_of"] == "2026-12-01"
    assert item["period_end"] == "2026-12-01T07:30:00+00:00"


def test_notices_carry_no_health_information(story, build, db, clock):
    anxious_three_weeks(story)
    build()
    pushed = db.scalars(select(Notification).where(Notification.kind == "summary_ready")).all()
    assert len(pushed) == 2  # the therapist and the one without Part 2 consent
    for notice in pushed:
        text = f"{notice.title} {notice.body} {notice.link}".lower()
        for word in ("sam", "anxiety", "gad", "phq", "score", "iop", "substance"):
            assert word not in text
    assert service.notices_due(session=db, now=clock.now()) == []
    build()  # a re-run tells nobody twice
    notices = select(func.count()).where(Notification.kind == "summary_ready")
    assert db.scalar(notices) == 2


def test_the_job_runs_with_the_others(story, app, clock):
    anxious_three_weeks(story)
    clock.set(MONDAY_AFTER)
    result = app.test_cli_runner().invoke(args=["jobs", "run-once"])
    assert "summaries.weekly: 2" in result.output


def test_caseload_lists_the_most_in_need_first(world, as_user, db, clock):
    calm = world.graduate
    worried = factories.graduate(db, world.program, therapists=(world.therapist_consent,))
    worried.display_name = "Alex"
    factories.consent(db, worried, world.therapist_consent)
    db.add(
        Flag(
            graduate_id=worried.id,
            program_id=world.program.id,
            kind="step_up",
            source="mood",
            status="open",
            rule="watch_twice",
            rules_version="domain-2026.1",
            explanation="PHQ-9 rose.",
            evidence=[],
            details={},
            raised_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    db.add(
        Flag(
            graduate_id=calm.id,
            program_id=world.program.id,
            kind="urgent",
            source="substance_use",  # Part 2, and this therapist has no Part 2 consent
            status="open",
            rule="x",
            rules_version="domain-2026.1",
            explanation="x",
            evidence=[],
            details={},
            raised_at=clock.now(),
            updated_at=clock.now(),
        )
    )
    unshared = factories.graduate(db, world.program, therapists=(world.therapist_consent,))
    db.commit()
    response = as_user(world.therapist_consent.email).get("/api/v1/summaries/caseload")
    assert response.status_code == 200
    assert [(e["graduate_id"], e["open_flag"]) for e in response.json] == [
        (str(worried.id), "step_up"),
        (str(calm.id), None),
    ]
    assert str(unshared.id) not in json.dumps(response.json)


def test_flags_are_shown_as_they_stood_at_the_weeks_end(story, build):
    """Scores and flags are of one moment, the week's end (Monday 14:00Z); what was raised
    after it is listed apart, with its evidence, and Part 2 evidence only under its consent."""
    at(story.clock, 25)
    twelve = story.check_in("phq9", phq9(12, item9=1))  # urgent, and a watch (6 -> 12)
    at(story.clock, 26)
    [urgent] = [f for f in story.flags() if f["kind"] == "urgent"]
    therapist = story.as_user(story.emails["therapist"])
    assert therapist.post(f"/api/v1/flags/{urgent['id']}/acknowledge", json={}).status_code == 200
    story.clock.set(MONDAY_AFTER - timedelta(minutes=30))  # after the week ended
    assert story.resolve(urgent["id"])["status"] == "resolved"
    story.check_in("gad7", gad7(9))  # a GAD-7 watch: updates the open watch
    story.check_in("bam", bam(2))  # Part 2: a substance-use watch
    story.clock.advance(minutes=10)
    thirteen = story.check_in("phq9", phq9(13))  # a step-up; the watch is superseded
    build()

    [item] = inbox(story)
    content = read(story, item["id"]).json["content"]
    at_end = {f["kind"]: f for f in content["flags"]}
    assert set(at_end) == {"urgent", "watch"}
    assert at_end["urgent"]["status"] == "acknowledged"
    assert at_end["urgent"]["acknowledged_at"] == "2026-11-26T18:00:00+00:00"
    assert at_end["watch"]["status"] == "open"
    assert at_end["watch"]["explanation"] == "PHQ-9 rose from 6 at discharge to 12 (6 points)."
    [step_up] = content["flags_since_week_ended"]
    assert (step_up["kind"], step_up["status"]) == ("step_up", "open")
    assert [(e["id"], e["score"]) for e in step_up["evidence"]] == [
        (twelve["id"], 12),
        (thirteen["id"], 13),
    ]
    assert content["scores"]["phq9"]["latest"]["score"] == 12  # scores: the week's end too
    part2 = content["substance_use"]
    assert part2["flags"] == []
    [use] = part2["flags_since_week_ended"]
    assert use["kind"] == "watch" and [e["subscales"]["use"] for e in use["evidence"]] == [2]
    html = read(story, item["id"], headers={"Accept": "text/html"}).get_data(True)
    assert "Raised since this week ended" in html and "PHQ-9 13" in html

    [partial] = inbox(story, "partial")
    shared = read(story, partial["id"], "partial").json["content"]
    assert {f["kind"] for f in shared["flags"]} == {"urgent", "watch"}
    assert [f["kind"] for f in shared["flags_since_week_ended"]] == ["step_up"]
    assert "substance" not in json.dumps(shared) and "bam" not in json.dumps(shared).lower()
