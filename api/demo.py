"""A demo program that looks like a real one, for a first run and for trying the API by hand.

Twelve graduates from day 3 to month 8 live their months after graduation through the real
service functions and flag rules, with the clock moving forward a day at a time: they check
in (daily and the full forms as the cadence asks, more or less faithfully), practise skills,
go to or miss appointments and group meetings; the daily flag job and escalation run each
day, and the care team acknowledges and resolves what it raises. A fixed random seed makes
every run the same story, told relative to now.
"""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import devtokens
from api.auth import Actor
from api.checkins import schedule
from api.checkins import service as checkins
from api.content.loader import ContentLibrary
from api.content.service import ProgramCatalogue
from api.flags import service as flags
from api.flags import time_rules
from api.flags.models import Flag
from api.graduates import consents, enrollment
from api.graduates import service as graduates_service
from api.graduates.models import Graduate
from api.groups import announcements as group_announcements
from api.groups import attendance as group_attendance
from api.groups import meetings as group_meetings
from api.groups import membership as group_membership
from api.groups import service as groups
from api.groups.models import Group
from api.plans import appointments, recurrence, service, skills
from api.plans.models import Appointment
from api.plans.skills import SkillCatalogue
from api.programs.models import Program, Role
from api.programs.service import create_program, ensure_member
from api.reminders import planner
from api.reminders import service as reminders
from api.summaries import service as summaries
from api.users.models import User

PROGRAM_NAME = "Riverbend IOP (demo)"
SEED = 20261207
BUMP_DAY = 57  # Leo's hard fortnight in month 2


@dataclass(frozen=True)
class DemoPerson:
    email: str
    role: str
    note: str


@dataclass(frozen=True)
class Persona:
    """One graduate's story: where they are, how they do, and what the care team decides."""

    name: str
    days: int  # since graduation
    timezone: str
    substance_use: bool
    phq9: int  # discharge baselines
    gad7: int
    course: str  # steady, improving, worsening, crisis, fading, bump, lapse
    faithful: float  # chance of checking in on a given day
    consent: str  # none, check_ins, part2
    note: str

    @property
    def email(self) -> str:
        return f"{self.name.lower()}@demo.example"


GRADUATES = (
    Persona(
        "Ana",
        3,
        "America/Chicago",
        False,
        6,
        6,
        "steady",
        0.95,
        "check_ins",
        "day 3: first check-ins",
    ),
    Persona(
        "Ben", 10, "America/Denver", False, 8, 7, "improving", 0.9, "check_ins", "day 10, improving"
    ),
    Persona(
        "Maya",
        21,
        "America/Chicago",
        False,
        7,
        6,
        "improving",
        0.9,
        "check_ins",
        "week 3 (month 1), improving",
    ),
    Persona(
        "Sam",
        45,
        "America/New_York",
        False,
        7,
        6,
        "crisis",
        0.85,
        "check_ins",
        "month 2: open urgent flag (PHQ-9 item 9) yesterday",
    ),
    Persona(
        "Chris",
        60,
        "America/Los_Angeles",
        False,
        6,
        5,
        "fading",
        0.85,
        "check_ins",
        "month 2: stopped using the app 3 weeks ago (open disengaged flag)",
    ),
    Persona(
        "Priya",
        75,
        "America/Chicago",
        False,
        6,
        6,
        "worsening",
        0.9,
        "check_ins",
        "month 3: worsening, step-up acknowledged by the therapist",
    ),
    Persona(
        "Leo",
        100,
        "America/Phoenix",
        False,
        5,
        5,
        "bump",
        0.85,
        "check_ins",
        "month 4: a watch in month 2, resolved (monitor)",
    ),
    Persona(
        "Jordan",
        120,
        "America/New_York",
        True,
        7,
        7,
        "lapse",
        0.85,
        "part2",
        "month 4, substance-use care: a lapse, Part 2 watch acknowledged",
    ),
    Persona(
        "Kai",
        135,
        "America/Chicago",
        False,
        6,
        5,
        "steady",
        0.75,
        "none",
        "month 5: shares nothing with the therapist",
    ),
    Persona(
        "Rosa",
        160,
        "America/Denver",
        True,
        6,
        6,
        "steady",
        0.7,
        "check_ins",
        "month 6, substance-use care; therapist lacks the Part 2 consent",
    ),
    Persona(
        "Tom",
        200,
        "America/New_York",
        False,
        5,
        4,
        "steady",
        0.55,
        "check_ins",
        "month 7, checks in now and then",
    ),
    Persona(
        "Ivy",
        240,
        "America/Los_Angeles",
        False,
        5,
        5,
        "improving",
        0.6,
        "check_ins",
        "month 8, maintenance",
    ),
)

