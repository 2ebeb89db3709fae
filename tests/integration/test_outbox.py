"""The outbox sender: exactly once, through crashes, outages and concurrent senders."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from bot.runtime import Runtime
from bot.services import appreciation
from bot.services.workspace import PersonInfo, Workspace
from bot.slack.outbox import LEASE, OutboxSender
from bot.store.models import OutboxMessage
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
