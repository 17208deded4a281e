"""The audit trail: who read or changed which graduate's record. Never the record's content."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.audit.models import AuditEvent
from api.auth import Actor
from api.graduates.models import Graduate
from api.programs.models import Role


def record(
    *,
    session: Session,
    actor: Actor,
    action: str,
    graduate_id: uuid.UUID,
    outcome: str,
    now: datetime,
    program_id: uuid.UUID | None = None,
) -> None:
    if program_id is None:
        program_id = session.scalar(select(Graduate.program_id).where(Graduate.id == graduate_id))
    session.add(
        AuditEvent(
            occurred_at=now,
            actor_user_id=actor.user_id,
            actor_role=actor.primary_role,
            action=action,
            program_id=program_id,
            graduate_id=graduate_id,
            route=actor.route,
            outcome=outcome,
            request_id=actor.request_id,
        )
    )


def events_for_program(
    *,
    session: Session,
    actor: Actor,
    program_id: uuid.UUID,
    graduate_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Select[tuple[AuditEvent]]:
    """Newest first, for the program's staff."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    statement = select(AuditEvent).where(AuditEvent.program_id == program_id)
    if graduate_id is not None:
        statement = statement.where(AuditEvent.graduate_id == graduate_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