PEOPLE = (
    DemoPerson(
        "staff@demo.example", "staff", "program staff: enrols graduates, sees the audit log"
    ),
    DemoPerson(
        "therapist@demo.example", "therapist", "outpatient therapist of all twelve graduates"
    ),
    DemoPerson("coordinator@demo.example", "coordinator", "runs the two groups"),
    *(DemoPerson(p.email, "graduate", p.note) for p in GRADUATES),
)

# What the care team does with each flag, by (graduate, kind, source): leave it, acknowledge it, or
# resolve it with an outcome. Anything else raised is reviewed and closed as "no_action".
DECISIONS: dict[tuple[str, str, str], tuple[str, str | None]] = {
    ("Sam", "urgent", "mood"): ("leave", None),
    ("Chris", "disengaged", "mood"): ("leave", None),
    ("Priya", "watch", "mood"): ("acknowledge", None),
    ("Priya", "step_up", "mood"): ("acknowledge", None),
    ("Leo", "watch", "mood"): ("resolve", "monitor"),
    ("Jordan", "watch", "substance_use"): ("acknowledge", None),
    ("Jordan", "step_up", "substance_use"): ("acknowledge", None),
}
NOTES = {
    "monitor": "Talked it through at the next session; a hard fortnight at work. Keep watching.",
    "no_action": "Reviewed with the graduate; nothing to change.",
}


def seed(
    *,
    session: Session,
    content: ContentLibrary,
    now: datetime,
    cast: tuple[Persona, ...] = GRADUATES,
) -> Program:
    """Idempotent: a second run finds the program and changes nothing. `cast`: fewer
    graduates (the newest ones tell the shortest story) for tests that need any data."""
    existing = session.scalar(select(Program).where(Program.name == PROGRAM_NAME))
    if existing is not None:
        return existing
    return _Story(session, content, now, cast).tell()


