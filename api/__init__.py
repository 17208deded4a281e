"""The companion API: create_app() builds one app; many may live in one process."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from api.auth import FirebaseTokenVerifier
from api.clock import SystemClock
from api.config import ConfigError, load_settings
from api.content.loader import ContentError, load_library
from api.db import Database
from api.extensions import bodies
from api.extensions.smorest import Api
from api.logs import configure_logging
from api.reminders import changes  # noqa: F401  (every session marks whose reminders a write changes)
from api.runtime import Runtime

access_log = logging.getLogger("api.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Settings come from the environment; `config` overrides them (tests pass DATABASE_URL).

    `config` may also carry objects: CLOCK (a Clock), TOKEN_VERIFIER and SESSION_COOKIES
    (the console's session maker, `api.console.sessions.SessionCookies`).
    """
    overrides = dict(config or {})
    clock = overrides.pop("CLOCK", None) or SystemClock()
    verifier = overrides.pop("TOKEN_VERIFIER", None)
    session_cookies = overrides.pop("SESSION_COOKIES", None)
    settings = load_settings(overrides)
    configure_logging(settings.log_level, settings.log_format)
    if settings.uses_auth_emulator:
        # firebase-admin reads this only from the process environment.
        os.environ["FIREBASE_AUTH_EMULATOR_HOST"] = str(settings.firebase_auth_emulator_host)

    content = load_library(settings.content_dir)  # ContentError: the app must not start

    app = Flask("api")
    app.config.update(
        API_TITLE="Continuing-care companion",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        COMPANION_ENV=settings.env,
    )
    app.extensions["companion"] = Runtime(
        settings=settings,
        db=Database(settings.database_url, settings.database_pool),
        clock=clock,
        verifier=verifier or FirebaseTokenVerifier(settings.firebase_project_id),
        content=content,
    )
    _install_request_hooks(app)
    _register_api(app)  # its app-wide hooks (the check-in safety screen) run first
    bodies.install(app)  # then bodies are parsed, before the rate limiter reads them

    from api import console, ratelimit, security
    from api.cli import register_cli

    ratelimit.install(app, settings)
    security.install(app, settings)
    console.install(
        app, settings, session_cookies
    )  # Swagger UI (/api/docs) and the care-team console
    register_cli(app)
    return app


def create_app_or_exit() -> Flask:
    """The app for a process someone started by hand (wsgi, jobs, the `companion` command):
    a missing setting or a broken content file ends it in one line that names the problem,
    not a traceback."""
    try:
        return create_app()
    except (ConfigError, ContentError) as error:
        raise SystemExit(f"companion: {error}") from None


def _register_api(app: Flask) -> None:
    from api.audit.routes import blp as audit_blp
    from api.checkins.routes import blp as checkins_blp
    from api.content.routes import blp as content_blp
    from api.flags.routes import blp as flags_blp
    from api.graduates.routes import blp as graduates_blp
    from api.groups.routes import blp as groups_blp
    from api.health import blp as health_blp
    from api.notifications.routes import blp as notifications_blp
    from api.plans.routes import blp as plans_blp
    from api.privacy.routes import blp as privacy_blp
    from api.programs.routes import blp as programs_blp
    from api.reminders.routes import blp as reminders_blp
    from api.summaries.routes import blp as summaries_blp
    from api.users.routes import blp as me_blp

    api = Api(app)
    for blueprint in (
        health_blp,
        me_blp,
        programs_blp,
        graduates_blp,
        plans_blp,
        content_blp,
        checkins_blp,
        flags_blp,
        groups_blp,
        audit_blp,
        summaries_blp,
        notifications_blp,
        reminders_blp,
        privacy_blp,
    ):
        api.register_blueprint(blueprint)


def _install_request_hooks(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if request.path.startswith("/api/v1"):
            response.headers.setdefault("Cache-Control", "no-store")  # content reads revalidate
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule else None,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - g.get("started", 0)) * 1000, 1),
            },
        )
        return response

    @app.teardown_appcontext
    def _release(_exc: BaseException | None) -> None:
        app.extensions["companion"].db.session.remove()
