"""The weekly digest: what it says, where it goes, and that it goes exactly once."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.blocks.digest import digest_message, digest_text
from bot.domain import PersonInfo, Workspace
from bot.jobs.digest import post_digest
from bot.jobs.tick import tick
from bot.runtime import Runtime
from bot.services import appreciation, digest, workspaces
from bot.services.settings import for_workspace
from bot.slack.outbox import LEASE
from bot.store.models import OutboxMessage
from tests.conftest import ANA, BEN, GIVER, MovableClock
from tests.support.blockkit import assert_valid_message_blocks
from tests.support.fake_slack import FakeSlack

WS = Workspace("T111")
WEEK = "2026-W48"  # Monday 23 November to Sunday 29 November 2026
# Friday 27 November 2026, 16:00 in Paris (the digest time below) is 15:00 UTC.
DIGEST_AT = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
N = iter(range(10_000))


def give(
    runtime: Runtime,
    giver: str,
    recipients: list[str],
    reason: str,
    at: datetime,
    *,
    private: bool = False,
    values: list[str] | None = None,
    said_in_private: bool = False,
) -> None:
    draft = appreciation.Draft(
        giver,
        recipients,
        reason,
        values=values or [],
        is_private=private,
        said_in_private=said_in_private,
        source_key=f"test:{next(N)}",
    )
    appreciation.record(runtime.db, WS, draft, PersonInfo(giver), at, daily_limit=100)


@pytest.fixture
def configured(runtime: Runtime, clock: MovableClock) -> Runtime:
    runtime.settings = replace(
        runtime.settings,
        digest_channel="C111",
        digest_day="fri",
        digest_time="16:00",
        timezone="Europe/Paris",
        admins=("UADMIN",),
    )
    workspaces.ensure(runtime.db, WS, "Example", clock())
    return runtime


def week_day(day: int, hour: int = 12) -> datetime:
    """A moment in 2026-W48 (day 0 is Monday), in UTC."""
    return datetime(2026, 11, 23, hour, tzinfo=UTC) + timedelta(days=day)


def test_digest_ranks_breadth_quotes_only_public_and_names_first_timers(
    configured: Runtime,
) -> None:
    give(configured, GIVER, [BEN], "old thanks", week_day(-10))
    for n in range(10):
        give(configured, GIVER, [ANA], f"ten from one {n}", week_day(1))
    for giver in ["U401", "U402", "U403", "U404"]:
        give(configured, giver, [BEN], f"from {giver}", week_day(2), values=["teamwork"])
    give(configured, "U405", ["U999"], "private words", week_day(3), private=True)

    built = digest.build(configured.db, WS, WEEK, "Europe/Paris")

    assert built is not None
    assert [a.user_id for a in built.advocates] == [BEN, ANA]
    assert all(a.user_id != "U999" for a in built.advocates)
    assert "U999" not in built.first_timers and ANA in built.first_timers
    assert BEN not in built.first_timers  # thanked before this week
    assert built.total == 15 and built.people_thanked == 3
    assert built.top_values == [("teamwork", 4)]
    rendered = str(digest_message(built))
    assert "private words" not in rendered and "U999" not in rendered


def test_words_said_in_private_count_and_name_their_advocate_but_are_never_quoted(
    configured: Runtime,
) -> None:
    """Ana's latest thanks was said in a private channel: she is quoted from the one before.
    Ben's only thanks was: he is named, counted, and said to be thanked in private."""
    give(configured, GIVER, [ANA], "for the public launch", week_day(1))
    give(configured, "U401", [ANA], "the cuts in March", week_day(2), said_in_private=True)
    give(configured, "U402", [BEN], "the reorg plan", week_day(3), said_in_private=True)
    give(configured, "U403", [BEN], "the board pack", week_day(3), said_in_private=True)

    built = digest.build(configured.db, WS, WEEK, "Europe/Paris")

    assert built is not None and built.total == 4 and built.people_thanked == 2
    ana, ben = built.advocates  # equal scores and counts: by user id
    assert (ben.user_id, ben.received, sorted(ben.givers)) == (BEN, 2, ["U402", "U403"])
    assert (ben.quote, ben.quote_giver, ben.thanked_in_private) == ("", "", True)
    assert (ana.user_id, ana.received, sorted(ana.givers)) == (ANA, 2, [GIVER, "U401"])
    assert (ana.quote, ana.quote_giver, ana.thanked_in_private) == (
        "for the public launch",
        GIVER,
        False,
    )
    message = digest_message(built)
    text = digest_text(built, lambda user_id: user_id)
    for rendered in (str(message), text):
        for words in ("the cuts in March", "the reorg plan", "the board pack"):
            assert words not in rendered
        assert "for the public launch" in rendered
    [ben_line] = [b for b in message["blocks"] if f"<@{BEN}>*" in str(b)]
    assert "Thanked in a private conversation" in ben_line["text"]["text"]
    assert f"{BEN}: thanked by" in text and "(Thanked in a private conversation)" in text


