"""The real firebase-admin SDK against the local fake FCM: OAuth, payloads, and faults.

Time is the frozen clock: a retry is "later" because the test moves the clock, never
because anything slept. The SDK's own sleeping retries are off (use_fcm_endpoint), which
these tests check by counting the requests the fake saw.
"""

from __future__ import annotations

import io
import json
import random
import re
import uuid
import warnings
from collections.abc import Iterator
from datetime import timedelta

import pytest
from firebase_admin import messaging
from sqlalchemy import select

from api.config import ConfigError
from api.notifications import dispatch
from api.notifications.models import EMAIL_KINDS, KINDS, Device, Notification
from api.notifications.senders import (
    GOOGLE_FCM,
    ConsoleSender,
    FcmSender,
    Push,
    fcm_message,
    use_fcm_endpoint,
)
from api.notifications.service import Planned, enqueue
from api.notifications.texts import TEXTS
from bench.fake_fcm import FakeFcm


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeFcm]:
    with FakeFcm() as server:
        yield server


@pytest.fixture
def fcm(fake) -> Iterator[FcmSender]:
    fake.reset()
    sender = FcmSender(
        project_id=fake.project_id,
        credentials=fake.service_account(),
        base_url=fake.url,
        env="test",
        timeout=0.5,
    )
    yield sender
    sender.close()


@pytest.fixture
def deliver(app, db, clock, fcm):
    return dispatch.for_app(app, sender=fcm, name="fcm-test", rng=random.Random(3))


def _push(token: str = "tok", kind: str = "check_in_due") -> Push:
    return Push(
        notification_id=uuid.uuid4(),
        token=token,
        platform="android",
        kind=kind,
        title="You have a check-in",
        body="A short check-in is ready when you are.",
        link=None,
        collapse_key=kind,
    )


def _setup(db, world, clock, tokens=("tok",), subjects=("phq9:1",)):
    for token in tokens:
        db.add(
            Device(
                user_id=world.graduate.user_id,
                token=token,
                platform="android",
                created_at=clock.now(),
                last_seen_at=clock.now(),
            )
        )
    items = [
        Planned(
            world.graduate.user_id,
            "check_in_due",
            subject,
            clock.now(),
            graduate_id=world.graduate.id,
            collapse_key=subject,
        )
        for subject in subjects
    ]
    enqueue(db, items=items, now=clock.now())
    db.flush()


def _rows(db):
    db.expire_all()
    return list(db.scalars(select(Notification).order_by(Notification.subject)))


# -- the SDK, pinned and pointed ---------------------------------------------------------


def test_the_private_endpoint_attribute_we_override_still_exists():
    """firebase-admin has no endpoint setting; if this fails, use_fcm_endpoint needs work."""
    assert messaging._MessagingService.FCM_URL.startswith(GOOGLE_FCM + "/v1/projects/")
    assert "_fcm_url" in messaging._MessagingService.__init__.__code__.co_names


def test_the_override_reaches_the_fake_through_the_real_oauth_flow(fake, fcm):
    assert fcm.send([_push()])[0].ok
    assert fake.token_requests >= 1  # the service account's token_uri is the fake
    assert fake.delivered_to("tok") == 1


def test_production_refuses_an_endpoint_that_is_not_google(fake):
    import firebase_admin
    from firebase_admin import credentials

    app = firebase_admin.initialize_app(
        credentials.Certificate(fake.service_account()),
        {"projectId": fake.project_id},
        name="production-check",
    )
    try:
        for url in (fake.url, "http://fcm.googleapis.com", "https://fcm.googleapis.com.evil.io"):
            with pytest.raises(ConfigError):
                use_fcm_endpoint(app, url, env="production")
        assert use_fcm_endpoint(app, None, env="production").startswith(GOOGLE_FCM)
    finally:
        firebase_admin.delete_app(app)


def test_messages_carry_the_registration_token_without_a_deprecation_warning_each():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        message = fcm_message(_push("registration-token"))
    encoded = messaging._MessagingService.encode_message(message)
    assert encoded["token"] == "registration-token" and "fid" not in encoded


# -- faults ------------------------------------------------------------------------------


def test_fcm_500_for_a_while_then_ok_loses_nothing_and_sends_once(db, world, clock, fake, deliver):
    _setup(db, world, clock)
    fake.fail("internal", times=3)
    for attempt in range(3):
        report = deliver.drain()
        assert report.retried == 1, attempt
        assert fake.attempts["tok"] == attempt + 1  # one request per pass: no SDK retries
        clock.set(_rows(db)[0].next_attempt_at)
    assert deliver.drain().sent == 1
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, None)
    assert fake.delivered_to("tok") == 1


def test_429_backs_off_with_jitter_and_honours_retry_after(db, world, clock, fake, deliver):
    _setup(db, world, clock)
    fake.fail("quota", times=1, retry_after=120)
    assert deliver.drain().retried == 1
    assert fake.attempts["tok"] == 1  # the SDK did not wait out Retry-After itself
    (row,) = _rows(db)
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=120)
    assert deliver.drain().claimed == 0
    clock.set(row.next_attempt_at)
    assert deliver.drain().sent == 1
    assert fake.delivered_to("tok") == 1


