"""What a graduate shares with each therapist on their care team. Takes effect at once."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.db import rowcount
from api.errors import Invalid
from api.graduates.models import Consent


def grant(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    therapist_user_id: uuid.UUID,
    share_check_ins: bool,
    share_substance_use: bool,
    now: datetime,
) -> Consent:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="consent.grant",
        now=now,
    )
    if not access.on_care_team(session, user_id=therapist_user_id, graduate_id=graduate_id):
        message = "That therapist is not on your care team or has not signed in yet."
        raise Invalid(message, errors={"therapist_user_id": [message]})
    consent = session.scalar(
        select(Consent).where(
            Consent.graduate_id == graduate_id, Consent.therapist_user_id == therapist_user_id
        )
    )
    if consent is None:
        consent = Consent(
            graduate_id=graduate_id,
            therapist_user_id=therapist_user_id,
            granted_at=now,
            share_check_ins=share_check_ins,
            share_substance_use=share_substance_use,
            updated_at=now,
        )
        session.add(consent)
    else:
        consent.share_check_ins = share_check_ins
        consent.share_substance_use = share_substance_use
        consent.updated_at = now
    _record(session, actor, graduate_id, "consent.grant", now)
    session.flush()
    return consent


def withdraw(
    *,
    session: Session,
    actor: Actor,
    graduate_id: uuid.UUID,
    therapist_user_id: uuid.UUID,
    now: datetime,
) -> None:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.OWN,
        action="consent.withdraw",
        now=now,
    )
    if withdraw_for_therapist(
        session=session, graduate_id=graduate_id, therapist_user_id=therapist_user_id
    ):
        _record(session, actor, graduate_id, "consent.withdraw", now)


def withdraw_for_therapist(
    *, session: Session, graduate_id: uuid.UUID, therapist_user_id: uuid.UUID
) -> bool:
    result = session.execute(
        delete(Consent).where(
            Consent.graduate_id == graduate_id, Consent.therapist_user_id == therapist_user_id
        )
    )
    return bool(rowcount(result))


def for_graduate(
    *, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime
) -> Select[Consent]:
    access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.PROFILE,
        action="consent.read",
        now=now,
    )
    return (
        select(Consent)
        .where(Consent.graduate_id == graduate_id)
        .order_by(Consent.granted_at, Consent.id)
    )


def _record(
    session: Session, actor: Actor, graduate_id: uuid.UUID, action: str, now: datetime
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        graduate_id=graduate_id,
        outcome="allowed",
        now=now,
    )
