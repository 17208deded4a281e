"""The migrations build the schema the models describe, and unbuild it, on both databases."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from api import migrate
from tests import databases


def test_upgrade_check_downgrade_on_an_empty_database(database_kind, tmp_path):
    with databases.fresh_database(database_kind, str(tmp_path)) as url:
        migrate.upgrade(url)
        migrate.check(url)  # raises if autogenerate finds any difference
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            assert {"users", "programs", "graduates", "audit_events"} <= set(
                inspect(engine).get_table_names()
            )
            migrate.downgrade(url, "base")
            assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT count(*) FROM alembic_version"))
                assert versions.scalar() == 0
            migrate.upgrade(url)
        finally:
            engine.dispose()


def test_one_head_with_a_four_digit_name():
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    heads = scripts.get_heads()
    assert len(heads) == 1
    for script in scripts.walk_revisions():
        assert len(script.revision) == 4 and script.revision.isdigit(), script.revision