@pytest.mark.parametrize("fault", ["unregistered", "sender_id_mismatch"])
def test_dead_tokens_are_deleted_and_the_inbox_keeps_the_notification(
    db, world, clock, fake, deliver, fault
):
    _setup(db, world, clock, tokens=("tok-dead", "tok-live"))
    fake.fail(fault, token="tok-dead")
    report = deliver.drain()
    assert (report.sent, report.tokens_deleted) == (1, 1)
    assert [d.token for d in db.scalars(select(Device))] == ["tok-live"]


def test_a_timeout_is_retried_later(db, world, clock, fake, deliver):
    _setup(db, world, clock)
    fake.fail("timeout", times=1, hold=2.0)  # the sender's timeout is 0.5 s
    assert deliver.drain().retried == 1
    clock.set(_rows(db)[0].next_attempt_at)
    assert deliver.drain().sent == 1


def test_bounded_attempts_then_failed_and_still_in_the_inbox(
    app, db, world, clock, fake, fcm, as_user
):
    _setup(db, world, clock)
    fake.fail("unavailable")
    dispatcher = dispatch.for_app(app, sender=fcm, max_attempts=2, rng=random.Random(0))
    assert dispatcher.drain().retried == 1
    clock.set(_rows(db)[0].next_attempt_at)
    assert dispatcher.drain().failed == 1
    (row,) = _rows(db)
    assert row.status == "failed" and "tok" not in (row.last_error or "")
    inbox = as_user(world.graduate_email).get(
        f"/api/v1/graduates/{world.graduate.id}/notifications"
    )
    assert [n["pushed"] for n in inbox.json] == [False]


# -- no health information in any payload ------------------------------------------------

FORBIDDEN = re.compile(
    r"phq|gad|\bbam\b|who-?5|\bwho\b|\biop\b|intensive outpatient|score|depress|anxi|"
    r"bipolar|ptsd|schizo|suicid|self-harm|overdose|relapse|alcohol|opioid|substance|"
    r"sertraline|fluoxetine|escitalopram|citalopram|bupropion|venlafaxine|lithium|"
    r"quetiapine|buprenorphine|naltrexone|methadone|medication|diagnos|flag|urgent|crisis",
    re.IGNORECASE,
)


def _scan(text: str, ids: list[str], shown: list[str]) -> None:
    """No health word anywhere in what leaves; no number (a score?) in what is shown."""
    for opaque in ids:
        text = text.replace(opaque, "<id>")
    assert not FORBIDDEN.search(text), text
    for visible in shown:
        assert not re.search(r"\d", visible), f"a number (a score?) on a lock screen: {visible}"


def test_no_payload_any_sender_produces_carries_health_information(
    db, world, clock, fake, fcm, app
):
    kinds = [kind for kind in KINDS if kind not in EMAIL_KINDS]  # emails: tests/test_alerts.py
    subjects = [f"{kind}:phq9:2026-11-23:score-27" for kind in kinds]  # opaque, never sent
    _setup(db, world, clock, tokens=("tok-android",))
    items = [
        Planned(world.graduate.user_id, kind, subject, clock.now(), collapse_key=kind)
        for kind, subject in zip(kinds, subjects, strict=True)
    ]
    enqueue(db, items=items, now=clock.now())
    db.commit()

    assert dispatch.for_app(app, sender=fcm).drain().sent == len(kinds) + 1
    ids = [str(row.id) for row in _rows(db)]
    assert {m["data"]["kind"] for _, m in fake.delivered} >= set(kinds)
    for _, message in fake.delivered:
        assert message["android"]["notification"]["visibility"] == "PRIVATE"
        assert set(message["data"]) <= {"notification_id", "kind", "link"}
        shown = [*message["notification"].values(), message["data"]["kind"]]
        _scan(json.dumps({k: v for k, v in message.items() if k != "token"}), ids, shown)

    console = io.StringIO()
    pushes = [
        Push(uuid.uuid4(), "tok", "ios", kind, *TEXTS[kind], f"link-{kind}", subject)
        for kind, subject in zip(kinds, subjects, strict=True)
    ]
    ConsoleSender(console).send(pushes)
    printed = console.getvalue()
    for push in pushes:
        printed = printed.replace(str(push.notification_id), "<id>")
    _scan(printed, [], [printed])
    assert len(printed.splitlines()) == len(kinds)


def test_a_failure_of_the_whole_batch_is_a_transient_error_per_message(fcm, monkeypatch):
    """E.g. the OAuth token cannot be refreshed: every message is retried later."""
    from firebase_admin import exceptions

    def no_token(messages, app=None):
        raise exceptions.UnavailableError("token endpoint unreachable")

    monkeypatch.setattr(messaging, "send_each", no_token)
    outcomes = fcm.send([_push("a"), _push("b")])
    assert [(o.ok, o.error) for o in outcomes] == [(False, "transient")] * 2
