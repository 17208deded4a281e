"""The three WSGI apps bench/checkin_throughput.py runs under gunicorn, as app factories:

    gunicorn 'bench.throughput_apps:raw_floor()'    floor (a): Flask + psycopg, one INSERT
    gunicorn 'bench.throughput_apps:stack_floor()'  floor (b): flask-smorest + marshmallow +
                                                    SQLAlchemy ORM, one INSERT
    gunicorn 'bench.throughput_apps:full()'         the companion API itself

All three answer POST /api/v1/graduates/<id>/check-ins with the same body, so the load
generator sends identical requests. Settings come from the environment (BENCH_DATABASE_URL,
a SQLAlchemy URL; BENCH_REDIS_URL, the limiter's storage; BENCH_RATELIMIT_PREFIX). Gunicorn
loads the app in each worker after the fork, so every worker opens its own connections.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PATH = "/api/v1/graduates/<uuid:graduate_id>/check-ins"
FLOOR_TABLE_DDL = (
    "CREATE TABLE bench_floor (id uuid PRIMARY KEY, graduate_id uuid NOT NULL, "
    "body jsonb NOT NULL, created_at timestamptz NOT NULL)"
)


def _database_url() -> str:
    return os.environ["BENCH_DATABASE_URL"]


def raw_floor() -> Flask:
    """Floor (a): parse the JSON body, INSERT one row on this worker's own connection."""
    import psycopg
    from flask import request
    from psycopg.types.json import Jsonb

    dsn = _database_url().replace("postgresql+psycopg://", "postgresql://", 1)
    app = Flask("raw_floor")
    worker: dict[str, psycopg.Connection] = {}

    @app.post(PATH)
    def submit(graduate_id: uuid.UUID):
        if "connection" not in worker:  # first request in this worker, after the fork
            worker["connection"] = psycopg.connect(dsn, autocommit=True)
        body = request.get_json()
        row_id = uuid.uuid4()
        worker["connection"].execute(
            "INSERT INTO bench_floor (id, graduate_id, body, created_at) VALUES (%s, %s, %s, %s)",
            (row_id, graduate_id, Jsonb(body), datetime.now(UTC)),
        )
        return {"id": str(row_id)}, 201

    return app


class _FloorBase(DeclarativeBase):
    pass


class FloorRow(_FloorBase):
    __tablename__ = "bench_floor"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    graduate_id: Mapped[uuid.UUID]
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def stack_floor() -> Flask:
    """Floor (b): our stack doing one ORM INSERT, with a marshmallow schema in and out."""
    import flask_smorest
    import marshmallow as ma
    from flask.views import MethodView
    from sqlalchemy import create_engine
    from sqlalchemy.orm import scoped_session, sessionmaker

    class Body(ma.Schema):
        class Meta:
            unknown = ma.RAISE

        questionnaire = ma.fields.String(required=True)
        answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(), required=True)
        answered_at = ma.fields.AwareDateTime(required=True)

    class Result(ma.Schema):
        id = ma.fields.UUID()
        answered_at = ma.fields.AwareDateTime()

    app = Flask("stack_floor")
    app.config.update(API_TITLE="stack floor", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = flask_smorest.Api(app)
    blp = flask_smorest.Blueprint("floor", __name__)
    session = scoped_session(sessionmaker(create_engine(_database_url()), expire_on_commit=False))

    @blp.route(PATH)
    class Submit(MethodView):
        @blp.arguments(Body)
        @blp.response(201, Result)
        def post(self, body: dict[str, Any], graduate_id: uuid.UUID) -> dict[str, Any]:
            row = FloorRow(
                id=uuid.uuid4(),
                graduate_id=graduate_id,
                body={**body, "answered_at": body["answered_at"].isoformat()},
                created_at=datetime.now(UTC),
            )
            session.add(row)
            session.commit()
            return {"id": row.id, "answered_at": body["answered_at"]}

    api.register_blueprint(blp)
    app.teardown_appcontext(lambda _exc: session.remove())
    return app


def full() -> Flask:
    """The companion API, accepting emulator tokens (COMPANION_ENV=test), with the write
    budget counted in Redis (BENCH_REDIS_URL) as in production."""
    from api import create_app

    return create_app(
        {
            "COMPANION_ENV": "test",
            "DATABASE_URL": _database_url(),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": os.environ["BENCH_REDIS_URL"],
            "RATELIMIT_PREFIX": os.environ.get("BENCH_RATELIMIT_PREFIX", "bench"),
        }
    )
