"""The care-team console, server side: sign-in and sessions, CSRF, the same access checks
and audit as the API, the therapist's pages, and a bounded number of SQL statements."""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from api import create_app, devtokens
from api.audit.models import AuditEvent
from api.auth import FirebaseAccount
from api.flags.models import Flag, FlagEvent
from api.notifications import dispatch
from api.plans.models import Plan
from api.programs.models import Role
from jobs.scheduler import run_job
from tests import factories
from tests.conftest import test_config as app_config
from tests.test_flags import Story, bam, gad7, phq9

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page) -> str:
    return CSRF.search(page.get_data(as_text=True)).group(1)


def sign_in(client, email: str, next_page: str = "/console/caseload"):
    form = client.get("/console/sign-in")
    return client.post(
        "/console/sign-in",
        data={"email": email, "csrf_token": csrf_of(form), "next": next_page},
    )


def post_form(client, page_url: str, action: str, **fields):
    """Submit a form as a browser would: with the token from the page it was on."""
    page = client.get(page_url)
    assert page.status_code == 200, page.get_data(as_text=True)
    return client.post(action, data={"csrf_token": csrf_of(page), **fields})


@pytest.fixture
def story(db, as_user, clock):
    return Story(db, as_user, clock)


@contextmanager
def counted(app):
    """SQL statements the app sends while the block runs."""
    engine = app.extensions["companion"].db.engine
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


# --- sign-in --------------------------------------------------------------------------------


def test_the_development_form_signs_in_through_an_httponly_session_cookie(client, world):
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert '<label for="email">Email (development sign-in)</label>' in page
    assert 'name="email"' in page and ">Sign in</button>" in page

    signed = sign_in(client, world.therapist_consent.email)

    assert signed.status_code == 303 and signed.headers["Location"] == "/console/caseload"
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if "console_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    caseload = client.get("/console/caseload")
    assert caseload.status_code == 200
    assert "Sam" in caseload.get_data(as_text=True)


def test_without_a_session_every_page_sends_you_to_sign_in(client, world):
    response = client.get(f"/console/graduates/{world.graduate.id}")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/console/sign-in?next=/console/graduates/")


def test_sign_in_needs_the_forms_csrf_token(client, world):
    client.get("/console/sign-in")
    refused = client.post(
        "/console/sign-in", data={"email": world.therapist_consent.email, "csrf_token": "x"}
    )
    assert refused.status_code == 400
    assert "console_session" not in "".join(refused.headers.getlist("Set-Cookie"))


def test_a_form_without_the_sessions_csrf_token_changes_nothing(client, story, db):
    story.check_in("phq9", phq9(9, item9=1))
    flag_id = story.flags()[0]["id"]
    sign_in(client, story.emails["therapist"])

    forged = client.post(f"/console/flags/{flag_id}/acknowledge", data={"csrf_token": "forged"})
    other_site = client.post(
        f"/console/flags/{flag_id}/acknowledge",
        data={"csrf_token": csrf_of(client.get(f"/console/flags/{flag_id}"))},
        headers={"Origin": "https://evil.example"},
    )

    assert forged.status_code == 400 and other_site.status_code == 400
    assert db.scalar(select(Flag.status).where(Flag.id == uuid.UUID(flag_id))) == "open"


def test_the_session_is_checked_with_our_clock_and_the_revocation_time(client, world, clock, db):
    sign_in(client, world.therapist_consent.email)
    assert client.get("/console/caseload").status_code == 200

    clock.advance(hours=9)  # past the 8-hour session, by the app's clock
    assert client.get("/console/caseload").status_code == 303

    clock.set(factories.NOW)
    sign_in(client, world.therapist_consent.email)
    clock.advance(minutes=1)
    as_api = devtokens.mint(
        project_id="demo-companion", email=world.therapist_consent.email, now=clock.now()
    )
    client.post("/api/v1/me/sign-out-everywhere", headers={"Authorization": f"Bearer {as_api}"})
    assert client.get("/console/caseload").status_code == 303


def test_sign_out_ends_the_session(client, world):
    sign_in(client, world.therapist_consent.email)
    out = post_form(client, "/console/caseload", "/console/sign-out")
    assert out.status_code == 303
    assert "console_session=;" in "".join(out.headers.getlist("Set-Cookie"))
    assert client.get("/console/caseload").status_code == 303


