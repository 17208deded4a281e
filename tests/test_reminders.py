"""Reminders on a frozen clock: cadence by phase, quiet hours, DST, caps, snooze, pause,
cancellation, flag-driven tightening and zone changes, as rows in the outbox."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from api.flags.models import Flag
from api.notifications.models import Notification
from api.plans.models import Appointment, PlanSkill
from api.reminders import planner
from jobs.scheduler import JOBS
from tests import factories

NY = zoneinfo.ZoneInfo("America/New_York")
DAILY = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}
PREFS = {
    "skill_times": ["09:00"],
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "daily_cap": 6,
    "kinds": {"skill_practice": True, "check_in": True, "appointment": True, "group": True},
    "maintenance_weekly": False,
    "appointment_lead_minutes": [1440, 120],
}
HEALTH_WORDS = re.compile(
    r"phq|gad|bam|who-?5|score|depress|anxi|ptsd|bipolar|substance|alcohol|drug|suicid|"
    r"diagnos|medicat|dose|sertraline|lithium|\biop\b|intensive outpatient|therap",
    re.IGNORECASE,
)


def local(day: str, clock: str) -> datetime:
    """A New York wall-clock time as an aware UTC instant."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=NY).astimezone(UTC)


class Person:
    """One graduate in New York, their phone (the API) and their outbox rows."""

    def __init__(self, db, as_user, clock, graduation: date) -> None:
        self.db, self.clock = db, clock
        self.email = factories.unique_email("grad")
        program = factories.program(db)
        self.record = factories.graduate(
            db, program, email=self.email, graduation_date=graduation, timezone="America/New_York"
        )
        db.commit()
        self.phone = lambda: as_user(self.email)
        self.base = f"/api/v1/graduates/{self.record.id}"

    def plan(self, horizon: timedelta = planner.HORIZON) -> int:
        inserted = planner.plan(self.db, now=self.clock.now(), horizon=horizon)
        self.db.commit()
        return inserted

    def rows(self, *statuses: str, kind: str | None = None) -> list[Notification]:
        statement = select(Notification).where(Notification.graduate_id == self.record.id)
        if statuses:
            statement = statement.where(Notification.status.in_(statuses))
        if kind:
            statement = statement.where(Notification.kind == kind)
        return list(self.db.scalars(statement.order_by(Notification.due_at, Notification.kind)))

    def pending(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(kind, local due time) of pending rows, in order."""
        return [
            (row.kind, f"{row.due_at.astimezone(NY):%Y-%m-%d %H:%M}")
            for row in self.rows("pending", kind=kind)
        ]

    def deliver(self) -> None:
        """What a dispatcher would do by now: every pending row already due is sent."""
        self.db.execute(
            update(Notification)
            .where(
                Notification.graduate_id == self.record.id,
                Notification.status == "pending",
                Notification.due_at <= self.clock.now(),
            )
            .values(status="sent", sent_at=self.clock.now())
        )
        self.db.commit()

    def put_prefs(self, **changes) -> dict:
        response = self.phone().put(f"{self.base}/reminder-preferences", json={**PREFS, **changes})
        assert response.status_code == 200, response.json
        self.db.expire_all()
        return response.json

    def post(self, path: str, body: dict, status: int = 200) -> dict:
        response = self.phone().post(f"{self.base}{path}", json=body)
        assert response.status_code == status, response.json
        self.db.expire_all()
        return response.json


@pytest.fixture
def person(db, as_user, clock):
    def make(graduation: date) -> Person:
        return Person(db, as_user, clock, graduation)

    return make


def skill_days(who: Person, start: str, days: int) -> list[str]:
    """Local dates with a skill reminder planned over `days` days from `start` 00:30."""
    who.clock.set(local(start, "00:30"))
    who.plan(horizon=timedelta(days=days))
    return sorted({due[:10] for _, due in who.pending("skill_practice")})


def test_month_1_most_days_at_the_chosen_time(person):
    who = person(date(2026, 11, 2))
    assert skill_days(who, "2026-11-02", 7) == [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
        "2026-11-05",
        "2026-11-06",
        "2026-11-07",
    ]
    assert {due[11:] for _, due in who.pending("skill_practice")} == {"09:00"}


def test_months_2_to_6_a_few_times_a_week_and_maintenance_only_if_wanted(person, clock):
    months_2_3 = person(date(2026, 9, 1))  # day 83 on 2026-11-23
    assert len(skill_days(months_2_3, "2026-11-23", 7)) == 3
    months_4_6 = person(date(2026, 7, 1))  # day 145
    assert len(skill_days(months_4_6, "2026-11-23", 7)) == 3
    maintenance = person(date(2026, 1, 5))  # day 322
    assert skill_days(maintenance, "2026-11-23", 14) == []
    maintenance.put_prefs(maintenance_weekly=True)
    assert len(skill_days(maintenance, "2026-11-23", 14)) == 2


def test_an_open_watch_brings_back_month_1_until_it_is_resolved(person, db):
    who = person(date(2026, 9, 1))
    flag = Flag(
        graduate_id=who.record.id,
        program_id=who.record.program_id,
        kind="watch",
        source="mood",
        status="open",
        rule="phq9_rise_from_baseline",
        rules_version="domain-2026.1",
        explanation="",
        evidence=[],
        details={},
        raised_at=local("2026-11-20", "10:00"),
        updated_at=local("2026-11-20", "10:00"),
    )
    db.add(flag)
    db.commit()
    assert len(skill_days(who, "2026-11-23", 7)) == 6
    assert ("check_in_due", "2026-11-23 09:00") in who.pending()  # the daily is expected again
    # Resolved the day before: month-1 intensity is in force on the days it was open.
    flag.status, flag.resolved_at = "resolved", local("2026-11-22", "12:00")
    db.commit()
    who.clock.set(local("2026-11-23", "00:30"))
    who.plan(horizon=timedelta(days=7))
    assert len({due[:10] for _, due in who.pending("skill_practice")}) == 3
    assert ("check_in_due", "2026-11-23 09:00") not in who.pending()


def test_dst_fall_back_and_spring_forward_keep_the_wall_clock(person):
    who = person(date(2026, 10, 20))
    who.clock.set(local("2026-10-31", "00:30"))
    who.put_prefs(skill_times=["01:30", "09:00"], quiet_hours={"start": "23:00", "end": "01:00"})
    who.plan(horizon=timedelta(days=4))
    skills = [row.due_at for row in who.rows("pending", kind="skill_practice")]
    # 01:30 on 1 November happens twice: one reminder, at the first.
    assert datetime(2026, 11, 1, 5, 30, tzinfo=UTC) in skills
    assert datetime(2026, 11, 1, 6, 30, tzinfo=UTC) not in skills
    assert datetime(2026, 10, 31, 13, tzinfo=UTC) in skills  # 09:00 EDT
    assert datetime(2026, 11, 3, 14, tzinfo=UTC) in skills  # 09:00 EST (2 Nov is a rest day)
    assert {f"{at.astimezone(NY):%H:%M}" for at in skills} == {"01:30", "09:00"}

    spring = person(date(2027, 3, 3))
    spring.clock.set(local("2027-03-13", "12:00"))
    spring.put_prefs(skill_times=["02:30"], quiet_hours={"start": "23:00", "end": "01:00"})
    spring.plan(horizon=timedelta(days=2))
    # 02:30 does not exist on 14 March: it comes at 03:30 EDT, once.
    assert spring.pending("skill_practice") == [
        ("skill_practice", "2027-03-14 03:30"),
        ("skill_practice", "2027-03-15 02:30"),
    ]


def test_quiet_hours_wrapping_midnight_move_reminders_and_bound_their_expiry(person, db):
    who = person(date(2026, 11, 2))
    who.put_prefs(skill_times=["21:30"], quiet_hours={"start": "22:00", "end": "07:00"})
    db.add(
        Appointment(
            graduate_id=who.record.id,
            kind="therapy",
            clinician_name="Dr. Lee",
            starts_at=local("2026-11-25", "08:00"),
            timezone="America/New_York",
            duration_minutes=50,
            created_at=who.clock.now(),
        )
    )
    db.commit()
    who.clock.set(local("2026-11-24", "00:30"))
    who.plan(horizon=timedelta(days=2))
    rows = who.rows("pending")
    for row in rows:
        clock = row.due_at.astimezone(NY).time()
        assert not (clock >= datetime(1, 1, 1, 22).time() or clock < datetime(1, 1, 1, 7).time())
        assert row.expires_at is not None and row.expires_at > row.due_at
        assert row.expires_at - row.due_at <= timedelta(hours=15)
    before = {f"{r.due_at.astimezone(NY):%m-%d %H:%M}": r for r in rows}
    # 2 h before 08:00 is 06:00, quiet: it moves to 07:00 and expires when the session starts.
    assert before["11-25 07:00"].kind == "appointment_before"
    assert before["11-25 07:00"].expires_at == local("2026-11-25", "08:00")
    # A 21:30 skill reminder expires at 22:00: a late dispatcher never sends in quiet hours.
    assert before["11-24 21:30"].expires_at == local("2026-11-24", "22:00")


def test_appointments_before_and_did_you_go_afterwards_until_reported(person, db):
    who = person(date(2026, 11, 2))
    who.put_prefs(
        appointment_lead_minutes=[1440, 60],
        kinds={**PREFS["kinds"], "skill_practice": False, "check_in": False},
    )
    appointment = Appointment(
        graduate_id=who.record.id,
        kind="therapy",
        clinician_name="Dr. Lee",
        starts_at=local("2026-11-25", "15:00"),
        timezone="America/New_York",
        duration_minutes=50,
        created_at=who.clock.now(),
    )
    db.add(appointment)
    db.commit()
    who.clock.set(local("2026-11-24", "12:00"))
    who.plan(horizon=timedelta(days=2))
    assert who.pending() == [
        ("appointment_before", "2026-11-24 15:00"),
        ("appointment_before", "2026-11-25 14:00"),
        ("appointment_followup", "2026-11-25 16:50"),
    ]
    who.clock.set(local("2026-11-25", "16:00"))
    who.deliver()
    who.post(
        f"/appointments/{appointment.id}/reports",
        {"occurrence_start": local("2026-11-25", "15:00").isoformat(), "status": "attended"},
    )
    assert who.pending() == []
    assert [row.kind for row in who.rows("cancelled")] == ["appointment_followup"]
    who.plan(horizon=timedelta(days=2))
    assert who.pending() == []


def test_check_in_reminder_when_due_then_a_nudge_and_answering_cancels_both(person, db):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-09", "00:30"))  # day 7: daily, PHQ-9 and GAD-7 due
    who.plan(horizon=timedelta(hours=20))
    due = who.pending("check_in_due")
    assert due == [("check_in_due", "2026-11-09 09:00")] * 3
    nudges = who.pending("check_in_nudge")
    assert nudges == [("check_in_nudge", "2026-11-09 18:00")]  # the daily closes at midnight
    who.clock.set(local("2026-11-09", "10:00"))
    who.deliver()
    response = who.phone().post(
        f"{who.base}/check-ins",
        json={
            "questionnaire": "daily",
            "answers": DAILY,
            "answered_at": who.clock.now().isoformat(),
        },
    )
    assert response.status_code == 201
    db.expire_all()
    assert who.pending("check_in_nudge") == []
    assert [r.subject for r in who.rows("cancelled")] == ["daily:2026-11-09"]
    who.plan(horizon=timedelta(hours=20))
    assert who.pending("check_in_nudge") == []
    who.clock.set(local("2026-11-11", "08:30"))  # the last day of the PHQ-9 window
    who.plan()
    assert ("check_in_nudge", "2026-11-11 18:00") in who.pending()


def test_a_positive_screen_makes_the_full_form_due_and_an_answer_settles_it(person):
    """Weeks of daily check-ins behind them; only the screens of the last days and each
    form's latest answer decide what is due."""
    who = person(date(2026, 10, 1))  # day 50 on 2026-11-20: no full form due by cadence
    for back in range(20, 1, -1):
        who.clock.set(local("2026-11-20", "10:00") - timedelta(days=back))
        answered_at = who.clock.now().isoformat()
        who.post(
            "/check-ins",
            {"questionnaire": "daily", "answers": DAILY, "answered_at": answered_at},
            status=201,
        )
    who.clock.set(local("2026-11-19", "20:00"))
    positive = {**DAILY, "phq2-1": 2, "phq2-2": 2}  # PHQ-2 of 4: the PHQ-9 is due now
    who.post(
        "/check-ins",
        {"questionnaire": "daily", "answers": positive, "answered_at": who.clock.now().isoformat()},
        status=201,
    )

    who.clock.set(local("2026-11-20", "00:30"))
    who.plan(horizon=timedelta(hours=20))
    assert ("check_in_due", "2026-11-20 09:00") in who.pending("check_in_due")
    due = {row.subject for row in who.rows("pending", kind="check_in_due")}
    assert due == {"phq9:2026-11-19"}  # the daily is optional in month 2
    who.clock.set(local("2026-11-20", "10:00"))
    who.deliver()
    answers = {f"phq9-{n}": 1 for n in range(1, 10)}
    who.post(
        "/check-ins",
        {"questionnaire": "phq9", "answers": answers, "answered_at": who.clock.now().isoformat()},
        status=201,
    )
    who.plan(horizon=timedelta(hours=20))
    assert who.pending("check_in_due") == who.pending("check_in_nudge") == []


def test_logging_practice_cancels_the_day_s_skill_reminders(person, db):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "08:00"))
    who.put_prefs(skill_times=["09:00", "17:00"], kinds={**PREFS["kinds"], "check_in": False})
    db.add(
        PlanSkill(
            graduate_id=who.record.id,
            skill_id="box-breathing",
            target_per_week=3,
            created_at=who.clock.now(),
        )
    )
    db.commit()
    who.plan(horizon=timedelta(hours=26))
    assert len(who.pending("skill_practice")) == 3
    who.post("/skills/box-breathing/practice", {"done": True, "helpfulness": 6}, status=201)
    assert who.pending("skill_practice") == [("skill_practice", "2026-11-25 09:00")]
    who.plan(horizon=timedelta(hours=26))
    assert who.pending("skill_practice") == [("skill_practice", "2026-11-25 09:00")]


