"""Console pages. Thin like the API routes: each calls the API's service functions (which
check `api.access` and write the audit trail) and renders what they return."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from api import access
from api.audit import service as audit
from api.auth import Actor
from api.checkins import service as checkins
from api.checkins.models import CheckIn
from api.console import charts, sessions, text
from api.console.sessions import COOKIE
from api.errors import DomainError, Forbidden, Invalid, Unauthorized
from api.extensions.smorest import roll_back_and_record_denial
from api.flags import service as flags
from api.flags.models import FlagEvent
from api.graduates.models import Graduate
from api.graduates.service import known_timezones
from api.notifications import service as notifications
from api.notifications.models import Notification
from api.plans import appointments, skills
from api.plans import service as plans
from api.plans.routes import _content as plan_catalogue
from api.plans.schemas import STEP_DOWN_KINDS, StepDownBody
from api.runtime import Runtime, runtime
from api.summaries import html as summary_html
from api.summaries import service as summaries
from api.users.models import User

blp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
)
CSRF_COOKIE = "console_csrf"  # before sign-in there is no session to derive the token from
ZONE_COOKIE = "console_zone"  # the reader's zone, worked out once at sign-in
CARE_TEAM = frozenset({"therapist", "staff"})
RUNNERS = frozenset({"coordinator", "staff"})  # who runs groups, as the API's group routes say
STAFF = frozenset({"staff"})
PAGE_SIZE = 50


# --- the frame every page shares ----------------------------------------------------------


def _maker() -> sessions.SessionCookies:
    return current_app.extensions["console_sessions"]


def _secure() -> bool:
    return runtime().settings.env == "production"


@blp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = current_app.extensions["console_csp"]
    # Browsers send a real Origin on our own form posts, and nothing to other sites.
    response.headers["Referrer-Policy"] = "same-origin"
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"  # health data stays off shared caches
    return response


@blp.app_template_global()
def csrf_token() -> str:
    return g.get("csrf_token", "")


def _error_page(status: int, message: str, errors: dict[str, Any] | None = None) -> tuple[str, int]:
    """The refusal in words, with each field's problem as the API's `errors` names it."""
    problems = [
        (field, "; ".join(_flat(detail))) for field, detail in sorted((errors or {}).items())
    ]
    page = render_template("console/error.html", status=status, message=message, problems=problems)
    return page, status


def _flat(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{key}: {text}" for key, value in detail.items() for text in _flat(value)]
    if isinstance(detail, list):
        return [text for value in detail for text in _flat(value)]
    return [str(detail)]


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """A care-team member's page (therapists and staff)."""
    return for_roles(CARE_TEAM, "The console's clinical pages are for therapists and staff.")(view)


def for_roles(roles: frozenset[str], refusal: str) -> Callable[..., Any]:
    """A page for `roles`, as `blp.requires` guards an API route: the session cookie checked
    as the API checks tokens, CSRF on every POST, one transaction, and refusals rendered (and
    audited) as the API does. Which records are reached is left to `api.access`."""
    return lambda view: _guarded(view, roles, refusal)


def _guarded(view: Callable[..., Any], roles: frozenset[str], refusal: str) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = runtime()
        session = rt.db.session()
        cookie = request.cookies.get(COOKIE)
        try:
            g.actor = sessions.current(
                session=session,
                rt=rt,
                cookies=_maker(),
                cookie=cookie,
                request_id=g.get("request_id"),
                route=f"{request.method} {request.url_rule.rule if request.url_rule else ''}",
            )
        except (Unauthorized, Forbidden):
            session.rollback()
            target = url_for(".sign_in", next=request.full_path.rstrip("?"))
            response = redirect(target, 303)
            if cookie:
                response.delete_cookie(COOKIE, path="/console")
            return response
        g.csrf_token = sessions.csrf_token(cookie or "")
        if request.method == "POST" and not _same_origin_post(cookie):
            session.rollback()
            return _error_page(400, "This form has expired. Go back, reload the page and retry.")
        if not g.actor.roles & roles:
            session.rollback()
            return _error_page(403, refusal)
        g.viewer_zone = _zone_cookie()
        try:
            result = view(*args, **kwargs)
            session.commit()
        except IntegrityError:
            session.rollback()
            return _error_page(409, "Someone else changed this at the same moment; reload.")
        except DomainError as error:
            roll_back_and_record_denial(error)
            return _error_page(error.status, error.message, error.errors)
        except BaseException:
            session.rollback()
            raise
        return result

    return wrapper


