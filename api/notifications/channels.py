"""A clinician's email channel: alerts and the weekly "summaries are ready" notice also go
to an address they proved is theirs.

Outpatient therapists often have no app; an email tells them to sign in, never what
happened (generic words and a link: api.notifications.texts). One address per person. A
new address gets a 6-digit code by email (sent at once, not through the outbox: the
code must not be stored anywhere a dispatcher reads); it counts as verified when the code
comes back within 30 minutes and 5 tries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.auth import Actor
from api.errors import Conflict, Invalid, NotFound, Unavailable
from api.notifications.mail import Email, EmailSender
from api.notifications.models import EmailChannel

CODE_LIFETIME = timedelta(minutes=30)
MAX_ATTEMPTS = 5
NO_CHANNEL = "You have no email channel."
CODE_SUBJECT = "Your confirmation code"
CODE_BODY = (
    "Your code is {code}. Enter it in the console within 30 minutes to receive alerts at "
    "this address.\n\nIf you did not ask for this, ignore this email: nothing will be sent "
    "here.\n"
)


def verified(session: Session, people: list[uuid.UUID] | set[uuid.UUID]) -> set[uuid.UUID]:
    """Who of these people has a verified email channel."""
    if not people:
        return set()
    return set(
        session.scalars(
            select(EmailChannel.user_id).where(
                EmailChannel.user_id.in_(list(people)), EmailChannel.verified_at.is_not(None)
            )
        )
    )


def mine(*, session: Session, actor: Actor) -> EmailChannel:
    channel = session.scalar(select(EmailChannel).where(EmailChannel.user_id == actor.user_id))
    if channel is None:
        raise NotFound(NO_CHANNEL)
    return channel


def set_address(
    *, session: Session, actor: Actor, email: str, sender: EmailSender | None, now: datetime
) -> EmailChannel:
    """Add or change the address; a new one is unverified until its code comes back. The
    same, already verified address again changes nothing. `sender` None: this deployment
    has no email set up."""
    if sender is None:
        raise Unavailable("Email is not set up on this service yet; ask your administrator.")
    email = email.strip().lower()
    channel = session.scalar(select(EmailChannel).where(EmailChannel.user_id == actor.user_id))
    if channel is not None and channel.email == email and channel.verified_at is not None:
        return channel
    if channel is None:
        channel = EmailChannel(user_id=actor.user_id, email=email, created_at=now)
        session.add(channel)
    code = f"{secrets.randbelow(10**6):06d}"
    channel.email, channel.verified_at = email, None
    channel.code_digest = _digest(actor.user_id, code)
    channel.code_expires_at, channel.code_attempts = now + CODE_LIFETIME, 0
    session.flush()
    [outcome] = sender.send(
        [Email(channel.id, email, "email_code", CODE_SUBJECT, CODE_BODY.format(code=code))]
    )
    if not outcome.ok:
        raise Unavailable("The code could not be sent just now. Please try again shortly.")
    return channel


def verify(*, session: Session, actor: Actor, code: str, now: datetime) -> EmailChannel:
    """Idempotent once verified. A wrong code counts against the 5 tries even though the
    request fails, so it is committed before the error."""
    channel = mine(session=session, actor=actor)
    if channel.verified_at is not None:
        return channel
    if channel.code_digest is None or channel.code_attempts >= MAX_ATTEMPTS:
        raise Conflict("Too many wrong codes: set the address again for a new code.")
    if channel.code_expires_at is None or channel.code_expires_at <= now:
        raise Invalid(
            "The code has expired: set the address again for a new one.",
            errors={"code": ["expired"]},
        )
    if not hmac.compare_digest(channel.code_digest, _digest(actor.user_id, code)):
        channel.code_attempts += 1
        session.commit()
        raise Invalid("That code does not match.", errors={"code": ["does not match"]})
    channel.verified_at = now
    channel.code_digest = channel.code_expires_at = None
    return channel


def remove(*, session: Session, actor: Actor) -> None:
    """No more emails; those already queued are cancelled when a dispatcher claims them."""
    session.execute(delete(EmailChannel).where(EmailChannel.user_id == actor.user_id))


def _digest(user_id: uuid.UUID, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code}".encode()).hexdigest()
