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
from bot.services import appreciation, asks, digest, workspaces
from bot.services import settings as workspace_settings
from bot.services.digest import Digest
from bot.services.settings import for_workspace
from bot.slack.outbox import LEASE
from bot.store.models import Ask, OutboxMessage, PostedDigest
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


def build(runtime: Runtime, week: str = WEEK, timezone: str = "Europe/Paris") -> Digest | None:
    """The digest scheduled in `week`, with the workspace's schedule in `timezone`."""
    config = replace(for_workspace(runtime.db, WS, runtime.settings), timezone=timezone)
    window = digest.window(runtime.db, WS, week, config)
    return digest.build(runtime.db, WS, window, timezone)


def windows(runtime: Runtime) -> list[tuple[str, str, datetime | None, datetime | None]]:
    """The recorded digests: week, channel, and the days each covers."""
    with runtime.db.transaction() as session:
        rows = session.scalars(select(PostedDigest).order_by(PostedDigest.week, PostedDigest.id))
        return [(r.week, r.channel_id, r.starts_at, r.ends_at) for r in rows]


def totals(slack: FakeSlack, channel: str = "C111") -> list[str]:
    """The totals line of each digest posted in `channel`."""
    return [
        element["text"]
        for message in slack.messages(channel)
        for block in message["blocks"]
        if block["type"] == "context"
        for element in block["elements"]
        if "appreciation" in element["text"]
    ]


def test_digest_ranks_breadth_quotes_only_public_and_names_first_timers(
    configured: Runtime,
) -> None:
    give(configured, GIVER, [BEN], "old thanks", week_day(-10))
    for n in range(10):
        give(configured, GIVER, [ANA], f"ten from one {n}", week_day(1))
    for giver in ["U401", "U402", "U403", "U404"]:
        give(configured, giver, [BEN], f"from {giver}", week_day(2), values=["teamwork"])
    give(configured, "U405", ["U999"], "private words", week_day(3), private=True)

    built = build(configured)

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

    built = build(configured)

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
    # Friday 20 November 13:00 in Paris: before the previous week's digest at 16:00.
    give(configured, GIVER, [ANA], "last week", week_day(-3))
    assert build(configured) is None


def test_digest_ends_at_its_instant_in_the_workspace_timezone(configured: Runtime) -> None:
    # Friday 27 Nov 15:30 UTC is 16:30 in Paris: after the Paris digest, before a UTC one.
    give(configured, GIVER, [ANA], "friday afternoon", datetime(2026, 11, 27, 15, 30, tzinfo=UTC))
    assert build(configured, timezone="Europe/Paris") is None
    assert build(configured, "2026-W49", "Europe/Paris") is not None
    assert build(configured, timezone="UTC") is not None


def test_digest_covers_the_days_since_the_previous_one_not_its_iso_week(
    configured: Runtime,
) -> None:
    # The previous week's Friday evening and weekend belong to this week's digest; this
    # week's Friday evening to the next.
    for at in (week_day(-3, 16), week_day(-2), week_day(-1), week_day(4, 14), week_day(4, 15)):
        give(configured, GIVER, [ANA], f"at {at}", at)
    built = build(configured)
    assert built is not None and built.total == 4
    assert (built.starts_at, built.ends_at) == (week_day(-3, 15), week_day(4, 15))


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


