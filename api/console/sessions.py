"""Console sessions: a browser cannot send a bearer token, so sign-in becomes a cookie.

One small interface, two makers. Production turns the Firebase ID token into a Firebase
session cookie (`create_session_cookie`); development and tests sign an equivalent with a
per-process key, so they need no network. Everything around the maker is shared: the ID
token is checked by the API's verifier and `check_claims`, and every request checks the
cookie's claims with our clock and the user's revocation time through `auth.actor_for`,
exactly as the API checks a bearer token. Signing out (`end`) ends the person's console
sessions on the server, not only in the browser.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any, Protocol

import firebase_admin
from firebase_admin import auth as firebase_auth
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from api import devtokens
from api.auth import (
    SESSION_COOKIE_ISSUER,
    Actor,
    account_check_interval,
    actor_for,
    check_claims,
)
from api.errors import DomainError, Invalid, Unauthorized
from api.runtime import Runtime
from api.users.models import User

LIFETIME = timedelta(hours=8)  # a working day; Firebase allows 5 minutes to 2 weeks
RECENT_SIGN_IN = timedelta(minutes=5)  # only a fresh sign-in may start a session
COOKIE = "console_session"


class SessionCookies(Protocol):
    """Makes and reads session cookies; the claims inside are checked by the caller."""

    def create(self, id_token: str, claims: dict[str, Any], *, now: datetime) -> str: ...

    def claims(self, cookie: str) -> dict[str, Any]: ...


class FirebaseSessionCookies:
    """Production: Firebase session cookies, signed by Google and revocable there too."""

    def __init__(self, project_id: str) -> None:
        name = f"companion-{project_id}"
        try:
            self._app = firebase_admin.get_app(name)
        except ValueError:
            self._app = firebase_admin.initialize_app(options={"projectId": project_id}, name=name)

    def create(self, id_token: str, claims: dict[str, Any], *, now: datetime) -> str:
        try:
            cookie = firebase_auth.create_session_cookie(id_token, LIFETIME, app=self._app)
        except (ValueError, firebase_auth.InvalidIdTokenError) as exc:
            raise Unauthorized("The sign-in token is not valid.") from exc
        return cookie.decode() if isinstance(cookie, bytes) else cookie

    def claims(self, cookie: str) -> dict[str, Any]:
        try:
            return firebase_auth.verify_session_cookie(cookie, app=self._app, clock_skew_seconds=60)
        except (
            ValueError,
            firebase_auth.InvalidSessionCookieError,
            firebase_auth.CertificateFetchError,
        ) as exc:
            raise Unauthorized("Your session has ended; sign in again.") from exc


class SignedSessionCookies:
    """Development and tests: the same claims a Firebase session cookie carries, signed by
    a key that lives as long as the process (restarting signs everyone out)."""

    def __init__(self, project_id: str) -> None:
        self.project_id = project_id
        self._signer = URLSafeSerializer(secrets.token_bytes(32), salt="console-session")

    def create(self, id_token: str, claims: dict[str, Any], *, now: datetime) -> str:
        issued = int(now.timestamp())
        return self._signer.dumps(
            {
                "iss": SESSION_COOKIE_ISSUER.format(project_id=self.project_id),
                "aud": self.project_id,
                "sub": claims["sub"],
                "email": claims["email"],
                "email_verified": claims.get("email_verified"),
                "auth_time": claims.get("auth_time", claims["iat"]),
                "iat": issued,
                "exp": issued + int(LIFETIME.total_seconds()),
            }
        )

    def claims(self, cookie: str) -> dict[str, Any]:
        try:
            found = self._signer.loads(cookie)
        except BadSignature as exc:
            raise Unauthorized("Your session has ended; sign in again.") from exc
        if not isinstance(found, dict):
            raise Unauthorized("Your session has ended; sign in again.")
        return found


def maker_for(env: str, project_id: str) -> SessionCookies:
    if env == "production":
        return FirebaseSessionCookies(project_id)
    return SignedSessionCookies(project_id)


def start(
    *, session: Session, rt: Runtime, cookies: SessionCookies, id_token: str
) -> tuple[str, Actor]:
    """A fresh Firebase ID token becomes a session cookie for its (known or new) user."""
    now = rt.clock.now()
    claims = rt.verifier.verify(id_token)
    check_claims(claims, project_id=rt.settings.firebase_project_id, now=now)
    signed_in = float(claims.get("auth_time", claims["iat"]))
    if now.timestamp() - signed_in > RECENT_SIGN_IN.total_seconds():
        raise Unauthorized("Sign in again to start a console session.")
    # Revoked or disabled sign-ins stop here: Firebase is asked as a session starts.
    actor = actor_for(
        session=session,
        claims=claims,
        now=now,
        verifier=rt.verifier,
        account_check_every=account_check_interval(rt.settings.account_check_seconds),
        recheck_account=True,
    )
    return cookies.create(id_token, claims, now=now), actor


def development_token(*, rt: Runtime, email: str) -> str:
    """The development form's stand-in for the Firebase web SDK: an emulator ID token that
    then goes through `start` like any other. Never available in production."""
    if rt.settings.env == "production":
        raise Unauthorized("Development sign-in is not available here.")
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise Invalid("Enter an email address.", errors={"email": ["Enter an email address."]})
    return devtokens.mint(
        project_id=rt.settings.firebase_project_id, email=email, now=rt.clock.now()
    )


def current(
    *,
    session: Session,
    rt: Runtime,
    cookies: SessionCookies,
    cookie: str | None,
    request_id: str | None,
    route: str | None,
) -> Actor:
    """The signed-in person on every console request: expiry by our clock, revocation by
    the user's `tokens_valid_after`, as for the API's bearer tokens."""
    if not cookie:
        raise Unauthorized("Sign in to use the console.")
    now = rt.clock.now()
    claims = cookies.claims(cookie)
    check_claims(
        claims,
        project_id=rt.settings.firebase_project_id,
        now=now,
        issuer=SESSION_COOKIE_ISSUER,
    )
    return actor_for(
        session=session,
        claims=claims,
        now=now,
        request_id=request_id,
        route=route,
        verifier=rt.verifier,
        account_check_every=account_check_interval(rt.settings.account_check_seconds),
        console_session=True,
    )


def end(*, session: Session, rt: Runtime, cookies: SessionCookies, cookie: str | None) -> None:
    """Sign-out: every console session of the person issued until now stops working, so a
    cookie copied before sign-out is refused too (deleting it in this browser is not enough).
    An already invalid cookie ends nothing."""
    if not cookie:
        return
    try:
        actor = current(
            session=session, rt=rt, cookies=cookies, cookie=cookie, request_id=None, route=None
        )
    except DomainError:
        return
    session.get_one(User, actor.user_id).console_signed_out_at = rt.clock.now()


def csrf_token(secret: str) -> str:
    """The form token for a session (or the pre-sign-in cookie): unguessable without the
    HttpOnly cookie it is derived from, so another site cannot forge a form post."""
    return hmac.new(secret.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str | None, submitted: str | None) -> bool:
    if not (secret and submitted):
        return False
    return hmac.compare_digest(csrf_token(secret), submitted)
