"""Two graduates take a group's last seat at the same moment: the database decides.

Needs a server with real concurrent transactions (PostgreSQL): graduate A has taken the
seat but not committed; graduate B, who could not see that, tries the same seat and waits
on the unique (group_id, seat) index. When A commits, B's insert fails, B looks again and
is waitlisted. On SQLite writers queue for the whole database, so no race can happen there;
the constraint itself is tested on both in test_groups.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from api.auth import Actor
from api.db import make_engine
from api.graduates.models import Graduate
from api.groups import membership
from api.groups.models import Group, GroupMember
from api.programs.models import Program
from api.users.models import User
from tests import factories


def _graduate(session: Session, program: Program, now: datetime) -> tuple[Graduate, Actor]:
    email = factories.unique_email("racer")
    user = User(firebase_uid=f"uid-{uuid.uuid4().hex}", email=email, created_at=now)
    session.add(user)
    session.flush()
    graduate = Graduate(
        program_id=program.id,
        user_id=user.id,
        display_name="Racer",
        graduation_date=date(2026, 11, 2),
        timezone="America/New_York",
        substance_use=False,
        baseline_phq9=5,
        baseline_gad7=5,
        created_at=now,
    )
    session.add(graduate)
    session.flush()
    return graduate, Actor(user.id, email, (), graduate.id)


def _wait_for_a_blocked_insert(engine, timeout: float = 10.0) -> None:
    """Until some session of this database waits on a lock (B on A's seat)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            connection.rollback()  # statistics are a snapshot per transaction: take a new one
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second join never waited on the first")


def test_two_graduates_racing_for_the_last_seat_one_wins(database_kind, migrated_url, clock):
    if database_kind != "postgresql":
        pytest.skip("a race needs concurrent writers: PostgreSQL")
    engine = make_engine(migrated_url)
    now = clock.now()
    with Session(engine) as setup:
        program = factories.program(setup, f"Race IOP {uuid.uuid4().hex[:6]}")
        first, first_actor = _graduate(setup, program, now)
        second, second_actor = _graduate(setup, program, now)
        group = Group(
            program_id=program.id,
            name="One seat left",
            kind="alumni",
            mode="video",
            location=None,
            video_url="https://video.example.org/race",
            capacity=1,
            description="",
            facilitator="Jo",
            timezone="America/New_York",
            starts_at=datetime.fromisoformat("2026-12-01T23:00:00+00:00"),
            duration_minutes=60,
            rrule="FREQ=WEEKLY",
            created_at=now,
            updated_at=now,
        )
        setup.add(group)
        setup.commit()
        ids = (program.id, group.id, first.id, second.id, first.user_id, second.user_id)
    program_id, group_id = ids[0], ids[1]
    outcome: dict[str, object] = {}

    def second_joins() -> None:
        with Session(engine) as session:
            try:
                member = membership.join(
                    session=session,
                    actor=second_actor,
                    group_id=group_id,
                    share_name=False,
                    now=now,
                )
                outcome["status"], outcome["seat"] = member.status, member.seat
                session.commit()
            except Exception as exc:  # reported to the main thread, which fails the test
                outcome["error"] = exc

    racer = threading.Thread(target=second_joins)
    try:
        with Session(engine) as session_a:
            won = membership.join(
                session=session_a, actor=first_actor, group_id=group_id, share_name=False, now=now
            )
            assert (won.status, won.seat) == ("member", 1)
            racer.start()
            _wait_for_a_blocked_insert(engine)
            session_a.commit()
        racer.join(timeout=20)
        assert not racer.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome == {"status": "waitlisted", "seat": None}
        with Session(engine) as check:
            seated = check.scalar(
                select(func.count(GroupMember.id)).where(
                    GroupMember.group_id == group_id, GroupMember.status == "member"
                )
            )
            assert seated == 1
    finally:
        if racer.is_alive():
            racer.join(timeout=20)  # its insert lands once A is gone: clean up after it
        with Session(engine) as cleanup:
            cleanup.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
            cleanup.execute(delete(Group).where(Group.id == group_id))
            cleanup.execute(delete(Graduate).where(Graduate.id.in_(ids[2:4])))
            cleanup.execute(delete(User).where(User.id.in_(ids[4:])))
            cleanup.execute(delete(Program).where(Program.id == program_id))
            cleanup.commit()
        engine.dispose()
