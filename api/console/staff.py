"""Console pages for program staff: enrolling graduates (the code to read aloud and a
printable hand-out), the step-up rules as versioned data, and the audit log with its CSV.

Each calls the service the API route calls, with the same schema validation, so a page
refuses exactly what the API refuses; `api.access` decides as it does for the API.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import marshmallow as ma
from flask import Response, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from api.audit import reading
from api.audit.models import AuditEvent
from api.console.groups import program_for
from api.console.views import CARE_TEAM, PAGE_SIZE, STAFF, blp, for_roles
from api.errors import Invalid
from api.flags import configuration
from api.flags import rules as flag_rules_module
from api.flags.models import Flag
from api.flags.schemas import FlagRuleSettings
from api.graduates import consents, enrollment
from api.graduates import service as graduates
from api.graduates.models import Graduate
from api.graduates.schemas import CareTeamAdd, GraduateCreate
from api.privacy import service as privacy
from api.privacy.schemas import Retention as RetentionSchema
from api.programs import service as programs
from api.programs.hours import working_hours
from api.programs.models import Program, Role
from api.programs.schemas import MemberCreate, ProgramUpdate
from api.runtime import runtime
from api.users.models import User

APP_NAME = "Continuing-care companion"
staff_only = for_roles(STAFF, "This page is for the program's staff.")
readers = for_roles(CARE_TEAM, "This page is for the program's staff and therapists.")
CSV_LIMIT = 50_000  # a compliance review's export; narrower filters for more


def _whole(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else value


# --- graduates and enrolment --------------------------------------------------------------------


def _graduates_page(program_id: uuid.UUID) -> str:
    session = runtime().db.session()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    listed = graduates.for_program(session=session, actor=g.actor, program_id=program_id)
    rows = session.scalars(listed.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return render_template(
        "console/graduates.html",
        graduates=rows,
        page=page,
        is_staff=g.actor.has_role(program_id, Role.STAFF),
    )


@blp.get("/program/graduates")
@readers
def staff_graduates() -> str:
    """Staff: the program's graduates and the enrolment form; a therapist (as the API's list
    answers them) their caseload."""
    return _graduates_page(program_for(g.actor, CARE_TEAM))


@blp.post("/program/graduates")
@staff_only
def enrol() -> Any:
    """Register a graduate as `POST /programs/{id}/graduates` does, then show the code once."""
    rt = runtime()
    program_id = program_for(g.actor, STAFF)
    form = request.form
    raw = {
        "display_name": form.get("display_name", ""),
        "graduation_date": form.get("graduation_date", ""),
        "timezone": form.get("timezone", "").strip(),
        "substance_use": form.get("substance_use") == "yes",
        "baseline": {"phq9": _whole(form.get("phq9", "")), "gad7": _whole(form.get("gad7", ""))},
        "therapist_email": form.get("therapist_email", "").strip() or None,
    }
    try:
        body = GraduateCreate().load(raw)
    except ma.ValidationError as exc:
        raise Invalid("Check the highlighted fields.", errors=exc.normalized_messages()) from None
    registered = graduates.register(
        session=rt.db.session(), actor=g.actor, program_id=program_id, now=rt.clock.now(), **body
    )
    return _code_page(registered.graduate, registered.enrollment_code, program_id, new=True)


@blp.post("/program/graduates/<uuid:graduate_id>/enrollment-code")
@staff_only
def reissue(graduate_id: uuid.UUID) -> str:
    rt = runtime()
    code = enrollment.reissue(
        session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now()
    )
    record = rt.db.session().get_one(Graduate, graduate_id)  # reissue found it, or refused
    return _code_page(record, code, record.program_id, new=False)


def _code_page(graduate: Graduate, code: str, program_id: uuid.UUID, *, new: bool) -> str:
    program = runtime().db.session().get(Program, program_id)
    return render_template(
        "console/enrollment_code.html",
        graduate=graduate,
        code=code,
        program=program,
        app_name=APP_NAME,
        expires=runtime().clock.now() + enrollment.CODE_LIFETIME,
        new=new,
    )


# --- flag rules ---------------------------------------------------------------------------------

NUMBERS = ("moderate_at", "cooldown_days", "escalate_urgent_minutes", "escalate_step_up_hours")


@blp.get("/program/flag-rules")
@readers
def flag_rules() -> str:
    """The rules in force and their versions; staff change them, therapists read them."""
    rt = runtime()
    session = rt.db.session()
    program_id = program_for(g.actor, CARE_TEAM)
    current = configuration.current(session=session, actor=g.actor, program_id=program_id)
    versions = session.scalars(
        configuration.versions(session=session, actor=g.actor, program_id=program_id).limit(20)
    ).all()
    raised = dict(
        session.execute(
            select(Flag.rules_version, func.count())
            .where(Flag.program_id == program_id)
            .group_by(Flag.rules_version)
        ).all()
    )
    people = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_({v.changed_by_user_id for v in versions}))
        ).all()
    )
    return render_template(
        "console/flag_rules.html",
        current=current,
        versions=versions,
        raised=raised,
        people=people,
        version_name=lambda number: (
            f"program-v{number}" if number else flag_rules_module.DEFAULT_VERSION
        ),
        is_staff=g.actor.has_role(program_id, Role.STAFF),
        done=request.args.get("done"),
    )


@blp.post("/program/flag-rules")
@staff_only
def flag_rules_change() -> BaseResponse:
    """A change is always a new version (`PUT /programs/{id}/flag-rules`)."""
    rt = runtime()
    form = request.form
    raw: dict[str, Any] = {name: _whole(form.get(name, "")) for name in NUMBERS}
    raw["rise"] = {
        "phq9": _whole(form.get("rise-phq9", "")),
        "gad7": _whole(form.get("rise-gad7", "")),
    }
    raw["severe_at"] = {
        "phq9": _whole(form.get("severe-phq9", "")),
        "gad7": _whole(form.get("severe-gad7", "")),
    }
    raw["on_call_emails"] = [
        e for e in form.get("on_call_emails", "").replace(",", " ").split() if e
    ]
    try:
        settings = FlagRuleSettings().load(raw, partial=True)
    except ma.ValidationError as exc:
        raise Invalid("Check the rule numbers.", errors=exc.normalized_messages()) from None
    configuration.change(
        session=rt.db.session(),
        actor=g.actor,
        program_id=program_for(g.actor, STAFF),
        settings=settings,
        now=rt.clock.now(),
    )
    return redirect(url_for(".flag_rules", program=g.program_id, done="saved"), 303)


# --- the audit log ------------------------------------------------------------------------------


def _day(name: str) -> date | None:
    value = request.args.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("Dates look like 2026-12-01.", errors={name: ["YYYY-MM-DD"]}) from None


def _filtered(program_id: uuid.UUID) -> tuple[Any, dict[str, Any]]:
    """The API's audit read, narrowed by person, graduate, action and dates (UTC days)."""
    session = runtime().db.session()
    args = request.args
    graduate_id = None
    if args.get("graduate"):
        try:
            graduate_id = uuid.UUID(args["graduate"])
        except ValueError:
            raise Invalid(
                "Choose a graduate from the list.", errors={"graduate": ["unknown"]}
            ) from None
    statement = reading.events_for_program(
        session=session,
        actor=g.actor,
        program_id=program_id,
        graduate_id=graduate_id,
        action=args.get("action") or None,
    )
    person = args.get("person", "").strip().lower()
    if person:
        statement = statement.where(
            AuditEvent.actor_user_id.in_(select(User.id).where(User.email == person))
        )
    since, until = _day("from"), _day("to")
    if since:
        statement = statement.where(AuditEvent.occurred_at >= datetime.combine(since, time(), UTC))
    if until:
        statement = statement.where(
            AuditEvent.occurred_at < datetime.combine(until + timedelta(days=1), time(), UTC)
        )
    chosen = {
        "person": person,
        "graduate": args.get("graduate", ""),
        "action": args.get("action", ""),
        "from": args.get("from", ""),
        "to": args.get("to", ""),
    }
    return statement, chosen