class _Story:
    def __init__(
        self, session: Session, content: ContentLibrary, now: datetime, cast: tuple[Persona, ...]
    ) -> None:
        self.session, self.content, self.end, self.cast = session, content, now, cast
        self.catalogue = ProgramCatalogue(content)
        self.rng = random.Random(SEED)
        self.start = now - timedelta(days=max(p.days for p in cast) + 7)
        self.graduates: dict[str, Graduate] = {}
        self.actors: dict[str, Actor] = {}
        self.absent: dict[tuple[Any, Any], bool] = {}  # (group, graduate): last meeting missed
        self.appointments: dict[str, list[tuple[Any, datetime]]] = {}

    # The cast ----------------------------------------------------------------------------

    def tell(self) -> Program:
        now = self.start
        users = {p.email: _user(self.session, p.email, now) for p in PEOPLE}
        self.program = create_program(
            session=self.session, name=PROGRAM_NAME, admin_email="staff@demo.example", now=now
        )
        for email, role in (
            ("coordinator@demo.example", Role.COORDINATOR),
            ("therapist@demo.example", Role.THERAPIST),
        ):
            ensure_member(
                session=self.session, program_id=self.program.id, email=email, role=role, now=now
            )
        self.users = users
        self.staff = self._staff_actor("staff@demo.example", Role.STAFF)
        self.therapist = self._staff_actor("therapist@demo.example", Role.THERAPIST)
        self.coordinator = self._staff_actor("coordinator@demo.example", Role.COORDINATOR)
        self.groups = [
            _group(self.session, self.coordinator, self.program, now, **spec) for spec in GROUPS
        ]
        day = self.start
        while day <= self.end:
            self._live(day)
            day += timedelta(days=1)
        time_rules.escalate(session=self.session, now=self.end)
        self.session.flush()
        return self.program

    def _staff_actor(self, email: str, role: Role) -> Actor:
        return Actor(
            user_id=self.users[email].id,
            email=email,
            memberships=((self.program.id, role),),
            graduate_id=None,
            route="demo seed",
        )

    def _enrol(self, persona: Persona, now: datetime) -> None:
        """Staff register the graduate on graduation day; the phone redeems the code."""
        registered = graduates_service.register(
            session=self.session,
            actor=self.staff,
            program_id=self.program.id,
            display_name=persona.name,
            graduation_date=_local(now, persona.timezone).date(),
            timezone=persona.timezone,
            substance_use=persona.substance_use,
            baseline={"phq9": persona.phq9, "gad7": persona.gad7},
            therapist_email="therapist@demo.example",
            now=now,
        )
        user = self.users[persona.email]
        graduate = enrollment.redeem(
            session=self.session,
            actor=Actor(user.id, persona.email, (), None, route="demo seed"),
            code=registered.enrollment_code,
            now=now,
        )
        actor = Actor(user.id, persona.email, (), graduate.id, route="demo seed")
        if persona.consent != "none":
            consents.grant(
                session=self.session,
                actor=actor,
                graduate_id=graduate.id,
                therapist_user_id=self.users["therapist@demo.example"].id,
                share_check_ins=True,
                share_substance_use=persona.consent == "part2",
                now=now,
            )
        _plan(self.session, self.therapist, graduate, self.catalogue, now)
        reminders.ensure_defaults(session=self.session, graduate_id=graduate.id, now=now)
        for group in self.groups[: 2 if persona.days < 150 else 1]:
            group_membership.join(
                session=self.session,
                actor=actor,
                group_id=group.id,
                share_name=persona.name in ("Maya", "Leo", "Ivy"),
                now=now,
            )
        self.graduates[persona.name], self.actors[persona.name] = graduate, actor
        self.appointments[persona.name] = [
            (appointment.id, start)
            for appointment in self.session.scalars(
                select(Appointment).where(Appointment.graduate_id == graduate.id)
            )
            for start in recurrence.occurrences(
                starts_at=appointment.starts_at,
                timezone=appointment.timezone,
                rrule=appointment.rrule,
                start=now,
                end=self.end,
            )
        ]

    # One day of everyone's life ------------------------------------------------------------

    def _live(self, day: datetime) -> None:
        for persona in self.cast:
            graduation = self.end - timedelta(days=persona.days)
            if persona.name not in self.graduates and day >= graduation - timedelta(hours=12):
                self._enrol(persona, _at(day, persona.timezone, 11))
        # The jobs process: flag time rules mid-morning across the US, summaries, escalation.
        morning = day.replace(hour=15, minute=5, second=0, microsecond=0)
        if morning <= self.end:
            time_rules.run_daily(session=self.session, now=morning)
            summaries.run_weekly(session=self.session, now=morning)
            if self.end - morning < timedelta(days=1):
                # Today's reminders, planned as the jobs process would: the dispatcher
                # delivers those already due (to the inbox: demo phones have no device).
                planner.run(session=self.session, now=morning - timedelta(hours=12))
        self._groups_met(day)
        for persona in self.cast:
            graduate = self.graduates.get(persona.name)
            if graduate is not None:
                self._graduate_day(persona, graduate, day)
        self._care_team(min(day.replace(hour=23), self.end))
        time_rules.escalate(session=self.session, now=min(day.replace(hour=23), self.end))

    def _graduate_day(self, persona: Persona, graduate: Graduate, day: datetime) -> None:
        evening = _at(day, persona.timezone, 20, self.rng.randint(0, 120))
        since = (evening - (self.end - timedelta(days=persona.days))).days
        if evening > self.end or since < 0:
            return
        if persona.course == "fading" and persona.days - since <= 21:
            return  # Chris stopped opening the app three weeks ago
        self._appointments(persona, graduate, evening)
        due = schedule.due(session=self.session, graduate=graduate, now=evening)
        scripted = (persona.course, since) in (("crisis", persona.days - 1), ("bump", BUMP_DAY))
        closing = any(
            item["questionnaire"] != "daily" and item["closes_at"] - evening < timedelta(hours=30)
            for item in due
        )  # the nudge before a form closes brings most people back
        if (
            not scripted
            and self.rng.random() > persona.faithful
            and (not closing or self.rng.random() > 0.8)
        ):
            return
        graduates_service.note_activity(session=self.session, graduate_id=graduate.id, now=evening)
        phq, gad = _severity(persona, since, persona.days, self.rng)
        for item in due:
            form = item["questionnaire"]
            if form != "daily" and self.rng.random() > 0.9:
                continue  # a full form left for another day (or missed)
            self._check_in(persona, graduate, form, phq, gad, since, evening)
        if persona.course == "crisis" and since == persona.days - 1:
            self._check_in(persona, graduate, "phq9", phq + 4, gad, since, evening, item9=1)
        if persona.course == "bump" and since == BUMP_DAY:
            self._check_in(persona, graduate, "phq9", phq + 7, gad, since, evening)
        for skill_id, target in PLAN_SKILLS:
            if self.rng.random() < target / 10 * persona.faithful:
                skills.log_practice(
                    session=self.session,
                    actor=self.actors[persona.name],
                    graduate_id=graduate.id,
                    skill_id=skill_id,
                    done=True,
                    helpfulness=self.rng.randint(4, 9),
                    practiced_at=evening - timedelta(hours=self.rng.randint(1, 9)),
                    now=evening,
                )

    def _check_in(
        self,
        persona: Persona,
        graduate: Graduate,
        form: str,
        phq: float,
        gad: float,
        since: int,
        now: datetime,
        item9: int = 0,
    ) -> None:
        answers = _answers(form, phq, gad, self.rng, item9=item9)
        if form == "bam" and persona.course == "lapse" and persona.days - 30 <= since:
            answers["bam-4"] = 2 if since < persona.days - 10 else 0  # two weeks of drinking
        checkins.submit(
            session=self.session,
            actor=self.actors[persona.name],
            graduate_id=graduate.id,
            questionnaire=form,
            answers=answers,
            answered_at=now - timedelta(minutes=self.rng.randint(0, 30)),
            idempotency_key=None,
            library=self.content,
            now=now,
        )

    def _appointments(self, persona: Persona, graduate: Graduate, now: datetime) -> None:
        """Yesterday's appointments: attended, sometimes missed (never twice running)."""
        for appointment_id, start in self.appointments[persona.name]:
            if not now - timedelta(days=1) <= start < now:
                continue
            key = ("appointments", graduate.id)  # the rule counts any two in a row
            missed = not self.absent.get(key) and self.rng.random() < 0.12
            self.absent[key] = missed
            appointments.report(
                session=self.session,
                actor=self.actors[persona.name],
                graduate_id=graduate.id,
                appointment_id=appointment_id,
                occurrence_start=start,
                status="missed" if missed else "attended",
                now=now,
            )

    def _groups_met(self, day: datetime) -> None:
        """The coordinator takes each meeting's register the morning after."""
        for group in self.groups:
            for meeting in group_meetings.occurrences(
                session=self.session,
                group=group,
                start=day - timedelta(days=1),
                end=day,
            ):
                seated = self._seated(group)
                if not seated or meeting.cancelled:
                    continue
                records = []
                for name, graduate in seated:
                    key = (group.id, graduate.id)
                    gone = (
                        next(p for p in self.cast if p.name == name).course == "fading"
                        and (self.end - day).days <= 21
                    )
                    absent = gone or (not self.absent.get(key) and self.rng.random() < 0.15)
                    self.absent[key] = absent
                    records.append(
                        {"graduate_id": graduate.id, "status": "absent" if absent else "present"}
                    )
                group_attendance.record_attendance(
                    session=self.session,
                    actor=self.coordinator,
                    group_id=group.id,
                    original_start=meeting.original_start,
                    records=records,
                    now=day,
                )

    def _seated(self, group: Group) -> list[tuple[str, Graduate]]:
        members = {m["graduate_id"] for m in _members(self.session, self.coordinator, group)}
        return [(name, g) for name, g in self.graduates.items() if g.id in members]

    def _care_team(self, now: datetime) -> None:
        """Each evening the therapist (staff, without a consent) works through open flags."""
        names = {graduate.id: name for name, graduate in self.graduates.items()}
        for flag in list(
            self.session.scalars(select(Flag).where(Flag.status != "resolved").order_by(Flag.id))
        ):
            name = names[flag.graduate_id]
            action, outcome = DECISIONS.get(
                (name, flag.kind, flag.source), ("resolve", "no_action")
            )
            persona = next(p for p in self.cast if p.name == name)
            reader = self.therapist if persona.consent != "none" else self.staff
            if flag.source == "substance_use" and persona.consent != "part2":
                reader = self.staff
            age = now - flag.raised_at
            if action == "leave" or age < timedelta(days=1):
                continue
            if flag.status == "open":
                flags.acknowledge(
                    session=self.session, actor=reader, flag_id=flag.id, note=None, now=now
                )
            if action == "resolve" and age >= timedelta(days=3):
                flags.resolve(
                    session=self.session,
                    actor=reader,
                    flag_id=flag.id,
                    outcome=outcome or "no_action",
                    note=NOTES.get(outcome or "no_action", ""),
                    now=now,
                )