def test_sign_out_ends_the_session_on_the_server_too(app, client, world, clock):
    """A cookie copied before sign-out (another tab's, a stolen one) is refused after it;
    signing in again starts a session that works."""
    sign_in(client, world.therapist_consent.email)
    copied = client.get_cookie("console_session", path="/console").value
    clock.advance(seconds=30)
    assert post_form(client, "/console/caseload", "/console/sign-out").status_code == 303
    thief = app.test_client()
    thief.set_cookie("console_session", copied, path="/console")
    assert thief.get("/console/caseload").status_code == 303  # back to sign-in
    clock.advance(seconds=1)
    sign_in(client, world.therapist_consent.email)
    assert client.get("/console/caseload").status_code == 200
    assert thief.get("/console/caseload").status_code == 303


def test_a_graduate_or_coordinator_gets_no_console(client, world):
    sign_in(client, world.coordinator.email)
    assert client.get("/console/caseload").status_code == 403


def test_next_never_leaves_the_console(client, world):
    signed = sign_in(client, world.therapist_consent.email, next_page="https://evil.example/x")
    assert signed.headers["Location"] == "/console/caseload"


class FakeFirebase:
    """Stands in for Google in a production-mode app: the maker and verifier interfaces."""

    def __init__(self, clock) -> None:
        self.clock = clock

    def verify(self, token: str) -> dict:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return {
            **claims,
            "aud": "companion-prod",
            "iss": "https://securetoken.google.com/companion-prod",
        }

    def account(self, uid: str) -> FirebaseAccount:
        return FirebaseAccount(disabled=False, tokens_valid_after=None)

    def create(self, id_token: str, claims: dict, *, now) -> str:
        return "firebase-session:" + claims["sub"] + ":" + claims["email"]

    def claims(self, cookie: str) -> dict:
        _, sub, email = cookie.split(":")
        at = int(self.clock.now().timestamp())
        return {
            "iss": "https://session.firebase.google.com/companion-prod",
            "aud": "companion-prod",
            "sub": sub,
            "email": email,
            "email_verified": True,
            "iat": at,
            "auth_time": at,
            "exp": at + 3600,
        }


@pytest.fixture
def production_app(migrated_url, clock, monkeypatch, db):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    fake = FakeFirebase(clock)
    # The production app shares the test's transaction, as the `app` fixture does.
    config = app_config(
        migrated_url,
        clock,
        COMPANION_ENV="production",
        FIREBASE_PROJECT_ID="companion-prod",
        FIREBASE_WEB_API_KEY="web-key",
        PUSH_SENDER="console-refused-in-production",
        TOKEN_VERIFIER=fake,
        SESSION_COOKIES=fake,
    )
    config.pop("PUSH_SENDER")
    application = create_app(config)
    database = application.extensions["companion"].db
    database.session.configure(bind=db.connection(), join_transaction_mode="create_savepoint")
    yield application
    database.session.remove()
    database.dispose()


def test_production_never_renders_or_accepts_the_development_form(production_app, db, world):
    client = production_app.test_client()
    page = client.get("/console/sign-in")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "development sign-in" not in html and 'name="email"' not in html
    assert "firebase-auth-compat.js" in html and 'data-api-key="web-key"' in html

    refused = client.post(
        "/console/sign-in",
        data={"email": world.therapist_consent.email, "csrf_token": csrf_of(page)},
    )
    assert refused.status_code == 404
    assert "console_session" not in "".join(refused.headers.getlist("Set-Cookie"))
    assert client.get("/console/caseload").status_code == 303


def test_production_turns_the_firebase_id_token_into_a_secure_session_cookie(
    production_app, db, world, clock
):
    client = production_app.test_client()
    page = client.get("/console/sign-in")
    token = devtokens.mint(
        project_id="companion-prod", email=world.therapist_consent.email, now=clock.now()
    )
    signed = client.post("/console/session", data={"id_token": token, "csrf_token": csrf_of(page)})
    assert signed.status_code == 303
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if "console_session=" in c)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert (
        "connect-src 'self' https://identitytoolkit.googleapis.com"
        in (page.headers["Content-Security-Policy"])
    )


def test_an_old_sign_in_cannot_start_a_session(production_app, db, world, clock):
    client = production_app.test_client()
    page = client.get("/console/sign-in")
    stale = devtokens.mint(
        project_id="companion-prod",
        email=world.therapist_consent.email,
        now=clock.now() - timedelta(minutes=30),
    )
    refused = client.post("/console/session", data={"id_token": stale, "csrf_token": csrf_of(page)})
    assert refused.status_code == 401


