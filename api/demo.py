"""A demo program with one person per role, for a first run and for trying the API by hand."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import devtokens
from api.auth import Actor
from api.checkins import service as checkins
from api.content.loader import ContentLibrary
from api.graduates.models import CareTeamMember, Consent, Graduate
from api.groups import service as groups
from api.plans import appointments, service, skills
from api.plans.skills import SkillCatalogue
from api.programs.models import Program, Role
from api.programs.service import create_program, ensure_member
from api.reminders import service as reminders
from api.summaries import service as summaries
from api.users.models import User

PROGRAM_NAME = "Riverbend IOP (demo)"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    role: str
    note: str


PEOPLE = (
    DemoPerson(
        "staff@demo.example", "staff", "program staff: enrols graduates, sees the audit log"
    ),
    DemoPerson("therapist@demo.example", "therapist", "outpatient therapist; Maya consents"),
    DemoPerson("coordinator@demo.example", "coordinator", "runs the Thursday alumni evening"),
    DemoPerson("maya@demo.example", "graduate", "graduated 3 weeks ago (month 1)"),
    DemoPerson("jordan@demo.example", "graduate", "graduated 4 months ago, in recovery"),
)


def seed(
    *,
    session: Session,
    catalogue: SkillCatalogue,
    now: datetime,
    library: ContentLibrary | None = None,
) -> Program:
    """Idempotent: a second run finds the program and changes nothing. With the content
    `library`, Maya also gets three weeks of check-ins, practice, a flag and a summary, so
    every console screen has something to show."""
    existing = session.scalar(select(Program).where(Program.name == PROGRAM_NAME))
    if existing is not None:
        return existing
    users = {person.email: _user(session, person.email, now) for person in PEOPLE}
    program = create_program(
        session=session, name=PROGRAM_NAME, admin_email="staff@demo.example", now=now
    )
    ensure_member(
        session=session,
        program_id=program.id,
        email="coordinator@demo.example",
        role=Role.COORDINATOR,
        now=now,
    )
    therapist = ensure_member(
        session=session,
        program_id=program.id,
        email="therapist@demo.example",
        role=Role.THERAPIST,
        now=now,
    )
    maya = _graduate(
        session,
        program,
        users["maya@demo.example"],
        "Maya",
        now,
        days=21,
        timezone="America/Chicago",
        substance_use=False,
        phq9=6,
        gad7=5,
    )
    jordan = _graduate(
        session,
        program,
        users["jordan@demo.example"],
        "Jordan",
        now,
        days=120,
        timezone="America/New_York",
        substance_use=True,
        phq9=8,
        gad7=7,
    )
    for graduate in (maya, jordan):
        session.add(CareTeamMember(graduate_id=graduate.id, membership=therapist, created_at=now))
    session.add(
        Consent(
            graduate_id=maya.id,
            therapist_user_id=users["therapist@demo.example"].id,
            share_check_ins=True,
            share_substance_use=False,
            granted_at=now,
            updated_at=now,
        )
    )
    session.flush()
    clinician = Actor(
        user_id=users["therapist@demo.example"].id,
        email="therapist@demo.example",
        memberships=((program.id, Role.THERAPIST),),
        graduate_id=None,
        route="demo seed",
    )
    for graduate in (maya, jordan):
        _plan(session, clinician, graduate, catalogue, now)
        reminders.ensure_defaults(session=session, graduate_id=graduate.id, now=now)
    _alumni_group(
        session,
        program,
        users,
        {"maya@demo.example": maya, "jordan@demo.example": jordan},
        now,
    )
    if library is not None:
        _three_weeks(session, users["maya@demo.example"], maya, library, now)
    return program


def _three_weeks(
    session: Session, user: User, maya: Graduate, library: ContentLibrary, now: datetime
) -> None:
    """Maya's PHQ-9 and GAD-7 climb over three weeks (a watch, then a step-up review), she
    practises box breathing, and her therapist's weekly summary is built, each at its own
    time (the services take `now`, so nothing here waits)."""
    chicago = zoneinfo.ZoneInfo("America/Chicago")
    local = now.astimezone(chicago)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(8, 5), chicago)
    slot = monday if monday <= now else monday - timedelta(days=7)
    me = Actor(
        user_id=user.id,
        email=user.email,
        memberships=(),
        graduate_id=maya.id,
        route="demo seed",
    )
    for days_before, phq, gad in ((19, 7, 6), (12, 11, 9), (5, 13, 11)):
        answered = slot - timedelta(days=days_before, hours=-3)
        for form, total, items in (("phq9", phq, 9), ("gad7", gad, 7)):
            answers, left = {}, total
            for index in range(1, items + 1):
                answers[f"{form}-{index}"] = 0 if index == 9 else min(3, left)
                left -= answers[f"{form}-{index}"]
            checkins.submit(
                session=session,
                actor=me,
                graduate_id=maya.id,
                questionnaire=form,
                answers=answers,
                answered_at=answered,
                idempotency_key=None,
                library=library,
                now=answered,
            )
    for days_before in (6, 4, 2):
        practised = slot - timedelta(days=days_before, hours=-12)
        skills.log_practice(
            session=session,
            actor=me,
            graduate_id=maya.id,
            skill_id="mindfulness-box-breathing",
            done=True,
            helpfulness=7,
            practiced_at=practised,
            now=practised,
        )
    summaries.build_due(session=session, now=slot)


def _alumni_group(
    session: Session,
    program: Program,
    users: dict[str, User],
    graduates: dict[str, Graduate],
    now: datetime,
) -> None:
    """A weekly alumni evening the demo coordinator runs; both graduates have a seat and
    Maya shares her name with the other members."""
    coordinator = Actor(
        user_id=users["coordinator@demo.example"].id,
        email="coordinator@demo.example",
        memberships=((program.id, Role.COORDINATOR),),
        graduate_id=None,
        route="demo seed",
    )
    local = now.astimezone(zoneinfo.ZoneInfo("America/Chicago")).date()
    thursday = local - timedelta(days=(local.weekday() - 3) % 7 + 28)
    group = groups.create(
        session=session,
        actor=coordinator,
        program_id=program.id,
        now=now,
        name="Thursday alumni evening",
        kind="alumni",
        mode="in_person",
        location="Riverbend, room 2",
        video_url=None,
        capacity=12,
        description="Graduates of every cohort: a speaker, then open sharing.",
        facilitator="Jo Park, LCSW",
        timezone="America/Chicago",
        starts_at_local=datetime.combine(thursday, time(18, 30)),
        duration_minutes=90,
        rrule="FREQ=WEEKLY;BYDAY=TH",
    )
    for email, graduate in graduates.items():
        groups.join(
            session=session,
            actor=Actor(
                user_id=users[email].id,
                email=email,
                memberships=(),
                graduate_id=graduate.id,
                route="demo seed",
            ),
            group_id=group.id,
            share_name=graduate.display_name == "Maya",
            now=now,
        )
    groups.announce(
        session=session,
        actor=coordinator,
        group_id=group.id,
        title="Welcome",
        body="Tea from 6:15. Bring a friend from your cohort if they would like to come.",
        now=now,
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
    for skill_id, target in (
        ("mindfulness-box-breathing", 5),
        ("cbt-thought-record", 3),
        ("dbt-tipp", 2),
    ):
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


def _graduate(
    session: Session,
    program: Program,
    user: User,
    name: str,
    now: datetime,
    *,
    days: int,
    timezone: str,
    substance_use: bool,
    phq9: int,
    gad7: int,
) -> Graduate:
    graduate = Graduate(
        program_id=program.id,
        user_id=user.id,
        display_name=name,
        graduation_date=(now - timedelta(days=days)).date(),
        timezone=timezone,
        substance_use=substance_use,
        baseline_phq9=phq9,
        baseline_gad7=gad7,
        created_at=now,
    )
    session.add(graduate)
    session.flush()
    return graduate
