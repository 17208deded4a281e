"""Alerts for urgent and step-up flags: who is told, when, by what, and what it says.

Pushes go through the real dispatcher to a recording sender; email through the real SMTP
client to a real SMTP server (aiosmtpd) started here, with STARTTLS on a certificate made
for the test. Time is the frozen clock.
"""

from __future__ import annotations

import email
import email.policy
import ipaddress
import re
import socket
import ssl
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from api.checkins.safety import CARE_TEAM_TOLD, NOT_TOLD
from api.notifications import dispatch
from api.notifications.mail import Email, SmtpSender
from api.notifications.models import EmailChannel, Notification
from api.notifications.service import Planned, enqueue
from api.notifications.texts import TEXTS
from api.programs.models import Program, Role
from api.users.models import User
from tests import factories
from tests.test_flags import Story, bam, phq9
from tests.test_notifications import RecordingSender
from tests.test_push_delivery import FORBIDDEN

NOT_SAFE = {"daily-mood": 2, "phq2-1": 0, "phq2-2": 0, "gad2-1": 0, "gad2-2": 0, "daily-safe": 0}
CLINICIANS = (
    "staff",
    "other_staff",
    "therapist_consent",
    "therapist_no_consent",
    "therapist_unlinked",
    "coordinator",
)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def deliver(app, db, sender):
    def run(max_passes: int | None = None, **options) -> dispatch.Report:
        dispatcher = dispatch.for_app(app, sender=sender, name="alerts", **options)
        return dispatcher.drain(max_passes)

    return run


def phones(db, world, personas=CLINICIANS) -> dict[str, str]:
    """A phone for each persona: token -> persona."""
    tokens = {}
    for persona in personas:
        membership = getattr(world, persona)
        tokens[factories.device(db, membership.user_id).token] = persona
    db.commit()
    return tokens


def check_in(as_user, world, clock, answers=NOT_SAFE, questionnaire="daily"):
    response = as_user(world.graduate_email).post(
        f"/api/v1/graduates/{world.graduate.id}/check-ins",
        json={
            "questionnaire": questionnaire,
            "answers": answers,
            "answered_at": clock.now().isoformat(),
        },
    )
    assert response.status_code == 201, response.json
    return response.json


def alerts(db, **where) -> list[Notification]:
    db.expire_all()
    statement = select(Notification).where(Notification.kind.in_(("alert", "alert_email")))
    for name, value in where.items():
        statement = statement.where(getattr(Notification, name) == value)
    return list(db.scalars(statement))


def inbox(as_user, email: str) -> list[dict]:
    response = as_user(email).get("/api/v1/me/notifications")
    assert response.status_code == 200, response.json
    return response.json


# -- who ------------------------------------------------------------------------------------


def test_an_urgent_answer_alerts_the_consenting_therapist_and_staff_at_once(
    db, world, as_user, clock, sender, deliver
):
    tokens = phones(db, world)
    reply = check_in(as_user, world, clock)
    assert reply["safety"]["message"].endswith(CARE_TEAM_TOLD)

    report = deliver()
    assert report.sent == 2 and report.pushes == 2
    assert sorted(tokens[push.token] for push in sender.pushes) == ["staff", "therapist_consent"]
    [flag] = as_user(world.staff.email).get("/api/v1/flags").json
    for push in sender.pushes:
        assert (push.kind, push.title, push.body) == ("alert", *TEXTS["alert"])
        assert push.link == flag["id"]  # opaque: the console opens the flag by id
    assert flag["alert_status"] == "queued"
    for persona in ("staff", "therapist_consent"):
        [item] = inbox(as_user, world.email(persona))
        assert (item["kind"], item["pushed"], item["taken_by"]) == ("alert", True, None)
    for persona in ("therapist_no_consent", "therapist_unlinked", "coordinator", "other_staff"):
        assert inbox(as_user, world.email(persona)) == []
    events = as_user(world.staff.email).get(f"/api/v1/flags/{flag['id']}/events").json
    assert [event["action"] for event in events] == ["raised", "alerted"]
    assert events[1]["details"]["reached"] == 2