def _labels(session: Any, events: Sequence[AuditEvent]) -> tuple[dict, dict]:
    people = dict(
        session.execute(
            select(User.id, User.email).where(User.id.in_({e.actor_user_id for e in events}))
        ).all()
    )
    names = dict(
        session.execute(
            select(Graduate.id, Graduate.display_name).where(
                Graduate.id.in_({e.graduate_id for e in events})
            )
        ).all()
    )
    return people, names


@blp.get("/program/audit")
@staff_only
def audit_log() -> str:
    session = runtime().db.session()
    program_id = program_for(g.actor, STAFF)
    statement, chosen = _filtered(program_id)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    events = session.scalars(statement.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    people, names = _labels(session, events)
    choices = session.execute(
        select(Graduate.id, Graduate.display_name)
        .where(Graduate.program_id == program_id)
        .order_by(Graduate.display_name)
    ).all()
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.program_id == program_id).distinct()
    ).all()
    return render_template(
        "console/audit.html",
        events=events,
        people=people,
        names=names,
        chosen=chosen,
        graduates=choices,
        actions=sorted(actions),
        page=page,
        more=more,
        query={**{k: v for k, v in chosen.items() if v}, "program": program_id},
    )


@blp.get("/program/audit.csv")
@staff_only
def audit_csv() -> BaseResponse:
    """The filtered log for a compliance review: who, what, whose record, when, outcome."""
    session = runtime().db.session()
    program_id = program_for(g.actor, STAFF)
    statement, _ = _filtered(program_id)
    events = session.scalars(statement.limit(CSV_LIMIT)).all()
    people, names = _labels(session, events)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["occurred_at", "person", "role", "action", "graduate", "graduate_id", "outcome", "route"]
    )
    for event in events:
        writer.writerow(
            [
                event.occurred_at.astimezone(UTC).isoformat(),
                people.get(event.actor_user_id, ""),
                event.actor_role,
                event.action,
                names.get(event.graduate_id, ""),
                event.graduate_id or "",
                event.outcome,
                event.route or "",
            ]
        )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )


