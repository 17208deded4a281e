"""Reads the audit trail for the program's staff."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api import access
from api.audit.models import AuditEvent
from api.auth import Actor
from api.programs.models import Role


def events_for_program(
    *,
    session: Session,
    actor: Actor,
    program_id: uuid.UUID,
    graduate_id: uuid.UUID | None = None,
    action: str | None = None,
) -> Select[AuditEvent]:
    """Newest first, for the program's staff."""
    access.program(session=session, actor=actor, program_id=program_id, role=Role.STAFF)
    statement = select(AuditEvent).where(AuditEvent.program_id == program_id)
    if graduate_id is not None:
        statement = statement.where(AuditEvent.graduate_id == graduate_id)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id)