def test_a_part_2_flag_alerts_only_part_2_readers_and_staff(db, as_user, clock, sender, deliver):
    story = Story(db, as_user, clock)  # "therapist" has the Part 2 consent, "partial" not
    users = {
        who: db.scalar(select(User.id).where(User.email == email))
        for who, email in story.emails.items()
    }
    for user_id in users.values():
        factories.device(db, user_id)
    db.commit()
    story.check_in("bam", bam(0))
    story.week()
    story.check_in("bam", bam(2))  # a watch: not alerted
    assert alerts(db) == []
    story.week()
    story.check_in("bam", bam(1))
    [flag] = story.flags()
    assert (flag["kind"], flag["source"]) == ("step_up", "substance_use")
    assert {row.user_id for row in alerts(db)} == {users["therapist"], users["staff"]}
    deliver()
    assert inbox(as_user, story.emails["partial"]) == []


def test_a_withdrawn_consent_means_no_alert(db, world, as_user, clock, deliver):
    phones(db, world, ("staff", "therapist_consent"))
    response = as_user(world.graduate_email).put(
        f"/api/v1/graduates/{world.graduate.id}/consents/{world.therapist_consent.user_id}",
        json={"share_check_ins": False, "share_substance_use": False},
    )
    assert response.status_code == 200, response.json
    check_in(as_user, world, clock)
    assert {row.user_id for row in alerts(db)} == {world.staff.user_id}


def test_on_call_staff_only_when_the_rules_name_them(db, world, as_user, clock):
    second = factories.member(db, db.get(Program, world.program.id), Role.STAFF)
    db.commit()
    response = as_user(world.staff.email).put(
        f"/api/v1/programs/{world.program.id}/flag-rules", json={"on_call_emails": [second.email]}
    )
    assert response.status_code == 200, response.json
    check_in(as_user, world, clock)
    assert {row.user_id for row in alerts(db)} == {second.user_id, world.therapist_consent.user_id}


# -- when -----------------------------------------------------------------------------------


def test_quiet_hours_never_hold_an_alert(db, world, as_user, clock, sender, deliver):
    phones(db, world, ("staff",))
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))  # 03:00 in Chicago: quiet hours
    check_in(as_user, world, clock)
    rows = alerts(db, user_id=world.staff.user_id)
    assert [(row.due_at, row.expires_at) for row in rows] == [(clock.now(), None)]
    report = deliver()  # now, not when anyone's quiet hours end
    assert (report.sent, report.to_inbox) == (1, 1)  # the therapist has no phone: inbox
    assert [push.kind for push in sender.pushes] == ["alert"]


def test_a_step_up_waits_for_working_hours(db, as_user, clock, sender):
    story = Story(db, as_user, clock)
    # Friday 19:30 in Chicago (the program's zone: where its graduates live).
    clock.set(datetime(2026, 11, 28, 1, 30, tzinfo=UTC))
    story.check_in("phq9", phq9(21))
    [flag] = story.flags()
    assert flag["kind"] == "step_up"
    rows = alerts(db)
    assert rows and {row.due_at for row in rows} == {datetime(2026, 11, 30, 14, 0, tzinfo=UTC)}
    assert flag["alert_status"] == "no_one_reached"  # nobody has a phone or an email


def test_a_request_to_talk_alerts_the_care_team_within_working_hours(db, as_user, clock):
    story = Story(db, as_user, clock)
    users = {
        who: db.scalar(select(User.id).where(User.email == email))
        for who, email in story.emails.items()
    }
    ask = f"/api/v1/graduates/{story.graduate_id}/contact-requests"
    clock.set(datetime(2026, 11, 28, 1, 30, tzinfo=UTC))  # Friday 19:30 in Chicago
    assert as_user(story.email).post(ask).status_code == 201
    rows = alerts(db)
    assert {row.user_id for row in rows} == set(users.values())  # both consenting therapists
    assert {row.due_at for row in rows} == {datetime(2026, 11, 30, 14, 0, tzinfo=UTC)}
    assert as_user(story.email).post(ask).status_code == 201  # asked again: the same flag
    assert len(alerts(db)) == len(rows)
    [flag] = story.flags()
    story.resolve(flag["id"])
    clock.set(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))  # Tuesday 10:00: at once
    assert as_user(story.email).post(ask).status_code == 201
    assert {row.due_at for row in alerts(db) if row.due_at > rows[0].due_at} == {clock.now()}


