"""Bearer tokens checked with our own clock, revocation, invitations, and startup refusal."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest

from api import create_app, devtokens
from api.auth import FirebaseTokenVerifier
from api.config import ConfigError, load_settings
from api.logs import JsonFormatter
from tests import conftest, factories

PROJECT = "demo-companion"
ENV_VARS = ("COMPANION_ENV", "DATABASE_URL", "FIREBASE_PROJECT_ID", "FIREBASE_AUTH_EMULATOR_HOST")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response, status: int) -> None:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]


def test_missing_token_is_401(client):
    assert_error(client.get("/api/v1/me"), 401)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer    ",
        "Token abc.def.ghi",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "Bearer a.b.c",
    ],
)
def test_malformed_authorization_header_is_401(client, header):
    assert_error(client.get("/api/v1/me", headers={"Authorization": header}), 401)


@pytest.mark.parametrize(
    "claims",
    [
        {"project_id": "other-project"},
        {"project_id": PROJECT, "aud": "other-project"},
        {"project_id": PROJECT, "iss": "https://securetoken.google.com/other-project"},
    ],
    ids=["other-project", "other-aud", "other-iss"],
)
def test_token_for_another_firebase_project_is_401(client, clock, claims):
    token = devtokens.mint(email=factories.unique_email("p"), now=clock.now(), **claims)
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_expired_token_is_401(as_user, clock):
    caller = as_user(factories.unique_email("late"))
    assert caller.get("/api/v1/me").status_code == 200
    clock.advance(hours=2)
    assert_error(caller.get("/api/v1/me"), 401)


def test_expiry_allows_60_seconds_of_skew(as_user, clock):
    caller = as_user(factories.unique_email("skew"))  # exp = now + 1 h
    clock.advance(hours=1, seconds=30)
    assert caller.get("/api/v1/me").status_code == 200
    clock.advance(seconds=30)  # exactly exp + 60 s
    assert caller.get("/api/v1/me").status_code == 200
    clock.advance(seconds=1)
    assert_error(caller.get("/api/v1/me"), 401)


def test_token_issued_in_the_future_is_401(client, clock):
    token = devtokens.mint(
        project_id=PROJECT,
        email=factories.unique_email("future"),
        now=clock.now() + timedelta(minutes=5),
    )
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_iat_within_the_skew_is_accepted(client, clock):
    token = devtokens.mint(
        project_id=PROJECT,
        email=factories.unique_email("early"),
        now=clock.now() + timedelta(seconds=30),
    )
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_unverified_email_is_403(as_user):
    assert_error(as_user(factories.unique_email("u"), email_verified=False).get("/api/v1/me"), 403)


def test_unverified_email_is_403_even_for_an_invited_member(as_user, world):
    caller = as_user(world.email("staff"), email_verified=False)
    assert_error(caller.get(f"/api/v1/programs/{world.program.id}/members"), 403)


def test_sign_out_everywhere_revokes_earlier_tokens(as_user, clock):
    email = factories.unique_email("leaver")
    phone, laptop = as_user(email), as_user(email)
    assert phone.get("/api/v1/me").status_code == 200
    clock.advance(minutes=10)
    assert phone.post("/api/v1/me/sign-out-everywhere").status_code == 204
    assert_error(phone.get("/api/v1/me"), 401)
    assert_error(laptop.get("/api/v1/me"), 401)
    clock.advance(seconds=1)
    fresh = as_user(email)
    response = fresh.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["email"] == email


def test_sign_out_everywhere_revokes_the_token_that_asked_in_the_same_second(as_user):
    caller = as_user(factories.unique_email("quick"))
    assert caller.get("/api/v1/me").status_code == 200
    assert caller.post("/api/v1/me/sign-out-everywhere").status_code == 204
    assert_error(caller.get("/api/v1/me"), 401)


@pytest.mark.parametrize("token_email", ["invitee@example.org", "Invitee@Example.ORG"])
def test_invitation_by_email_is_claimed_at_first_sign_in(as_user, world, token_email):
    staff = as_user(world.email("staff"))
    members_url = f"/api/v1/programs/{world.program.id}/members"
    created = staff.post(members_url, json={"email": "invitee@example.org", "role": "therapist"})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["user_id"] is None

    me = as_user(token_email).get("/api/v1/me")
    assert me.status_code == 200
    me = me.get_json()
    assert {"program_id": str(world.program.id), "role": "therapist"} in me["memberships"]
    assert me["graduate_id"] is None

    listed = staff.get(f"{members_url}?role=therapist&page_size=100").get_json()
    invitee = next(m for m in listed if m["email"] == "invitee@example.org")
    assert invitee["user_id"] == me["id"]


def _logged(caplog) -> str:
    """Everything the app logged, as the JSON formatter writes it and with every extra."""
    formatted = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    extras = "\n".join(repr(vars(record)) for record in caplog.records)
    return "\n".join((caplog.text, formatted, extras))


def test_a_token_whose_uid_and_email_are_two_users_is_409_and_logs_neither(as_user, world, caplog):
    caplog.set_level(logging.DEBUG)
    graduate_uid = devtokens.uid_for(world.graduate_email)
    staff_email = world.email("staff")
    # The graduate's Firebase account now says it has the staff member's address.
    crossed = as_user(staff_email, uid=graduate_uid)
    for _ in range(2):
        response = crossed.get("/api/v1/me")
        assert_error(response, 409)
        assert staff_email not in response.get_data(as_text=True)
    logged = _logged(caplog)
    assert caplog.records and staff_email not in logged and world.graduate_email not in logged
    # Both people keep their own records.
    assert as_user(world.graduate_email).get("/api/v1/me").json["graduate_id"] == str(
        world.graduate.id
    )
    staff_me = as_user(staff_email).get("/api/v1/me").json
    assert staff_me["email"] == staff_email and staff_me["graduate_id"] is None


def test_a_second_firebase_account_with_the_same_email_does_not_take_over(as_user, world):
    before = as_user(world.graduate_email).get("/api/v1/me").json
    newcomer = as_user(world.graduate_email, uid="someone-else-entirely")
    assert_error(newcomer.get("/api/v1/me"), 409)
    assert_error(newcomer.get(f"/api/v1/graduates/{world.graduate.id}"), 409)
    # The record still answers to its own uid, and only to it.
    assert as_user(world.graduate_email).get("/api/v1/me").json == before


def test_an_email_change_to_a_free_address_follows_the_uid_and_claims_invitations(as_user, world):
    uid = devtokens.uid_for(world.graduate_email)
    staff = as_user(world.email("staff"))
    new_email = factories.unique_email("moved")
    invited = staff.post(
        f"/api/v1/programs/{world.program.id}/members", json={"email": new_email, "role": "staff"}
    )
    assert invited.status_code == 201, invited.json
    me = as_user(new_email, uid=uid).get("/api/v1/me").json
    assert me["email"] == new_email and me["graduate_id"] == str(world.graduate.id)
    assert {"program_id": str(world.program.id), "role": "staff"} in me["memberships"]


def test_without_google_credentials_a_bad_token_is_401_not_500(
    migrated_url, session_clock, monkeypatch
):
    """Production's verifier (no emulator) on a machine without Application Default
    Credentials, where firebase-admin fails before it reads the token."""
    project = f"prod-{uuid.uuid4().hex[:8]}"
    app = create_app(
        conftest.test_config(
            migrated_url, session_clock, TOKEN_VERIFIER=FirebaseTokenVerifier(project)
        )
    )
    for name in ("FIREBASE_AUTH_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # google-auth: do not probe a metadata server
    monkeypatch.setenv("CLOUDSDK_CONFIG", "/nonexistent")  # nor read a gcloud login
    forged = devtokens.mint(project_id=project, email="x@example.org", now=session_clock.now())
    try:
        for token in ("garbage", "a.b.c", forged):
            assert_error(app.test_client().get("/api/v1/me", headers=bearer(token)), 401)
    finally:
        app.extensions["companion"].db.dispose()


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_production_needs_database_and_firebase_project(clean_env):
    with pytest.raises(ConfigError):
        load_settings({"COMPANION_ENV": "production"})
    with pytest.raises(ConfigError):
        load_settings({"COMPANION_ENV": "production", "DATABASE_URL": "postgresql://db/x"})
    with pytest.raises(ConfigError):
        load_settings({"COMPANION_ENV": "production", "FIREBASE_PROJECT_ID": "p"})


def test_no_companion_env_means_production(clean_env):
    with pytest.raises(ConfigError):
        load_settings({})


PRODUCTION = {
    "COMPANION_ENV": "production",
    "DATABASE_URL": "postgresql://db.internal/companion",
    "FIREBASE_PROJECT_ID": "companion-prod",
}


def test_production_refuses_the_emulator_in_overrides(clean_env):
    with pytest.raises(ConfigError):
        load_settings({**PRODUCTION, "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"})


def test_production_refuses_the_emulator_in_the_process_environment(clean_env):
    clean_env.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with pytest.raises(ConfigError):
        load_settings(PRODUCTION)


def test_production_refuses_the_emulator_when_all_comes_from_the_environment(clean_env):
    for name, value in PRODUCTION.items():
        clean_env.setenv(name, value)
    clean_env.setenv("FIREBASE_AUTH_EMULATOR_HOST", "localhost:9099")
    with pytest.raises(ConfigError):
        load_settings()


def test_production_starts_with_complete_settings_and_no_emulator(clean_env):
    settings = load_settings(PRODUCTION)
    assert settings.env == "production"
    assert settings.database_url == PRODUCTION["DATABASE_URL"]
    assert settings.firebase_project_id == "companion-prod"
    assert settings.uses_auth_emulator is False


@pytest.mark.parametrize("env", ["nonsense", "prod", "Production"])
def test_unknown_companion_env_is_refused(clean_env, env):
    with pytest.raises(ConfigError):
        load_settings({**PRODUCTION, "COMPANION_ENV": env})


@pytest.mark.parametrize("env", ["development", "test"])
def test_development_and_test_verify_offline(clean_env, env):
    assert load_settings({"COMPANION_ENV": env}).uses_auth_emulator is True


class CountingVerifier:
    """The app's own verifier, counting the tokens it is asked to verify."""

    def __init__(self, verifier) -> None:
        self.verifier = verifier
        self.verified = 0

    def verify(self, token: str) -> dict:
        self.verified += 1
        return self.verifier.verify(token)

    def account(self, uid: str):
        return self.verifier.account(uid)


def test_a_token_is_verified_once_per_request_though_the_limiter_reads_it_too(
    app, as_user, world, monkeypatch
):
    rt = app.extensions["companion"]
    counting = CountingVerifier(rt.verifier)
    monkeypatch.setattr(rt, "verifier", counting)
    caller = as_user(world.graduate_email)
    path = f"/api/v1/graduates/{world.graduate.id}/check-ins"
    body = {"questionnaire": "daily", "answers": {"daily-mood": 5}, "answered_at": "x"}
    # The write budget keys on the caller, then the view signs them in: one verification.
    assert caller.post(path, json=body).status_code == 422 and counting.verified == 1
    assert caller.get("/api/v1/me").status_code == 200 and counting.verified == 2
    # A bad token is refused once too, with the same 401 as before.
    bad = as_user(None)
    bad.token = "not-a-token"
    assert_error(bad.post(path, json=body), 401)
    assert counting.verified == 3
