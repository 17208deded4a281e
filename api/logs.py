"""Logs tagged with the request id: JSON lines in production and tests, one readable line
each in development. Ids and counts only: never answers, notes or tokens."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from flask import g, has_request_context

# Attributes every LogRecord has: anything else on a record came from a call's `extra`.
STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
# Extras that would carry a person's words or secrets are dropped whatever logged them.
PRIVATE_KEYS = frozenset(
    {"answers", "answer", "note", "notes", "email", "emails", "token", "tokens", "body", "text"}
)
# ...and so is any value that looks like an email address or a JWT.
PRIVATE_VALUE = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}|eyJ[\w-]+\.[\w-]*\.", re.IGNORECASE)
REDACTED = "[redacted]"


def _safe(key: str, value: object) -> object:
    if key.lower() in PRIVATE_KEYS:
        return REDACTED
    if isinstance(value, str) and PRIVATE_VALUE.search(value):
        return REDACTED
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with every field the caller passed in `extra`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context() and g.get("request_id"):
            entry["request_id"] = g.request_id
        for key, value in vars(record).items():
            if key not in STANDARD and key not in entry:
                entry[key] = _safe(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(JsonFormatter):
    """The same fields as JSON, as one short line a person reads beside the dev banner:
    `22:31:05 INFO  api.access request method=GET route=/api/v1/me status=200`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = json.loads(super().format(record))
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        head = f"{stamp} {entry.pop('level'):<5} {entry.pop('logger')} {entry.pop('message')}"
        entry.pop("time", None)
        trace = entry.pop("exception", None)
        fields = " ".join(f"{key}={value}" for key, value in entry.items())
        return "\n".join(part for part in (f"{head} {fields}".rstrip(), trace) if part)


def configure_logging(level: str, fmt: str = "json") -> None:
    """One handler on the root logger (JSON, or text for development), once per process."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(TextFormatter() if fmt == "text" else JsonFormatter())
        root.addHandler(handler)
    # Alembic and APScheduler are chatty (our own lines say what ran); werkzeug repeats our
    # access log with full query strings.
    for noisy in ("alembic", "apscheduler", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