def test_working_hours_and_zone_are_program_settings(db, world, as_user, clock):
    url = f"/api/v1/programs/{world.program.id}"
    staff = as_user(world.staff.email)
    assert staff.get(url).json["working_hours"] == {
        "start": "08:00",
        "end": "18:00",
        "days": ["mon", "tue", "wed", "thu", "fri"],
    }
    hours = {"start": "07:00", "end": "22:00", "days": ["sat", "sun"]}
    changed = staff.patch(url, json={"working_hours": hours, "timezone": "Europe/Berlin"})
    assert changed.status_code == 200, changed.json
    assert (changed.json["working_hours"], changed.json["timezone"]) == (hours, "Europe/Berlin")
    for bad in (
        {"working_hours": {"start": "18:00", "end": "08:00", "days": ["mon"]}},
        {"working_hours": {"start": "08:00", "end": "18:00", "days": ["someday"]}},
        {"working_hours": {"start": "8", "end": "18:00", "days": ["mon"]}},
        {"timezone": "Mars/Olympus"},
    ):
        assert staff.patch(url, json=bad).status_code == 422, bad
    assert as_user(world.therapist_consent.email).patch(url, json=hours).status_code == 403


# -- taken ----------------------------------------------------------------------------------


def test_acknowledging_takes_the_alert_and_stops_the_chase(db, world, as_user, clock, deliver):
    phones(db, world, ("staff", "therapist_consent"))
    check_in(as_user, world, clock)
    deliver()
    [flag] = as_user(world.staff.email).get("/api/v1/flags").json
    taken = as_user(world.therapist_consent.email).post(
        f"/api/v1/flags/{flag['id']}/acknowledge", json={}
    )
    assert taken.status_code == 200
    for persona in ("staff", "therapist_consent"):
        [item] = inbox(as_user, world.email(persona))
        assert item["taken_by"] == world.therapist_consent.email


def test_acknowledging_cancels_pending_alerts_and_the_escalation(db, app, as_user, clock):
    story = Story(db, as_user, clock)
    clock.set(datetime(2026, 11, 28, 1, 30, tzinfo=UTC))  # Friday evening: held to Monday
    story.check_in("phq9", phq9(21))
    [flag] = story.flags()
    assert {row.status for row in alerts(db)} == {"pending"}
    story.as_user(story.emails["staff"]).post(f"/api/v1/flags/{flag['id']}/acknowledge", json={})
    assert {row.status for row in alerts(db)} == {"cancelled"}
    clock.advance(days=3)
    result = app.test_cli_runner().invoke(args=["jobs", "run-once"])
    assert result.exit_code == 0, result.output
    assert story.flags()[0]["escalated_at"] is None
    assert {row.status for row in alerts(db)} == {"cancelled"}


def test_an_unacknowledged_urgent_flag_escalates_all_the_same(db, world, app, as_user, clock):
    check_in(as_user, world, clock)  # nobody reachable
    clock.advance(minutes=61)
    result = app.test_cli_runner().invoke(args=["jobs", "run-once"])
    assert result.exit_code == 0, result.output
    flags = as_user(world.staff.email).get("/api/v1/flags").json
    [flag] = [flag for flag in flags if flag["kind"] == "urgent"]
    assert flag["escalated_at"] is not None and flag["alert_status"] == "no_one_reached"


# -- "told" ---------------------------------------------------------------------------------