def test_a_cap_of_n_keeps_what_matters_most_and_0_plans_nothing(person):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "00:30"))
    who.put_prefs(daily_cap=1)
    who.plan(horizon=timedelta(hours=20))
    # The daily and the still-open PHQ-9 and GAD-7 arrive as one push: one within the cap.
    assert set(who.pending()) == {("check_in_due", "2026-11-24 09:00")}
    assert len(who.pending()) == 3
    who.put_prefs(daily_cap=2)
    who.plan(horizon=timedelta(hours=20))
    assert {kind for kind, _ in who.pending()} == {"check_in_due", "check_in_nudge"}
    who.put_prefs(daily_cap=0)
    assert who.pending() == []
    assert who.plan(horizon=timedelta(days=3)) == 0


def test_per_kind_off(person):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "00:30"))
    who.put_prefs(kinds={**PREFS["kinds"], "check_in": False})
    who.plan(horizon=timedelta(hours=20))
    assert who.pending() == [("skill_practice", "2026-11-24 09:00")]


def test_snooze_an_hour_tonight_or_tomorrow(person):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "08:30"))
    who.put_prefs(kinds={**PREFS["kinds"], "check_in": False})
    who.plan()
    who.post("/reminders/snooze", {"duration": "1h"})
    assert who.pending() == [("skill_practice", "2026-11-24 09:30")]  # not yet sent: moved
    who.clock.set(local("2026-11-24", "09:35"))
    who.deliver()
    who.post("/reminders/snooze", {"duration": "tonight", "kind": "skill_practice"})
    assert who.pending() == [("skill_practice", "2026-11-24 19:00")]  # sent: it comes back
    who.clock.set(local("2026-11-24", "19:05"))
    who.deliver()
    prefs = who.post("/reminders/snooze", {"duration": "tomorrow"})
    assert prefs["snoozes"][0]["kind"] == "all"
    assert who.pending()[0] == ("skill_practice", "2026-11-25 08:00")
    who.clock.set(local("2026-11-24", "20:00"))
    response = who.phone().post(f"{who.base}/reminders/snooze", json={"duration": "tonight"})
    assert response.status_code == 422


