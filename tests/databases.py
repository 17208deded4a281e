"""Test databases: a SQLite file and a throwaway database on the shared PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from api import migrate
from api.db import make_engine
from api.notifications import partitions
from tests import factories

# The suite's clocks stay within a year of factories.NOW.
SUITE_MONTHS = 12
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def wanted() -> list[str]:
    names = os.environ.get("TEST_DATABASES", "sqlite,postgresql")
    return [name.strip() for name in names.split(",")]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_problem() -> str | None:
    """None if the PostgreSQL server answers, else why not."""
    try:
        engine = create_engine(_driver(POSTGRES_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means the same thing here
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def fresh_database(kind: str, tmp_dir: str) -> Iterator[str]:
    """A new, empty database of `kind`; dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_dir}/companion-{uuid.uuid4().hex[:8]}.db"
        return
    name = f"companion_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_driver(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield (
            make_url(_driver(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def upgrade(url: str) -> None:
    """Migrate, then make the outbox's partitions for every month the suite's clocks visit,
    as the daily job would have made them by then (the migration makes only those around
    the machine's own date)."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        partitions.ensure(
            session=session, now=factories.NOW, behind=SUITE_MONTHS, ahead=SUITE_MONTHS
        )
        session.commit()
    engine.dispose()


@contextmanager
def migrated_postgres(tmp_dir: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL database, for tests that need committed
    rows other connections or processes can see; dropped afterwards."""
    with fresh_database("postgresql", tmp_dir) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