# --- the program: settings, retention, deletion requests ---------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRISIS_ROWS = 5


@blp.get("/program/settings")
@staff_only
def program_settings() -> str:
    rt = runtime()
    session = rt.db.session()
    program_id = program_for(g.actor, STAFF)
    program = programs.read(session=session, actor=g.actor, program_id=program_id)
    lines = list(program.crisis_lines or [])
    return render_template(
        "console/program_settings.html",
        program=program,
        hours=working_hours(program),
        lines=lines + [{}] * max(1, CRISIS_ROWS - len(lines)),
        weekdays=WEEKDAYS,
        retention=privacy.retention(session=session, actor=g.actor, program_id=program_id),
        deletions=session.scalars(
            privacy.pending_deletions(session=session, actor=g.actor, program_id=program_id)
        ).all(),
        done=request.args.get("done"),
    )


@blp.post("/program/settings")
@staff_only
def program_settings_change() -> BaseResponse:
    """`PATCH /programs/{id}`: phone, crisis lines, and when step-up alerts go out."""
    form = request.form
    lines = []
    for index in range(CRISIS_ROWS * 2):
        name = form.get(f"line-name-{index}", "").strip()
        if name:
            text = form.get(f"line-text-{index}", "").strip() or None
            lines.append(
                {"name": name, "phone": form.get(f"line-phone-{index}", "").strip(), "text": text}
            )
    raw: dict[str, Any] = {
        "phone": form.get("phone", "").strip() or None,
        "crisis_lines": lines,
        "timezone": form.get("timezone", "").strip() or None,
        "working_hours": {
            "start": form.get("hours-start", ""),
            "end": form.get("hours-end", ""),
            "days": form.getlist("hours-days"),
        },
    }
    try:
        changes = ProgramUpdate().load(raw)
    except ma.ValidationError as exc:
        raise Invalid("Check the program's settings.", errors=exc.normalized_messages()) from None
    programs.update(
        session=runtime().db.session(),
        actor=g.actor,
        program_id=program_for(g.actor, STAFF),
        **changes,
    )
    return redirect(url_for(".program_settings", program=g.program_id, done="saved"), 303)


