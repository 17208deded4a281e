"""Firebase-side disable and revocation, with Firebase faked at its edge (the verifier's
`account` lookup): asked on first sign-in, on device registration and then at most every
ACCOUNT_CHECK_SECONDS per user, never per request. tests/test_firebase_emulator.py runs the
same rules against the real Auth emulator."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from api import devtokens
from api.auth import FirebaseAccount
from tests import factories


class FakeFirebase:
    """Verifies tokens as the app does; answers account lookups from a dict, counting them."""

    def __init__(self, verifier: Any) -> None:
        self.verifier = verifier
        self.accounts: dict[str, FirebaseAccount | None] = {}
        self.lookups = 0

    def verify(self, token: str) -> dict[str, Any]:
        return self.verifier.verify(token)

    def account(self, uid: str) -> FirebaseAccount | None:
        self.lookups += 1
        return self.accounts.get(uid, FirebaseAccount(disabled=False, tokens_valid_after=None))


@pytest.fixture
def firebase(app, monkeypatch) -> FakeFirebase:
    rt = app.extensions["companion"]
    fake = FakeFirebase(rt.verifier)
    monkeypatch.setattr(rt, "verifier", fake)
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, account_check_seconds=300))
    return fake


def _person(as_user):
    email = factories.unique_email("firebase")
    return email, devtokens.uid_for(email), as_user(email)


def test_firebase_is_asked_once_per_interval_not_per_request(firebase, as_user, clock):
    _, _, caller = _person(as_user)
    assert [caller.get("/api/v1/me").status_code for _ in range(5)] == [200] * 5
    assert firebase.lookups == 1  # the first sign-in
    clock.advance(minutes=4)
    assert caller.get("/api/v1/me").status_code == 200 and firebase.lookups == 1
    clock.advance(minutes=1)
    assert caller.get("/api/v1/me").status_code == 200 and firebase.lookups == 2


def test_registering_a_device_asks_firebase_at_once(firebase, as_user, clock):
    _, uid, caller = _person(as_user)
    assert caller.get("/api/v1/me").status_code == 200 and firebase.lookups == 1
    firebase.accounts[uid] = FirebaseAccount(disabled=True, tokens_valid_after=None)
    response = caller.post(
        "/api/v1/devices", json={"token": "fcm-" + "x" * 40, "platform": "android"}
    )
    assert response.status_code == 401 and firebase.lookups == 2


def test_a_disabled_account_is_refused_after_the_next_check_and_stays_refused(
    firebase, as_user, clock
):
    email, uid, caller = _person(as_user)
    assert caller.get("/api/v1/me").status_code == 200
    firebase.accounts[uid] = FirebaseAccount(disabled=True, tokens_valid_after=None)
    assert caller.get("/api/v1/me").status_code == 200  # known within the interval only
    clock.advance(minutes=5)
    assert caller.get("/api/v1/me").status_code == 401
    assert caller.get("/api/v1/me").status_code == 401
    assert firebase.lookups == 2  # the refusal was remembered, not asked again
    # Enabled again and signed in afresh: welcome back.
    firebase.accounts[uid] = FirebaseAccount(disabled=False, tokens_valid_after=None)
    clock.advance(seconds=1)
    assert as_user(email).get("/api/v1/me").status_code == 200


def test_tokens_revoked_in_firebase_are_refused_and_a_new_sign_in_is_not(firebase, as_user, clock):
    email, uid, caller = _person(as_user)
    signed_in = clock.now()
    # A refreshed token: signed in an hour ago, issued now.
    clock.advance(hours=1)
    refreshed = as_user(email, auth_time=int(signed_in.timestamp()))
    assert refreshed.get("/api/v1/me").status_code == 200
    revoked_at = clock.now().replace(microsecond=0)
    firebase.accounts[uid] = FirebaseAccount(disabled=False, tokens_valid_after=revoked_at)
    clock.advance(minutes=5)
    assert refreshed.get("/api/v1/me").status_code == 401
    assert caller.get("/api/v1/me").status_code == 401
    # Signed in again (any later second): accepted, as Firebase would.
    assert as_user(email).get("/api/v1/me").status_code == 200


def test_when_firebase_cannot_be_asked_nobody_is_signed_out(firebase, as_user, clock):
    _, uid, caller = _person(as_user)
    firebase.accounts[uid] = None
    assert caller.get("/api/v1/me").status_code == 200
    clock.advance(minutes=5)
    assert caller.get("/api/v1/me").status_code == 200 and firebase.lookups == 2


def test_without_account_checks_firebase_is_never_asked(app, as_user, monkeypatch):
    rt = app.extensions["companion"]
    fake = FakeFirebase(rt.verifier)
    monkeypatch.setattr(rt, "verifier", fake)
    assert rt.settings.account_check_seconds == 0  # development and test default
    assert as_user(factories.unique_email("quiet")).get("/api/v1/me").status_code == 200
    assert fake.lookups == 0
