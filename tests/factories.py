"""Valid rows, made directly in the test's transaction (the API is what tests exercise)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from api import devtokens
from api.graduates.models import CareTeamMember, Consent, Graduate
from api.notifications.models import Device
from api.programs.models import Membership, Program, Role
from api.reminders.models import ReminderPreferences, default_row
from api.users.models import User

NOW = datetime.fromisoformat("2026-11-23T15:00:00+00:00")


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.org"


def program(session: Session, name: str = "Lakeside IOP") -> Program:
    record = Program(name=name, created_at=NOW)
    session.add(record)
    session.flush()
    return record


def user(session: Session, email: str) -> User:
    """A person who has signed in once (their uid is the one dev tokens use)."""
    record = User(firebase_uid=devtokens.uid_for(email), email=email, created_at=NOW)
    session.add(record)
    session.flush()
    return record


def member(
    session: Session,
    in_program: Program,
    role: Role,
    email: str | None = None,
    signed_in: bool = True,
) -> Membership:
    email = email or unique_email(role.value)
    linked = user(session, email) if signed_in else None
    record = Membership(
        program_id=in_program.id,
        email=email,
        role=role,
        user_id=linked.id if linked else None,
        created_at=NOW,
    )
    session.add(record)
    session.flush()
    return record


def graduate(
    session: Session,
    in_program: Program,
    *,
    email: str | None = None,
    therapists: tuple[Membership, ...] = (),
    graduation_date: date = date(2026, 11, 2),
    timezone: str = "America/Chicago",
    substance_use: bool = False,
    phq9: int = 6,
    gad7: int = 5,
) -> Graduate:
    person = user(session, email or unique_email("graduate"))
    record = Graduate(
        program_id=in_program.id,
        user_id=person.id,
        display_name="Sam",
        graduation_date=graduation_date,
        timezone=timezone,
        substance_use=substance_use,
        baseline_phq9=phq9,
        baseline_gad7=gad7,
        created_at=NOW,
    )
    session.add(record)
    session.flush()
    for therapist in therapists:
        session.add(CareTeamMember(graduate_id=record.id, membership=therapist, created_at=NOW))
    session.flush()
    return record


def consent(
    session: Session, of: Graduate, therapist: Membership, *, substance_use: bool = False
) -> Consent:
    assert therapist.user_id is not None
    record = Consent(
        graduate_id=of.id,
        therapist_user_id=therapist.user_id,
        share_check_ins=True,
        share_substance_use=substance_use,
        granted_at=NOW,
        updated_at=NOW,
    )
    session.add(record)
    session.flush()
    return record


def device(session: Session, user_id: uuid.UUID, token: str | None = None) -> Device:
    """A phone registered for pushes."""
    record = Device(
        user_id=user_id,
        token=token or f"tok-{uuid.uuid4().hex}",
        platform="android",
        created_at=NOW,
        last_seen_at=NOW,
    )
    session.add(record)
    session.flush()
    return record


def reminder_crowd(
    session: Session, count: int, now: datetime
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """`count` graduates three days after graduation, each signed in with one phone and
    wanting skill reminders every two hours, day and night (no quiet hours), so that
    whatever the time of day the next 12 hours hold some: (user id, graduate id)."""
    program = uuid.uuid4()
    people = [(uuid.uuid4(), uuid.uuid4()) for _ in range(count)]
    session.execute(insert(Program), [{"id": program, "name": "Faults", "created_at": now}])
    session.execute(
        insert(User),
        [
            {"id": u, "firebase_uid": f"f-{u}", "email": f"{u}@example.org", "created_at": now}
            for u, _ in people
        ],
    )
    session.execute(
        insert(Graduate),
        [
            {
                "id": g,
                "program_id": program,
                "user_id": u,
                "display_name": "G",
                "graduation_date": now.date() - timedelta(days=3),
                "timezone": "America/Chicago",
                "substance_use": False,
                "baseline_phq9": 6,
                "baseline_gad7": 5,
                "created_at": now,
            }
            for u, g in people
        ],
    )
    every_two_hours = [f"{hour:02d}:00" for hour in range(0, 24, 2)]
    session.execute(
        insert(ReminderPreferences),
        [
            default_row(g, now)
            | {"skill_times": every_two_hours, "quiet_start": "00:00", "quiet_end": "00:00"}
            | {"daily_cap": 20}
            for _, g in people
        ],
    )
    session.execute(
        insert(Device),
        [
            {
                "user_id": u,
                "token": f"tok-{u}",
                "platform": "android",
                "created_at": now,
                "last_seen_at": now,
            }
            for u, _ in people
        ],
    )
    session.flush()
    return people
