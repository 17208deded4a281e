"""Writes the audit trail: who read or changed which graduate's record, never its content.

Only the writer lives here, so `access` can record through it; the staff-facing reader,
which itself needs `access`, is `api.audit.reading`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.audit.models import AuditEvent
from api.auth import Actor
from api.graduates.models import Graduate


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
