"""The `reminders.plan` job visits only graduates whose reminders may have changed, on a frozen
clock: nobody when nothing changed, a graduate at once when something they rely on is
written, and each graduate when their window gains a slot. Planning incrementally every
five minutes for three days makes the same outbox, step by step, as planning everyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from api.flags.models import Flag
from api.graduates.models import Graduate
from api.notifications.models import Notification
from api.plans.models import Appointment, PlanSkill
from api.privacy import service as privacy
from api.reminders import planner, visits
from api.reminders.models import ReminderPlanning
from jobs.scheduler import JOBS
from tests import factories

CHICAGO = ZoneInfo("America/Chicago")
DAILY = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}
SCREENS_POSITIVE = {**DAILY, "phq2-1": 2, "phq2-2": 2}
PREFS = {
    "skill_times": ["09:00"],
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "daily_cap": 4,
    "kinds": {"skill_practice": True, "check_in": True, "appointment": True, "group": True},
    "maintenance_weekly": False,
    "appointment_lead_minutes": [1440, 120],
}
GROUP = {
    "name": "Weekend aftercare",
    "kind": "aftercare",
    "mode": "in_person",
    "location": "Riverbend, room 2",
    "capacity": 20,
    "description": "Skills practice",
    "facilitator": "Jo Park, LCSW",
    "timezone": "America/New_York",
    "starts_at_local": "2026-10-03T18:00:00",
    "duration_minutes": 90,
    "rrule": "FREQ=WEEKLY;BYDAY=SA,SU,MO,TU",
}


def chicago(day: str, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=CHICAGO).astimezone(UTC)


def visit(db, clock) -> planner.Visited:
    visited = planner.visit_due(session=db, now=clock.now())
    db.commit()
    return visited


def due(db, clock) -> set[uuid.UUID]:
    return set(visits.due(session=db, now=clock.now()))


def pending(db, graduate) -> list[tuple[str, str]]:
    """(kind, Chicago due time) of the graduate's pending rows, in order."""
    db.expire_all()
    rows = db.scalars(
        select(Notification)
        .where(Notification.graduate_id == graduate.id, Notification.status == "pending")
        .order_by(Notification.due_at, Notification.kind)
    )
    return [(row.kind, f"{row.due_at.astimezone(CHICAGO):%m-%d %H:%M}") for row in rows]


@dataclass
class Who:
    id: uuid.UUID
    phone: Callable[[], Any]  # their signed-in API client, now


@pytest.fixture
def grad(db, as_user):
    """grad(**facts) -> a graduate of a program of their own, and their phone."""

    def make(**facts) -> Who:
        email = factories.unique_email("grad")
        record = factories.graduate(db, factories.program(db), email=email, **facts)
        db.commit()
        return Who(record.id, lambda: as_user(email))

    return make


# --- steady state, marks and slots --------------------------------------------------------


def test_a_steady_run_visits_nobody_and_inserts_nothing(db, clock, grad):
    clock.set(chicago("2026-11-23", "08:00"))
    people = [grad(graduation_date=date(2026, 11, 20)) for _ in range(3)]
    first = visit(db, clock)
    assert first.graduates >= 3 and first.inserted >= 9
    assert visit(db, clock) == planner.Visited(0, 0)
    clock.advance(minutes=5)
    assert visit(db, clock) == planner.Visited(0, 0)
    assert planner.plan(db, now=clock.now(), graduate_ids=[p.id for p in people]) == 0


def test_a_preference_change_reaches_the_outbox_and_the_next_run_visits_only_that_graduate(
    db, clock, grad
):
    clock.set(chicago("2026-11-23", "08:00"))
    mover, other = grad(graduation_date=date(2026, 11, 20)), grad()
    visit(db, clock)
    assert ("skill_practice", "11-23 09:00") in pending(db, mover)
    clock.advance(minutes=2)
    response = mover.phone().put(
        f"/api/v1/graduates/{mover.id}/reminder-preferences",
        json={**PREFS, "skill_times": ["10:30"]},
    )
    assert response.status_code == 200, response.json
    clock.advance(minutes=3)
    assert due(db, clock) == {mover.id}
    assert visit(db, clock) == planner.Visited(1, 0)  # the API replanned at once
    skills = [due_at for kind, due_at in pending(db, mover) if kind == "skill_practice"]
    assert skills == ["11-23 10:30"]
    assert due(db, clock) == set()
    assert other.id not in due(db, clock)


