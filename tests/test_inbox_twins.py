"""The graduate's inbox shows one reminder once, even when two forms opened together."""

from __future__ import annotations

import random
from datetime import timedelta

from api.notifications import dispatch
from api.notifications.service import Planned, enqueue


def test_two_check_ins_opening_together_show_once_in_the_inbox(db, world, clock, app, as_user):
    now = clock.now()
    user, graduate_id = world.graduate.user_id, world.graduate.id
    enqueue(
        db,
        items=[
            Planned(user, "check_in_due", "phq9:2026-11-23", now, graduate_id=graduate_id),
            Planned(user, "check_in_due", "gad7:2026-11-23", now, graduate_id=graduate_id),
            Planned(user, "check_in_nudge", "bam:2026-11-23", now + timedelta(hours=2),
                    graduate_id=graduate_id),
        ],
        now=now,
    )  # fmt: skip
    clock.advance(hours=3)
    dispatch.for_app(app, name="d1", rng=random.Random(7)).drain()

    graduate = as_user(world.graduate_email)
    inbox = graduate.get(f"/api/v1/graduates/{graduate_id}/notifications").json

    # Newest first: the later reminder, then the two that opened together, once.
    assert [n["kind"] for n in inbox] == ["check_in_nudge", "check_in_due"]