# --- pages and policy -----------------------------------------------------------------------


def test_pages_allow_no_inline_script_and_load_only_the_apps_own_assets(client, story):
    story.check_in("phq9", phq9(9))
    sign_in(client, story.emails["therapist"])
    flag_id = story.flags()[0]["id"] if story.flags() else None
    pages = [
        "/console/caseload",
        "/console/flags",
        "/console/summaries",
        f"/console/graduates/{story.graduate_id}",
    ]
    if flag_id:
        pages.append(f"/console/flags/{flag_id}")
    for url in pages:
        page = client.get(url)
        html = page.get_data(as_text=True)
        policy = page.headers["Content-Security-Policy"]
        assert page.status_code == 200, url
        assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
        assert "<script>" not in html and " style=" not in html and "<style" not in html
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html):
            assert client.get(asset).status_code == 200
        assert not re.search(r'(?:src|href)="https?://', html)
        assert page.headers["Cache-Control"] == "no-store"


def test_people_are_named_never_shown_as_uuids(client, story):
    story.check_in("phq9", phq9(9, item9=1))
    flag_id = story.flags()[0]["id"]
    sign_in(client, story.emails["therapist"])
    post_form(client, f"/console/flags/{flag_id}", f"/console/flags/{flag_id}/acknowledge")
    uuid_text = re.compile(
        r">[^<]*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}[^<]*<"
    )
    for url in (
        "/console/caseload",
        "/console/flags",
        f"/console/flags/{flag_id}",
        f"/console/graduates/{story.graduate_id}",
    ):
        html = client.get(url).get_data(as_text=True)
        assert not uuid_text.search(html), url
    flag_page = client.get(f"/console/flags/{flag_id}").get_data(as_text=True)
    assert f"{story.emails['therapist']} acknowledged it" in flag_page
    assert "step_up" not in flag_page.replace("flag-step_up", "")


# --- flags ----------------------------------------------------------------------------------


def test_acknowledge_then_resolve_with_outcome_and_note_through_the_flag_service(client, story, db):
    story.check_in("phq9", phq9(9, item9=1))
    flag_id = story.flags()[0]["id"]
    sign_in(client, story.emails["therapist"])
    page = client.get(f"/console/flags/{flag_id}").get_data(as_text=True)
    assert ">Acknowledge</button>" in page and '<label for="outcome">Outcome</label>' in page
    assert '<label for="note">Note</label>' in page and ">Resolve</button>" in page
    # Nobody on this care team has a phone or an email channel yet: the history says so.
    assert "The rules alerted the care team (no one could be reached)" in page

    acked = post_form(client, f"/console/flags/{flag_id}", f"/console/flags/{flag_id}/acknowledge")
    assert acked.status_code == 303
    missing = post_form(
        client, f"/console/flags/{flag_id}", f"/console/flags/{flag_id}/resolve", outcome="monitor"
    )
    assert missing.status_code == 422
    resolved = post_form(
        client,
        f"/console/flags/{flag_id}",
        f"/console/flags/{flag_id}/resolve",
        outcome="more_outpatient",
        note="Called her; extra session Thursday.",
    )
    assert resolved.status_code == 303
    flag = db.scalar(select(Flag).where(Flag.id == uuid.UUID(flag_id)))
    assert (flag.status, flag.outcome, flag.note) == (
        "resolved",
        "more_outpatient",
        "Called her; extra session Thursday.",
    )
    actions = db.scalars(
        select(FlagEvent.action)
        .where(FlagEvent.flag_id == uuid.UUID(flag_id))
        .order_by(FlagEvent.id)
    ).all()
    assert actions == ["raised", "alerted", "acknowledged", "resolved"]
    after = client.get(f"/console/flags/{flag_id}").get_data(as_text=True)
    assert "More outpatient sessions" in after and ">Resolve</button>" not in after