PLAN_SKILLS = (
    ("mindfulness-box-breathing", 5),
    ("cbt-thought-record", 3),
    ("dbt-tipp", 2),
)

GROUPS: tuple[dict[str, Any], ...] = (
    {
        "name": "Thursday alumni evening",
        "kind": "alumni",
        "location": "Riverbend, room 2",
        "description": "Graduates of every cohort: a speaker, then open sharing.",
        "facilitator": "Jo Park, LCSW",
        "weekday": 3,
        "at": time(18, 30),
        "rrule": "FREQ=WEEKLY;BYDAY=TH",
    },
    {
        "name": "Tuesday aftercare group",
        "kind": "aftercare",
        "location": "Riverbend, room 4",
        "description": "Skills practice for the first months after graduation.",
        "facilitator": "Dana Cole, LPC",
        "weekday": 1,
        "at": time(18, 0),
        "rrule": "FREQ=WEEKLY;BYDAY=TU",
    },
)


def _group(
    session: Session,
    coordinator: Actor,
    program: Program,
    now: datetime,
    *,
    weekday: int,
    at: time,
    **spec: Any,
) -> Group:
    local = _local(now, "America/Chicago").date()
    first = local + timedelta(days=(weekday - local.weekday()) % 7)
    group = groups.create(
        session=session,
        actor=coordinator,
        program_id=program.id,
        now=now,
        mode="in_person",
        video_url=None,
        capacity=20,
        timezone="America/Chicago",
        starts_at_local=datetime.combine(first, at),
        duration_minutes=90,
        **spec,
    )
    group_announcements.announce(
        session=session,
        actor=coordinator,
        group_id=group.id,
        title="Welcome",
        body="Tea from a quarter of an hour before. Bring a friend from your cohort.",
        now=now,
    )
    return group