def test_pause_for_days_then_resume(person):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "00:30"))
    who.plan(horizon=timedelta(days=4))
    assert who.pending()
    prefs = who.post("/reminders/pause", {"days": 3})
    assert prefs["paused_until"] == local("2026-11-27", "00:30").isoformat()
    who.plan(horizon=timedelta(days=4))
    assert {due[:10] for _, due in who.pending()} == {"2026-11-27"}
    who.post("/reminders/pause", {"days": 0})
    assert "2026-11-24" in {due[:10] for _, due in who.pending()}


def test_a_new_time_zone_moves_the_next_reminders(person, db):
    who = person(date(2026, 11, 2))
    who.clock.set(local("2026-11-24", "00:30"))
    who.plan(horizon=timedelta(hours=20))
    assert ("skill_practice", "2026-11-24 09:00") in who.pending()
    who.record.timezone = "America/Los_Angeles"
    db.commit()
    who.plan(horizon=timedelta(hours=20))
    la = zoneinfo.ZoneInfo("America/Los_Angeles")
    skills = who.rows("pending", kind="skill_practice")
    assert [f"{r.due_at.astimezone(la):%H:%M}" for r in skills] == ["09:00"]
    assert skills[0].due_at == datetime(2026, 11, 24, 17, tzinfo=UTC)


