"""Valid rows, made directly in the test's transaction (the API is what tests exercise)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

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


def caseload(
    session: Session, in_program: Program, therapist: Membership, size: int
) -> list[Graduate]:
    """`size` graduates who share check-ins with `therapist`, each with two PHQ-9 and GAD-7
    scores and, for every fifth, an open flag: a caseload page's worth of everything."""
    from api.checkins.models import CheckIn
    from api.flags.models import Flag

    people = [
        User(firebase_uid=f"uid-{uuid.uuid4().hex}", email=unique_email("g"), created_at=NOW)
        for _ in range(size)
    ]
    session.add_all(people)
    session.flush()
    graduates = [
        Graduate(
            program_id=in_program.id,
            user_id=person.id,
            display_name=f"Graduate {index:03d}",
            graduation_date=date(2026, 10, 1),
            timezone="America/Chicago",
            substance_use=False,
            baseline_phq9=6,
            baseline_gad7=5,
            created_at=NOW,
        )
        for index, person in enumerate(people)
    ]
    session.add_all(graduates)
    session.flush()
    rows: list[Any] = []
    for index, record in enumerate(graduates):
        rows.append(
            CareTeamMember(graduate_id=record.id, membership_id=therapist.id, created_at=NOW)
        )
        rows.append(
            Consent(
                graduate_id=record.id,
                therapist_user_id=therapist.user_id,
                share_check_ins=True,
                share_substance_use=False,
                granted_at=NOW,
                updated_at=NOW,
            )
        )
        for weeks, (phq, gad) in enumerate(((7, 6), (9 + index % 8, 8 + index % 7))):
            for form, score in (("phq9", phq), ("gad7", gad)):
                rows.append(
                    CheckIn(
                        graduate_id=record.id,
                        questionnaire=form,
                        form_version="1",
                        answered_at=NOW - timedelta(days=14 - 7 * weeks),
                        submitted_at=NOW - timedelta(days=14 - 7 * weeks),
                        answers={},
                        score=score,
                        band="mild" if score < 10 else "moderate",
                        subscales=None,
                        safety_positive=False,
                        part2=False,
                    )
                )
        if index % 5 == 0:
            rows.append(
                Flag(
                    graduate_id=record.id,
                    program_id=in_program.id,
                    kind=("urgent", "step_up", "watch", "disengaged")[index % 4],
                    source="mood",
                    status="open",
                    rule="seeded",
                    rules_version="domain-2026.1",
                    explanation="Seeded for a caseload of this size.",
                    evidence=[],
                    details={},
                    raised_at=NOW - timedelta(days=1),
                    updated_at=NOW - timedelta(days=1),
                )
            )
    session.add_all(rows)
    session.flush()
    return graduates
