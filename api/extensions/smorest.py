"""The only file that subclasses flask_smorest: error shape, bearer auth, transactions, paging."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from functools import wraps
from http import HTTPStatus
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import g, request
from flask_smorest.pagination import Page
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from api.audit import service as audit
from api.auth import Actor, account_check_interval, actor_for, bearer_token, check_claims
from api.errors import Conflict, DomainError, Forbidden, NotFound, Unavailable
from api.graduates import service as graduates
from api.runtime import runtime

log = logging.getLogger("api.errors")

BEARER: dict[str, list[str]] = {"bearerAuth": []}
BODY_LOCATIONS = {"json", "form", "files"}


class Schema(ma.Schema):
    """Every schema refuses unknown fields (no mass assignment) and text no database can store
    (NUL characters, lone UTF-16 surrogates: a 500 otherwise, and never meaningful input),
    and nesting deeper than any of our bodies has."""

    class Meta:
        unknown = ma.RAISE

    @ma.pre_load
    def refuse_unstorable(self, data: Any, **_kwargs: Any) -> Any:
        problem = _unstorable(data)
        if problem:
            raise ma.ValidationError(problem)
        return data


# Our deepest body (a plan's safety plan) is a few levels; a walk of this depth is cheap.
MAX_DEPTH = 32
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _unstorable(data: Any) -> str | None:
    """What makes a parsed body unstorable, walked without recursion (bodies may be deep)."""
    pending = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "Text may not contain NUL (\\u0000) characters."
            if LONE_SURROGATE.search(value):
                return "Text may not contain lone UTF-16 surrogates (\\ud800-\\udfff)."
        elif isinstance(value, Mapping | list | tuple):
            if depth >= MAX_DEPTH:
                return f"The body is nested more than {MAX_DEPTH} levels deep."
            children = [*value.keys(), *value.values()] if isinstance(value, Mapping) else value
            pending.extend((child, depth + 1) for child in children)
    return None


class StrictBoolean(ma.fields.Boolean):
    """true or false only: "yes", 1 and "0" are mistakes worth a 422 in a clinical record."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def _field_errors(errors: dict[str, Any]) -> dict[str, Any]:
    """webargs nests errors under their location; clients want them keyed by field."""
    fields: dict[str, Any] = {}
    for location, found in errors.items():
        if isinstance(found, dict):
            fields.update(found)
        else:
            fields["_body" if location in BODY_LOCATIONS else location] = found
    return fields


def _summary(fields: dict[str, Any]) -> str:
    parts = []
    for name, messages in fields.items():
        text = messages if isinstance(messages, str) else "; ".join(map(str, _flatten(messages)))
        parts.append(text if name == "_body" else f"{name}: {text}")
    return "Invalid input. " + " ".join(parts) if parts else "Invalid input."


def _flatten(messages: Any) -> list[Any]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flatten(value)]
    if isinstance(messages, list):
        return [m for value in messages for m in _flatten(value)]
    return [messages]


def error_body(code: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
    if errors:
        body["errors"] = errors
    return body


PAGINATION_HEADER = {
    "description": "Pagination metadata, JSON-encoded: total, total_pages, first_page, "
    "last_page, page, and previous_page / next_page where they exist.",
    "schema": {"type": "string"},
}


class Api(flask_smorest.Api):
    def init_app(self, app: Any, *, spec_kwargs: dict[str, Any] | None = None) -> None:
        super().init_app(app, spec_kwargs=spec_kwargs)
        self.spec.components.security_scheme(
            "bearerAuth",
            {"type": "http", "scheme": "bearer", "bearerFormat": "Firebase ID token"},
        )
        app.register_error_handler(DomainError, self.handle_domain_error)
        app.register_error_handler(OperationalError, self.handle_database_unavailable)
        app.register_error_handler(PoolTimeout, self.handle_database_unavailable)

    def _register_pagination_header(self) -> None:
        """flask-smorest documents X-Pagination as an object; on the wire it is a JSON string,
        and clients and schema checkers read the spec literally."""
        self.spec.components.header("PAGINATION", PAGINATION_HEADER, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, Any], int, dict]:
        payload, code, headers = super().handle_http_exception(error)
        if code >= 500:
            # Flask has already logged the traceback, tagged with this request id.
            payload["message"] = (
                f"Something went wrong on our side. Quote request id {g.get('request_id')}."
            )
            return _with_extras(payload), code, headers
        fields = _field_errors(payload.pop("errors", None) or {})
        if fields:
            payload["errors"] = fields
        payload.setdefault("message", _summary(fields) if fields else error.description)
        return _with_extras(payload), code, headers

    def handle_domain_error(self, error: DomainError) -> tuple[dict[str, Any], int]:
        roll_back_and_record_denial(error)
        return _with_extras(error_body(error.status, error.message, error.errors)), error.status

    def handle_database_unavailable(self, error: Exception) -> tuple[dict[str, Any], int, dict]:
        """A cut connection, a full pool or a statement timeout: 503 and Retry-After, so
        clients retry (a check-in with the same Idempotency-Key is stored once)."""
        log.warning(
            "database unavailable",
            extra={"request_id": g.get("request_id"), "error": type(error).__name__},
        )
        try:
            runtime().db.session.rollback()
        except OperationalError:  # the connection is gone; the pool has dropped it
            runtime().db.session.remove()
        unavailable = Unavailable("The service is briefly unavailable. Please try again.")
        body = error_body(unavailable.status, unavailable.message, None)
        headers = {"Retry-After": str(Unavailable.retry_after_seconds)}
        return _with_extras(body), unavailable.status, headers


