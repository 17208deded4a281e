"""Migrate each database once per run; every test runs inside a transaction rolled back after it.

The suite runs on every database in TEST_DATABASES (default: sqlite,postgresql). With CI=true
an unreachable PostgreSQL fails the run; elsewhere its half is skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import create_app, devtokens
from api.clock import FrozenClock
from api.graduates.models import CareTeamMember, Graduate
from api.programs.models import Membership, Program, Role
from tests import databases, factories

RUN_ID = uuid.uuid4().hex[:8]


def pytest_sessionstart(session: pytest.Session) -> None:
    if "postgresql" in databases.wanted() and databases.in_ci():
        problem = databases.postgres_problem()
        if problem:
            pytest.exit(f"CI needs PostgreSQL at {databases.POSTGRES_URL}: {problem}", returncode=1)


def test_config(database_url: str, clock: FrozenClock, **extra: Any) -> dict[str, Any]:
    return {
        "COMPANION_ENV": "test",
        "DATABASE_URL": database_url,
        "FIREBASE_PROJECT_ID": "demo-companion",
        "RATELIMIT_PREFIX": f"companion-test-{RUN_ID}",
        # The suite writes fast as few people; tests/test_rate_limits.py uses real limits.
        "WRITE_LIMIT": "100000 per minute",
        "SIGN_IN_LIMIT": "100000 per minute",
        "CLOCK": clock,
        **extra,
    }


@pytest.fixture(scope="session", params=databases.wanted())
def database_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        problem = databases.postgres_problem()
        if problem:
            pytest.skip(f"PostgreSQL unreachable ({problem}); CI=true makes this a failure")
    return request.param


@pytest.fixture(scope="session")
def migrated_url(database_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.fresh_database(database_kind, str(tmp_path_factory.mktemp("db"))) as url:
        databases.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def session_clock() -> FrozenClock:
    return FrozenClock(factories.NOW)


@pytest.fixture(scope="session")
def app(migrated_url: str, session_clock: FrozenClock) -> Iterator[Flask]:
    application = create_app(test_config(migrated_url, session_clock))
    yield application
    application.extensions["companion"].db.dispose()


@pytest.fixture
def clock(session_clock: FrozenClock) -> FrozenClock:
    session_clock.set(factories.NOW)
    return session_clock


@pytest.fixture
def db(app: Flask, clock: FrozenClock) -> Iterator[Session]:
    """The app's session, bound to an outer transaction that is rolled back after the test."""
    database = app.extensions["companion"].db
    connection = database.engine.connect()
    outer = connection.begin()
    database.session.remove()
    database.session.configure(bind=connection, join_transaction_mode="create_savepoint")
    yield database.session()
    database.session.remove()
    outer.rollback()
    connection.close()
    database.session.configure(bind=database.engine, join_transaction_mode="conservative_savepoint")


@pytest.fixture
def client(app: Flask, db: Session) -> FlaskClient:
    return app.test_client()


class Caller:
    """A test client that sends one person's bearer token on every request."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def open(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, url: str, **kwargs: Any) -> Any:
        return self.open("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        return self.open("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> Any:
        return self.open("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> Any:
        return self.open("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> Any:
        return self.open("DELETE", url, **kwargs)


@pytest.fixture
def as_user(client: FlaskClient, clock: FrozenClock):
    """as_user(email, **claims) -> Caller signed in as that person, now."""

    def make(email: str | None, **claims: Any) -> Caller:
        if email is None:
            return Caller(client, None)
        return Caller(
            client,
            devtokens.mint(project_id="demo-companion", email=email, now=clock.now(), **claims),
        )

    return make


@dataclass
class World:
    """One program with a person in every relation to one graduate, and a second program."""

    program: Program
    other_program: Program
    graduate: Graduate
    other_graduate: Graduate
    staff: Membership
    other_staff: Membership
    therapist_consent: Membership
    therapist_no_consent: Membership
    therapist_unlinked: Membership
    coordinator: Membership
    care_team_entry: CareTeamMember
    graduate_email: str
    other_graduate_email: str

    def email(self, persona: str) -> str | None:
        if persona == "anonymous":
            return None
        if persona in ("graduate", "other_graduate"):
            return getattr(self, f"{persona}_email")
        return getattr(self, persona).email


@pytest.fixture
def world(db: Session) -> World:
    program = factories.program(db)
    other_program = factories.program(db, "Elsewhere IOP")
    therapist_consent = factories.member(db, program, Role.THERAPIST)
    therapist_no_consent = factories.member(db, program, Role.THERAPIST)
    emails = {label: factories.unique_email(label) for label in ("graduate", "other")}
    graduate = factories.graduate(
        db, program, email=emails["graduate"], therapists=(therapist_consent, therapist_no_consent)
    )
    factories.consent(db, graduate, therapist_consent)
    # Committed into the outer transaction (still rolled back after the test), so a request
    # that fails and rolls back its own work leaves the world standing.
    entry = db.scalar(
        select(CareTeamMember).where(
            CareTeamMember.graduate_id == graduate.id,
            CareTeamMember.membership_id == therapist_no_consent.id,
        )
    )
    world = World(
        program=program,
        other_program=other_program,
        graduate=graduate,
        other_graduate=factories.graduate(db, program, email=emails["other"]),
        staff=factories.member(db, program, Role.STAFF),
        other_staff=factories.member(db, other_program, Role.STAFF),
        therapist_consent=therapist_consent,
        therapist_no_consent=therapist_no_consent,
        therapist_unlinked=factories.member(db, program, Role.THERAPIST),
        coordinator=factories.member(db, program, Role.COORDINATOR),
        care_team_entry=entry,
        graduate_email=emails["graduate"],
        other_graduate_email=emails["other"],
    )
    db.commit()
    db.expunge_all()
    return world
