"""Single-use enrollment codes: 60 random bits, stored as a SHA-256 hash, valid 14 days."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from api import access
from api.auth import Actor
from api.db import rowcount
from api.errors import Conflict, Invalid
from api.graduates.models import EnrollmentCode, Graduate
from api.plans.calendar import revoke_every_feed

# Crockford base32: no I, L, O or U, so a code read aloud or copied by hand survives.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 12 x 5 bits = 60 bits of entropy
CODE_LIFETIME = timedelta(days=14)
LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
WRONG_CODE = "That enrollment code is not valid. Check it, or ask your program for a new one."
ERASED = (
    "This graduate's record was erased at their request; it can never be linked to a login "
    "again. If they return, register them as a new graduate."
)


def normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper().translate(LOOKALIKES)


def hash_code(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def issue(*, session: Session, graduate_id: uuid.UUID, now: datetime) -> str:
    """A fresh code for the graduate; any earlier unused code stops working."""
    session.execute(
        update(EnrollmentCode)
        .where(
            EnrollmentCode.graduate_id == graduate_id,
            EnrollmentCode.used_at.is_(None),
            EnrollmentCode.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    session.add(
        EnrollmentCode(
            graduate_id=graduate_id,
            code_hash=hash_code(raw),
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def reissue(*, session: Session, actor: Actor, graduate_id: uuid.UUID, now: datetime) -> str:
    """A new code for staff to hand over; never for an erased record, whose kept clinical
    record (BAM answers included) nobody may read through a login again."""
    record = access.graduate(
        session=session,
        actor=actor,
        graduate_id=graduate_id,
        need=access.Need.MANAGE,
        action="enrollment_code.issue",
        now=now,
    ).graduate
    if record.erased_at is not None:
        raise Conflict(ERASED)
    return issue(session=session, graduate_id=graduate_id, now=now)


def redeem(*, session: Session, actor: Actor, code: str, now: datetime) -> Graduate:
    """Link the caller to the graduate record the code was issued for.

    Wrong, used and expired codes get one message, so guessing learns nothing; so does a
    code for an erased record (one issued while the erasure job ran), which links no one.
    """
    if actor.graduate_id is not None:
        raise Conflict("You are already enrolled as a graduate.")
    code_hash = hash_code(code)
    found = session.scalar(select(EnrollmentCode).where(EnrollmentCode.code_hash == code_hash))
    if found is None or found.used_at or found.revoked_at or found.expires_at <= now:
        raise Invalid(WRONG_CODE, errors={"code": [WRONG_CODE]})
    graduate = session.get_one(Graduate, found.graduate_id)
    if graduate.erased_at is not None:
        raise Invalid(WRONG_CODE, errors={"code": [WRONG_CODE]})
    # A conditional update, so two people racing for one code cannot both win.
    claimed = session.execute(
        update(EnrollmentCode)
        .where(EnrollmentCode.id == found.id, EnrollmentCode.used_at.is_(None))
        .values(used_at=now)
    )
    if rowcount(claimed) != 1:
        raise Invalid(WRONG_CODE, errors={"code": [WRONG_CODE]})
    # The record may be moving from another login: that login's feeds stop working.
    revoke_every_feed(session=session, user_id=graduate.user_id, graduate_id=graduate.id, now=now)
    graduate.user_id = actor.user_id
    session.flush()
    return graduate


def purge_expired(*, session: Session, now: datetime) -> int:
    """Data minimisation: unused codes are useless once expired or replaced."""
    result = session.execute(
        delete(EnrollmentCode).where(
            EnrollmentCode.used_at.is_(None),
            or_(EnrollmentCode.expires_at <= now, EnrollmentCode.revoked_at.is_not(None)),
        )
    )
    return rowcount(result)