def test_told_only_when_an_alert_can_reach_someone(db, world, as_user, clock):
    reply = check_in(as_user, world, clock)
    assert reply["safety"]["message"].endswith(NOT_TOLD)
    assert CARE_TEAM_TOLD not in reply["safety"]["message"]
    [flag] = as_user(world.staff.email).get("/api/v1/flags").json
    assert flag["alert_status"] == "no_one_reached"
    # Nobody's phone, but a verified email channel: that reaches someone.
    db.add(
        EmailChannel(
            user_id=world.staff.user_id,
            email="staff-alerts@example.org",
            verified_at=clock.now(),
            created_at=clock.now(),
        )
    )
    db.commit()
    clock.advance(minutes=1)
    assert check_in(as_user, world, clock)["safety"]["message"].endswith(CARE_TEAM_TOLD)


def test_a_refused_submission_says_told_only_when_it_is_true(db, world, as_user, clock):
    answers = {key: value for key, value in NOT_SAFE.items() if key != "daily-mood"}
    url = f"/api/v1/graduates/{world.graduate.id}/check-ins"
    body = {"questionnaire": "daily", "answers": answers, "answered_at": clock.now().isoformat()}
    refused = as_user(world.graduate_email).post(url, json=body)
    assert refused.status_code == 422
    assert refused.json["safety"]["message"].endswith(NOT_TOLD)
    phones(db, world, ("therapist_consent",))
    refused = as_user(world.graduate_email).post(url, json=body)
    assert refused.json["safety"]["message"].endswith(CARE_TEAM_TOLD)


# -- the lane -------------------------------------------------------------------------------


def test_the_dispatcher_claims_an_alert_before_any_reminder(
    db, world, as_user, clock, sender, deliver
):
    phones(db, world, ("staff",))
    factories.device(db, world.graduate.user_id, token="graduate-phone")
    earlier = clock.now() - timedelta(minutes=30)
    enqueue(
        db,
        items=[
            Planned(
                world.graduate.user_id, "skill_practice", f"s:{i}", earlier, collapse_key=str(i)
            )
            for i in range(30)
        ],
        now=earlier,
    )
    db.commit()
    check_in(as_user, world, clock)  # the alert is due after every reminder
    report = deliver(batch_size=10, max_passes=1)
    assert report.claimed == 10
    assert sender.pushes[0].kind == "alert"  # sent first, in a call of its own


# -- email ----------------------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


def _certificate(tmp_path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def smtp(tmp_path_factory) -> Iterator[tuple[Inbox, int, ssl.SSLContext]]:
    """A real SMTP server that insists on STARTTLS; and a client context that trusts it."""
    cert, key = _certificate(tmp_path_factory.mktemp("smtp"))
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    handler, port = Inbox(), _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
    )
    controller.start()
    yield handler, port, ssl.create_default_context(cafile=cert)
    controller.stop()


@pytest.fixture(scope="module")
def plain_smtp() -> Iterator[tuple[Inbox, int]]:
    """One that offers no STARTTLS: production and tests must refuse it."""
    handler, port = Inbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _smtp_sender(port: int, tls: ssl.SSLContext | None = None) -> SmtpSender:
    return SmtpSender(
        url=f"smtp://127.0.0.1:{port}",
        sender="Continuing care <alerts@companion.example>",
        require_tls=True,
        timeout=5,
        tls_context=tls,
    )


