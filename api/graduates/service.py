"""Graduate records and their care teams."""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.errors import Conflict, Invalid, NotFound
from api.graduates import consents, enrollment
from api.graduates.models import CareTeamMember, Graduate
from api.programs.models import Role
from api.programs.service import ensure_member
from api.timeline import local_today

GRADUATION_YEARS_BACK = 5
GRADUATION_YEARS_AHEAD = 1


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    if name not in known_timezones():
        raise Invalid(
            "Unknown time zone.",
            errors={"timezone": [f"{name!r} is not an IANA time zone name, e.g. America/Chicago"]},
        )
    return name


def years_from(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year + years, day=28)


def check_graduation_date(graduation_date: date, *, timezone: str, now: datetime) -> date:
    today = local_today(timezone, now)
    earliest = years_from(today, -GRADUATION_YEARS_BACK)
    if not earliest <= graduation_date <= years_from(today, GRADUATION_YEARS_AHEAD):
        raise Invalid(
            "Graduation date out of range.",
            errors={"graduation_date": ["must be within 5 years back and 1 year ahead of today"]},
        )
    return graduation_date


@dataclass(frozen=True)
class Registered:
    graduate: Graduate
    enrollment_code: str

    @property
    def id(self) -> uuid.UUID:
        return self.graduate.id


def register(
    *,
    session: Session,
    actor: Actor,
    program_id: uuid.UUID,
    display_name: str,
    graduation_date: date,
    timezone: str,
    substance_use: bool,
    baseline: dict[str, int],
    therapist_email: str | None,
    now: datetime,
) -> Registered:
    """Program staff enrol a graduate; the returned code links their phone to the record."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    check_timezone(timezone)
    check_graduation_date(graduation_date, timezone=timezone, now=now)
    graduate = Graduate(
        program_id=program_id,
        display_name=display_name.strip(),
        graduation_date=graduation_date,
        timezone=timezone,
        substance_use=substance_use,
        baseline_phq9=baseline["phq9"],
        baseline_gad7=baseline["gad7"],
        created_at=now,
    )
    session.add(graduate)
    session.flush()
    if therapist_email:
        _add_therapist(session=session, graduate=graduate, email=therapist_email, now=now)
    code = enrollment.issue(session=session, graduate_id=graduate.id, now=now)
    audit.record(
        session=session,
        actor=actor,
        action="graduate.create",
        graduate_id=graduate.id,
        program_id=program_id,
        outcome="allowed",
        now=now,
    )
    return Registered(graduate=graduate, enrollment_code=code)


def read(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """The record, with the clinical parts blanked for a caller who may not see them."""
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="graduate.read",
        now=now,
    )
    graduate = found.graduate
    return {
        "id": graduate.id,
        "program_id": graduate.program_id,
        "display_name": graduate.display_name,
        "graduation_date": graduate.graduation_date,
        "timezone": graduate.timezone,
        "enrolled": graduate.user_id is not None,
        "substance_use": graduate.substance_use if found.sees_substance_use else None,
        "baseline": (
            {"phq9": graduate.baseline_phq9, "gad7": graduate.baseline_gad7}
            if found.sees_clinical
            else None
        ),
    }


def for_program(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Select[Graduate]:
    """Staff see the program's graduates; a therapist sees their own caseload."""
    role = Role.STAFF if actor.has_role(program_id, Role.STAFF) else Role.THERAPIST
    access.program(session=session, actor=actor, program_id=program_id, role=role)
    statement = select(Graduate).where(
        Graduate.program_id == program_id,
        access.sees(
            actor, graduate_id=Graduate.id, program_id=Graduate.program_id, need=access.Need.PROFILE
        ),
    )
    return statement.order_by(Graduate.display_name, Graduate.id)


def care_team(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> Select[CareTeamMember]:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="care_team.read",
        now=now,
    )
    return (
        select(CareTeamMember)
        .where(CareTeamMember.graduate_id == graduate_id)
        .order_by(CareTeamMember.created_at, CareTeamMember.id)
    )


def add_to_care_team(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, email: str, now: datetime
) -> CareTeamMember:
    found = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.MANAGE,
        action="care_team.add",
        now=now,
    )
    return _add_therapist(session=session, graduate=found.graduate, email=email, now=now)


def remove_from_care_team(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, member_id: uuid.UUID, now: datetime
) -> None:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.MANAGE,
        action="care_team.remove",
        now=now,
    )
    member = session.get(CareTeamMember, member_id)
    if member is None or member.graduate_id != graduate_id:
        raise NotFound("No care-team member with that id.")
    if member.membership.user_id is not None:
        consents.withdraw_for_therapist(
            session=session, graduate_id=graduate_id, therapist_user_id=member.membership.user_id
        )
    session.delete(member)


def _add_therapist(
    *, session: Session, graduate: Graduate, email: str, now: datetime
) -> CareTeamMember:
    """Invites the email as a program therapist if needed, then puts them on the team."""
    membership = ensure_member(
        session=session, program_id=graduate.program_id, email=email, role=Role.THERAPIST, now=now
    )
    exists = session.scalar(
        select(CareTeamMember.id).where(
            CareTeamMember.graduate_id == graduate.id,
            CareTeamMember.membership_id == membership.id,
        )
    )
    if exists is not None:
        raise Conflict(f"{membership.email} is already on this care team.")
    member = CareTeamMember(graduate_id=graduate.id, membership=membership, created_at=now)
    session.add(member)
    session.flush()
    return member


ACTIVITY_RESOLUTION = timedelta(hours=1)


def note_activity(*, session: Session, graduate_id: uuid.UUID, now: datetime) -> bool:
    """Record that the graduate used the app; at most one write an hour (True if written)."""
    graduate = session.get(Graduate, graduate_id)
    last = graduate.last_active_at if graduate else None
    if graduate is not None and (last is None or last <= now - ACTIVITY_RESOLUTION):
        graduate.last_active_at = now
        return True
    return False
