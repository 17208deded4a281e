"""Engine, session and the declarative base shared by the web app, jobs, CLI and benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike.

    SQLite drops offsets silently; converting on write and tagging on read keeps
    09:00-05:00 from coming back as 09:00.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


def upsert(session: Session, table: Table) -> Any:
    """INSERT … ON CONFLICT for the session's database (SQLite and PostgreSQL share the
    syntax, but SQLAlchemy builds it per dialect)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine with the per-dialect settings our tests and SQLite need.

    Parameters never appear in error messages or logs: they may be answers or notes.
    """
    options.setdefault("hide_parameters", True)
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url[len(plain) :]
    if url.startswith("sqlite"):
        if url in ("sqlite://", "sqlite:///:memory:"):
            options.setdefault("poolclass", StaticPool)
        options.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **options)
        _fix_pysqlite_transactions(engine)
        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def _fix_pysqlite_transactions(engine: Engine) -> None:
    """Let SQLAlchemy own BEGIN so savepoints roll back, and enforce foreign keys."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


class Database:
    """One engine and one request-scoped session factory per app."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()
