"""Planning only what changed makes the same outbox as planning everyone, at every step.

Nineteen graduates as varied as we could make them (zones from Honolulu to Kolkata and
Sydney, every phase, caps, quiet hours that wrap or do not exist, several skill times,
pauses, snoozes, flags, appointments, a group, a late enrolment) live three days across the
end of US daylight saving time, with a run every five minutes and a dispatcher that sends
whatever is due (but for an evening it is down, and rows expire). Things happen to them
through the API and behind it (check-ins, a positive screen, practice, preferences, a zone
and a graduation date changed, a watch opened and resolved, appointments added, moved,
reported and removed, meetings moved, declined and cancelled, a seat given up). The
`reminders.plan` job plans them (only the graduates due a visit; no daily reconcile to catch
up), and after every run the full planner over everyone, tried in a savepoint, must find
nothing to add or delete.

That is the same as living the three days twice, once with each planner, and comparing the
outboxes after every run: both start from the same outbox, and if they agree before a run,
the job gives each graduate it visits what the full planner gives them (the same reconcile
of the same rows), and leaves every other graduate's rows as they are, which the full
planner, finding nothing to change, would too. So they agree after it, the dispatcher does
the same to both, and by induction they agree at every step.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select, update

from api.flags.models import Flag
from api.graduates.models import Graduate
from api.notifications.models import Notification
from api.plans.models import Appointment, PlanSkill
from api.reminders import planner
from api.vocabulary import NotificationStatus
from tests import factories

T0 = datetime(2026, 10, 31, 12, tzinfo=UTC)  # a Saturday; the US leaves DST on Sunday
STEP = timedelta(minutes=5)
STEPS = 3 * 24 * 12
# No dispatcher runs across the start of quiet hours in the Americas: rows expire unsent.
OUTAGE = (datetime(2026, 11, 2, 23, 30, tzinfo=UTC), datetime(2026, 11, 3, 4, tzinfo=UTC))
DAILY = {"daily-mood": 6, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0}
POSITIVE = {**DAILY, "phq2-1": 2, "phq2-2": 2}
PREFS = {
    "skill_times": ["09:00"],
    "quiet_hours": {"start": "21:00", "end": "08:00"},
    "daily_cap": 4,
    "kinds": {"skill_practice": True, "check_in": True, "appointment": True, "group": True},
    "maintenance_weekly": False,
    "appointment_lead_minutes": [1440, 120],
}
NO_CHECK_INS = {**PREFS["kinds"], "check_in": False}
NO_SKILLS = {**PREFS["kinds"], "skill_practice": False}
TWICE = ["09:00", "17:00"]
# label: days since graduation at T0 (local), zone, preferences, other facts
PEOPLE: dict[str, dict[str, Any]] = {
    "month1": {"days": 3, "zone": "America/New_York"},
    "day7": {"days": 6, "zone": "America/Chicago", "prefs": {"kinds": NO_SKILLS}},
    "screened": {"days": 40, "zone": "America/Los_Angeles"},
    "weekly": {"days": 300, "zone": "Pacific/Honolulu", "prefs": {"maintenance_weekly": True}},
    "cap1": {"days": 3, "zone": "America/Chicago", "prefs": {"daily_cap": 1}},
    "no-quiet": {
        "days": 10,
        "zone": "Asia/Kolkata",
        "prefs": {
            "skill_times": ["07:00", "13:00", "19:00"],
            "quiet_hours": {"start": "00:00", "end": "00:00"},
            "daily_cap": 6,
        },
    },
    "paused": {"days": 3, "zone": "America/New_York"},
    "snoozer": {"days": 3, "zone": "America/Chicago"},
    "mover": {"days": 3, "zone": "America/New_York"},
    "watched": {"days": 50, "zone": "America/Chicago"},
    "appointments": {
        "days": 45,
        "zone": "America/New_York",
        "prefs": {"appointment_lead_minutes": [1440, 60]},
    },
    "grouped": {"days": 3, "zone": "America/Chicago", "group": True},
    "leaver": {"days": 100, "zone": "America/Denver", "group": True},
    "practiser": {
        "days": 3,
        "zone": "America/Chicago",
        "prefs": {"skill_times": ["09:00", "17:00"]},
    },
    "forms-off": {"days": 6, "zone": "Europe/London", "prefs": {"kinds": NO_CHECK_INS}},
    "regraduated": {"days": 60, "zone": "America/Chicago"},
    "bam": {"days": 13, "zone": "America/Phoenix", "substance_use": True},
    "late": {"days": 2, "zone": "America/New_York", "enrolled": False},
    "sydney": {
        "days": 20,
        "zone": "Australia/Sydney",
        "prefs": {
            "skill_times": ["06:30", "22:00"],
            "quiet_hours": {"start": "22:30", "end": "06:15"},
        },
    },
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
    "rrule": "FREQ=WEEKLY;BYDAY=SU,MO,TU",
}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class Life:
    """The three days of PEOPLE and EVENTS, planned by the job."""

    db: Any
    clock: Any
    world: Any
    as_user: Any
    emails: dict[str, str] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # uuid -> label, for messages
    group_id: str = ""
    visits: int = 0

    def phone(self, label: str) -> Any:
        return self.as_user(self.emails[label])

    def base(self, label: str) -> str:
        return f"/api/v1/graduates/{self.ids[label]}"

    def ok(self, response, status: int = 200) -> Any:
        body = response.get_json(silent=True)
        assert response.status_code == status, body
        self.db.expire_all()
        return body

    def graduate(self, label: str) -> Graduate:
        record = self.db.get(Graduate, self.ids[label])
        assert record is not None
        return record

    def save(self, *rows: Any) -> None:
        self.db.add_all(rows)
        self.db.commit()

    def name(self, row_id: uuid.UUID, name: str) -> None:
        self.names[str(row_id)] = name

    def live(self) -> None:
        self.clock.set(T0)
        self._enrol_everyone()
        events = sorted(EVENTS, key=lambda event: event[0])
        for step in range(STEPS):
            now = T0 + step * STEP
            self.clock.set(now)
            while events and datetime.fromisoformat(events[0][0]) <= now:
                _, label, happen = events.pop(0)
                happen(self, label)
            self.visits += planner.visit_due(session=self.db, now=now).graduates
            self.db.commit()
            changes = self._what_the_full_planner_would_change()
            assert not changes, f"after the run at {now:%Y-%m-%d %H:%M}Z: {changes}"
            if not OUTAGE[0] <= now < OUTAGE[1]:
                self._dispatch(now)
        assert not events

    def _what_the_full_planner_would_change(self) -> str:
        """Nothing, or the rows it would add and take away (tried, then rolled back)."""
        savepoint = self.db.begin_nested()
        before = self._count()
        inserted = planner.plan(self.db, now=self.clock.now(), graduate_ids=[*self.ids.values()])
        changed = inserted or self._count() != before
        if changed:
            after = self.outbox()
        savepoint.rollback()
        if not changed:
            return ""
        before_rows = self.outbox()
        return f"it would add {sorted(after - before_rows)}, delete {sorted(before_rows - after)}"

    def _count(self) -> int:
        ids = list(self.ids.values())
        return self.db.scalar(
            select(func.count()).select_from(Notification).where(Notification.graduate_id.in_(ids))
        )

    def outbox(self) -> set[tuple]:
        rows = self.db.execute(
            select(
                Notification.graduate_id,
                Notification.kind,
                Notification.subject,
                Notification.due_at,
                Notification.expires_at,
                Notification.status,
            ).where(Notification.graduate_id.in_(list(self.ids.values())))
        )
        return {
            (
                self.names[str(row.graduate_id)],
                row.kind,
                UUID.sub(lambda found: self.names.get(found.group(0), "?"), row.subject),
                f"{row.due_at:%m-%d %H:%M}",
                f"{row.expires_at:%m-%d %H:%M}",
                row.status,
            )
            for row in rows
        }

    def _enrol_everyone(self) -> None:
        coordinator = self.as_user(self.world.email("coordinator"))
        group = coordinator.post(f"/api/v1/programs/{self.world.program.id}/groups", json=GROUP)
        self.group_id = self.ok(group, 201)["id"]
        self.name(uuid.UUID(self.group_id), "group")
        for label, facts in PEOPLE.items():
            email = factories.unique_email(label)
            zone = ZoneInfo(facts["zone"])
            record = factories.graduate(
                self.db,
                self.world.program,
                email=email,
                graduation_date=T0.astimezone(zone).date() - timedelta(days=facts["days"]),
                timezone=facts["zone"],
                substance_use=facts.get("substance_use", False),
            )
            if not facts.get("enrolled", True):
                record.user_id = None
            self.db.commit()
            self.emails[label], self.ids[label] = email, record.id
            self.name(record.id, label)
            if "prefs" in facts:
                prefs = {**PREFS, **facts["prefs"]}
                self.ok(
                    self.phone(label).put(f"{self.base(label)}/reminder-preferences", json=prefs)
                )
            if facts.get("group"):
                join = self.phone(label).post(
                    f"/api/v1/groups/{self.group_id}/membership", json={"share_name": False}
                )
                self.ok(join, 201)
        appointment = Appointment(
            graduate_id=self.ids["appointments"],
            kind="therapy",
            clinician_name="Dr. Lee",
            starts_at=datetime(2026, 11, 1, 20, tzinfo=UTC),
            timezone="America/New_York",
            duration_minutes=50,
            created_at=T0,
        )
        skill = PlanSkill(
            graduate_id=self.ids["practiser"],
            skill_id="box-breathing",
            target_per_week=3,
            created_at=T0,
        )
        self.save(appointment, skill)
        self.name(appointment.id, "one-off")

    def _dispatch(self, now: datetime) -> None:
        """What the dispatchers do: every pending row now due is sent, or expired if late."""
        self.db.execute(
            update(Notification)
            .where(Notification.status == NotificationStatus.PENDING, Notification.due_at <= now)
            .values(
                status=case(
                    (Notification.expires_at > now, NotificationStatus.SENT),
                    else_=NotificationStatus.EXPIRED,
                ),
                sent_at=now,
            )
        )
        self.db.commit()


# --- what happens to them (UTC) -----------------------------------------------------------


def check_in(answers: dict, questionnaire: str = "daily") -> Callable[[Life, str], None]:
    def happen(life: Life, label: str) -> None:
        body = {
            "questionnaire": questionnaire,
            "answers": answers,
            "answered_at": life.clock.now().isoformat(),
        }
        life.ok(life.phone(label).post(f"{life.base(label)}/check-ins", json=body), 201)

    return happen


def post(path: str, body: dict, status: int = 200) -> Callable[[Life, str], None]:
    def happen(life: Life, label: str) -> None:
        life.ok(life.phone(label).post(f"{life.base(label)}{path}", json=body), status)

    return happen


def preferences(**changes: Any) -> Callable[[Life, str], None]:
    def happen(life: Life, label: str) -> None:
        body = {**PREFS, **PEOPLE[label].get("prefs", {}), **changes}
        life.ok(life.phone(label).put(f"{life.base(label)}/reminder-preferences", json=body))

    return happen


def facts(**values: Any) -> Callable[[Life, str], None]:
    """Written behind the API, as the console or a script would."""

    def happen(life: Life, label: str) -> None:
        record = life.graduate(label)
        for key, value in values.items():
            setattr(record, key, value)
        life.db.commit()

    return happen


def enrol(life: Life, label: str) -> None:
    life.graduate(label).user_id = factories.user(life.db, factories.unique_email("late")).id
    life.db.commit()


def open_watch(life: Life, label: str) -> None:
    record = life.graduate(label)
    life.save(
        Flag(
            graduate_id=record.id,
            program_id=record.program_id,
            kind="watch",
            source="mood",
            status="open",
            rule="phq9_rise_from_baseline",
            rules_version="domain-2026.1",
            explanation="",
            evidence=[],
            details={},
            raised_at=life.clock.now(),
            updated_at=life.clock.now(),
        )
    )


def resolve_watch(life: Life, label: str) -> None:
    flag = life.db.scalar(select(Flag).where(Flag.graduate_id == life.ids[label]))
    flag.status, flag.resolved_at = "resolved", life.clock.now()
    life.db.commit()


def add_weekly_appointment(life: Life, label: str) -> None:
    weekly = Appointment(
        graduate_id=life.ids[label],
        kind="psychiatry",
        clinician_name="Dr. Ode",
        starts_at=datetime(2026, 11, 2, 14, tzinfo=UTC),
        timezone="America/New_York",
        duration_minutes=30,
        rrule="FREQ=WEEKLY;BYDAY=MO",
        created_at=life.clock.now(),
    )
    life.save(weekly)
    life.name(weekly.id, "weekly")


def _appointment(life: Life, label: str, name: str) -> Appointment:
    found = {life.names.get(str(item.id)): item for item in _appointments(life, label)}
    return found[name]


def _appointments(life: Life, label: str) -> list[Appointment]:
    query = select(Appointment).where(Appointment.graduate_id == life.ids[label])
    return list(life.db.scalars(query))


def move_one_off(life: Life, label: str) -> None:
    _appointment(life, label, "one-off").starts_at = datetime(2026, 11, 1, 22, tzinfo=UTC)
    life.db.commit()


def report_one_off(life: Life, label: str) -> None:
    appointment = _appointment(life, label, "one-off")
    body = {"occurrence_start": "2026-11-01T22:00:00+00:00", "status": "attended"}
    path = f"{life.base(label)}/appointments/{appointment.id}/reports"
    life.ok(life.phone(label).post(path, json=body))


def remove_weekly(life: Life, label: str) -> None:
    life.db.delete(_appointment(life, label, "weekly"))
    life.db.commit()


def meeting(original: str, body: dict) -> Callable[[Life, str], None]:
    def happen(life: Life, _label: str) -> None:
        coordinator = life.as_user(life.world.email("coordinator"))
        life.ok(
            coordinator.put(f"/api/v1/groups/{life.group_id}/occurrences/{original}", json=body)
        )

    return happen


def rsvp_no(original: str) -> Callable[[Life, str], None]:
    def happen(life: Life, label: str) -> None:
        path = f"/api/v1/groups/{life.group_id}/occurrences/{original}/rsvp"
        life.ok(life.phone(label).put(path, json={"response": "no"}))

    return happen


def leave(life: Life, label: str) -> None:
    life.ok(life.phone(label).delete(f"/api/v1/groups/{life.group_id}/membership"), 204)


PRACTISE = post("/skills/box-breathing/practice", {"done": True, "helpfulness": 6}, 201)
EVENTS: list[tuple[str, str, Callable[[Life, str], None]]] = [
    ("2026-10-31T13:00:00+00:00", "paused", post("/reminders/pause", {"days": 1})),
    ("2026-10-31T13:25:00+00:00", "month1", check_in(DAILY)),  # after its 09:00 reminder
    ("2026-10-31T14:00:00+00:00", "snoozer", post("/reminders/snooze", {"duration": "1h"})),
    ("2026-10-31T16:00:00+00:00", "appointments", add_weekly_appointment),
    ("2026-10-31T17:00:00+00:00", "regraduated", facts(graduation_date=date(2026, 10, 28))),
    (
        "2026-10-31T18:00:00+00:00",
        "practiser",
        PRACTISE,
    ),
    ("2026-10-31T19:00:00+00:00", "watched", open_watch),
    (
        "2026-10-31T20:00:00+00:00",
        "grouped",
        meeting(
            "2026-11-02T23:00:00Z", {"cancelled": False, "starts_at_local": "2026-11-02T20:00:00"}
        ),
    ),
    ("2026-11-01T02:00:00+00:00", "mover", facts(timezone="Europe/London")),
    ("2026-11-01T05:00:00+00:00", "late", enrol),
    ("2026-11-01T10:00:00+00:00", "forms-off", preferences(kinds=PREFS["kinds"])),
    ("2026-11-01T12:00:00+00:00", "appointments", move_one_off),
    # Paused over its PHQ-9's first announcement: announced the next morning instead.
    ("2026-11-01T12:00:00+00:00", "day7", post("/reminders/pause", {"days": 1})),
    ("2026-11-01T12:30:00+00:00", "month1", check_in(DAILY)),  # before its 09:00 reminder
    ("2026-11-01T13:30:00+00:00", "cap1", check_in(DAILY)),  # frees its one push of the day
    (
        "2026-11-01T14:30:00+00:00",
        "practiser",
        PRACTISE,
    ),
    ("2026-11-01T15:00:00+00:00", "paused", post("/reminders/pause", {"days": 0})),
    ("2026-11-01T15:00:00+00:00", "grouped", rsvp_no("2026-11-01T23:00:00Z")),
    ("2026-11-01T15:10:00+00:00", "snoozer", post("/reminders/snooze", {"duration": "tomorrow"})),
    ("2026-11-01T16:00:00+00:00", "leaver", leave),
    ("2026-11-01T18:00:00+00:00", "screened", check_in(POSITIVE)),
    ("2026-11-01T23:30:00+00:00", "appointments", report_one_off),
    ("2026-11-02T01:00:00+00:00", "watched", resolve_watch),
    ("2026-11-02T10:00:00+00:00", "appointments", remove_weekly),
    (
        "2026-11-02T15:00:00+00:00",
        "snoozer",
        post("/reminders/snooze", {"duration": "tonight", "kind": "check_in"}),
    ),
    ("2026-11-02T18:00:00+00:00", "grouped", meeting("2026-11-03T23:00:00Z", {"cancelled": True})),
    ("2026-11-02T20:00:00+00:00", "cap1", preferences(daily_cap=2)),
]


def test_planning_only_what_changed_leaves_the_full_planner_nothing_to_do_at_any_step(
    db, clock, world, as_user
):
    life = Life(db, clock, world, as_user)
    life.live()

    outbox = life.outbox()
    assert len(outbox) > 150  # the three days were full of reminders
    assert {row[1] for row in outbox} == {
        "skill_practice",
        "check_in_due",
        "check_in_nudge",
        "appointment_before",
        "appointment_followup",
        "group_meeting",
    }
    assert {"sent", "cancelled", "expired", "pending"} <= {row[5] for row in outbox}
    # A few visits a day each (every run only while a cap leaves something out or a snoozed
    # reminder may come back), against one per graduate per run for the full planner.
    assert life.visits < len(PEOPLE) * STEPS / 10