def test_a_change_written_around_the_api_reaches_the_outbox_in_the_next_run(db, clock, grad):
    """The console or a script changing the zone: only the mark brings it to the planner."""
    clock.set(chicago("2026-11-23", "00:30"))
    mover = grad(graduation_date=date(2026, 11, 20))
    visit(db, clock)
    assert ("skill_practice", "11-23 09:00") in pending(db, mover)
    db.execute(
        update(Graduate).where(Graduate.id == mover.id).values(timezone="America/Los_Angeles")
    )
    db.commit()
    assert visit(db, clock).graduates == 1
    assert ("skill_practice", "11-23 11:00") in pending(db, mover)  # 09:00 in Los Angeles
    assert ("skill_practice", "11-23 09:00") not in pending(db, mover)


def test_time_brings_each_new_slot_in_when_the_window_reaches_it(db, clock, grad):
    """Month 1 in Chicago, defaults: tomorrow's 09:00 skill reminder enters the 12-hour window
    just after 21:00, tomorrow's check-in opens at midnight, its 18:00 nudge enters just after
    06:00: the runs at 21:05, 00:00 and 06:05 visit the graduate, no other."""
    clock.set(chicago("2026-11-23", "08:00"))
    who = grad(graduation_date=date(2026, 11, 20))
    visit(db, clock)
    today = [
        ("check_in_due", "11-23 09:00"),
        ("skill_practice", "11-23 09:00"),
        ("check_in_nudge", "11-23 18:00"),
    ]
    assert pending(db, who) == today
    planning = db.get(ReminderPlanning, who.id)
    assert planning is not None
    assert chicago("2026-11-23", "21:00") < planning.due_at < chicago("2026-11-23", "21:05")

    steps = {}
    at = clock.now()
    while at < chicago("2026-11-24", "07:00"):
        at += timedelta(minutes=5)
        clock.set(at)
        visited = visit(db, clock)
        if visited.graduates:
            steps[f"{at.astimezone(CHICAGO):%m-%d %H:%M}"] = visited.inserted
    assert steps == {"11-23 21:05": 1, "11-24 00:00": 1, "11-24 06:05": 1}
    assert [row for row in pending(db, who) if row[1] >= "11-24"] == [
        ("check_in_due", "11-24 09:00"),
        ("skill_practice", "11-24 09:00"),
        ("check_in_nudge", "11-24 18:00"),
    ]
    assert planner.plan(db, now=clock.now(), graduate_ids=[who.id]) == 0


def test_the_daily_reconcile_plans_what_the_full_planner_plans(db, clock, grad):
    clock.set(chicago("2026-11-23", "08:00"))
    people = [
        grad(graduation_date=date(2026, 11, 20)),
        grad(graduation_date=date(2026, 11, 16), timezone="America/New_York"),
        grad(graduation_date=date(2026, 9, 1), substance_use=True),
    ]
    ids = [person.id for person in people]
    savepoint = db.begin_nested()
    expected = planner.plan(db, now=clock.now(), graduate_ids=ids)
    planned = _outbox(db, ids)
    savepoint.rollback()
    assert _outbox(db, ids) == set()

    assert planner.reconcile(session=db, now=clock.now()) >= expected > 0
    db.commit()
    assert _outbox(db, ids) == planned
    assert planner.reconcile(session=db, now=clock.now()) == 0
    assert {row.graduate_id for row in db.scalars(select(ReminderPlanning))} >= set(ids)


def test_the_scheduler_plans_every_five_minutes_and_reconciles_daily():
    assert JOBS["reminders.plan"].run is planner.run
    assert JOBS["reminders.reconcile"].run is planner.reconcile


def _outbox(db, ids) -> set[tuple]:
    return set(
        db.execute(
            select(
                Notification.graduate_id,
                Notification.kind,
                Notification.subject,
                Notification.due_at,
                Notification.expires_at,
            ).where(Notification.graduate_id.in_(ids))
        ).all()
    )


# --- every input the planner reads marks whose reminders it touches ----------------------

NOV_24 = "2026-11-24T23:00:00Z"  # a Tuesday meeting of GROUP, 18:00 in New York