@blp.post("/program/retention")
@staff_only
def retention_change() -> BaseResponse:
    """`PUT /programs/{id}/retention`: every field, checked against its bounds."""
    raw = {name: _whole(request.form.get(name, "")) for name in RetentionSchema().fields}
    try:
        settings = RetentionSchema().load(raw)
    except ma.ValidationError as exc:
        raise Invalid("Check the retention settings.", errors=exc.normalized_messages()) from None
    privacy.change_retention(
        session=runtime().db.session(),
        actor=g.actor,
        program_id=program_for(g.actor, STAFF),
        settings=settings,
    )
    return redirect(url_for(".program_settings", program=g.program_id, done="retention"), 303)


# --- members and roles ----------------------------------------------------------------------


@blp.get("/program/members")
@staff_only
def program_members() -> str:
    session = runtime().db.session()
    found = session.scalars(
        programs.members(
            session=session, actor=g.actor, program_id=program_for(g.actor, STAFF), role=None
        )
    ).all()
    return render_template(
        "console/members.html", members=found, roles=list(Role), done=request.args.get("done")
    )


@blp.post("/program/members")
@staff_only
def program_member_add() -> BaseResponse:
    """`POST /programs/{id}/members`: the person has the role from their first sign-in."""
    rt = runtime()
    try:
        body = MemberCreate().load(
            {"email": request.form.get("email", "").strip(), "role": request.form.get("role", "")}
        )
    except ma.ValidationError as exc:
        raise Invalid("Give an email and a role.", errors=exc.normalized_messages()) from None
    programs.add_member(
        session=rt.db.session(),
        actor=g.actor,
        program_id=program_for(g.actor, STAFF),
        now=rt.clock.now(),
        **body,
    )
    return redirect(url_for(".program_members", program=g.program_id, done="added"), 303)


# --- one graduate's care team and consents (read only) -------------------------------------------


@blp.get("/program/graduates/<uuid:graduate_id>")
@staff_only
def graduate_admin(graduate_id: uuid.UUID) -> str:
    rt = runtime()
    session, now = rt.db.session(), rt.clock.now()
    team = session.scalars(
        graduates.care_team(session=session, actor=g.actor, graduate_id=graduate_id, now=now)
    ).all()
    shared = {
        consent.therapist_user_id: consent
        for consent in session.scalars(
            consents.for_graduate(session=session, actor=g.actor, graduate_id=graduate_id, now=now)
        )
    }
    return render_template(
        "console/graduate_admin.html",
        graduate=session.get(Graduate, graduate_id),
        team=team,
        shared=shared,
        done=request.args.get("done"),
    )


@blp.post("/program/graduates/<uuid:graduate_id>/care-team")
@staff_only
def care_team_add(graduate_id: uuid.UUID) -> BaseResponse:
    rt = runtime()
    try:
        body = CareTeamAdd().load({"email": request.form.get("email", "").strip()})
    except ma.ValidationError as exc:
        raise Invalid("Give the therapist's email.", errors=exc.normalized_messages()) from None
    graduates.add_to_care_team(
        session=rt.db.session(), actor=g.actor, graduate_id=graduate_id, now=rt.clock.now(), **body
    )
    return redirect(url_for(".graduate_admin", graduate_id=graduate_id, done="added"), 303)


@blp.post("/program/graduates/<uuid:graduate_id>/care-team/<uuid:member_id>/remove")
@staff_only
def care_team_remove(graduate_id: uuid.UUID, member_id: uuid.UUID) -> BaseResponse:
    """Off the care team; their consent ends with it, as through the API."""
    rt = runtime()
    graduates.remove_from_care_team(
        session=rt.db.session(),
        actor=g.actor,
        graduate_id=graduate_id,
        member_id=member_id,
        now=rt.clock.now(),
    )
    return redirect(url_for(".graduate_admin", graduate_id=graduate_id, done="removed"), 303)