def test_week_without_appreciation_has_no_digest(configured: Runtime) -> None:
    give(configured, GIVER, [ANA], "last week", week_day(-3))
    assert digest.build(configured.db, WS, WEEK, "Europe/Paris") is None


def test_week_is_bounded_in_the_workspace_timezone(configured: Runtime) -> None:
    # Sunday 29 Nov 23:30 UTC is Monday 30 Nov 00:30 in Paris: next week there.
    give(configured, GIVER, [ANA], "late sunday", datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    assert digest.build(configured.db, WS, WEEK, "Europe/Paris") is None
    assert digest.build(configured.db, WS, WEEK, "UTC") is not None


def test_digest_is_posted_once_at_the_scheduled_time(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))

    clock.now = DIGEST_AT - timedelta(minutes=1)
    tick(configured)
    assert slack.messages("C111") == []

    clock.now = DIGEST_AT
    report = tick(configured)
    assert [d.status for d in report.digests] == ["posted"]
    posted = slack.messages("C111")
    assert len(posted) == 1
    assert_valid_message_blocks(posted[0]["blocks"])

    for minutes in (1, 15, 60 * 5):
        clock.now = DIGEST_AT + timedelta(minutes=minutes)
        tick(configured)
    assert len(slack.messages("C111")) == 1


def test_missed_digest_is_caught_up_within_a_day_and_never_after(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    clock.now = DIGEST_AT + timedelta(hours=25)  # the app was down all Friday evening
    tick(configured)
    assert slack.messages("C111") == []

    clock.now = DIGEST_AT + timedelta(hours=23)
    tick(configured)
    assert len(slack.messages("C111")) == 1


def test_concurrent_ticks_post_one_digest(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    clock.now = DIGEST_AT
    threads = [threading.Thread(target=tick, args=(configured,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slack.messages("C111")) == 1


def test_digest_posted_before_a_crash_is_not_posted_again(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    clock.now = DIGEST_AT
    tick(configured)
    # The process posted, then died before it could mark the digest as sent.
    with configured.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == f"digest:{WEEK}:C111")
            .values(status="pending", claimed_until=clock() + LEASE)
            .execution_options(synchronize_session=False)
        )
    clock.now += LEASE + timedelta(seconds=1)
    tick(configured)
    assert len(slack.messages("C111")) == 1
    with configured.db.transaction() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("digest:%")))
    assert row is not None and row.status == "sent"


def test_posting_the_same_week_twice_posts_once(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    config = for_workspace(configured.db, WS, configured.settings)
    first = post_digest(configured, WS, config, WEEK, "C111", clock())
    second = post_digest(configured, WS, config, WEEK, "C111", clock())
    assert (first.status, second.status) == ("posted", "already")
    assert len(slack.messages("C111")) == 1
    other = post_digest(configured, WS, config, WEEK, "C222", clock())
    assert other.status == "posted"


def test_public_channel_without_the_app_is_joined(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    slack.set_channel("C333", is_member=False)
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    config = for_workspace(configured.db, WS, configured.settings)
    outcome = post_digest(configured, WS, config, WEEK, "C333", clock())
    assert outcome.status == "posted"
    assert slack.calls_to("conversations.join")[0].params["channel"] == "C333"


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"is_member": False, "is_private": True}, "invite it"),
        ({"is_archived": True}, "archived"),
        ({"exists": False}, "not found"),
    ],
)
def test_unreachable_channel_tells_admins_once(
    configured: Runtime, slack: FakeSlack, clock: MovableClock, state: dict, reason: str
) -> None:
    slack.add_user("UADMIN", name="admin")
    slack.set_channel("G444", **state)
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    config = for_workspace(configured.db, WS, configured.settings)

    outcome = post_digest(configured, WS, config, WEEK, "G444", clock())
    post_digest(configured, WS, config, WEEK, "G444", clock())
    tick(configured)
    tick(configured)

    assert outcome.status == "problem" and reason in outcome.detail
    admin_dms = slack.messages("UADMIN")
    assert len(admin_dms) == 1 and reason in admin_dms[0]["text"]
    assert slack.messages("G444") == []
