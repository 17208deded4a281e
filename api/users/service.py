"""The signed-in person's own account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from api.auth import Actor
from api.notifications import devices
from api.plans.calendar import revoke_every_feed
from api.users.models import User


def me(*, actor: Actor) -> dict[str, Any]:
    return {
        "id": actor.user_id,
        "email": actor.email,
        "memberships": [
            {"program_id": program_id, "role": role} for program_id, role in actor.memberships
        ],
        "graduate_id": actor.graduate_id,
    }


def sign_out_everywhere(*, session: Session, actor: Actor, now: datetime) -> None:
    """Every token from a sign-in before now stops working, this one included; no device of
    theirs gets pushes until the app registers it again after the next sign-in, and every
    calendar feed of theirs stops (they make new ones)."""
    session.get_one(User, actor.user_id).tokens_valid_after = now
    devices.unregister_all(session=session, user_id=actor.user_id)
    revoke_every_feed(
        session=session, user_id=actor.user_id, graduate_id=actor.graduate_id, now=now
    )