def _members(session: Session, coordinator: Actor, group: Group) -> list[dict[str, Any]]:
    return [
        {"graduate_id": m.graduate_id}
        for m in session.scalars(
            group_membership.members(session=session, actor=coordinator, group_id=group.id)
        )
        if m.status == "member"
    ]


def _severity(persona: Persona, since: int, days: int, rng: random.Random) -> tuple[float, float]:
    """Expected PHQ-9 and GAD-7 totals on a day: the persona's course plus day-to-day noise."""
    shift: Callable[[int], float] = {
        "steady": lambda d: -1.0,
        "improving": lambda d: -3.0 * min(1.0, d / 30),
        "crisis": lambda d: 1.0 + 2.0 * max(0.0, d - (days - 14)) / 14,
        "fading": lambda d: 0.0 if d < days - 30 else 2.0,
        "worsening": lambda d: 0.0 if d < days - 35 else min(10.0, (d - (days - 35)) * 0.6),
        "bump": lambda d: -1.0,  # one bad PHQ-9 on BUMP_DAY
        "lapse": lambda d: 2.0 if days - 30 <= d <= days - 10 else -1.0,
    }[persona.course]
    noise = rng.gauss(0, 1.0)
    return persona.phq9 + shift(since) + noise, persona.gad7 + 0.8 * shift(since) + noise


