"""Engine, session and the declarative base shared by the web app, jobs, CLI and benchmarks."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, Table, any_, bindparam, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Dialect, Engine, Result
from sqlalchemy.exc import InvalidatePoolError
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
    # Every model maps one table (no joins or subqueries), so its __table__ is a Table.
    __table__: ClassVar[Table]

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


@dataclass(frozen=True)
class PoolSettings:
    """Per-process PostgreSQL pool and session limits (README, "Database connections").

    Each gunicorn worker, scheduler and dispatcher holds its own pool: workers x
    (size + max_overflow) plus the jobs must stay under the server's max_connections.
    A request that cannot get a connection within `timeout_seconds` gets a 503, not a hang;
    no statement runs longer than `statement_timeout_ms`, and a transaction left idle
    (a worker stuck mid-request) is ended by the server after `idle_timeout_ms`.
    """

    size: int = 5
    max_overflow: int = 5
    timeout_seconds: float = 10.0
    statement_timeout_ms: int = 30_000
    idle_timeout_ms: int = 60_000
    recycle_seconds: int = 1800  # below common load-balancer and server idle cut-offs
    connect_timeout_seconds: int = 5
    # A connection unused this long is pinged before use (see `_ping_when_idle`).
    ping_after_idle_seconds: float = 10.0

    def engine_options(self) -> dict[str, Any]:
        return {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout_seconds,
            "pool_recycle": self.recycle_seconds,
            "connect_args": {
                "connect_timeout": self.connect_timeout_seconds,
                "options": f"-c statement_timeout={self.statement_timeout_ms} "
                f"-c idle_in_transaction_session_timeout={self.idle_timeout_ms}",
            },
        }


def rowcount(result: Result[Any]) -> int:
    """Rows an INSERT, UPDATE or DELETE touched.

    `Session.execute` is typed as returning a `Result`; for those statements it is a
    `CursorResult`, which is the one that knows the count.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"no row count on a {type(result).__name__}")
    return result.rowcount or 0


def one_of(session: Session, column: Any, values: list[Any]) -> Any:
    """`column IN values`; on PostgreSQL `= ANY(one array)`: a batch of 1,000 ids as 1,000
    placeholders costs more to expand and split than the query takes to run."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def make_engine(
    url: str,
    *,
    ping_after_idle_seconds: float = PoolSettings.ping_after_idle_seconds,
    **options: Any,
) -> Engine:
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
    engine = create_engine(url, **options)
    _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat unused `idle_seconds` (0: always).

    A server restart or an idle cut-off kills connections while the pool holds them. A
    quiet pool is where they wait long enough for that: those are pinged, and a dead one
    makes the pool drop every connection it held before (as pool_pre_ping would). A busy
    one is not pinged, which saves a round trip on every request; if the server went away
    in the last seconds, the request's first statement finds out, SQLAlchemy drops the pool
    the same way, and sign-in (the first statement of every API request, a read) runs once
    more on a new connection (api.extensions.smorest).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just made, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as dropped:
            raise InvalidatePoolError("the server dropped an idle connection") from dropped


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

    def __init__(self, url: str, pool: PoolSettings | None = None) -> None:
        postgres = not url.startswith("sqlite")
        options = pool.engine_options() if pool is not None and postgres else {}
        ping = (pool or PoolSettings()).ping_after_idle_seconds
        self.engine = make_engine(url, ping_after_idle_seconds=ping, **options)
        self.session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()