def test_an_alert_email_goes_through_smtp_and_holds_no_health_data(
    db, world, as_user, clock, app, smtp, deliver, monkeypatch
):
    handler, port, tls = smtp
    handler.messages.clear()
    therapist = as_user(world.therapist_consent.email)
    monkeypatch.setattr(
        "api.notifications.mail.configured_sender", lambda settings: _smtp_sender(port, tls)
    )
    address = "therapist.alerts@example.org"
    assert therapist.put("/api/v1/me/email-channel", json={"email": address}).status_code == 200
    [(recipients, code_mail)] = handler.messages
    assert recipients == [address]
    code = re.search(r"Your code is (\d{6})", code_mail).group(1)
    assert therapist.get("/api/v1/me/email-channel").json["verified"] is False
    check_in(as_user, world, clock)  # before verification: no email for them
    assert not alerts(db, kind="alert_email")
    verified = therapist.post("/api/v1/me/email-channel/verify", json={"code": code})
    assert verified.status_code == 200 and verified.json["verified"] is True

    clock.advance(minutes=5)
    handler.messages.clear()
    answers = phq9(14, item9=3)  # urgent (and a watch, which alerts nobody)
    reply = check_in(as_user, world, clock, answers=answers, questionnaire="phq9")
    report = deliver(email_sender=_smtp_sender(port, tls))
    assert report.emailed == 1
    [(recipients, raw)] = handler.messages
    assert recipients == [address]
    parsed = email.message_from_string(raw, policy=email.policy.default)
    sent = "\n".join([*(f"{k}: {v}" for k, v in parsed.items()), parsed.get_content()])
    flags = as_user(world.staff.email).get("/api/v1/flags").json
    [flag] = [f for f in flags if f["kind"] == "urgent" and reply["id"] in f["evidence"]]
    assert f"/open/{flag['id']}" in sent  # the sign-in link, by the flag's opaque id
    scanned = sent.replace(flag["id"], "<id>")
    assert not FORBIDDEN.search(scanned), scanned
    graduate_name = db.scalar(select(User.email).where(User.id == world.graduate.user_id))
    for leak in ("Sam", graduate_name, world.graduate_email, "item"):
        assert leak not in scanned
    assert not re.search(r"\b(14|3)\b", scanned)  # the score, the answer
    [row] = alerts(db, kind="alert_email")
    assert (row.status, row.delivered_via) == ("sent", "email")
    # The email is not a second inbox entry.
    assert [item["kind"] for item in inbox(as_user, world.therapist_consent.email)] == [
        "alert",
        "alert",
    ]


def test_a_server_without_starttls_is_refused(plain_smtp):
    handler, port = plain_smtp
    outcome = _smtp_sender(port).send(
        [Email(uuid.uuid4(), "x@example.org", "alert_email", "s", "b")]
    )
    assert [(o.ok, o.error) for o in outcome] == [(False, "transient")]
    assert handler.messages == []


def test_a_wrong_code_counts_and_a_removed_channel_gets_nothing(
    db, world, as_user, clock, deliver, monkeypatch
):
    staff = as_user(world.staff.email)
    assert staff.put("/api/v1/me/email-channel", json={"email": "s@example.org"}).status_code == 200
    for _ in range(5):
        wrong = staff.post("/api/v1/me/email-channel/verify", json={"code": "000000"})
        assert wrong.status_code in (422, 200)
        if wrong.status_code == 200:  # 1 in a million: the random code was 000000
            return
    assert staff.post("/api/v1/me/email-channel/verify", json={"code": "000000"}).status_code == 409
    # Verified, then removed before the dispatcher runs: the email is cancelled, not sent.
    channel = db.scalar(select(EmailChannel).where(EmailChannel.user_id == world.staff.user_id))
    channel.verified_at = clock.now()
    db.commit()
    check_in(as_user, world, clock)
    assert staff.delete("/api/v1/me/email-channel").status_code == 204
    report = deliver()
    assert report.cancelled == 1 and report.emailed == 0
    assert staff.get("/api/v1/me/email-channel").status_code == 404


def test_email_senders_by_mode(monkeypatch):
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    from api.config import ConfigError, load_settings
    from api.notifications import mail

    production = {"COMPANION_ENV": "production", "DATABASE_URL": "postgresql://db/x"}
    production["FIREBASE_PROJECT_ID"] = "p"
    assert mail.configured_sender(load_settings(production)) is None  # the route says 503
    with pytest.raises(ConfigError):
        mail.build_email_sender(load_settings(production))  # a dispatcher will not start
    smtp = mail.build_email_sender(load_settings({**production, "SMTP_URL": "smtp://h:587"}))
    assert isinstance(smtp, SmtpSender) and smtp.require_tls
    development = load_settings({"COMPANION_ENV": "development", "SMTP_URL": "smtp://h:25"})
    assert not mail.build_email_sender(development).require_tls
    assert isinstance(
        mail.build_email_sender(load_settings({"COMPANION_ENV": "test"})), mail.ConsoleEmailSender
    )