def test_flag_reads_are_audited_exactly_as_the_api_audits_them(client, story, db, as_user):
    story.check_in("phq9", phq9(9, item9=1))
    flag_id = story.flags()[0]["id"]

    def audited() -> list[tuple[str, str]]:
        return sorted(
            db.execute(
                select(AuditEvent.action, AuditEvent.outcome).where(
                    AuditEvent.graduate_id == story.graduate_id
                )
            ).all()
        )

    before = audited()
    as_user(story.emails["therapist"]).get(f"/api/v1/flags/{flag_id}/events")
    by_api = _added(before, audited())
    sign_in(client, story.emails["therapist"])
    middle = audited()
    client.get(f"/console/flags/{flag_id}")
    assert _added(middle, audited()) == by_api == [("flag.read", "allowed")]


def _added(before: list, after: list) -> list:
    remaining = list(after)
    for row in before:
        remaining.remove(row)
    return remaining


# --- consent --------------------------------------------------------------------------------


def test_a_therapist_without_consent_sees_none_of_the_graduate(client, world, db):
    sign_in(client, world.therapist_no_consent.email)
    caseload = client.get("/console/caseload").get_data(as_text=True)
    assert "Sam" not in caseload

    page = client.get(f"/console/graduates/{world.graduate.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 403
    assert "Sam" not in html and "PHQ-9" not in html
    denied = db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.graduate_id == world.graduate.id, AuditEvent.outcome == "denied")
    )
    assert denied >= 1


def test_bam_only_under_the_part2_consent(client, story):
    story.check_in("phq9", phq9(8))
    story.check_in("bam", bam(2))
    sign_in(client, story.emails["therapist"])  # consents to Part 2
    full = client.get(f"/console/graduates/{story.graduate_id}").get_data(as_text=True)
    assert "BAM" in full

    other = client.application.test_client()
    sign_in(other, story.emails["partial"])  # check-ins only
    partial = other.get(f"/console/graduates/{story.graduate_id}").get_data(as_text=True)
    assert "PHQ-9" in partial and "BAM" not in partial


# --- a graduate's page ----------------------------------------------------------------------


def test_the_graduates_page_charts_scores_against_baseline_and_band_edges(client, story, clock):
    for score in (7, 11, 14):
        story.check_in("phq9", phq9(score))
        story.check_in("gad7", gad7(score - 2))
        story.week()
    sign_in(client, story.emails["therapist"])
    html = client.get(f"/console/graduates/{story.graduate_id}").get_data(as_text=True)
    assert html.count('<svg class="chart"') == 3  # PHQ-9, GAD-7 and (Part 2 consent) BAM
    assert 'class="baseline"' in html and "discharge 6" in html and "discharge 4" in html
    assert html.count('class="band-edge"') >= 7
    assert "moderate" in html and "Little interest or pleasure" in html.replace("\n", " ")


def test_the_care_teams_plan_edit_follows_the_if_match_rule(client, story, db):
    sign_in(client, story.emails["therapist"])
    url = f"/console/graduates/{story.graduate_id}/plan"
    stale = client.get(url)
    saved = client.post(
        f"/console/graduates/{story.graduate_id}/plan/step-down",
        data={
            "csrf_token": csrf_of(stale),
            "version": "0",
            "rows": "1",
            "kind-0": "alumni_meeting",
            "name-0": "Thursday alumni",
            "schedule-0": "Thu 18:00",
        },
    )
    assert saved.status_code == 303
    again = client.post(
        f"/console/graduates/{story.graduate_id}/plan/step-down",
        data={
            "csrf_token": csrf_of(stale),
            "version": "0",
            "rows": "1",
            "kind-0": "other",
            "name-0": "Overwrite",
            "schedule-0": "",
        },
    )
    assert again.status_code == 412
    for rows in ("x", "100000"):
        nonsense = client.post(
            f"/console/graduates/{story.graduate_id}/plan/step-down",
            data={"csrf_token": csrf_of(stale), "version": "1", "rows": rows},
        )
        assert nonsense.status_code == 422
    plan = db.scalar(select(Plan).where(Plan.graduate_id == story.graduate_id))
    assert [entry["name"] for entry in plan.step_down] == ["Thursday alumni"]
    assert "Thursday alumni" in client.get(url).get_data(as_text=True)


# --- speed ----------------------------------------------------------------------------------