def _answers(
    form: str, phq: float, gad: float, rng: random.Random, *, item9: int = 0
) -> dict[str, Any]:
    if form == "daily":
        return {
            "daily-mood": _clip(round(8.5 - phq / 3 + rng.gauss(0, 0.8)), 0, 10),
            "phq2-1": _clip(round(phq / 9 + rng.uniform(-0.6, 0.4)), 0, 3),
            "phq2-2": _clip(round(phq / 9 + rng.uniform(-0.6, 0.4)), 0, 3),
            "gad2-1": _clip(round(gad / 8 + rng.uniform(-0.6, 0.4)), 0, 3),
            "gad2-2": _clip(round(gad / 8 + rng.uniform(-0.6, 0.4)), 0, 3),
            "daily-sleep-hours": _clip(round(7.5 - phq / 8 + rng.gauss(0, 0.8)), 3, 11),
            "daily-safe": 1,
        }
    if form == "phq9":
        answers = _spread("phq9", 8, round(phq + rng.gauss(0, 1.0)), rng)
        answers["phq9-9"] = item9
        return answers
    if form == "gad7":
        return _spread("gad7", 7, round(gad + rng.gauss(0, 1.0)), rng)
    if form == "bam":
        return {
            "bam-1": 1, "bam-2": rng.randint(0, 2), "bam-3": rng.randint(0, 2), "bam-4": 0,
            "bam-5": 0, "bam-6": 0, "bam-7": 0, "bam-8": rng.randint(0, 1), "bam-9": 3,
            "bam-10": rng.randint(2, 5), "bam-11": 0, "bam-12": 3, "bam-13": rng.randint(3, 7),
            "bam-14": 4, "bam-15": rng.randint(0, 1), "bam-16": rng.randint(1, 4), "bam-17": 3,
        }  # fmt: skip
    raise ValueError(form)


def _spread(form: str, items: int, total: int, rng: random.Random) -> dict[str, Any]:
    """A total spread over a form's items, none above 3."""
    total = _clip(total, 0, 3 * items)
    values = [0] * items
    for _ in range(total):
        index = rng.choice([i for i, v in enumerate(values) if v < 3])
        values[index] += 1
    return {f"{form}-{i + 1}": v for i, v in enumerate(values)}


