"""The documented backup (scripts/backup) restores into a fresh database the app runs on."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from api import create_app, demo, devtokens, migrate
from api.graduates.models import Graduate
from tests import conftest, databases

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "backup"


@pytest.fixture
def postgres(tmp_path):
    problem = databases.postgres_problem()
    if problem:
        if databases.in_ci():
            pytest.fail(f"CI needs PostgreSQL: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem})")
    with (
        databases.fresh_database("postgresql", str(tmp_path)) as source,
        databases.fresh_database("postgresql", str(tmp_path)) as target,
    ):
        yield source, target


def test_a_dump_restores_into_a_fresh_database_that_the_app_runs_on(
    postgres, tmp_path, session_clock
):
    source, target = postgres
    databases.upgrade(source)
    app = create_app(conftest.test_config(source, session_clock))
    with app.app_context():
        rt = app.extensions["companion"]
        # The three newest graduates: a month of history is plenty to dump and restore.
        demo.seed(
            session=rt.db.session,
            content=rt.content,
            now=rt.clock.now(),
            cast=demo.GRADUATES[:3],
        )
        rt.db.session.commit()
        graduates = rt.db.session.scalar(select(func.count()).select_from(Graduate))
    app.extensions["companion"].db.dispose()

    dump = tmp_path / "companion.dump"
    subprocess.run([SCRIPT, "dump", source, dump], check=True, timeout=120)
    subprocess.run([SCRIPT, "restore", dump, target], check=True, timeout=120)

    migrate.check(target)  # the restored schema is exactly the code's: nothing to migrate
    restored = create_app(conftest.test_config(target, session_clock))
    try:
        with restored.app_context():
            session = restored.extensions["companion"].db.session
            assert session.scalar(select(func.count()).select_from(Graduate)) == graduates
        caller = restored.test_client()
        token = devtokens.mint(
            project_id="demo-companion", email="maya@demo.example", now=session_clock.now()
        )
        me = caller.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json["graduate_id"] is not None
        plan = caller.get(
            f"/api/v1/graduates/{me.json['graduate_id']}/plan",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert plan.status_code == 200
    finally:
        restored.extensions["companion"].db.dispose()

    engine = create_engine(target.replace("postgresql://", "postgresql+psycopg://", 1))
    with pytest.raises(DBAPIError), engine.begin() as connection:  # still append-only
        connection.execute(text("UPDATE audit_events SET outcome = 'edited'"))
    engine.dispose()
