"""Devices, the outbox and the inbox; dispatch through a recording sender, time frozen."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.notifications import dispatch, service
from api.notifications.dispatch import Dispatcher
from api.notifications.models import KINDS, Device, Notification
from api.notifications.senders import SENT, Outcome, Push
from api.notifications.service import Planned, enqueue
from api.notifications.texts import TEXTS


class RecordingSender:
    """Accepts every push and remembers it; `outcomes` scripts a reply per token."""

    max_batch = 500

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        self.outcomes: dict[str, Outcome] = {}

    def send(self, pushes: Sequence[Push]) -> list[Outcome]:
        self.pushes.extend(pushes)
        return [self.outcomes.get(push.token, SENT) for push in pushes]


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def dispatcher(app, db, clock, sender):
    return dispatch.for_app(app, sender=sender, name="d1", rng=random.Random(7))


def _device(db, user_id, token, platform="android", now=None):
    device = Device(
        user_id=user_id,
        token=token,
        platform=platform,
        created_at=now,
        last_seen_at=now,
    )
    db.add(device)
    db.flush()
    return device


def _plan(db, world, clock, *, subject="phq9:2026-11-23", kind="check_in_due", **options):
    due = options.pop("due_at", clock.now())
    item = Planned(
        world.graduate.user_id, kind, subject, due, graduate_id=world.graduate.id, **options
    )
    return enqueue(db, items=[item], now=clock.now())


def _rows(db, **where):
    db.expire_all()
    return list(db.scalars(select(Notification).filter_by(**where).order_by(Notification.due_at)))


# -- the outbox --------------------------------------------------------------------------


def test_planning_twice_inserts_nothing(db, world, clock):
    items = [
        Planned(world.graduate.user_id, "skill_practice", "plan-skill:1", clock.now() + delta)
        for delta in (timedelta(hours=1), timedelta(hours=5))
    ]
    assert enqueue(db, items=items, now=clock.now()) == 2
    assert enqueue(db, items=items, now=clock.now()) == 0
    row = _rows(db, user_id=world.graduate.user_id)[0]
    assert (row.status, row.collapse_key, row.next_attempt_at) == (
        "pending",
        "skill_practice",
        row.due_at,
    )
    assert (row.title, row.body) == TEXTS["skill_practice"]


def test_every_kind_has_generic_text_and_unknown_kinds_are_refused(db, world, clock):
    assert set(KINDS) == set(TEXTS)
    with pytest.raises(ValueError):
        enqueue(
            db,
            items=[Planned(world.graduate.user_id, "phq9_result", "x", clock.now())],
            now=clock.now(),
        )


def test_a_completed_task_cancels_its_pending_reminders(db, world, clock, dispatcher):
    _plan(db, world, clock, subject="phq9:a", kind="check_in_due")
    _plan(db, world, clock, subject="phq9:a", kind="check_in_nudge", due_at=clock.now())
    _plan(db, world, clock, subject="phq9:b", kind="check_in_due")
    cancelled = service.cancel(
        db,
        graduate_id=world.graduate.id,
        kind=("check_in_due", "check_in_nudge"),
        subject="phq9:a",
    )
    assert cancelled == 2
    assert [r.status for r in _rows(db, subject="phq9:a")] == ["cancelled", "cancelled"]
    assert _rows(db, subject="phq9:b")[0].status == "pending"
    with pytest.raises(ValueError):
        service.cancel(db)


# -- devices -----------------------------------------------------------------------------


def test_devices_register_move_and_unregister(db, world, as_user, clock):
    graduate = as_user(world.graduate_email)
    staff = as_user(world.staff.email)
    first = graduate.post("/api/v1/devices", json={"token": "tok-phone", "platform": "ios"})
    assert first.status_code == 201
    assert "token" not in first.json
    again = graduate.post("/api/v1/devices", json={"token": "tok-phone", "platform": "ios"})
    assert again.json["id"] == first.json["id"]
    assert (
        graduate.post("/api/v1/devices", json={"token": "tok-tab", "platform": "web"}).status_code
        == 201
    )

    # The phone changes hands: its token now reaches the staff member only.
    moved = staff.post("/api/v1/devices", json={"token": "tok-phone", "platform": "android"})
    assert moved.json["id"] == first.json["id"]
    owners = {d.token: d.user_id for d in db.scalars(select(Device))}
    assert owners == {"tok-phone": world.staff.user_id, "tok-tab": world.graduate.user_id}

    # Deleting someone else's device is a quiet no-op; one's own, by token or id, works.
    assert graduate.delete("/api/v1/devices/tok-phone").status_code == 204
    assert db.scalar(select(Device).where(Device.token == "tok-phone")) is not None
    assert staff.delete(f"/api/v1/devices/{first.json['id']}").status_code == 204
    assert graduate.delete("/api/v1/devices/tok-tab").status_code == 204
    db.expire_all()
    assert list(db.scalars(select(Device))) == []


@pytest.mark.parametrize(
    "body",
    [
        {"token": "", "platform": "ios"},
        {"token": "has space", "platform": "ios"},
        {"token": "x" * 1025, "platform": "ios"},
        {"token": "ok", "platform": "blackberry"},
        {"token": "ok"},
    ],
)
def test_bad_device_bodies_are_422(world, as_user, body):
    response = as_user(world.graduate_email).post("/api/v1/devices", json=body)
    assert response.status_code == 422


def test_sign_out_everywhere_unregisters_every_device(db, world, as_user, clock):
    _device(db, world.graduate.user_id, "tok-a", now=clock.now())
    _device(db, world.graduate.user_id, "tok-b", now=clock.now())
    _device(db, world.staff.user_id, "tok-staff", now=clock.now())
    db.commit()
    response = as_user(world.graduate_email).post("/api/v1/me/sign-out-everywhere")
    assert response.status_code == 204
    db.expire_all()
    assert [d.token for d in db.scalars(select(Device))] == ["tok-staff"]


# -- dispatch ----------------------------------------------------------------------------


def test_due_rows_go_to_every_device_and_are_recorded_once(db, world, clock, dispatcher, sender):
    _device(db, world.graduate.user_id, "tok-phone", "ios", now=clock.now())
    _device(db, world.graduate.user_id, "tok-tablet", "android", now=clock.now())
    _plan(db, world, clock, subject="now")
    _plan(db, world, clock, subject="later", due_at=clock.now() + timedelta(hours=2))
    report = dispatcher.drain()
    assert (report.sent, report.pushes) == (1, 2)
    assert {p.token for p in sender.pushes} == {"tok-phone", "tok-tablet"}
    (sent,) = _rows(db, subject="now")
    assert (sent.status, sent.delivered_via, sent.sent_at, sent.attempts) == (
        "sent",
        "push",
        clock.now(),
        1,
    )
    assert _rows(db, subject="later")[0].status == "pending"
    assert dispatcher.drain().claimed == 0
    assert len(sender.pushes) == 2


def test_no_device_means_the_inbox(db, world, clock, dispatcher, sender, as_user):
    _plan(db, world, clock)
    assert dispatcher.drain().to_inbox == 1
    assert sender.pushes == []
    inbox = as_user(world.graduate_email).get(
        f"/api/v1/graduates/{world.graduate.id}/notifications"
    )
    assert inbox.status_code == 200
    assert [(n["kind"], n["pushed"]) for n in inbox.json] == [("check_in_due", False)]


def test_past_expiry_is_expired_not_sent(db, world, clock, dispatcher, sender):
    """An outage until after quiet hours began: the morning reminder must not go at 22:00."""
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    _plan(db, world, clock, due_at=clock.now(), expires_at=clock.now() + timedelta(hours=6))
    clock.advance(hours=7)
    report = dispatcher.drain()
    assert (report.expired, report.sent) == (1, 0)
    assert sender.pushes == []
    assert _rows(db)[0].status == "expired"


def test_a_newer_due_row_supersedes_older_ones_of_its_collapse_key(
    db, world, clock, dispatcher, sender
):
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    start = clock.now()
    for hours in (0, 1, 2, 30):  # three due after an outage, one planned for tomorrow
        _plan(
            db,
            world,
            clock,
            kind="skill_practice",
            subject=f"slot:{hours}",
            due_at=start + timedelta(hours=hours),
        )
    clock.advance(hours=3)
    report = dispatcher.drain()
    assert (report.sent, report.superseded) == (1, 2)
    assert [r.status for r in _rows(db, kind="skill_practice")] == [
        "superseded",
        "superseded",
        "sent",
        "pending",
    ]
    assert len(sender.pushes) == 1


def test_a_crashed_dispatcher_loses_nothing_and_nothing_is_recorded_twice(
    app, db, world, clock, sender
):
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    for i in range(5):
        _plan(db, world, clock, subject=f"s{i}")
    crashed = dispatch.for_app(app, sender=RecordingSender(), name="crashed", batch_size=3)
    survivor = dispatch.for_app(app, sender=sender, name="survivor")

    batch = crashed.claim(dispatch.Report())  # claims 3, then "dies" before sending
    assert len(batch.rows) == 3
    assert survivor.drain().sent == 2  # the other two; the claimed three wait for the lease
    assert len(sender.pushes) == 2

    clock.advance(minutes=6)  # the lease runs out
    assert survivor.drain().sent == 3
    assert {p.notification_id for p in sender.pushes} == {r.id for r in _rows(db)}

    # The "dead" one was only slow: it sends (at least once to FCM) but records nothing.
    late = dispatch.Report()
    crashed.deliver(batch, late)
    assert (late.sent, late.lost_claims) == (0, 3)
    rows = _rows(db)
    assert [r.status for r in rows] == ["sent"] * 5
    assert {r.claimed_by.split(":")[0] for r in rows} == {"survivor"}


def test_a_slow_dispatcher_still_records_rows_nobody_reclaimed(app, db, world, clock, sender):
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    _plan(db, world, clock)
    slow = dispatch.for_app(app, sender=sender, name="slow")
    batch = slow.claim(dispatch.Report())
    clock.advance(minutes=6)
    other = dispatch.for_app(app, sender=RecordingSender(), name="other")
    other._recover_expired_claims(db, clock.now())  # back to pending, claim tag kept
    report = dispatch.Report()
    slow.deliver(batch, report)
    assert (report.sent, report.lost_claims) == (1, 0)
    assert other.drain().claimed == 0


def test_unregistered_tokens_are_deleted_and_the_row_goes_to_the_inbox(
    db, world, clock, dispatcher, sender
):
    _device(db, world.graduate.user_id, "tok-dead", now=clock.now())
    sender.outcomes["tok-dead"] = Outcome(ok=False, error="unregistered", code="UNREGISTERED")
    _plan(db, world, clock)
    report = dispatcher.drain()
    assert (report.to_inbox, report.tokens_deleted) == (1, 1)
    assert db.scalars(select(Device)).all() == []
    assert _rows(db)[0].delivered_via == "inbox"


def test_transient_errors_retry_with_backoff_then_fail_after_bounded_attempts(
    db, world, clock, sender
):
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    sender.outcomes["tok"] = Outcome(ok=False, error="transient", code="INTERNAL")
    _plan(db, world, clock)
    dispatcher = Dispatcher(
        session_factory=lambda: db,
        sender=sender,
        clock=clock,
        max_attempts=3,
        rng=random.Random(1),
    )
    delays = []
    for _ in range(2):
        start = clock.now()
        assert dispatcher.drain().retried == 1
        (row,) = _rows(db)
        assert row.status == "pending" and row.last_error == "INTERNAL"
        delays.append(row.next_attempt_at - start)
        assert dispatcher.drain().claimed == 0  # not before its time
        clock.set(row.next_attempt_at)
    assert timedelta(seconds=15) <= delays[0] <= timedelta(seconds=30)
    assert timedelta(seconds=30) <= delays[1] <= timedelta(seconds=60)
    assert dispatcher.drain().failed == 1
    (row,) = _rows(db)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 3, None)
    assert "tok" not in row.last_error


def test_quota_backs_off_at_least_as_long_as_told(db, world, clock, dispatcher, sender):
    _device(db, world.graduate.user_id, "tok", now=clock.now())
    sender.outcomes["tok"] = Outcome(ok=False, error="quota", code="429", retry_after=600)
    _plan(db, world, clock)
    assert dispatcher.drain().retried == 1
    assert _rows(db)[0].next_attempt_at >= clock.now() + timedelta(seconds=600)
    del sender.outcomes["tok"]
    clock.advance(seconds=601)
    assert dispatcher.drain().sent == 1


def test_some_devices_reached_counts_as_sent(db, world, clock, dispatcher, sender):
    _device(db, world.graduate.user_id, "tok-ok", now=clock.now())
    _device(db, world.graduate.user_id, "tok-flaky", now=clock.now())
    sender.outcomes["tok-flaky"] = Outcome(ok=False, error="transient", code="UNAVAILABLE")
    _plan(db, world, clock)
    assert dispatcher.drain().sent == 1
    assert dispatcher.drain().claimed == 0


def test_run_once_includes_a_dispatch_pass(app, db, world, clock):
    from jobs.scheduler import run_all_once

    _plan(db, world, clock, subject="run-once")
    counts = run_all_once(app)
    assert counts["notifications.dispatch"] >= 1  # the planner's own reminders may join it
    assert _rows(db, subject="run-once")[0].status == "sent"


# -- inboxes -----------------------------------------------------------------------------


def test_the_inbox_shows_what_was_sent_newest_first_and_pages(
    db, world, clock, dispatcher, as_user
):
    start = clock.now() - timedelta(hours=30)
    for hours in range(25):
        due = start + timedelta(hours=hours)
        _plan(db, world, clock, subject=f"s{hours}", due_at=due, collapse_key=f"s{hours}")
    _plan(db, world, clock, subject="future", due_at=clock.now() + timedelta(hours=1))
    _plan(db, world, clock, subject="gone", due_at=clock.now())
    service.cancel(db, graduate_id=world.graduate.id, subject="gone")
    dispatcher.drain()
    graduate = as_user(world.graduate_email)
    url = f"/api/v1/graduates/{world.graduate.id}/notifications"
    page = graduate.get(url)
    assert page.status_code == 200
    assert len(page.json) == 20 and "X-Pagination" in page.headers
    due = [n["due_at"] for n in page.json + graduate.get(url + "?page=2").json]
    assert len(due) == 25 and due == sorted(due, reverse=True)
    assert graduate.get(url + "?page_size=101").status_code == 422


def test_marking_read_is_idempotent_and_only_for_ones_own(db, world, clock, dispatcher, as_user):
    _plan(db, world, clock)
    dispatcher.drain()
    (row,) = _rows(db)
    graduate = as_user(world.graduate_email)
    url = f"/api/v1/graduates/{world.graduate.id}/notifications/{row.id}/read"
    first = graduate.post(url)
    assert first.status_code == 200 and first.json["read_at"]
    clock.advance(hours=1)
    assert graduate.post(url).json["read_at"] == first.json["read_at"]
    assert (
        as_user(world.staff.email).post(f"/api/v1/me/notifications/{row.id}/read").status_code
        == 404
    )


def test_staff_have_their_own_inbox(db, world, clock, dispatcher, as_user):
    enqueue(
        db,
        items=[Planned(world.staff.user_id, "escalation", "flag:123", clock.now())],
        now=clock.now(),
    )
    _plan(db, world, clock)
    dispatcher.drain()
    staff = as_user(world.staff.email)
    mine = staff.get("/api/v1/me/notifications")
    assert [n["kind"] for n in mine.json] == ["escalation"]
    assert staff.post(f"/api/v1/me/notifications/{mine.json[0]['id']}/read").status_code == 200


def test_a_dispatcher_outlives_a_database_outage(db, world, clock, sender):
    """The first pass cannot reach the database; the next one delivers, nothing lost."""
    import threading

    from sqlalchemy.exc import OperationalError

    _device(db, world.graduate.user_id, "tok", now=clock.now())
    _plan(db, world, clock)
    db.commit()  # the failed pass rolls back its session
    stop = threading.Event()
    calls = {"n": 0}

    def flaky_session():
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        if calls["n"] > 20:
            stop.set()  # never loop forever, whatever happens
        return db

    class StopAfterSending(RecordingSender):
        def send(self, pushes):
            stop.set()
            return super().send(pushes)

    stopping = StopAfterSending()
    Dispatcher(session_factory=flaky_session, sender=stopping, clock=clock).run_forever(
        stop, idle_seconds=0
    )
    assert len(stopping.pushes) == 1
    assert _rows(db)[0].status == "sent"


def test_a_row_that_kills_every_dispatcher_fails_after_the_attempts(app, db, world, clock):
    _plan(db, world, clock)
    for _ in range(2):  # claimed, never recorded (the dispatcher died), lease runs out
        assert (
            len(
                dispatch.for_app(app, sender=RecordingSender(), max_attempts=2)
                .claim(dispatch.Report())
                .rows
            )
            == 1
        )
        clock.advance(minutes=6)
    report = dispatch.for_app(app, sender=RecordingSender(), max_attempts=2).drain()
    assert (report.failed, report.sent) == (1, 0)
    (row,) = _rows(db)
    assert row.status == "failed" and row.last_error.startswith("abandoned")