def test_next_digest_starts_where_the_last_posted_one_ended_after_a_schedule_change(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    friday_evening = DIGEST_AT + timedelta(hours=2)
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    give(configured, GIVER, [BEN], "friday evening", friday_evening)
    clock.now = DIGEST_AT
    tick(configured)
    # An admin moves the digest to Monday 09:00 on Saturday.
    before = for_workspace(configured.db, WS, configured.settings)
    overrides = {"digest_day": "mon", "digest_time": "09:00"}
    workspace_settings.save(configured.db, WS, "UADMIN", overrides, before, clock())
    monday = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    clock.now = monday
    tick(configured)

    assert windows(configured) == [
        ("2026-W48", "C111", week_day(-3, 15), DIGEST_AT),
        ("2026-W49", "C111", DIGEST_AT, monday),
    ]
    assert [t.split(".")[0] for t in totals(slack)] == [
        "1 appreciation from 1 person to 1",
        "1 appreciation from 1 person to 1",
    ]


def test_a_digest_posted_early_covers_until_then_and_the_next_starts_there(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "tuesday", week_day(1))
    give(configured, GIVER, [BEN], "thursday", week_day(3))
    wednesday = week_day(2)
    config = for_workspace(configured.db, WS, configured.settings)
    assert post_digest(configured, WS, config, WEEK, "C111", wednesday).status == "posted"
    clock.now = DIGEST_AT  # the scheduled digest of the week: already posted
    assert tick(configured).digests == []
    clock.now = DIGEST_AT + timedelta(days=7)
    tick(configured)

    assert windows(configured) == [
        ("2026-W48", "C111", week_day(-3, 15), wednesday),
        ("2026-W49", "C111", wednesday, DIGEST_AT + timedelta(days=7)),
    ]
    assert len(totals(slack)) == 2 and all(t.startswith("1 appreciation") for t in totals(slack))


def test_a_week_without_appreciation_leaves_its_days_to_the_next_digest(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    clock.now = DIGEST_AT
    tick(configured)
    clock.now = DIGEST_AT + timedelta(days=7)
    assert tick(configured).digests == []  # nothing given: nothing posted, nothing recorded
    give(configured, GIVER, [BEN], "the week after", DIGEST_AT + timedelta(days=8))
    clock.now = DIGEST_AT + timedelta(days=14)
    tick(configured)

    assert windows(configured) == [
        ("2026-W48", "C111", week_day(-3, 15), DIGEST_AT),
        ("2026-W50", "C111", DIGEST_AT, DIGEST_AT + timedelta(days=14)),
    ]


def test_a_digest_slack_refused_for_good_leaves_its_days_to_the_next(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    previous = week_day(-3, 15)  # the 2026-W47 digest, Friday 20 November 16:00 in Paris
    give(configured, GIVER, [BEN], "the week before", week_day(-4))
    give(configured, GIVER, [ANA], "the migration plan", week_day(1))
    clock.now = previous
    tick(configured)
    clock.now = DIGEST_AT
    tick(configured)
    assert len(totals(slack)) == 2
    with configured.db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.dedupe_key == f"digest:{WEEK}:C111")
            .values(status="failed")
            .execution_options(synchronize_session=False)
        )
    config = for_workspace(configured.db, WS, configured.settings)
    assert digest.window(configured.db, WS, "2026-W49", config).start == previous
    # Posted again, the refused week's digest covers the days it was built for.
    assert digest.window(configured.db, WS, WEEK, config).start == previous


def test_the_same_week_in_another_channel_covers_the_same_days(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    give(configured, GIVER, [ANA], "tuesday", week_day(1))
    give(configured, GIVER, [BEN], "saturday", week_day(5))
    config = for_workspace(configured.db, WS, configured.settings)
    clock.now = DIGEST_AT
    assert post_digest(configured, WS, config, WEEK, "C111", clock()).status == "posted"
    clock.now = DIGEST_AT + timedelta(days=2)
    assert post_digest(configured, WS, config, WEEK, "C222", clock()).status == "posted"
    assert [w[2:] for w in windows(configured)] == [(week_day(-3, 15), DIGEST_AT)] * 2
    assert totals(slack, "C222") == totals(slack, "C111") == ["1 appreciation from 1 person to 1."]


def test_commitments_kept_and_first_timers_count_in_the_digest_whose_days_hold_them(
    configured: Runtime, clock: MovableClock
) -> None:
    friday_evening = DIGEST_AT + timedelta(hours=2)
    give(configured, GIVER, [ANA], "tuesday", week_day(1))
    give(configured, GIVER, [BEN], "friday evening", friday_evening)
    with configured.db.transaction() as session:
        session.add(
            Ask(
                team_id=WS.team_id,
                asker_id=GIVER,
                helper_id=ANA,
                request="the quote",
                channel_id="C111",
                status="done",
                source_key="ask-1",
                created_at=week_day(0),
                updated_at=friday_evening,
                done_at=friday_evening,
            )
        )
    config = for_workspace(configured.db, WS, configured.settings)
    clock.now = DIGEST_AT
    assert post_digest(configured, WS, config, WEEK, "C111", clock()).status == "posted"
    this_week = build(configured)
    next_week = build(configured, "2026-W49")
    assert this_week is not None and next_week is not None
    assert (this_week.first_timers, this_week.commitments_kept) == ([ANA], 0)
    assert (next_week.first_timers, next_week.commitments_kept) == ([BEN], 1)
    assert asks.kept_on_time(configured.db, WS, next_week.starts_at, next_week.ends_at)[0] == 1


def test_first_digest_after_the_upgrade_starts_where_the_last_iso_week_one_ended(
    configured: Runtime, slack: FakeSlack, clock: MovableClock
) -> None:
    """A digest queued before the days were recorded (migration 0015 copies it without
    them) covered its ISO week up to when it was built."""
    built = week_day(-3, 15)  # on its Friday, 16:00 in Paris
    with configured.db.transaction() as session:
        session.add(
            PostedDigest(team_id=WS.team_id, week="2026-W47", channel_id="C111", created_at=built)
        )
    config = for_workspace(configured.db, WS, configured.settings)
    # It held what was given until it was built: the next one starts there...
    assert digest.window(configured.db, WS, WEEK, config).start == built
    # ...and one built after its week ended covered that week only: to Monday 00:00 in Paris.
    with configured.db.transaction() as session:
        session.execute(
            update(PostedDigest)
            .values(created_at=DIGEST_AT + timedelta(days=9))
            .execution_options(synchronize_session=False)
        )
    later = digest.window(configured.db, WS, "2026-W48", config)
    assert later.start == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