def _same_origin_post(secret: str | None) -> bool:
    """The form's token, and no other site's Origin ("null" says nothing: the token decides)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin != request.host_url.rstrip("/"):
        return False
    return sessions.csrf_ok(secret, request.form.get("csrf_token"))


def _viewer_zone(rt: Runtime, actor: Actor) -> str:
    """The zone a therapist's weekly summary arrives in: theirs, or their caseload's."""
    if "therapist" not in actor.roles:
        return "UTC"
    return summaries.preferences(session=rt.db.session(), actor=actor)["timezone"]


def _zone_cookie() -> str:
    zone = request.cookies.get(ZONE_COOKIE, "UTC")
    return zone if zone in known_timezones() else "UTC"


@blp.app_template_filter("when")
def _when(moment: datetime | None, zone: str | None = None) -> str:
    return text.when(moment, zone or g.get("viewer_zone", "UTC"))


@blp.app_context_processor
def _labels() -> dict[str, Any]:
    actor = g.get("actor")
    roles = actor.roles if actor else set()
    nav = {  # a coordinator's console has no clinical link at all
        "clinical": bool(roles & CARE_TEAM),
        "groups": bool(roles & RUNNERS),
        "staff": bool(roles & STAFF),
    }
    return {"labels": text, "viewer_zone": g.get("viewer_zone"), "actor": actor, "nav": nav}


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect."""
    if not target:
        return url_for(".caseload")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/"):
        return url_for(".caseload")
    return target


# --- signing in and out -------------------------------------------------------------------


@blp.get("/")
def home() -> BaseResponse:
    """Where each role starts: the care team at the caseload, coordinators at their groups."""
    return _home()


@for_roles(CARE_TEAM | RUNNERS, "The console is for care teams and group coordinators.")
def _home() -> BaseResponse:
    if not g.actor.roles & CARE_TEAM:
        return redirect(url_for(".groups"), 303)
    return redirect(url_for(".caseload"), 303)


def _sign_in_page(status: int = 200, message: str | None = None) -> Response:
    rt = runtime()
    pre = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    g.csrf_token = sessions.csrf_token(pre)
    settings = rt.settings
    body = render_template(
        "console/sign_in.html",
        development=settings.env != "production",
        firebase=(
            {
                "api_key": settings.firebase_web_api_key,
                "auth_domain": settings.firebase_auth_domain
                or f"{settings.firebase_project_id}.firebaseapp.com",
                "project_id": settings.firebase_project_id,
            }
            if settings.firebase_web_api_key
            else None
        ),
        next=_safe_next(request.values.get("next")),
        message=message,
    )
    response = Response(body, status=status, mimetype="text/html")
    response.set_cookie(
        CSRF_COOKIE, pre, path="/console", httponly=True, secure=_secure(), samesite="Lax"
    )
    return response


@blp.get("/sign-in")
def sign_in() -> Response:
    return _sign_in_page()


def _pre_session_csrf_ok() -> bool:
    return _same_origin_post(request.cookies.get(CSRF_COOKIE))


def _begin(id_token: str) -> BaseResponse:
    rt = runtime()
    session = rt.db.session()
    try:
        cookie, actor = sessions.start(session=session, rt=rt, cookies=_maker(), id_token=id_token)
        zone = _viewer_zone(rt, actor)
        session.commit()
    except DomainError as error:
        session.rollback()
        return _sign_in_page(error.status, error.message)
    target = _safe_next(request.form.get("next"))
    if target == url_for(".caseload") and not actor.roles & CARE_TEAM:
        target = url_for(".home")  # a coordinator's console starts at their groups
    response = redirect(target, 303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(sessions.LIFETIME.total_seconds()),
        path="/console",
        httponly=True,
        secure=_secure(),
        samesite="Lax",
    )
    response.set_cookie(
        ZONE_COOKIE, zone, path="/console", httponly=True, secure=_secure(), samesite="Lax"
    )
    response.delete_cookie(CSRF_COOKIE, path="/console")
    return response