def test_each_page_makes_a_bounded_number_of_statements_for_a_caseload_of_200(app, client, db):
    program = factories.program(db)
    therapist = factories.member(db, program, Role.THERAPIST)
    graduates = factories.caseload(db, program, therapist, 200)
    db.commit()
    sign_in(client, therapist.email)
    flag_id = db.scalar(
        select(Flag.id).where(Flag.graduate_id.in_([g.id for g in graduates])).limit(1)
    )
    for url in (
        "/console/caseload",
        "/console/flags",
        f"/console/flags/{flag_id}",
        f"/console/graduates/{graduates[0].id}",
        f"/console/graduates/{graduates[0].id}/plan",
        "/console/summaries",
        "/console/inbox",
    ):
        with counted(app) as statements:
            page = client.get(url)
        assert page.status_code == 200, url
        real = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]
        assert len(real) <= 10, (url, len(real))
    assert "Graduate 199" in client.get("/console/caseload").get_data(as_text=True)


# --- summaries ------------------------------------------------------------------------------


def test_the_summary_inbox_and_printable_page_speak_plain_words(client, story, app, clock, as_user):
    therapist = as_user(story.emails["therapist"])
    added = therapist.post(
        f"/api/v1/graduates/{story.graduate_id}/plan/skills",
        json={"skill_id": "cbt-thought-record", "target_per_week": 3},
    )
    assert added.status_code == 201, added.json
    story.check_in("phq9", phq9(12, item9=1))
    clock.set(datetime(2026, 11, 9, 15, tzinfo=UTC))  # Monday after: the weekly summary
    run_job(app, "summaries.weekly")

    sign_in(client, story.emails["therapist"])
    inbox = client.get("/console/summaries").get_data(as_text=True)
    [link] = re.findall(r'href="(/console/summaries/[0-9a-f-]+)"', inbox)
    assert "Unread" in inbox
    page = client.get(link)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<style" not in html
    assert "Thought record" in html and "Cbt thought record" not in html
    assert "(month 1)" in html and "month1" not in html
    assert ">Urgent<" in html and ">urgent<" not in html
    assert "<svg" in html
    assert "Unread" not in client.get("/console/summaries").get_data(as_text=True)


# The demo is `make dev`'s, on SQLite (tests/test_demo.py checks its history in detail).
@pytest.mark.parametrize("database_kind", ["sqlite"], indirect=True)
def test_the_demo_data_gives_every_screen_something_to_show(app, client, db):
    from api import demo

    rt = app.extensions["companion"]
    demo.seed(session=db, content=rt.content, now=rt.clock.now())
    db.commit()
    sign_in(client, "therapist@demo.example")
    caseload = client.get("/console/caseload").get_data(as_text=True)
    assert "Priya" in caseload and "Step-up review" in caseload and "Urgent" in caseload
    flags = client.get("/console/flags").get_data(as_text=True)
    assert "Step-up review" in flags and "Urgent" in flags
    [priya] = re.findall(r'href="(/console/graduates/[0-9a-f-]+)"[^>]*>\s*Priya', caseload)
    page = client.get(priya).get_data(as_text=True)
    assert page.count('class="point"') >= 6 and "Box breathing" in page
    assert "Therapy with Dr. Alex Lee" in page
    assert "Sertraline" in client.get(f"{priya}/plan").get_data(as_text=True).title()
    summaries = client.get("/console/summaries").get_data(as_text=True)
    assert "Priya: " in summaries


def test_escalations_reach_the_inbox_with_a_badge_and_can_be_marked_read(client, story, app, clock):
    story.check_in("phq9", phq9(9, item9=1))  # urgent, nobody acknowledges it
    clock.advance(hours=2)
    run_job(app, "flags.escalate")  # to the program's on-call staff
    dispatch.for_app(app, name="console-test", rng=random.Random(1)).drain()
    sign_in(client, story.emails["staff"])

    caseload = client.get("/console/caseload").get_data(as_text=True)
    assert re.search(r'Inbox <span class="badge">2<span class="visually-hidden"> unread', caseload)
    inbox = client.get("/console/inbox").get_data(as_text=True)
    flag_id = story.flags("staff")[0]["id"]
    assert "Needs your attention" in inbox and f'href="/console/flags/{flag_id}"' in inbox
    # The alert at once and the escalation an hour later, both about the same flag.
    actions = re.findall(r'action="(/console/inbox/[0-9a-f-]+/read)"', inbox)
    assert len(actions) == 2
    for action in actions:
        assert post_form(client, "/console/inbox", action).status_code == 303
    assert 'class="badge"' not in client.get("/console/caseload").get_data(as_text=True)


