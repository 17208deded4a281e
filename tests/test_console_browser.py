"""The console in a real browser: Debian's chromium driven by Playwright, against the test app
served from a thread (same database transaction as the test). Every page visited is checked
with axe-core (no serious or critical violations) and photographed at phone and desktop
sizes into tests/screenshots/ (git ignores it). Acknowledge and resolve use the keyboard only.

Nothing downloads a browser: `.ci/run` installs the chromium package when it is missing.
Outside CI a machine without it skips these tests with the reason; in CI it fails them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from api import create_app, devtokens
from api.graduates.models import CareTeamMember
from api.programs.models import Role
from jobs.scheduler import run_job
from tests import databases, factories
from tests.test_flags import Story, bam, gad7, phq9

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
SERIOUS = {"serious", "critical"}


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    if shutil.which("chromium") is None and not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is not executable"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    problem = _missing()
    if problem:
        if databases.in_ci():
            pytest.fail(f"CI needs the browser tests to run: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def live(app, db) -> Iterator[str]:
    """The test app on a free port, single-threaded, in the test's transaction."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def page(browser, live, database_kind):
    context = browser.new_context(
        base_url=live, viewport=dict(zip(("width", "height"), SIZES["desktop"], strict=True))
    )
    tab = context.new_page()
    tab.database_kind = database_kind
    yield tab
    context.close()


