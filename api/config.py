"""Settings from the environment only, one class per mode, chosen by COMPANION_ENV.

There is no implicit mode: without COMPANION_ENV the app runs as production and
refuses to start unless production settings are complete. That keeps the Firebase
emulator convention (an authentication bypass) out of any real deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.db import PoolSettings

MODES = ("development", "test", "production")
PROJECT_DIR = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """Raised when the app must not start with these settings."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    firebase_project_id: str
    firebase_auth_emulator_host: str | None
    redis_url: str | None
    ratelimit_prefix: str
    enrollment_redeem_limit: str
    write_limit: str
    sign_in_limit: str
    max_body_bytes: int
    log_level: str
    log_format: str = "json"  # "text" (one readable line) is the development default
    cors_origins: tuple[str, ...] = ()
    content_dir: Path = PROJECT_DIR / "content"
    # Pushes: "console" (development, test) or "fcm"; see api/notifications/senders.py.
    push_sender: str = "console"
    fcm_base_url: str | None = None  # tests and benchmarks point this at a local fake
    fcm_credentials: str | None = None  # service-account JSON path; None: application default
    fcm_timeout_seconds: float = 10.0
    # Email, a clinician's second channel (api/notifications/mail.py): the console prints
    # in development and tests; production sends through SMTP_URL, STARTTLS required.
    smtp_url: str | None = None
    email_from: str = "Continuing care <no-reply@companion.invalid>"
    console_url: str = "http://localhost:5173"  # the sign-in link in every email
    database_pool: PoolSettings = field(default_factory=PoolSettings)
    # How often each user's Firebase account is re-read (disabled? tokens revoked?); 0: never.
    account_check_seconds: int = 0
    # The console's Firebase web sign-in (public values, not secrets); unset: no web sign-in.
    firebase_web_api_key: str | None = None
    firebase_auth_domain: str | None = None

    @property
    def uses_auth_emulator(self) -> bool:
        return bool(self.firebase_auth_emulator_host)


def _default_database_url(env: str) -> str | None:
    if env == "development":
        return f"sqlite:///{PROJECT_DIR / 'instance' / 'companion.db'}"
    if env == "test":
        return "sqlite://"
    return None


def _origins(value: str | None, env: str) -> tuple[str, ...]:
    """The clinician console's origins. Exact matches only: no wildcards, so no origin can
    read health data by accident; development allows the console's local dev server."""
    if value is None:
        return ("http://localhost:5173",) if env == "development" else ()
    origins = tuple(origin.strip().rstrip("/") for origin in value.split(",") if origin.strip())
    for origin in origins:
        if "*" in origin or not origin.startswith(("https://", "http://localhost")):
            raise ConfigError(f"CORS_ORIGINS takes exact https origins, not {origin!r}")
    return origins


def _log_format(value: str | None, env: str) -> str:
    fmt = value or ("text" if env == "development" else "json")
    if fmt not in ("json", "text"):
        raise ConfigError(f"LOG_FORMAT must be json or text, not {fmt!r}")
    return fmt


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """Merge the environment with explicit overrides and refuse unsafe combinations."""
    source: dict[str, Any] = {**os.environ, **(overrides or {})}
    env = source.get("COMPANION_ENV") or "production"
    if env not in MODES:
        raise ConfigError(f"COMPANION_ENV must be one of {', '.join(MODES)}, not {env!r}")

    emulator = source.get("FIREBASE_AUTH_EMULATOR_HOST") or None
    process_emulator = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    if env == "production":
        missing = [k for k in ("DATABASE_URL", "FIREBASE_PROJECT_ID") if not source.get(k)]
        if missing:
            raise ConfigError(
                f"production needs {' and '.join(missing)} set explicitly "
                "(COMPANION_ENV=development runs locally without them)"
            )
        if emulator or process_emulator:
            raise ConfigError(
                "FIREBASE_AUTH_EMULATOR_HOST is set: it makes firebase-admin accept unsigned "
                "tokens, so production refuses to start with it"
            )
    elif emulator is None:
        # Development and tests verify tokens offline by the emulator convention.
        emulator = "127.0.0.1:9099"

    # Production asks Firebase every 5 minutes per user; development and tests have no
    # Firebase to ask unless they run the emulator and set this.
    account_check_seconds = int(
        source.get("ACCOUNT_CHECK_SECONDS") or (300 if env == "production" else 0)
    )
    if env == "production" and not 0 < account_check_seconds <= 3600:
        raise ConfigError("production needs ACCOUNT_CHECK_SECONDS between 1 and 3600")

    database_url = source.get("DATABASE_URL") or _default_database_url(env)
    return Settings(
        env=env,
        database_url=str(database_url),
        firebase_project_id=str(source.get("FIREBASE_PROJECT_ID") or "demo-companion"),
        firebase_auth_emulator_host=emulator,
        redis_url=source.get("REDIS_URL") or None,
        ratelimit_prefix=str(source.get("RATELIMIT_PREFIX") or "companion"),
        enrollment_redeem_limit=str(
            source.get("ENROLLMENT_REDEEM_LIMIT") or "10 per hour;30 per day"
        ),
        write_limit=str(source.get("WRITE_LIMIT") or "60 per minute;600 per hour"),
        sign_in_limit=str(source.get("SIGN_IN_LIMIT") or "10 per minute;60 per hour"),
        max_body_bytes=int(source.get("MAX_BODY_BYTES") or 64 * 1024),
        log_level=str(source.get("LOG_LEVEL") or "INFO"),
        log_format=_log_format(source.get("LOG_FORMAT"), env),
        cors_origins=_origins(source.get("CORS_ORIGINS"), env),
        content_dir=Path(source.get("CONTENT_DIR") or PROJECT_DIR / "content"),
        push_sender=str(source.get("PUSH_SENDER") or ("fcm" if env == "production" else "console")),
        fcm_base_url=source.get("FCM_BASE_URL") or None,
        fcm_credentials=source.get("FCM_CREDENTIALS") or None,
        fcm_timeout_seconds=float(source.get("FCM_TIMEOUT_SECONDS") or 10.0),
        account_check_seconds=account_check_seconds,
        smtp_url=source.get("SMTP_URL") or None,
        email_from=str(source.get("EMAIL_FROM") or Settings.email_from),
        console_url=str(source.get("CONSOLE_URL") or Settings.console_url),
        firebase_web_api_key=source.get("FIREBASE_WEB_API_KEY") or None,
        firebase_auth_domain=source.get("FIREBASE_AUTH_DOMAIN") or None,
        database_pool=PoolSettings(
            size=int(source.get("DB_POOL_SIZE") or PoolSettings.size),
            max_overflow=int(source.get("DB_MAX_OVERFLOW") or PoolSettings.max_overflow),
            timeout_seconds=float(source.get("DB_POOL_TIMEOUT") or PoolSettings.timeout_seconds),
            statement_timeout_ms=int(
                source.get("DB_STATEMENT_TIMEOUT_MS") or PoolSettings.statement_timeout_ms
            ),
            ping_after_idle_seconds=float(
                source.get("DB_PING_AFTER_IDLE_SECONDS") or PoolSettings.ping_after_idle_seconds
            ),
        ),
    )