def test_planning_twice_inserts_nothing_and_pushes_say_nothing_about_health(person, db):
    who = person(date(2026, 11, 2))
    db.add(
        Appointment(
            graduate_id=who.record.id,
            kind="psychiatry",
            clinician_name="Dr. Lee",
            starts_at=local("2026-11-24", "15:00"),
            timezone="America/New_York",
            duration_minutes=30,
            created_at=who.clock.now(),
        )
    )
    db.commit()
    who.clock.set(local("2026-11-23", "06:00"))
    first = who.plan(horizon=timedelta(days=2))
    assert first > 0
    assert who.plan(horizon=timedelta(days=2)) == 0
    rows = who.rows()
    assert len(rows) == first
    assert {row.kind for row in rows} >= {"skill_practice", "check_in_due", "appointment_before"}
    for row in rows:  # what a lock screen may show; the subject stays on the server
        assert not HEALTH_WORDS.search(f"{row.title} {row.body} {row.link or ''}"), row.kind


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"skill_times": ["9:00"]}, "skill_times"),
        ({"skill_times": ["25:00"]}, "skill_times"),
        ({"skill_times": []}, "skill_times"),
        ({"skill_times": ["09:00", "09:00"]}, "skill_times"),
        ({"skill_times": ["22:00"]}, "skill_times"),  # inside quiet hours
        ({"quiet_hours": {"start": "21:00"}}, "quiet_hours"),
        ({"daily_cap": -1}, "daily_cap"),
        ({"daily_cap": 21}, "daily_cap"),
        ({"daily_cap": "3"}, "daily_cap"),
        ({"kinds": {"skill_practice": True}}, "kinds"),
        ({"maintenance_weekly": "yes"}, "maintenance_weekly"),
        ({"appointment_lead_minutes": [5]}, "appointment_lead_minutes"),
        ({"appointment_lead_minutes": [60, 60]}, "appointment_lead_minutes"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_preferences_are_refused(person, changes, field):
    who = person(date(2026, 11, 2))
    response = who.phone().put(f"{who.base}/reminder-preferences", json={**PREFS, **changes})
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]


def test_preferences_read_back_with_defaults_first(person):
    who = person(date(2026, 11, 2))
    prefs = who.phone().get(f"{who.base}/reminder-preferences").json
    assert prefs["quiet_hours"] == {"start": "21:00", "end": "08:00"}
    assert prefs["timezone"] == "America/New_York"
    assert prefs["appointment_lead_minutes"] == [1440, 120]
    changed = who.put_prefs(
        skill_times=["18:00", "07:30"], quiet_hours={"start": "23:00", "end": "06:00"}
    )
    assert changed["skill_times"] == ["07:30", "18:00"]
    assert who.phone().get(f"{who.base}/reminder-preferences").json == changed


def test_bad_snooze_and_pause_are_refused(person):
    who = person(date(2026, 11, 2))
    for path, body in (
        ("/reminders/snooze", {"duration": "2h"}),
        ("/reminders/snooze", {"duration": "1h", "kind": "medication"}),
        ("/reminders/pause", {"days": 91}),
        ("/reminders/pause", {"days": -1}),
    ):
        assert who.phone().post(f"{who.base}{path}", json=body).status_code == 422


def test_the_scheduler_plans_every_few_minutes():
    assert "reminders.plan" in JOBS
    assert JOBS["reminders.plan"].run is planner.run