def check(page, name: str) -> None:
    """axe-core on the page as it stands, then a screenshot at each size."""
    page.evaluate(AXE.read_text())  # evaluated by the driver: the page's CSP stays strict
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length}))"""
    )
    serious = [v for v in violations if v["impact"] in SERIOUS]
    assert not serious, (name, serious)
    SCREENSHOTS.mkdir(exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(
            path=str(SCREENSHOTS / f"{name}-{size}-{page.database_kind}.png"), full_page=True
        )
    page.set_viewport_size(dict(zip(("width", "height"), SIZES["desktop"], strict=True)))


def sign_in(page, email: str) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Email (development sign-in)").fill(email)
    page.get_by_role("button", name="Sign in").click()


def tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element `selector` names has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


@pytest.fixture
def story(db, as_user, clock):
    story = Story(db, as_user, clock)
    as_user(story.emails["therapist"]).post(
        f"/api/v1/graduates/{story.graduate_id}/plan/skills",
        json={"skill_id": "cbt-thought-record", "target_per_week": 3},
    )
    for day, phq, gad in ((9, 7, 5), (16, 9, 8)):
        clock.set(datetime(2026, 11, day, 18, tzinfo=UTC))
        story.check_in("phq9", phq9(phq))
        story.check_in("gad7", gad7(gad))
        story.check_in("bam", bam(0))
    clock.set(datetime(2026, 11, 23, 18, tzinfo=UTC))
    story.check_in("phq9", phq9(12, item9=1))  # urgent
    return story


def test_a_therapist_works_a_flag_reads_trends_and_a_summary_then_signs_out(
    page, story, app, clock, as_user
):
    clock.set(datetime(2026, 11, 30, 15, tzinfo=UTC))
    run_job(app, "summaries.weekly")  # Monday 08:00 in Chicago: the weekly summaries

    page.goto("/console/sign-in")
    check(page, "sign-in")
    sign_in(page, story.emails["therapist"])

    page.wait_for_url(re.compile(r"/console/caseload$"))
    assert page.get_by_role("heading", name="Caseload").is_visible()
    assert page.get_by_role("link", name="Sam").is_visible()
    for name in ("Caseload", "Flags", "Summaries"):
        assert page.get_by_role("navigation", name="Main").get_by_role("link", name=name).count()
    check(page, "caseload")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Flags").click()
    page.wait_for_url(re.compile(r"/console/flags$"))
    check(page, "flags")
    page.get_by_role("link", name=re.compile("Urgent")).first.click()
    page.wait_for_url(re.compile(r"/console/flags/[0-9a-f-]+$"))
    check(page, "flag")

    # Keyboard only from here to the decision.
    tab_to(page, "form.inline button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=acknowledged"))
    assert page.get_by_role("status").inner_text() == "Acknowledged."
    tab_to(page, "#outcome")
    page.keyboard.press("ArrowDown")  # More outpatient sessions is second; Monitor fourth
    page.keyboard.press("ArrowDown")
    assert page.eval_on_selector("#outcome", "el => el.value") == "more_outpatient"
    tab_to(page, "#note")
    page.keyboard.type("Called her today; extra session Thursday.")
    tab_to(page, "form.resolve button")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"done=resolved"))
    history = page.locator("ol.history").inner_text()
    assert f"{story.emails['therapist']} acknowledged it" in history
    assert f"{story.emails['therapist']} resolved it (More outpatient sessions)" in history
    assert "More outpatient sessions: Called her today; extra session Thursday." in (
        page.locator("main").inner_text()
    )
    check(page, "flag-resolved")

    page.get_by_role("link", name="Sam").click()
    page.wait_for_url(re.compile(r"/console/graduates/[0-9a-f-]+$"))
    charts = page.locator("svg.chart")
    assert charts.count() == 3  # PHQ-9, GAD-7, and BAM under the Part 2 consent
    assert page.locator("svg.chart .baseline").count() == 2
    assert page.locator("svg.chart .band-edge").count() >= 7
    assert page.locator("svg.chart .point").count() >= 5
    check(page, "graduate")
    page.get_by_role("link", name="Plan").click()
    page.wait_for_url(re.compile(r"/plan$"))
    check(page, "plan")
    page.get_by_label("Thought record: times a week").fill("4")
    page.get_by_role("button", name="Save Thought record").click()
    page.wait_for_url(re.compile(r"done=saved"))
    assert page.get_by_label("Thought record: times a week").input_value() == "4"

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Summaries").click()
    check(page, "summaries")
    page.get_by_role("link", name=re.compile("^Sam: ")).click()
    page.wait_for_url(re.compile(r"/console/summaries/[0-9a-f-]+$"))
    assert page.locator("article.summary svg").count() == 1
    check(page, "summary")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    page.wait_for_url(re.compile(r"/console/inbox$"))
    check(page, "inbox")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/console/sign-in"))
    assert "You are signed out." in page.locator("main").inner_text()
    page.goto("/console/caseload")
    page.wait_for_url(re.compile(r"/console/sign-in\?next="))


def test_a_therapist_without_consent_sees_none_of_the_graduate(page, story, db):
    program_id = story.program_id
    from api.programs.models import Program

    program = db.get(Program, program_id)
    stranger = factories.member(db, program, Role.THERAPIST)
    db.add(
        CareTeamMember(
            graduate_id=story.graduate_id, membership_id=stranger.id, created_at=factories.NOW
        )
    )
    db.commit()

    sign_in(page, stranger.email)
    page.wait_for_url(re.compile(r"/console/caseload$"))
    assert "Sam" not in page.locator("main").inner_text()
    check(page, "caseload-empty")
    page.goto("/console/flags")
    assert "Sam" not in page.locator("main").inner_text()
    response = page.goto(f"/console/graduates/{story.graduate_id}")
    assert response.status == 403
    text = page.locator("main").inner_text()
    assert "Sam" not in text and "PHQ-9" not in text
    check(page, "no-consent")


def test_every_step_works_with_javascript_off(browser, live, story):
    context = browser.new_context(base_url=live, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, story.emails["therapist"])
        page.wait_for_url(re.compile(r"/console/caseload$"))
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Flags").click()
        page.get_by_role("link", name=re.compile("Urgent")).first.click()
        page.get_by_role("button", name="Acknowledge").click()
        page.wait_for_url(re.compile(r"done=acknowledged"))
        page.get_by_label("Outcome").select_option("monitor")
        page.get_by_label("Note").fill("Spoke this afternoon.")
        page.get_by_role("button", name="Resolve").click()
        page.wait_for_url(re.compile(r"done=resolved"))
        assert "Monitor: Spoke this afternoon." in page.locator("main").inner_text()
        page.get_by_role("link", name="Sam").click()
        assert page.locator("svg.chart").count() == 3
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/console/sign-in"))
    finally:
        context.close()


@pytest.fixture
def production_live(migrated_url, clock, monkeypatch, db) -> Iterator[str]:
    """A production-mode app (Firebase web sign-in configured), Google stood in for by
    `FakeFirebase` on the server and by intercepted requests in the browser."""
    from tests.conftest import test_config as app_config
    from tests.test_console import FakeFirebase

    emulator = os.environ.get("FIREBASE_AUTH_EMULATOR_HOST")
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    fake = FakeFirebase(clock)
    config = app_config(
        migrated_url,
        clock,
        COMPANION_ENV="production",
        FIREBASE_PROJECT_ID="companion-prod",
        FIREBASE_WEB_API_KEY="web-key",
        TOKEN_VERIFIER=fake,
        SESSION_COOKIES=fake,
    )
    application = create_app(config)
    if emulator:  # the test app beside it still verifies emulator tokens
        monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", emulator)
    database = application.extensions["companion"].db
    database.session.configure(bind=db.connection(), join_transaction_mode="create_savepoint")
    server = make_server("127.0.0.1", 0, application, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    database.session.remove()
    database.dispose()


def test_production_signs_in_with_the_firebase_web_sdk_and_never_shows_the_dev_form(
    browser, production_live, story, clock
):
    email = story.emails["therapist"]
    token = devtokens.mint(project_id="companion-prod", email=email, now=clock.now())
    uid = devtokens.uid_for(email)
    calls: list[str] = []

    def google(route) -> None:
        url = route.request.url
        calls.append(url.split("?")[0])
        if "accounts:signInWithPassword" in url:
            body = {
                "kind": "identitytoolkit#VerifyPasswordResponse",
                "localId": uid,
                "email": email,
                "idToken": token,
                "refreshToken": "refresh",
                "expiresIn": "3600",
                "registered": True,
            }
        elif "accounts:lookup" in url:
            body = {"users": [{"localId": uid, "email": email, "emailVerified": True}]}
        else:
            body = {}
        route.fulfill(
            status=200,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": "*"},
            body=json.dumps(body),
        )

    context = browser.new_context(base_url=production_live)
    context.route(re.compile(r"https://[a-z]+\.googleapis\.com/.*"), google)
    page = context.new_page()
    try:
        page.goto("/console/sign-in")
        assert page.get_by_label("Email (development sign-in)").count() == 0
        page.get_by_label("Email", exact=True).fill(email)
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/console/caseload$"))
        assert page.get_by_role("link", name="Sam").is_visible()
        cookie = next(c for c in context.cookies() if c["name"] == "console_session")
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
        assert any("accounts:signInWithPassword" in call for call in calls)
    finally:
        context.close()