def _clip(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _local(now: datetime, timezone: str) -> datetime:
    return now.astimezone(zoneinfo.ZoneInfo(timezone))


def _at(day: datetime, timezone: str, hour: int, minutes: int = 0) -> datetime:
    """`hour` o'clock (plus `minutes`) local time on `day`'s local date, in UTC."""
    zone = zoneinfo.ZoneInfo(timezone)
    local_day: date = day.astimezone(zone).date()
    return (datetime.combine(local_day, time(hour), zone) + timedelta(minutes=minutes)).astimezone(
        day.tzinfo
    )


def _plan(
    session: Session,
    clinician: Actor,
    graduate: Graduate,
    catalogue: SkillCatalogue,
    now: datetime,
) -> None:
    """A plan as a care team would build it in the weeks before graduation."""
    common: dict[str, Any] = {
        "session": session,
        "actor": clinician,
        "graduate_id": graduate.id,
        "now": now,
        "expected_version": None,
    }
    local = now.astimezone(zoneinfo.ZoneInfo(graduate.timezone)).date()
    weekday_at = datetime.combine(local - timedelta(days=local.weekday() + 5), time(17, 0))
    appointments.add(
        **common,
        kind="therapy",
        clinician_name="Dr. Alex Lee",
        location="Riverbend Clinic, Suite 4",
        video_url=None,
        starts_at_local=weekday_at,
        duration_minutes=50,
        rrule="FREQ=WEEKLY;COUNT=26",
    )
    appointments.add(
        **common,
        kind="psychiatry",
        clinician_name="Dr. Sam Rivera, PMHNP",
        location=None,
        video_url="https://video.example.org/rivera",
        duration_minutes=30,
        starts_at_local=weekday_at + timedelta(days=2, hours=-7),
        rrule="FREQ=MONTHLY;COUNT=6",
    )
    service.add_medication(
        **common,
        name="sertraline",
        dose="100 mg each morning",
        managed_by="Dr. Sam Rivera (psychiatry)",
        next_review_date=local + timedelta(days=28),
    )
    for skill_id, target in PLAN_SKILLS:
        skills.add(**common, skill_id=skill_id, target_per_week=target, catalogue=catalogue)
    sections = {
        "step_down": [
            {
                "kind": "aftercare_group",
                "name": "Tuesday aftercare group",
                "schedule": "Tuesdays 6pm",
                "location": "Riverbend, room 2",
            },
            {
                "kind": "alumni_meeting",
                "name": "Monthly alumni evening",
                "schedule": "First Thursday, 7pm",
                "location": None,
            },
        ],
        "warning_signs": ["Sleeping past noon", "Skipping meals", "Not answering texts"],
        "triggers": ["Arguments at home", "The anniversary in March"],
        "contacts": [
            {"name": "Riverbend front desk", "for_what": "appointments", "phone": "+1 555 0100"}
        ],
        "safety_plan": {
            "warning_signs": ["Staying in bed all day", "Thinking nobody would notice"],
            "internal_coping": ["Box breathing", "Cold water on my face", "A walk round the block"],
            "distractions": [
                {"name": "Priya (neighbour)", "phone": "+1 555 0142", "relationship": "friend"}
            ],
            "distraction_places": ["The library", "The coffee shop on 5th"],
            "people_to_ask": [{"name": "Mum", "phone": "+1 555 0177", "relationship": "mother"}],
            "professionals": [
                {"name": "Dr. Alex Lee", "phone": "+1 555 0100", "relationship": "therapist"}
            ],
            "environment_safety": ["Medicines kept by Mum", "No alcohol in the house"],
        },
    }
    for section, value in sections.items():
        service.replace_section(**common, section=section, value=value, catalogue=catalogue)


def _user(session: Session, email: str, now: datetime) -> User:
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        user = User(firebase_uid=devtokens.uid_for(email), email=email, created_at=now)
        session.add(user)
        session.flush()
    return user