@blp.post("/sign-in")
def development_sign_in() -> BaseResponse:
    """The development and test form; production answers as if it did not exist."""
    rt = runtime()
    if rt.settings.env == "production":
        return _error_page_response(404, "Not found.")
    if not _pre_session_csrf_ok():
        return _sign_in_page(400, "The sign-in form expired; try again.")
    try:
        token = sessions.development_token(rt=rt, email=request.form.get("email", ""))
    except DomainError as error:
        return _sign_in_page(error.status, error.message)
    return _begin(token)


@blp.post("/session")
def create_session() -> BaseResponse:
    """Firebase's web sign-in posts its fresh ID token here; it becomes the session cookie."""
    if not _pre_session_csrf_ok():
        return _sign_in_page(400, "The sign-in form expired; try again.")
    return _begin(request.form.get("id_token", ""))


@blp.post("/sign-out")
def sign_out() -> BaseResponse:
    cookie = request.cookies.get(COOKIE)
    if cookie and not _same_origin_post(cookie):
        return _error_page_response(400, "This form has expired. Reload the page and retry.")
    rt = runtime()
    session = rt.db.session()
    sessions.end(session=session, rt=rt, cookies=_maker(), cookie=cookie)
    session.commit()
    response = redirect(url_for(".sign_in", signed_out=1), 303)
    response.delete_cookie(COOKIE, path="/console")
    response.delete_cookie(ZONE_COOKIE, path="/console")
    return response


def _error_page_response(status: int, message: str) -> Response:
    body, code = _error_page(status, message)
    return Response(body, status=code, mimetype="text/html")


# --- caseload -----------------------------------------------------------------------------


SORTS: dict[str, Callable[[dict[str, Any]], Any] | None] = {
    "urgency": None,  # the service's order: most severe flag, then the worse band
    "name": lambda row: row["display_name"].lower(),
    "last_check_in": lambda row: (row["last_check_in_at"] is not None, row["last_check_in_at"]),
    "graduated": lambda row: row["graduation_date"],
}


@blp.get("/caseload")
@signed_in
def caseload() -> str:
    rt = runtime()
    now = rt.clock.now()
    rows = summaries.caseload(session=rt.db.session(), actor=g.actor, now=now)
    g.unread = _unread()
    for row in rows:
        row["days_since"] = text.days_since(row["graduation_date"], row["timezone"], now)
        row["phase"] = text.phase(row["days_since"])
    sort = request.args.get("sort", "urgency")
    key = SORTS.get(sort)
    if key is not None:
        rows.sort(key=key)
    else:
        sort = "urgency"
    return render_template("console/caseload.html", rows=rows, sort=sort, sorts=list(SORTS))


# --- flags --------------------------------------------------------------------------------


