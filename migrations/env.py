"""Alembic environment: our metadata, batch mode for SQLite, a connection passed in by tests."""

from __future__ import annotations

from alembic import context

import api.models  # noqa: F401  (registers every table on Base.metadata)
from api.db import Base, make_engine
from api.notifications import partitions

config = context.config
target_metadata = Base.metadata


def include_name(name, type_, parent_names) -> bool:
    """Monthly partitions of the outbox are made by a job, not described by the models."""
    return not (type_ == "table" and partitions.is_partition(name))


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as fresh:
        run(fresh)
    engine.dispose()
