"""Programs and their members (staff, therapists, coordinators)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Conflict
from api.programs.models import Membership, Program, Role
from api.users.models import User


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_program(*, session: Session, name: str, admin_email: str, now: datetime) -> Program:
    """Operators create programs from the CLI; the admin becomes the first staff member."""
    program = Program(name=name.strip(), created_at=now)
    session.add(program)
    session.flush()
    ensure_member(
        session=session, program_id=program.id, email=admin_email, role=Role.STAFF, now=now
    )
    return program


def ensure_member(
    *, session: Session, program_id: uuid.UUID, email: str, role: Role, now: datetime
) -> Membership:
    """The membership for this email and role, created (and linked if they signed in) if new."""
    email = normalize_email(email)
    membership = session.scalar(
        select(Membership).where(
            Membership.program_id == program_id, Membership.email == email, Membership.role == role
        )
    )
    if membership is None:
        user_id = session.scalar(select(User.id).where(User.email == email))
        membership = Membership(
            program_id=program_id, email=email, role=role, user_id=user_id, created_at=now
        )
        session.add(membership)
        session.flush()
    return membership


def add_member(
    *, session: Session, actor: Actor, program_id: uuid.UUID, email: str, role: Role, now: datetime
) -> Membership:
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    email = normalize_email(email)
    exists = session.scalar(
        select(Membership.id).where(
            Membership.program_id == program_id, Membership.email == email, Membership.role == role
        )
    )
    if exists is not None:
        raise Conflict(f"{email} is already a {role.value} in this program.")
    return ensure_member(session=session, program_id=program_id, email=email, role=role, now=now)


def members(
    *, session: Session, actor: Actor, program_id: uuid.UUID, role: Role | None
) -> Select[Membership]:
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    statement = select(Membership).where(Membership.program_id == program_id)
    if role is not None:
        statement = statement.where(Membership.role == role)
    return statement.order_by(Membership.email, Membership.role)


def read(*, session: Session, actor: Actor, program_id: uuid.UUID) -> Program:
    """Any member of the program may read its settings."""
    role = next((r for pid, r in actor.memberships if pid == program_id), Role.STAFF)
    return access.program(session=session, actor=actor, program_id=program_id, role=role)


def update(*, session: Session, actor: Actor, program_id: uuid.UUID, **changes: object) -> Program:
    """Staff change the program's name, phone number, crisis lines, zone and working hours."""
    program = access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    for key, value in changes.items():
        setattr(program, key, value)
    session.flush()
    return program
