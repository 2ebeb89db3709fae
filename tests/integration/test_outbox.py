"""The outbox sender: exactly once, through crashes, outages and concurrent senders."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bot.domain import PersonInfo, Workspace
from bot.runtime import Runtime
from bot.services import appreciation
from bot.slack import people
from bot.slack.outbox import LEASE, OutboxSender
from bot.store.models import OutboxMessage, Person
from tests.conftest import ANA, GIVER, MovableClock
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")


def record_one(runtime: Runtime, key: str = "k1") -> list[int]:
    draft = appreciation.Draft(GIVER, [ANA], "for the review", channel_id="C111", source_key=key)
    recorded = appreciation.record(
        runtime.db, WS, draft, PersonInfo(GIVER), runtime.clock(), daily_limit=10
    )
    return recorded.outbox_ids


def statuses(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return [m.status for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_messages_recorded_before_a_crash_are_sent_by_the_next_tick(
    runtime: Runtime, slack: FakeSlack
) -> None:
    from bot.jobs.tick import tick

    ids = record_one(runtime)  # written with the appreciation; the process "dies" here
    assert len(ids) == 2
    assert statuses(runtime) == ["pending", "pending"]

    assert tick(runtime).delivered == 2
    assert len(slack.messages("C111")) == 1 and len(slack.messages(ANA)) == 1
    assert tick(runtime).delivered == 0


def test_post_that_landed_before_a_crash_is_not_posted_again(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ids = record_one(runtime)
    sender = OutboxSender(runtime.db, runtime.clients, clock)
    sender.deliver(ids)
    assert len(slack.messages("C111")) == 1
    # Simulate a process that posted, then died before marking the row sent.
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .values(status="pending", sent_ts=None, claimed_until=clock() + LEASE)
            .execution_options(synchronize_session=False)
        )

    clock.now += LEASE + timedelta(seconds=1)
    results = sender.deliver_due()

    assert [r.status for r in results] == ["sent", "sent"]
    assert len(slack.messages("C111")) == 1
    assert len(slack.messages(ANA)) == 1


def test_live_claim_is_not_taken_over(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    record_one(runtime)
    with runtime.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .values(claimed_until=clock() + LEASE)
            .execution_options(synchronize_session=False)
        )
    assert OutboxSender(runtime.db, runtime.clients, clock).deliver_due() == []
    assert slack.calls_to("chat.postMessage") == []


def test_concurrent_senders_post_each_message_once(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    for n in range(5):
        record_one(runtime, key=f"k{n}")
    senders = [OutboxSender(runtime.db, runtime.clients, clock) for _ in range(4)]
    threads = [threading.Thread(target=s.deliver_due) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(slack.messages("C111")) == 5
    assert len(slack.messages(ANA)) == 5
    assert set(statuses(runtime)) == {"sent"}


def test_permanent_error_fails_the_message_without_retrying(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    slack.set_channel("C111", exists=False)
    ids = record_one(runtime)
    results = OutboxSender(runtime.db, runtime.clients, clock).deliver(ids)
    assert results[0].status == "failed" and results[0].error == "channel_not_found"
    clock.now += timedelta(hours=1)
    assert [r.id for r in OutboxSender(runtime.db, runtime.clients, clock).deliver_due()] == []


def test_transient_error_backs_off_then_succeeds(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    slack.fail_next("chat.postMessage", status=500)
    post, dm = record_one(runtime)
    sender = OutboxSender(runtime.db, runtime.clients, clock)
    assert [r.status for r in sender.deliver([post])] == ["pending"]
    assert [(r.id, r.status) for r in sender.deliver_due()] == [(dm, "sent")]  # post not due yet
    clock.now += timedelta(seconds=6)
    assert [(r.id, r.status) for r in sender.deliver_due()] == [(post, "sent")]
    assert len(slack.messages("C111")) == 1


def dm_channel_of(runtime: Runtime, user_id: str) -> str | None:
    with runtime.db.transaction() as session:
        return session.scalar(select(Person.dm_channel_id).where(Person.user_id == user_id))


def test_first_dm_goes_to_the_user_id_and_its_channel_is_kept(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    people.remember(runtime.db, WS, [PersonInfo(ANA, tz="Europe/Paris")], clock())
    sender = OutboxSender(runtime.db, runtime.clients, clock)

    sender.deliver(record_one(runtime, key="k1"))
    sender.deliver(record_one(runtime, key="k2"))

    dm_posts = [c.params["channel"] for c in slack.calls_to("chat.postMessage")][1::2]
    assert dm_posts == [ANA, "D" + ANA[1:]]
    assert slack.calls_to("conversations.open") == []
    assert dm_channel_of(runtime, ANA) == "D" + ANA[1:]
    assert len(slack.messages(ANA)) == 2


def test_reattempted_dm_with_no_known_channel_opens_it_to_find_the_earlier_post(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    people.remember(runtime.db, WS, [PersonInfo(ANA, tz="Europe/Paris")], clock())
    post, dm = record_one(runtime)
    sender = OutboxSender(runtime.db, runtime.clients, clock)
    sender.deliver([post])
    # The DM lands, but the answer (and with it the DM's channel) is lost.
    slack.drop_next("chat.postMessage", after_processing=True)
    assert [d.status for d in sender.deliver([dm])] == ["pending"]
    assert dm_channel_of(runtime, ANA) is None

    clock.now += timedelta(minutes=1)
    assert [d.status for d in sender.deliver_due()] == ["sent"]

    assert len(slack.calls_to("conversations.open")) == 1
    assert len(slack.messages(ANA)) == 1
    assert dm_channel_of(runtime, ANA) == "D" + ANA[1:]


def test_a_batch_stopped_by_rate_limits_hands_back_what_it_did_not_try(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    for n in range(3):
        record_one(runtime, key=f"k{n}")
    slack.fail_next("chat.postMessage", status=429, retry_after=0, times=3)
    sender = OutboxSender(runtime.db, runtime.clients, clock)

    assert [d.status for d in sender.deliver_due()] == ["pending"]
    # Nothing untried waits for a lease to run out, and none of it counts as an attempt.
    assert [d.status for d in sender.deliver_due()] == ["sent"] * 5
    assert slack.calls_to("conversations.history") == []


def clock_moving_after_each_post(
    runtime: Runtime, clock: MovableClock, step: timedelta
) -> tuple[OutboxSender, OutboxSender]:
    """A sender working through a batch while time passes and a second sender runs after
    each of its posts, as another process's tick would."""
    other = OutboxSender(runtime.db, runtime.clients, clock)

    class Slow(OutboxSender):
        def _post(self, *args: Any, **kwargs: Any) -> tuple[str, str]:
            posted = super()._post(*args, **kwargs)
            clock.now += step
            other.deliver_due()
            return posted

    return Slow(runtime.db, runtime.clients, clock), other


def test_long_batch_renews_its_claim_so_no_other_sender_takes_over(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ids = record_one(runtime, key="k1") + record_one(runtime, key="k2")
    sender, _other = clock_moving_after_each_post(runtime, clock, LEASE * 0.6)

    assert [d.status for d in sender.deliver(ids)] == ["sent"] * 4

    assert len(slack.messages("C111")) == 2 and len(slack.messages(ANA)) == 2
    assert slack.calls_to("conversations.history") == []


def test_claim_taken_over_after_a_stall_is_left_to_the_new_holder(
    runtime: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    ids = record_one(runtime, key="k1") + record_one(runtime, key="k2")
    # Past the whole lease after the first post: the other sender takes the rest.
    sender, _other = clock_moving_after_each_post(runtime, clock, LEASE + timedelta(seconds=1))

    results = sender.deliver(ids)

    assert [d.status for d in results] == ["sent", "pending", "pending", "pending"]
    assert len(slack.messages("C111")) == 2 and len(slack.messages(ANA)) == 2
    assert set(statuses(runtime)) == {"sent"}
