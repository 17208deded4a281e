"""A demo program with one person per role, for a first run and for trying the API by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import devtokens
from api.graduates.models import CareTeamMember, Consent, Graduate
from api.programs.models import Program, Role
from api.programs.service import create_program, ensure_member
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
    DemoPerson("coordinator@demo.example", "coordinator", "alumni group coordinator"),
    DemoPerson("maya@demo.example", "graduate", "graduated 3 weeks ago (month 1)"),
    DemoPerson("jordan@demo.example", "graduate", "graduated 4 months ago, in recovery"),
)


def seed(*, session: Session, now: datetime) -> Program:
    """Idempotent: a second run finds the program and changes nothing."""
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
    return program


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