def _names(session: Any, graduate_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not graduate_ids:
        return {}
    return dict(
        session.execute(
            select(Graduate.id, Graduate.display_name).where(Graduate.id.in_(graduate_ids))
        ).all()
    )


@blp.get("/flags")
@signed_in
def flag_queue() -> str:
    rt = runtime()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    status = request.args.get("status") if request.args.get("status") in STATUS_VIEWS else None
    rules_version = request.args.get("rules_version") or None
    g.unread = _unread()
    found, total = flags.page_for(
        session=rt.db.session(),
        actor=g.actor,
        status=None if status == "open" else status,
        graduate_id=None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        now=rt.clock.now(),
        rules_version=rules_version,
    )
    return render_template(
        "console/flags.html",
        flags=found,
        names=_names(rt.db.session(), {flag.graduate_id for flag in found}),
        acknowledgers=_acknowledgers(rt.db.session(), [flag.id for flag in found]),
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        status=status or "open",
        rules_version=rules_version,
    )


STATUS_VIEWS = ("open", "resolved", "all")


def _acknowledgers(session: Any, flag_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Who acknowledged each flag on the page, by email (one statement for the page)."""
    if not flag_ids:
        return {}
    rows = session.execute(
        select(FlagEvent.flag_id, User.email)
        .join(User, User.id == FlagEvent.actor_user_id)
        .where(FlagEvent.flag_id.in_(flag_ids), FlagEvent.action == "acknowledged")
        .order_by(FlagEvent.id)
    ).all()
    return {flag_id: email for flag_id, email in rows}


@blp.get("/flags/<uuid:flag_id>")
@signed_in
def flag_page(flag_id: uuid.UUID) -> str:
    rt = runtime()
    session = rt.db.session()
    flag, events = flags.with_history(
        session=session, actor=g.actor, flag_id=flag_id, now=rt.clock.now()
    )
    people = _people(session, {event.actor_user_id for event in events})
    evidence = _evidence(session, flag)
    return render_template(
        "console/flag.html",
        flag=flag,
        graduate_name=_names(session, {flag.graduate_id})[flag.graduate_id],
        events=events,
        people=people,
        evidence=evidence,
        outcomes=flags.OUTCOMES,
        done=request.args.get("done"),
    )


def _people(session: Any, user_ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Who did something, by name: graduates by their name, clinicians by their email."""
    ids = {each for each in user_ids if each is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(User.id, User.email, Graduate.display_name)
        .outerjoin(Graduate, Graduate.user_id == User.id)
        .where(User.id.in_(ids))
    )
    return {row.id: row.display_name or row.email for row in rows}


def _evidence(session: Any, flag: Any) -> list[CheckIn]:
    """The check-ins a flag names as evidence, oldest first. The flag was read under the
    access its source needs, so its evidence is readable too (Part 2 only under Part 2)."""
    ids = []
    for item in flag.evidence:
        try:
            ids.append(uuid.UUID(str(item)))
        except ValueError:
            continue
    if not ids:
        return []
    return list(
        session.scalars(
            select(CheckIn)
            .where(CheckIn.id.in_(ids), CheckIn.graduate_id == flag.graduate_id)
            .order_by(CheckIn.answered_at)
        )
    )


@blp.post("/flags/<uuid:flag_id>/acknowledge")
@signed_in
def acknowledge(flag_id: uuid.UUID) -> BaseResponse:
    rt = runtime()
    note = request.form.get("note", "").strip() or None
    flags.acknowledge(
        session=rt.db.session(), actor=g.actor, flag_id=flag_id, note=note, now=rt.clock.now()
    )
    return redirect(url_for(".flag_page", flag_id=flag_id, done="acknowledged"), 303)


@blp.post("/flags/<uuid:flag_id>/resolve")
@signed_in
def resolve(flag_id: uuid.UUID) -> BaseResponse:
    rt = runtime()
    outcome = request.form.get("outcome", "")
    note = request.form.get("note", "").strip()
    problems = {}
    if outcome not in flags.OUTCOMES:
        problems["outcome"] = ["Choose what was decided."]
    if not note or len(note) > 4000:
        problems["note"] = ["Write a short note (up to 4,000 characters)."]
    if problems:
        raise Invalid("Choose an outcome and write a note.", errors=problems)
    flags.resolve(
        session=rt.db.session(),
        actor=g.actor,
        flag_id=flag_id,
        outcome=outcome,
        note=note,
        now=rt.clock.now(),
    )
    return redirect(url_for(".flag_page", flag_id=flag_id, done="resolved"), 303)


# --- a graduate's page --------------------------------------------------------------------

HISTORY_LIMIT = 20
MAX_STEP_DOWN = 20  # the API's limit; the form shows one empty row more
MAX_TARGET = 14  # the API's limit for a skill's weekly target


@blp.get("/graduates/<uuid:graduate_id>")
@signed_in
def graduate_page(graduate_id: uuid.UUID) -> str:
    """Trends, check-ins, appointments and practice: one access check (the check-in
    consent; BAM only under the Part 2 consent) and, in the audit trail, the same reads the
    API's trends, check-in list and appointment routes record for the same data."""
    rt = runtime()
    session, now = rt.db.session(), rt.clock.now()
    found = access.graduate(
        session=session,
        actor=g.actor,
        graduate_id=graduate_id,
        need=access.Need.CLINICAL,
        action="check_in.trends",
        now=now,
    )
    graduate = found.graduate
    instruments = ("phq9", "gad7", "bam") if found.sees_substance_use else ("phq9", "gad7")
    for action in (
        *["check_in.trends"] * (len(instruments) - 1),
        "check_in.list",
        "plan.appointments.read",
    ):
        audit.record(
            session=session,
            actor=g.actor,
            action=action,
            graduate_id=graduate.id,
            program_id=graduate.program_id,
            outcome="allowed",
            now=now,
        )
    trends = checkins.trends_for(
        session=session, graduate=graduate, instruments=instruments, library=rt.content
    )
    history = list(
        session.scalars(
            checkins.history_for(
                graduate_id=graduate.id,
                sees_substance_use=found.sees_substance_use,
                questionnaire=None,
            ).limit(HISTORY_LIMIT)
        )
    )
    upcoming = appointments.occurrences_for(
        session=session,
        graduate=graduate,
        start=now - timedelta(days=14),
        end=now + timedelta(days=28),
    )
    practice = skills.practice_since(
        session=session, graduate_id=graduate.id, since=now - timedelta(days=28)
    )
    return render_template(
        "console/graduate.html",
        graduate=graduate,
        days_since=text.days_since(graduate.graduation_date, graduate.timezone, now),
        charts=[charts.trend_svg(trend, rt.content, graduate.timezone) for trend in trends],
        history=history,
        forms={
            each.questionnaire: rt.content.questionnaire(each.questionnaire) for each in history
        },
        upcoming=upcoming,
        practice=practice,
        titles=_skill_titles(session, graduate, {entry.skill_id for entry in practice}),
    )


def _skill_titles(session: Any, graduate: Graduate, skill_ids: set[str]) -> dict[str, str]:
    """Titles from the library; the program's own skills cost one query, only when needed."""
    rt = runtime()
    titles = {each: skill.title for each in skill_ids if (skill := rt.content.skill(each))}
    if skill_ids - set(titles):
        titles.update(
            plan_catalogue().skill_titles(session=session, program_id=graduate.program_id)
        )
    return titles


@blp.get("/graduates/<uuid:graduate_id>/plan")
@signed_in
def plan_page(graduate_id: uuid.UUID) -> str:
    """The plan as the API's plan read returns it, with the care team's part editable."""
    rt = runtime()
    session, now = rt.db.session(), rt.clock.now()
    plan = plans.read(
        session=session, actor=g.actor, graduate_id=graduate_id, catalogue=plan_catalogue(), now=now
    )
    graduate = session.get(Graduate, graduate_id)  # loaded by the check above: no query
    return render_template(
        "console/plan.html",
        graduate=graduate,
        plan=plan,
        step_down_kinds=STEP_DOWN_KINDS,
        done=request.args.get("done"),
    )


@blp.post("/graduates/<uuid:graduate_id>/plan/step-down")
@signed_in
def edit_step_down(graduate_id: uuid.UUID) -> BaseResponse:
    """The care team's part of the plan, with the API's If-Match rule: the form carries the
    version it was read at, and a plan changed since is refused (412), not overwritten."""
    rt = runtime()
    version = request.form.get("version", "")
    if not version.isdigit():
        raise Invalid("Reload the plan and try again.")
    rows = request.form.get("rows", "")
    if not rows.isdigit() or int(rows) > MAX_STEP_DOWN + 1:
        raise Invalid("Reload the plan and try again.")
    entries = []
    for index in range(int(rows)):
        name = request.form.get(f"name-{index}", "").strip()
        if not name or request.form.get(f"remove-{index}"):
            continue
        entries.append(
            {
                "kind": request.form.get(f"kind-{index}", ""),
                "name": name,
                "schedule": request.form.get(f"schedule-{index}", "").strip() or None,
                "location": request.form.get(f"location-{index}", "").strip() or None,
            }
        )
    try:
        body = StepDownBody().load({"step_down": entries})
    except ma.ValidationError as exc:
        raise Invalid("Check the step-down entries.", errors=exc.normalized_messages()) from None
    plans.replace_section(
        session=rt.db.session(),
        actor=g.actor,
        graduate_id=graduate_id,
        section="step_down",
        value=body["step_down"],
        catalogue=plan_catalogue(),
        expected_version=int(version),
        now=rt.clock.now(),
    )
    return redirect(url_for(".plan_page", graduate_id=graduate_id, done="saved"), 303)


# --- the inbox: escalations and notices sent to me ----------------------------------------


def _unread() -> int:
    """The badge: what reached me by now and is unread (list pages only, to keep a record
    page's statements within budget)."""
    rt = runtime()
    pending = notifications.inbox(user_id=g.actor.user_id, now=rt.clock.now()).where(
        Notification.read_at.is_(None)
    )
    count = select(func.count()).select_from(pending.order_by(None).subquery())
    return int(rt.db.session.scalar(count) or 0)


@blp.app_context_processor
def _badge() -> dict[str, Any]:
    return {"unread": g.get("unread")}


@blp.get("/inbox")
@signed_in
def inbox() -> str:
    rt = runtime()
    items = list(
        rt.db.session.scalars(
            notifications.inbox(user_id=g.actor.user_id, now=rt.clock.now()).limit(PAGE_SIZE)
        )
    )
    g.unread = sum(1 for item in items if item.read_at is None)
    return render_template(
        "console/inbox.html",
        items=items,
        names=_names(rt.db.session(), {i.graduate_id for i in items if i.graduate_id}),
    )


@blp.post("/inbox/<uuid:notification_id>/read")
@signed_in
def inbox_read(notification_id: uuid.UUID) -> BaseResponse:
    rt = runtime()
    notifications.mark_read(
        session=rt.db.session(),
        actor=g.actor,
        notification_id=notification_id,
        now=rt.clock.now(),
    )
    return redirect(url_for(".inbox"), 303)


@blp.post("/graduates/<uuid:graduate_id>/plan/skills/<string:skill_id>")
@signed_in
def edit_skill_target(graduate_id: uuid.UUID, skill_id: str) -> BaseResponse:
    """A skill's weekly target, the care team's to set, under the same If-Match rule."""
    rt = runtime()
    version, target = request.form.get("version", ""), request.form.get("target_per_week", "")
    if not version.isdigit():
        raise Invalid("Reload the plan and try again.")
    if not target.isdigit() or not 1 <= int(target) <= MAX_TARGET:
        raise Invalid(
            f"A weekly target is 1 to {MAX_TARGET} times.",
            errors={"target_per_week": [f"1 to {MAX_TARGET}"]},
        )
    skills.set_target(
        session=rt.db.session(),
        actor=g.actor,
        graduate_id=graduate_id,
        skill_id=skill_id,
        target_per_week=int(target),
        catalogue=plan_catalogue(),
        expected_version=int(version),
        now=rt.clock.now(),
    )
    return redirect(url_for(".plan_page", graduate_id=graduate_id, done="saved"), 303)


# --- summaries ----------------------------------------------------------------------------


@blp.get("/summaries")
@signed_in
def summary_inbox() -> str:
    rt = runtime()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    g.unread = _unread()
    items, total = summaries.page_for(
        session=rt.db.session(),
        actor=g.actor,
        graduate_id=None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
        now=rt.clock.now(),
    )
    return render_template(
        "console/summaries.html",
        items=items,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@blp.get("/summaries/<uuid:summary_id>")
@signed_in
def summary_page(summary_id: uuid.UUID) -> str:
    rt = runtime()
    found = summaries.mark_read(
        session=rt.db.session(), actor=g.actor, summary_id=summary_id, now=rt.clock.now()
    )
    return render_template(
        "console/summary.html",
        summary=found,
        body=summary_html.fragment(found, rt.content),
        newer=summaries.newer_data(session=rt.db.session(), summary_id=summary_id),
        done=request.args.get("done"),
    )


@blp.post("/summaries/<uuid:summary_id>/rebuild")
@signed_in
def summary_rebuild(summary_id: uuid.UUID) -> BaseResponse:
    rt = runtime()
    summaries.rebuild(
        session=rt.db.session(), actor=g.actor, summary_id=summary_id, now=rt.clock.now()
    )
    return redirect(url_for(".summary_page", summary_id=summary_id, done="rebuilt"), 303)
