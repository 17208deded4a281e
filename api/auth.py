"""Firebase ID token -> Actor: who is calling, with which roles, checked with our own clock."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin.exceptions import FirebaseError
from google.auth import exceptions as google_auth_exceptions
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.errors import Conflict, Forbidden, Unauthorized
from api.graduates.models import Graduate
from api.programs.models import Membership, Program, Role
from api.users.models import User

log = logging.getLogger("api.auth")

ACCOUNT_LOOKUP_TIMEOUT_SECONDS = 5

# firebase-admin's maximum; emulator tokens get no exp check from it at all.
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class Actor:
    """The signed-in caller as the access rules see them."""

    user_id: uuid.UUID
    email: str
    memberships: tuple[tuple[uuid.UUID, Role], ...]
    graduate_id: uuid.UUID | None
    request_id: str | None = None
    route: str | None = None

    @property
    def roles(self) -> set[str]:
        roles = {role.value for _, role in self.memberships}
        if self.graduate_id is not None:
            roles.add("graduate")
        return roles

    def has_role(self, program_id: uuid.UUID, role: Role) -> bool:
        return (program_id, role) in self.memberships

    def programs_with(self, role: Role) -> set[uuid.UUID]:
        return {program_id for program_id, r in self.memberships if r == role}

    def enrolled_as(self, graduate_id: uuid.UUID) -> Actor:
        return replace(self, graduate_id=graduate_id)

    @property
    def primary_role(self) -> str:
        """The role written into audit events: the most privileged one held."""
        for role in ("staff", "therapist", "coordinator", "graduate"):
            if role in self.roles:
                return role
        return "user"


@dataclass(frozen=True)
class FirebaseAccount:
    """What Firebase says about an account now (a token only says what was true at issue)."""

    disabled: bool
    tokens_valid_after: datetime | None  # Firebase's revocation time (whole seconds)


class TokenVerifier(Protocol):
    def verify(self, token: str) -> dict[str, Any]: ...

    def account(self, uid: str) -> FirebaseAccount | None: ...


class FirebaseTokenVerifier:
    """Signature, audience and issuer checks by firebase-admin (cached Google certs).

    With FIREBASE_AUTH_EMULATOR_HOST in the process environment firebase-admin accepts
    unsigned tokens; config refuses that outside development and test.
    """

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        name = f"companion-{project_id}"
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:
            # For account lookups: a slow Firebase must not hold a request for
            # firebase-admin's default two minutes.
            self._app = firebase_admin.initialize_app(
                options={"projectId": project_id, "httpTimeout": ACCOUNT_LOOKUP_TIMEOUT_SECONDS},
                name=name,
            )

    def verify(self, token: str) -> dict[str, Any]:
        try:
            return firebase_auth.verify_id_token(
                token, app=self._app, clock_skew_seconds=CLOCK_SKEW_SECONDS
            )
        except (
            ValueError,
            firebase_auth.InvalidIdTokenError,
            firebase_auth.CertificateFetchError,
        ) as exc:
            raise Unauthorized("The sign-in token is not valid.") from exc
        except google_auth_exceptions.DefaultCredentialsError as exc:
            # firebase-admin wants Google credentials before it reads any token: without them
            # nothing can be verified, and the caller is not signed in (401, not a 500).
            log.warning("no Google credentials: ID tokens cannot be verified")
            raise Unauthorized("The sign-in token could not be verified.") from exc

    def account(self, uid: str) -> FirebaseAccount | None:
        """One network call to Firebase (or the emulator); None when it cannot be asked, so
        an outage leaves everyone signed in as they were rather than signed out."""
        try:
            record = firebase_auth.get_user(uid, app=self._app)
        except firebase_auth.UserNotFoundError:
            return FirebaseAccount(disabled=True, tokens_valid_after=None)  # deleted there
        except (FirebaseError, google_auth_exceptions.GoogleAuthError, ValueError) as exc:
            log.warning(
                "could not ask Firebase about an account", extra={"error": type(exc).__name__}
            )
            return None
        after = record.tokens_valid_after_timestamp
        return FirebaseAccount(
            disabled=record.disabled,
            tokens_valid_after=datetime.fromtimestamp(after / 1000, UTC) if after else None,
        )


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("Sign in first: send Authorization: Bearer <Firebase ID token>.")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be: Bearer <Firebase ID token>.")
    return token.strip()


ID_TOKEN_ISSUER = "https://securetoken.google.com/{project_id}"
SESSION_COOKIE_ISSUER = "https://session.firebase.google.com/{project_id}"


def check_claims(
    claims: dict[str, Any], *, project_id: str, now: datetime, issuer: str = ID_TOKEN_ISSUER
) -> None:
    """The checks we never leave to firebase-admin: time, audience, verified email.

    `issuer` is the ID token's by default; the console's session cookies name Firebase's
    session issuer instead."""
    if claims.get("aud") != project_id or claims.get("iss") != issuer.format(project_id=project_id):
        raise Unauthorized("The sign-in token is for another Firebase project.")
    if not claims.get("sub"):
        raise Unauthorized("The sign-in token has no subject.")
    stamp = now.timestamp()
    try:
        exp, iat = float(claims["exp"]), float(claims["iat"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("The sign-in token has no valid exp or iat.") from exc
    if stamp > exp + CLOCK_SKEW_SECONDS:
        raise Unauthorized("The sign-in token has expired; sign in again.")
    if iat > stamp + CLOCK_SKEW_SECONDS:
        raise Unauthorized("The sign-in token was issued in the future.")
    if not claims.get("email"):
        raise Forbidden("The account has no email address.")
    if claims.get("email_verified") is not True:
        raise Forbidden("Verify your email address before using the app.")


def signed_in_at(claims: dict[str, Any]) -> datetime:
    """When the person last really signed in (refreshes keep auth_time, move iat)."""
    when = claims.get("auth_time", claims["iat"])
    return datetime.fromtimestamp(float(when), UTC)


def issued_before(claims: dict[str, Any], instant: datetime | None) -> bool:
    """Whether the token or cookie was issued at or before `instant` (whole seconds, as
    `iat` is): a session signed out of in the second it began is ended too."""
    return instant is not None and float(claims["iat"]) <= instant.timestamp()


def account_check_interval(seconds: int) -> timedelta | None:
    """The ACCOUNT_CHECK_SECONDS setting as `actor_for` takes it (0: never ask Firebase)."""
    return timedelta(seconds=seconds) if seconds > 0 else None


def actor_for(
    *,
    session: Session,
    claims: dict[str, Any],
    now: datetime,
    request_id: str | None = None,
    route: str | None = None,
    verifier: TokenVerifier | None = None,
    account_check_every: timedelta | None = None,
    recheck_account: bool = False,
    console_session: bool = False,
) -> Actor:
    """The person checked claims name, refused if they signed out everywhere since or
    Firebase has disabled or revoked them (asked through `verifier` when our knowledge is
    older than `account_check_every`, or at once with `recheck_account`); the API's bearer
    tokens and the console's session cookies both end here. A `console_session` is also
    refused if its person signed out of the console after it was issued."""
    uid, email = str(claims["sub"]), str(claims["email"]).strip().lower()
    known = _known(session, uid)
    if not known or known[0].User.email != email:
        _user_for(session=session, uid=uid, email=email, now=now)
        known = _known(session, uid)
    user = known[0].User
    if (
        verifier is not None
        and account_check_every is not None
        and (
            recheck_account
            or user.account_checked_at is None
            or now - user.account_checked_at >= account_check_every
        )
    ):
        _check_account(session=session, verifier=verifier, user=user, now=now)
    if user.tokens_valid_after is not None and signed_in_at(claims) <= user.tokens_valid_after:
        raise Unauthorized("This sign-in was revoked; sign in again.")
    if console_session and issued_before(claims, user.console_signed_out_at):
        raise Unauthorized("You signed out of the console; sign in again.")
    graduate = known[0].Graduate
    return Actor(
        user_id=user.id,
        email=user.email,
        memberships=tuple(
            (row.program_id, row.role) for row in known if row.program_id is not None
        ),
        graduate_id=graduate.id if graduate is not None else None,
        request_id=request_id,
        route=route,
    )


def _check_account(*, session: Session, verifier: TokenVerifier, user: User, now: datetime) -> None:
    """Carries Firebase's disable and revocation into tokens_valid_after, which every request
    checks; committed at once, so a refused request keeps it and the next one asks nobody."""
    account = verifier.account(user.firebase_uid)
    cutoff = None
    if account is not None and account.disabled:
        cutoff = now
    elif account is not None and account.tokens_valid_after is not None:
        # Firebase refuses tokens issued before its time; ours refuses sign-ins at or before
        # tokens_valid_after. Both are whole seconds: one second earlier is the same rule.
        cutoff = account.tokens_valid_after - timedelta(seconds=1)
    if cutoff is not None and (user.tokens_valid_after is None or cutoff > user.tokens_valid_after):
        user.tokens_valid_after = cutoff
    user.account_checked_at = now
    session.commit()


# Built once: constructing this join costs more than running it.
_KNOWN = (
    select(User, Graduate, Program, Membership.program_id, Membership.role)
    .outerjoin(Graduate, Graduate.user_id == User.id)
    .outerjoin(Program, Program.id == Graduate.program_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .where(User.firebase_uid == bindparam("uid"))
)


def _known(session: Session, uid: str) -> list[Any]:
    """The user, their graduate record (and its program) and memberships in one query; the
    records stay in the session, so the access check that follows needs no query of its own."""
    rows = list(session.execute(_KNOWN, {"uid": uid}))
    # The session's identity map holds rows weakly: pin these for the session's life.
    session.info.setdefault("pinned", []).extend(rows)
    return rows


EMAIL_TAKEN = (
    "This email address belongs to another account here. Sign in with that account, "
    "or ask your program's staff for help."
)


def _user_for(*, session: Session, uid: str, email: str, now: datetime) -> User:
    """Find or create the user by Firebase uid; a new or changed verified email claims its
    invitations. An email another user holds is a refusal (409), never a takeover: a second
    Firebase account with someone's address must not inherit their record."""
    user = session.scalar(select(User).where(User.firebase_uid == uid))
    if user is not None and user.email == email:
        return user
    if session.scalar(select(User.id).where(User.email == email, User.firebase_uid != uid)):
        raise Conflict(EMAIL_TAKEN)
    try:
        with session.begin_nested():
            if user is None:
                user = User(firebase_uid=uid, email=email, created_at=now)
                session.add(user)
            else:
                user.email = email
            session.flush()
    except IntegrityError:
        # A concurrent first sign-in won the race. Its error names the other row (an email
        # in PostgreSQL's DETAIL): decided here, never logged.
        user = session.scalar(select(User).where(User.firebase_uid == uid))
        if user is None or user.email != email:
            raise Conflict(EMAIL_TAKEN) from None
        return user
    session.execute(
        update(Membership)
        .where(Membership.email == email, Membership.user_id.is_(None))
        .values(user_id=user.id)
    )
    return user