@dataclass
class Scene:
    """The world's two graduates, both planned and holding seats in one group."""

    db: Any
    clock: Any
    world: Any
    as_user: Any
    group_id: str
    appointment: Appointment

    def graduate(self):
        return self.as_user(self.world.email("graduate"))

    def base(self) -> str:
        return f"/api/v1/graduates/{self.world.graduate.id}"

    def ok(self, response, status: int = 200) -> None:
        assert response.status_code == status, response.json
        self.db.expire_all()

    def save(self, *rows) -> None:
        self.db.add_all(rows)
        self.db.commit()


def _flag(scene: Scene, kind: str) -> Flag:
    return Flag(
        graduate_id=scene.world.graduate.id,
        program_id=scene.world.program.id,
        kind=kind,
        source="mood",
        status="open",
        rule="phq9_rise_from_baseline",
        rules_version="domain-2026.1",
        explanation="",
        evidence=[],
        details={},
        raised_at=scene.clock.now(),
        updated_at=scene.clock.now(),
    )


def _check_in(scene: Scene, answers: dict) -> None:
    body = {
        "questionnaire": "daily",
        "answers": answers,
        "answered_at": scene.clock.now().isoformat(),
    }
    scene.ok(scene.graduate().post(f"{scene.base()}/check-ins", json=body), 201)


def _resolve(scene: Scene) -> None:
    flag = _flag(scene, "watch")
    scene.save(flag)
    visit(scene.db, scene.clock)
    flag.status, flag.resolved_at = "resolved", scene.clock.now()
    scene.db.commit()


def _practise(scene: Scene) -> None:
    scene.save(
        PlanSkill(
            graduate_id=scene.world.graduate.id,
            skill_id="box-breathing",
            target_per_week=3,
            created_at=scene.clock.now(),
        )
    )
    visit(scene.db, scene.clock)
    body = {"done": True, "helpfulness": 6}
    scene.ok(scene.graduate().post(f"{scene.base()}/skills/box-breathing/practice", json=body), 201)


def _erase(scene: Scene) -> None:
    scene.db.get(Graduate, scene.world.graduate.id).erase_after = scene.clock.now()
    scene.db.commit()
    visit(scene.db, scene.clock)
    privacy.erase_due(session=scene.db, now=scene.clock.now())


def _enrol(scene: Scene) -> None:
    staff = scene.as_user(scene.world.email("staff"))
    body = {
        "display_name": "Robin",
        "graduation_date": "2026-11-20",
        "timezone": "America/Chicago",
        "substance_use": False,
        "baseline": {"phq9": 7, "gad7": 6},
        "therapist_email": None,
    }
    created = staff.post(f"/api/v1/programs/{scene.world.program.id}/graduates", json=body)
    scene.ok(created, 201)
    assert due(scene.db, scene.clock) == set()  # not enrolled yet: nobody to remind
    person = scene.as_user(factories.unique_email("phone"))
    code = created.json["enrollment_code"]
    scene.ok(person.post("/api/v1/enrollments", json={"code": code}))
    scene.enrolled = uuid.UUID(created.json["id"])


