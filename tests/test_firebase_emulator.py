"""The real Firebase Auth emulator (firebase-tools, Auth only, UI off; runs offline), beside
the hand-made tokens everywhere else: its tokens work end to end, a refreshed token (auth_time
earlier than iat) too, and disabling the account or revoking its tokens in Firebase is
honoured at the next account check (ACCOUNT_CHECK_SECONDS) or at once when a device is
registered.

`make install` installs the emulator (tools/firebase-auth-emulator, npm ci). It is started
once per test session on free ports and stopped after. Outside CI a missing emulator skips
these tests with the reason; with CI=true it fails them.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
from firebase_admin import auth as firebase_auth
from flask import Flask
from sqlalchemy.orm import Session

from api import create_app
from api.auth import FirebaseTokenVerifier
from api.clock import FrozenClock
from tests import conftest, databases

PROJECT = "demo-companion-emulator"  # demo-*: the emulator never looks for a real project
FIREBASE = Path(__file__).parent.parent / "tools/firebase-auth-emulator/node_modules/.bin/firebase"
API_KEY = "any-key"  # the emulator accepts any
PASSWORD = "correct horse battery staple"
STARTUP_SECONDS = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unavailable(reason: str) -> None:
    if databases.in_ci():
        pytest.fail(f"CI needs the Firebase Auth emulator: {reason}")
    pytest.skip(f"Firebase Auth emulator unavailable ({reason}); run make install")


def _ready(host: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}/", timeout=1) as response:
            return json.load(response).get("authEmulator", {}).get("ready") is True
    except (OSError, ValueError):
        return False


@pytest.fixture(scope="session")
def auth_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a running Auth emulator, started for this session and stopped after."""
    if not FIREBASE.exists():
        _unavailable(f"{FIREBASE} is missing")
    workdir = tmp_path_factory.mktemp("firebase")
    auth, hub, logging_port = _free_port(), _free_port(), _free_port()
    config = {
        "emulators": {
            "auth": {"host": "127.0.0.1", "port": auth},
            "hub": {"host": "127.0.0.1", "port": hub},
            "logging": {"host": "127.0.0.1", "port": logging_port},
            "ui": {"enabled": False},
        }
    }
    (workdir / "firebase.json").write_text(json.dumps(config))
    log = (workdir / "emulator.log").open("w")
    process = subprocess.Popen(
        [str(FIREBASE), "emulators:start", "--only", "auth", "--project", PROJECT],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped with everything it starts
    )
    host = f"127.0.0.1:{auth}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while not _ready(host):
            if process.poll() is not None or time.monotonic() > deadline:
                output = (workdir / "emulator.log").read_text()[-2000:]
                _unavailable(f"it did not start: {output}")
            time.sleep(0.2)  # polling another process's startup; the app's clock is not involved
        yield host
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="session")
def emulator_app(migrated_url: str, auth_emulator: str) -> Iterator[Flask]:
    """An app that verifies tokens through firebase-admin against the running emulator and
    asks it about accounts every 5 minutes. firebase-admin reads the emulator's address
    from the process environment; the other tests' value is put back after."""
    before = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    app = create_app(
        conftest.test_config(
            migrated_url,
            FrozenClock(datetime.now(UTC)),
            FIREBASE_PROJECT_ID=PROJECT,
            FIREBASE_AUTH_EMULATOR_HOST=auth_emulator,
            ACCOUNT_CHECK_SECONDS="300",
            TOKEN_VERIFIER=FirebaseTokenVerifier(PROJECT),
        )
    )
    yield app
    app.extensions["companion"].db.dispose()
    if before is None:
        os.environ.pop("FIREBASE_AUTH_EMULATOR_HOST", None)
    else:
        os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = before


@pytest.fixture
def live(emulator_app: Flask, auth_emulator: str) -> Iterator[Live]:
    """Each test inside a transaction rolled back after it, at the emulator's real time."""
    os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = auth_emulator
    rt = emulator_app.extensions["companion"]
    rt.clock.set(datetime.now(UTC))
    connection = rt.db.engine.connect()
    outer = connection.begin()
    rt.db.session.remove()
    rt.db.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield Live(emulator_app, auth_emulator, rt.db.session(), rt.clock)
    rt.db.session.remove()
    outer.rollback()
    connection.close()
    rt.db.session.configure(bind=rt.db.engine, join_transaction_mode="conservative_savepoint")