def roll_back_and_record_denial(error: DomainError) -> None:
    """A refused request changes nothing, except that a denial is part of the audit trail,
    so it outlives the rollback (the API and the console both end a refusal here)."""
    rt = runtime()
    rt.db.session.rollback()
    if isinstance(error, Forbidden | NotFound) and error.graduate_id and g.get("actor"):
        audit.record(
            session=rt.db.session(),
            actor=g.actor,
            action=error.action or "graduate.access",
            graduate_id=error.graduate_id,
            outcome="denied",
            now=rt.clock.now(),
        )
        rt.db.session.commit()


def _with_extras(payload: dict[str, Any]) -> dict[str, Any]:
    """What a route asked every error reply of this request to carry (the safety block)."""
    extras = g.get("error_extras")
    if extras is not None:
        payload.update(extras(payload))
    return payload


def request_claims() -> dict[str, Any]:
    """The claims of this request's bearer token, its signature verified once per request:
    the rate limiter needs the caller before the view signs them in, and both ask here.
    Only the verifier's checks; `check_claims` adds ours. A refusal is remembered too."""
    if "token_claims" not in g:
        try:
            header = request.headers.get("Authorization")
            g.token_claims = runtime().verifier.verify(bearer_token(header))
        except DomainError as refused:
            g.token_claims = refused
    if isinstance(g.token_claims, DomainError):
        raise g.token_claims
    return g.token_claims


def _sign_in(session: Session, *, recheck_account: bool) -> Actor:
    """The caller as an Actor. Sign-in is the request's first statement: if it finds the
    pooled connection dropped by the server (a restart since its last use; api.db pings
    only connections that sat idle), SQLAlchemy has already dropped the pool's other
    connections too, and sign-in, which wrote nothing yet, runs once more on a new one."""
    rt = runtime()
    claims = request_claims()
    check_claims(claims, project_id=rt.settings.firebase_project_id, now=rt.clock.now())

    def actor() -> Actor:
        return actor_for(
            session=session,
            claims=claims,
            now=rt.clock.now(),
            request_id=g.get("request_id"),
            route=f"{request.method} {request.url_rule.rule if request.url_rule else ''}",
            verifier=rt.verifier,
            account_check_every=account_check_interval(rt.settings.account_check_seconds),
            recheck_account=recheck_account,
        )

    try:
        return actor()
    except OperationalError as error:
        if not error.connection_invalidated:
            raise
        session.rollback()
        return actor()


class Blueprint(flask_smorest.Blueprint):
    DEFAULT_PAGINATION_PARAMETERS = {"page": 1, "page_size": 20, "max_page_size": 100}  # API.md

    def requires(
        self, *roles: str, recheck_account: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Sign-in required (any role if none named); one transaction per request.

        A caller holding none of `roles` gets 403: the route is not for them at all.
        Which records they may touch is decided below, in `api.access`. Firebase is asked
        about the account every ACCOUNT_CHECK_SECONDS per user, and at once on routes with
        `recheck_account` (registering a device).
        """

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                rt = runtime()
                session = rt.db.session()
                g.actor = _sign_in(session, recheck_account=recheck_account)
                # Any request is app activity, refused ones included (DOMAIN.md rule 4), so
                # it is committed now, not with a request that may yet fail and roll back.
                if g.actor.graduate_id is not None and graduates.note_activity(
                    session=session, graduate_id=g.actor.graduate_id, now=rt.clock.now()
                ):
                    session.commit()
                if roles and not g.actor.roles & set(roles):
                    raise Forbidden(f"This is for {' or '.join(roles)} accounts only.")
                try:
                    result = view(*args, **kwargs)
                    session.commit()
                except IntegrityError as exc:
                    session.rollback()
                    raise Conflict(_conflict_message(exc)) from None
                except BaseException:
                    session.rollback()
                    raise
                return result

            documented = self.doc(security=[BEARER])(wrapper)
            for status, name in ((401, "UNAUTHORIZED"), (403, "FORBIDDEN")):
                documented = self.alt_response(status, response=name)(documented)
            return documented

        return decorator

    def public(self, view: Callable[..., Any]) -> Callable[..., Any]:
        """Documents a route that needs no sign-in."""
        return self.doc(security=[])(view)


def _conflict_message(exc: IntegrityError) -> str:
    constraint = getattr(getattr(getattr(exc, "orig", None), "diag", None), "constraint_name", None)
    suffix = f" ({constraint})" if constraint else ""
    return f"This conflicts with an existing record{suffix}."


class ListPage(Page):
    """Pages a list already in memory (content loaded from files)."""


# Past the end of any real collection: a larger page number would overflow the databases'
# 64-bit integers (500), while this offset just returns an empty page.
MAX_OFFSET = 2**62


def offset_of(page_params: Any) -> int:
    return min(page_params.first_item, MAX_OFFSET)


class SelectPage(Page):
    """Pages a SQLAlchemy select() in the database: one COUNT, one LIMIT/OFFSET."""

    @property
    def items(self) -> list[Any]:
        statement: Select = self.collection
        return list(
            runtime()
            .db.session.scalars(
                statement.offset(offset_of(self.page_params)).limit(self.page_params.page_size)
            )
            .unique()
        )

    @property
    def item_count(self) -> int:
        statement: Select = self.collection
        counted = select(func.count()).select_from(statement.order_by(None).subquery())
        return int(runtime().db.session.scalar(counted) or 0)