def test_a_summary_is_as_of_the_weeks_end_and_rebuilds_when_late_check_ins_arrive(
    client, story, app, clock, db
):
    clock.set(datetime(2026, 11, 24, 18, tzinfo=UTC))
    story.check_in("phq9", phq9(7))
    # After the week ended (Monday 08:00 Chicago, 14:00Z) and before the build: a step-up.
    clock.set(datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    story.check_in("phq9", phq9(21))
    clock.set(datetime(2026, 11, 30, 15, tzinfo=UTC))
    run_job(app, "summaries.weekly")
    sign_in(client, story.emails["therapist"])
    [link] = re.findall(
        r'href="(/console/summaries/[0-9a-f-]+)"', client.get("/console/summaries").get_data(True)
    )
    page = client.get(link).get_data(as_text=True)
    assert "Step-up review" not in page and "21 (severe)" not in page  # next week's news
    assert ">Rebuild</button>" not in page

    # A phone that was offline sends Saturday's PHQ-9 on Monday afternoon.
    clock.set(datetime(2026, 11, 30, 16, tzinfo=UTC))
    late = story.as_user(story.email).post(
        f"/api/v1/graduates/{story.graduate_id}/check-ins",
        json={
            "questionnaire": "phq9",
            "answers": phq9(12),
            "answered_at": "2026-11-28T18:00:00+00:00",
        },
    )
    assert late.status_code == 201, late.json
    page = client.get(link).get_data(as_text=True)
    assert ">Rebuild</button>" in page
    rebuilt = post_form(client, link, f"{link}/rebuild")
    assert rebuilt.status_code == 303
    page = client.get(rebuilt.headers["Location"]).get_data(as_text=True)
    assert "Rebuilt with everything known now" in page and "12 (moderate)" in page
    assert ">Rebuild</button>" not in page and "Step-up review" not in page


def test_the_care_team_sets_a_skills_weekly_target_under_the_if_match_rule(client, story, as_user):
    therapist = as_user(story.emails["therapist"])
    therapist.post(
        f"/api/v1/graduates/{story.graduate_id}/plan/skills",
        json={"skill_id": "cbt-thought-record", "target_per_week": 3},
    )
    sign_in(client, story.emails["therapist"])
    url = f"/console/graduates/{story.graduate_id}/plan"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert "Thought record" in html and 'name="target_per_week"' in html
    action = f"{url}/skills/cbt-thought-record"
    version = re.search(r'name="version" value="(\d+)"', html).group(1)
    saved = client.post(
        action,
        data={"csrf_token": csrf_of(page), "version": version, "target_per_week": "5"},
    )
    assert saved.status_code == 303
    stale = client.post(
        action,
        data={"csrf_token": csrf_of(page), "version": version, "target_per_week": "2"},
    )
    assert stale.status_code == 412
    too_many = client.post(
        action, data={"csrf_token": csrf_of(page), "version": "2", "target_per_week": "99"}
    )
    assert too_many.status_code == 422
    targets = therapist.get(f"/api/v1/graduates/{story.graduate_id}/plan").json["skills"]
    assert [(s["skill_id"], s["target_per_week"]) for s in targets] == [("cbt-thought-record", 5)]


def test_the_graduates_page_is_audited_as_the_same_reads_through_the_api(
    client, story, db, as_user
):
    story.check_in("phq9", phq9(8))
    story.check_in("bam", bam(1))

    def audited() -> list[tuple[str, str]]:
        return sorted(
            db.execute(
                select(AuditEvent.action, AuditEvent.outcome).where(
                    AuditEvent.graduate_id == story.graduate_id
                )
            ).all()
        )

    before = audited()
    api = as_user(story.emails["therapist"])
    base = f"/api/v1/graduates/{story.graduate_id}"
    for instrument in ("phq9", "gad7", "bam"):
        assert api.get(f"{base}/trends", query_string={"instrument": instrument}).status_code == 200
    assert api.get(f"{base}/check-ins").status_code == 200
    window = {"from": "2026-10-20T00:00:00Z", "to": "2026-12-01T00:00:00Z"}
    assert api.get(f"{base}/appointments/occurrences", query_string=window).status_code == 200
    by_api = _added(before, audited())
    sign_in(client, story.emails["therapist"])
    middle = audited()
    assert client.get(f"/console/graduates/{story.graduate_id}").status_code == 200
    assert _added(middle, audited()) == by_api