class Live:
    def __init__(self, app: Flask, host: str, session: Session, clock: FrozenClock) -> None:
        self.app, self.host, self.session, self.clock = app, host, session, clock
        # The firebase-admin app the verifier made for this project (admin calls go there).
        self.firebase_app = firebase_admin.get_app(f"companion-{PROJECT}")

    def account(self) -> tuple[str, str]:
        """A new verified account in the emulator: (uid, email)."""
        email = f"emu-{uuid.uuid4().hex[:12]}@example.org"
        user = firebase_auth.create_user(
            email=email, email_verified=True, password=PASSWORD, app=self.firebase_app
        )
        return user.uid, email

    def sign_in(self, email: str) -> dict[str, str]:
        return self._post(
            "identitytoolkit.googleapis.com/v1/accounts:signInWithPassword",
            json.dumps({"email": email, "password": PASSWORD, "returnSecureToken": True}),
            "application/json",
        )

    def refresh(self, refresh_token: str) -> str:
        form = urllib.parse.urlencode(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        return self._post(
            "securetoken.googleapis.com/v1/token", form, "application/x-www-form-urlencoded"
        )["id_token"]

    def get(self, token: str, path: str = "/api/v1/me") -> Any:
        return self.app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})

    def register_device(self, token: str) -> Any:
        return self.app.test_client().post(
            "/api/v1/devices",
            json={"token": "fcm-" + uuid.uuid4().hex * 2, "platform": "android"},
            headers={"Authorization": f"Bearer {token}"},
        )

    def _post(self, path: str, body: str, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{self.host}/{path}?key={API_KEY}",
            data=body.encode(),
            headers={"Content-Type": content_type},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def refreshed_later(live: Live, refresh_token: str, signed_in: dict[str, Any]) -> str:
    """A refreshed token whose iat is past the sign-in's auth_time (both whole seconds)."""
    deadline = time.monotonic() + 5
    while True:
        token = live.refresh(refresh_token)
        claims = claims_of(token)
        if claims["iat"] > signed_in["auth_time"] or time.monotonic() > deadline:
            return token
        time.sleep(0.2)  # the emulator's clock, not ours, has to tick past a second


def test_emulator_tokens_work_end_to_end_and_refreshed_ones_too(live):
    uid, email = live.account()
    session = live.sign_in(email)
    first = live.get(session["idToken"])
    assert first.status_code == 200, first.json
    assert first.json["email"] == email

    refreshed = refreshed_later(live, session["refreshToken"], claims_of(session["idToken"]))
    claims = claims_of(refreshed)
    assert claims["auth_time"] < claims["iat"] and claims["sub"] == uid
    again = live.get(refreshed)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]


def test_an_account_disabled_in_firebase_is_refused_at_the_next_check(live):
    uid, email = live.account()
    token = live.sign_in(email)["idToken"]
    assert live.get(token).status_code == 200
    firebase_auth.update_user(uid, disabled=True, app=live.firebase_app)
    assert live.get(token).status_code == 200  # no call to Firebase per request
    live.clock.advance(minutes=5)
    assert live.get(token).status_code == 401
    assert live.get(token).status_code == 401


def test_registering_a_device_asks_firebase_at_once(live):
    uid, email = live.account()
    token = live.sign_in(email)["idToken"]
    assert live.register_device(token).status_code == 201
    firebase_auth.update_user(uid, disabled=True, app=live.firebase_app)
    # The app's clock is frozen when the test starts; the sign-in may be seconds later on a
    # busy machine (or a parallel run), and disabling cuts off sign-ins up to "now".
    live.clock.set(datetime.now(UTC))
    assert live.register_device(token).status_code == 401
    assert live.get(token).status_code == 401


def test_tokens_revoked_in_firebase_are_refused_and_a_new_sign_in_works(live):
    uid, email = live.account()
    session = live.sign_in(email)
    refreshed = refreshed_later(live, session["refreshToken"], claims_of(session["idToken"]))
    assert live.get(refreshed).status_code == 200
    firebase_auth.revoke_refresh_tokens(uid, app=live.firebase_app)
    live.clock.advance(minutes=5)
    assert live.get(session["idToken"]).status_code == 401
    assert live.get(refreshed).status_code == 401
    fresh = live.sign_in(email)["idToken"]
    assert live.get(fresh).status_code == 200