CHANGES: dict[str, tuple[Callable[[Scene], None], str]] = {
    "preferences": (
        lambda s: s.ok(s.graduate().put(f"{s.base()}/reminder-preferences", json=PREFS)),
        "graduate",
    ),
    "pause": (
        lambda s: s.ok(s.graduate().post(f"{s.base()}/reminders/pause", json={"days": 2})),
        "graduate",
    ),
    "snooze": (
        lambda s: s.ok(s.graduate().post(f"{s.base()}/reminders/snooze", json={"duration": "1h"})),
        "graduate",
    ),
    "time zone": (lambda s: _set(s, timezone="America/Denver"), "graduate"),
    "graduation date": (lambda s: _set(s, graduation_date=date(2026, 11, 20)), "graduate"),
    "substance use": (lambda s: _set(s, substance_use=True), "graduate"),
    "activity only": (lambda s: _set(s, last_active_at=s.clock.now()), "nobody"),
    "enrolment": (_enrol, "enrolled"),
    "erasure": (_erase, "nobody"),
    "appointment added": (
        lambda s: s.save(
            Appointment(
                graduate_id=s.world.graduate.id,
                kind="therapy",
                clinician_name="Dr. Lee",
                starts_at=s.clock.now() + timedelta(days=3),
                timezone="America/Chicago",
                duration_minutes=50,
                created_at=s.clock.now(),
            )
        ),
        "graduate",
    ),
    "appointment moved": (
        lambda s: _move(s.db, s.appointment, s.appointment.starts_at + timedelta(hours=1)),
        "graduate",
    ),
    "appointment removed": (lambda s: _remove(s.db, s.appointment), "graduate"),
    "appointment reported": (
        lambda s: s.ok(
            s.graduate().post(
                f"{s.base()}/appointments/{s.appointment.id}/reports",
                json={"occurrence_start": s.appointment.starts_at.isoformat(), "status": "missed"},
            ),
        ),
        "graduate",
    ),
    "check-in screening positive": (lambda s: _check_in(s, SCREENS_POSITIVE), "graduate"),
    "check-in otherwise": (lambda s: _check_in(s, DAILY), "nobody"),
    "skill practice": (_practise, "graduate"),
    "watch opened": (lambda s: s.save(_flag(s, "watch")), "graduate"),
    "step-up opened": (lambda s: s.save(_flag(s, "step_up")), "graduate"),
    "watch resolved": (_resolve, "graduate"),
    "urgent flag": (lambda s: s.save(_flag(s, "urgent")), "nobody"),
    "seat given up": (
        lambda s: s.ok(s.graduate().delete(f"/api/v1/groups/{s.group_id}/membership"), 204),
        "graduate",
    ),
    "rsvp": (
        lambda s: s.ok(
            s.graduate().put(
                f"/api/v1/groups/{s.group_id}/occurrences/{NOV_24}/rsvp", json={"response": "no"}
            )
        ),
        "graduate",
    ),
    "meeting moved": (
        lambda s: s.ok(
            s.as_user(s.world.email("coordinator")).put(
                f"/api/v1/groups/{s.group_id}/occurrences/{NOV_24}",
                json={"cancelled": False, "starts_at_local": "2026-11-24T19:00:00"},
            )
        ),
        "seated",
    ),
    "group rescheduled": (
        lambda s: s.ok(
            s.as_user(s.world.email("coordinator")).patch(
                f"/api/v1/groups/{s.group_id}", json={"rrule": "FREQ=WEEKLY;BYDAY=WE"}
            )
        ),
        "seated",
    ),
}


def _set(scene: Scene, **values) -> None:
    graduate = scene.db.get(Graduate, scene.world.graduate.id)
    for key, value in values.items():
        setattr(graduate, key, value)
    scene.db.commit()


def _move(db, appointment: Appointment, starts_at: datetime) -> None:
    appointment.starts_at = starts_at
    db.commit()


def _remove(db, appointment: Appointment) -> None:
    db.delete(appointment)
    db.commit()


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_the_planner_reads_marks_whose_reminders_it_touches(
    change, db, clock, world, as_user
):
    coordinator = as_user(world.email("coordinator"))
    created = coordinator.post(
        f"/api/v1/programs/{world.program.id}/groups",
        json={**GROUP, "starts_at_local": "2026-10-27T18:00:00", "rrule": "FREQ=WEEKLY;BYDAY=TU"},
    )
    assert created.status_code == 201, created.json
    group_id = created.json["id"]
    for persona in ("graduate", "other_graduate"):
        joined = as_user(world.email(persona)).post(
            f"/api/v1/groups/{group_id}/membership", json={"share_name": False}
        )
        assert joined.status_code == 201, joined.json
    appointment = Appointment(
        graduate_id=world.graduate.id,
        kind="therapy",
        clinician_name="Dr. Lee",
        starts_at=clock.now() - timedelta(hours=2),
        timezone="America/Chicago",
        duration_minutes=50,
        created_at=clock.now(),
    )
    db.add(appointment)
    db.commit()
    scene = Scene(db, clock, world, as_user, group_id, appointment)
    visit(db, clock)
    assert due(db, clock) == set()

    make, whose = CHANGES[change]
    make(scene)
    expected = {
        "graduate": {world.graduate.id},
        "seated": {world.graduate.id, world.other_graduate.id},
        "enrolled": {getattr(scene, "enrolled", None)},
        "nobody": set(),
    }[whose]
    assert due(db, clock) == expected
    if change == "erasure":
        assert db.get(ReminderPlanning, world.graduate.id) is None
