"""Which of a program's coordinators run a group, as staff assign them.

Apart because it is staff-only and touches program memberships, not graduates.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.errors import Invalid
from api.groups.models import GroupCoordinator
from api.programs.models import Membership, Role


def coordinators(*, session: Session, actor: Actor, group_id: uuid.UUID) -> list[Membership]:
    """The coordinators assigned to the group (none: every coordinator of the program)."""
    access.group(session=session, actor=actor, group_id=group_id, manage=True)
    return list(
        session.scalars(
            select(Membership)
            .join(GroupCoordinator, GroupCoordinator.membership_id == Membership.id)
            .where(GroupCoordinator.group_id == group_id)
            .order_by(Membership.email)
        )
    )


def assign_coordinators(
    *, session: Session, actor: Actor, group_id: uuid.UUID, emails: list[str], now: datetime
) -> list[Membership]:
    """Staff choose who runs the group: the program's coordinators named by `emails` (an
    empty list hands it back to every coordinator of the program)."""
    group = access.group(session=session, actor=actor, group_id=group_id, manage=True).group
    access.program(session=session, actor=actor, program_id=group.program_id, role=Role.STAFF)
    wanted = {email.strip().lower() for email in emails}
    found = {
        member.email: member
        for member in session.scalars(
            select(Membership).where(
                Membership.program_id == group.program_id,
                Membership.role == Role.COORDINATOR,
                Membership.email.in_(wanted),
            )
        )
    }
    if missing := sorted(wanted - set(found)):
        raise Invalid(
            "Only the program's coordinators can run a group.",
            errors={"emails": [f"not a coordinator of this program: {e}" for e in missing]},
        )
    session.execute(delete(GroupCoordinator).where(GroupCoordinator.group_id == group_id))
    for member in found.values():
        session.add(GroupCoordinator(group_id=group_id, membership_id=member.id, created_at=now))
    session.flush()
    return sorted(found.values(), key=lambda member: member.email)
