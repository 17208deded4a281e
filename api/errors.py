"""Domain errors raised by services; the Api subclass turns each into the one error format."""

from __future__ import annotations

import uuid
from typing import Any


class DomainError(Exception):
    status = 400

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class Unavailable(DomainError):
    """The database is briefly out of reach (a cut connection, a full pool, a timeout):
    nothing was written, and the same request may be retried."""

    status = 503
    retry_after_seconds = 5


class Unauthorized(DomainError):
    status = 401


class Forbidden(DomainError):
    """The caller knows the record exists but may not do this; staff and therapist denials
    on a graduate's record are audited."""

    status = 403

    def __init__(
        self, message: str, *, graduate_id: uuid.UUID | None = None, action: str | None = None
    ) -> None:
        super().__init__(message)
        self.graduate_id = graduate_id
        self.action = action


class NotFound(DomainError):
    """No such record, or one the caller may not know exists. With `graduate_id` it is the
    latter: the caller sees a plain 404, the audit trail records the denial."""

    status = 404

    def __init__(
        self, message: str, *, graduate_id: uuid.UUID | None = None, action: str | None = None
    ) -> None:
        super().__init__(message)
        self.graduate_id = graduate_id
        self.action = action


class Conflict(DomainError):
    status = 409


class Invalid(DomainError):
    status = 422
