"""The tables. Every row belongs to one workspace: `team_id` (and `enterprise_id` on Grid)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.store.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}


class WorkspaceScoped:
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))


class InstalledWorkspace(WorkspaceScoped, Base):
    """A workspace the app serves; scheduled work walks these."""

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("team_id", name="uq_workspaces_team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    installed_at: Mapped[datetime]
    uninstalled_at: Mapped[datetime | None]
    # When the member list (timezones, leavers) was last read from users.list.
    people_refreshed_at: Mapped[datetime | None]
    # When its user groups (teams) were last read from usergroups.list.
    teams_refreshed_at: Mapped[datetime | None]


class Person(WorkspaceScoped, Base):
    """What the app last learned about a person from Slack, and their check-in choices."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("team_id", "user_id", name="uq_people_team_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255), default="")
    tz: Mapped[str | None] = mapped_column(String(64))
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False)
    refreshed_at: Mapped[datetime]
    # Set when the person gave, received or opened the Home: the default check-in audience.
    used_app_at: Mapped[datetime | None]
    dm_channel_id: Mapped[str | None] = mapped_column(String(32))
    checkins_paused_until: Mapped[datetime | None]
    checkins_stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    # The person's own check-in day and time (their timezone); None: the workspace's.
    checkin_day: Mapped[str | None] = mapped_column(String(3))
    checkin_time: Mapped[str | None] = mapped_column(String(5))


class Appreciation(WorkspaceScoped, Base):
    __tablename__ = "appreciations"
    __table_args__ = (
        UniqueConstraint("team_id", "source_key", name="uq_appreciations_team_source"),
        Index("ix_appreciations_team_giver_created", "team_id", "giver_id", "created_at"),
        Index("ix_appreciations_team_created", "team_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    giver_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    company_values: Mapped[list[str]] = mapped_column(default=list)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Its words come from a private channel, a group DM or a DM: counted like any other, but
    # quoted only there and to its people (giver and recipients). Not `is_private`, which
    # keeps the appreciation itself from everyone else.
    said_in_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    message_permalink: Mapped[str | None] = mapped_column(String(1024))
    ask_id: Mapped[int | None] = mapped_column(Integer)
    # What made it (a modal view id, a command's trigger id): a repeat of the same
    # submission finds this key taken and records nothing.
    source_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]

    recipients: Mapped[list[AppreciationRecipient]] = relationship(
        back_populates="appreciation", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def recipient_ids(self) -> list[str]:
        return [r.user_id for r in self.recipients]


class AppreciationRecipient(WorkspaceScoped, Base):
    """One person an appreciation went to.

    `giver_id`, `is_private` and `created_at` repeat the appreciation's own, so that counts
    per person and per period read this one table through its indexes, with no join.
    `appreciation.record` sets them; `lifecycle.forget` keeps `giver_id` in step.
    """

    __tablename__ = "appreciation_recipients"
    __table_args__ = (
        UniqueConstraint("appreciation_id", "user_id", name="uq_appreciation_recipients_user"),
        # The trailing columns let the counting queries read the index alone.
        Index(
            "ix_appreciation_recipients_team_user_created",
            "team_id",
            "user_id",
            "created_at",
            "is_private",
        ),
        Index(
            "ix_appreciation_recipients_team_created",
            "team_id",
            "created_at",
            "is_private",
            "user_id",
            "giver_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appreciation_id: Mapped[int] = mapped_column(
        ForeignKey("appreciations.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(32))
    giver_id: Mapped[str] = mapped_column(String(32))
    is_private: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]

    appreciation: Mapped[Appreciation] = relationship(back_populates="recipients")


class AllTimeStanding(WorkspaceScoped, Base):
    """A person's public appreciation of all time: what the all-time leaderboard ranks,
    and when they were first publicly appreciated (who the digest's first-timers are).

    Kept up to date in the transaction that records an appreciation, and recounted from
    history by `lifecycle.forget`; `store.queries` does both.
    """

    __tablename__ = "all_time_standings"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", name="uq_all_time_standings_team_user"),
        Index("ix_all_time_standings_team_first_public", "team_id", "first_public_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    received: Mapped[int] = mapped_column(Integer)
    givers: Mapped[int] = mapped_column(Integer)  # distinct people who gave it
    first_public_at: Mapped[datetime]  # their earliest public appreciation


class AllTimeGiver(WorkspaceScoped, Base):
    """How often one giver publicly appreciated one person, all time: tells an
    `AllTimeStanding` whether an appreciation comes from a new giver."""

    __tablename__ = "all_time_givers"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "user_id", "giver_id", name="uq_all_time_givers_team_user_giver"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    giver_id: Mapped[str] = mapped_column(String(32))
    received: Mapped[int] = mapped_column(Integer)


class RecapTally(WorkspaceScoped, Base):
    """One person's appreciation in one year, for their year-end recap: their own totals
    (`colleague_id` empty: appreciations given, and received) and, per colleague, how often
    they appreciated them (`thanked`). Private appreciation counts: the recap counts it in
    the recaps of its two people, and only there.

    Kept up to date in the transaction that records an appreciation, taken back where it is
    erased; `store.queries` does both. A year here is a UTC year less its first 14 and last
    14 hours, when it is another year somewhere (`queries.tallied_year`): the recap reads
    those hours from history, bounded by the workspace's timezone.
    """

    __tablename__ = "recap_tallies"
    __table_args__ = (
        # Colleague first: a year's totals are one range of it.
        UniqueConstraint(
            "team_id",
            "year",
            "colleague_id",
            "user_id",
            name="uq_recap_tallies_team_year_colleague_user",
        ),
        # A person's colleagues, most thanked first: the recap reads the first few.
        Index(
            "ix_recap_tallies_team_year_user_thanked",
            "team_id",
            "year",
            "user_id",
            text("thanked DESC"),
            "colleague_id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str] = mapped_column(String(32))
    colleague_id: Mapped[str] = mapped_column(String(32))  # "" on the person's totals
    given: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    thanked: Mapped[int] = mapped_column(Integer, default=0)


class Team(WorkspaceScoped, Base):
    """A Slack user group, as `usergroups.list` last said: the teams of the insights page.
    Replaced whole with its members on each read (services/teams.py)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("team_id", "group_id", name="uq_teams_team_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32))
    handle: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(255), default="")


class TeamMember(WorkspaceScoped, Base):
    """One person in one user group."""

    __tablename__ = "team_members"
    __table_args__ = (
        UniqueConstraint("team_id", "group_id", "user_id", name="uq_team_members_team_group_user"),
        # A person's teams, read from the index alone.
        Index("ix_team_members_team_user", "team_id", "user_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))


class InsightWeek(WorkspaceScoped, Base):
    """One person's appreciation in one closed week (a UTC week, Monday to Monday), for the
    insights page: given (private included), received (private included), received in
    public, and how many people thanked them in public that week.

    Worked out from history once the week is over (`services/insight_tallies.py`), never
    added to as appreciation is recorded: what changes a closed week's history (a
    withdrawn reaction, `forget`) deletes the week's rows, and they are worked out again.
    The row of user "" holds the week's totals: appreciations (`given`) and people thanked
    (`received`)."""

    __tablename__ = "insight_weeks"
    __table_args__ = (
        UniqueConstraint("team_id", "week", "user_id", name="uq_insight_weeks_team_week_user"),
        # A person's weeks, and a team's people's: their own page and a team's.
        Index("ix_insight_weeks_team_user_week", "team_id", "user_id", "week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date)
    user_id: Mapped[str] = mapped_column(String(32))
    given: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    public_received: Mapped[int] = mapped_column(Integer, default=0)
    public_givers: Mapped[int] = mapped_column(Integer, default=0)


class InsightSpan(WorkspaceScoped, Base):
    """One person's `InsightWeek`s summed over a span of closed weeks [starts_on, ends_on):
    what a page of the quarter or the year reads instead of a row per person and week.
    Its row for user "" says the span is summed (a page may sum it while another reads).
    Deleted with the weeks it sums; spans that end before the closed weeks do are
    deleted by the tick."""

    __tablename__ = "insight_spans"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "starts_on", "ends_on", "user_id", name="uq_insight_spans_team_span_user"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    user_id: Mapped[str] = mapped_column(String(32))
    given: Mapped[int] = mapped_column(Integer, default=0)
    received: Mapped[int] = mapped_column(Integer, default=0)
    public_received: Mapped[int] = mapped_column(Integer, default=0)
    public_givers: Mapped[int] = mapped_column(Integer, default=0)


class InsightTeamSpan(WorkspaceScoped, Base):
    """One team's page over a span of closed weeks [starts_on, ends_on), summed once from
    history: the values its people cited (`kind` "value") and the colleagues outside it
    who carried them (`kind` "carrier"), `key` being the value or the colleague. The team
    with no id ("") is the workspace's map: `kind` "thanks" or "kept", `key` "carrier
    carried". Its row of kind "" says the span is summed. Deleted with any kept week or a
    change of teams."""

    __tablename__ = "insight_team_spans"
    __table_args__ = (
        UniqueConstraint(
            "team_id",
            "group_id",
            "starts_on",
            "ends_on",
            "kind",
            "key",
            name="uq_insight_team_spans_team_group_span_key",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255))
    n: Mapped[int] = mapped_column(Integer, default=0)


class InsightTeamWeek(WorkspaceScoped, Base):
    """Who carried whom between teams in one closed week: public thanks (the recipient's
    teams carried the giver's) and kept commitments (the helper's carried the asker's).
    A node is a user group shown on the map, or `others`; carrying within a node is not
    kept. Worked out like `InsightWeek`, with the teams as they were then kept."""

    __tablename__ = "insight_team_weeks"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "week", "carrier", "carried", name="uq_insight_team_weeks_team_week_pair"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date)
    carrier: Mapped[str] = mapped_column(String(32))
    carried: Mapped[str] = mapped_column(String(32))
    thanks: Mapped[int] = mapped_column(Integer, default=0)
    kept: Mapped[int] = mapped_column(Integer, default=0)


class InsightValueWeek(WorkspaceScoped, Base):
    """How often each company value was cited in one closed week."""

    __tablename__ = "insight_value_weeks"
    __table_args__ = (
        UniqueConstraint("team_id", "week", "value", name="uq_insight_value_weeks_team_week_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[date] = mapped_column(Date)
    value: Mapped[str] = mapped_column(String(255))
    cited: Mapped[int] = mapped_column(Integer, default=0)


class InsightTalliedWeek(WorkspaceScoped, Base):
    """A closed week whose tallies of one `kind` are worked out: `people` (InsightWeek and
    InsightValueWeek, which depend on history alone) or `teams` (InsightTeamWeek, which
    depends on the teams too). Its row is taken first, so that two processes never work
    out the same week; deleting it (with the tallies) asks for the week again."""

    __tablename__ = "insight_tallied_weeks"
    __table_args__ = (
        UniqueConstraint("team_id", "kind", "week", name="uq_insight_tallied_weeks_team_kind_week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    week: Mapped[date] = mapped_column(Date)
    tallied_at: Mapped[datetime]


class DailyGiving(WorkspaceScoped, Base):
    """How many appreciations one giver has given on one day of their own calendar: the
    daily limit is a conditional increment of this row, exact however many arrive at once."""

    __tablename__ = "daily_givings"
    __table_args__ = (
        UniqueConstraint("team_id", "giver_id", "day", name="uq_daily_givings_team_giver_day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    giver_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    given: Mapped[int] = mapped_column(Integer)


class WorkspaceSetting(WorkspaceScoped, Base):
    """What a workspace's admins changed in the App Home, over the `ADVOCATE_*` defaults."""

    __tablename__ = "workspace_settings"
    __table_args__ = (UniqueConstraint("team_id", name="uq_workspace_settings_team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(32))


class SettingsChange(WorkspaceScoped, Base):
    """Who changed which setting, when, from what to what."""

    __tablename__ = "settings_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(index=True)
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BuyInGoal(WorkspaceScoped, Base):
    """The one person whose buy-in someone wants in a given week, and how it went."""

    __tablename__ = "buyin_goals"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "week", name="uq_buyin_goals_team_user_week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    week: Mapped[str] = mapped_column(String(8))  # ISO week, 2026-W48
    target_user_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))  # won | working | skipped
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Ask(WorkspaceScoped, Base):
    """A tracked request: someone asked a colleague for something, in a Slack thread."""

    __tablename__ = "asks"
    __table_args__ = (
        UniqueConstraint("team_id", "source_key", name="uq_asks_team_source"),
        Index("ix_asks_team_status", "team_id", "status"),
        # A person's own asks, both ways: the Home's "your people" and the check-in nudge.
        Index("ix_asks_team_asker", "team_id", "asker_id"),
        Index("ix_asks_team_helper", "team_id", "helper_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[str] = mapped_column(String(32))
    helper_id: Mapped[str] = mapped_column(String(32))
    request: Mapped[str] = mapped_column(Text)
    channel_id: Mapped[str] = mapped_column(String(32))
    # Asked in a private channel: its words are for its asker and helper, and that channel.
    # None for asks from before this was recorded (see `asks.said_in_private`).
    said_in_private: Mapped[bool | None] = mapped_column(Boolean)
    # The thread the questions live in: the ask's own post, or the message it was made from.
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    # The message showing the live status (updated in place): the ask's own post, or the
    # app's first reply when the ask was made from someone's message.
    status_ts: Mapped[str | None] = mapped_column(String(32))
    from_message: Mapped[bool] = mapped_column(Boolean, default=False)
    due_on: Mapped[date | None] = mapped_column(Date)
    committed_on: Mapped[date | None] = mapped_column(Date)
    # The asker's timezone when asking: due dates are their local days.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(16), default="asked")
    decline_reason: Mapped[str | None] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    committed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    # When the asker first thanked the helper for it (an appreciation with this ask).
    thanked_at: Mapped[datetime | None]

    obstacles: Mapped[list[Obstacle]] = relationship(
        back_populates="ask",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Obstacle.id",
    )


class Obstacle(WorkspaceScoped, Base):
    """Something that could get in the way of an ask, raised by the helper."""

    __tablename__ = "obstacles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ask_id: Mapped[int] = mapped_column(ForeignKey("asks.id", ondelete="CASCADE"), index=True)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|handling|resolved
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]

    ask: Mapped[Ask] = relationship(back_populates="obstacles")


class Listen(WorkspaceScoped, Base):
    """`/listen`: someone asked a colleague what they need from them, privately.

    The answer is for the asker alone: no channel, digest or leaderboard reads this table.
    `open_key` (asker:colleague) is set while the question waits for an answer, so that a
    second `/listen` to the same person, however many arrive at once, finds it taken; one
    older than a week is released before asking again.
    """

    __tablename__ = "listens"
    __table_args__ = (
        UniqueConstraint("team_id", "source_key", "colleague_id", name="uq_listens_team_source"),
        UniqueConstraint("team_id", "open_key", name="uq_listens_team_open"),
        Index("ix_listens_team_asker", "team_id", "asker_id"),
        Index("ix_listens_team_colleague", "team_id", "colleague_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[str] = mapped_column(String(32))
    colleague_id: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str | None] = mapped_column(Text)  # "about what", if the asker said
    status: Mapped[str] = mapped_column(String(16), default="asked")  # asked|answered|declined
    open_key: Mapped[str | None] = mapped_column(String(80))
    # What the colleague said: what they need (required), what gets in their way, and how
    # they like to be asked.
    need: Mapped[str | None] = mapped_column(Text)
    obstacle: Mapped[str | None] = mapped_column(Text)
    preference: Mapped[str | None] = mapped_column(Text)
    # The submission that answered: a retry of it finds its own answer, not a stranger's.
    answer_key: Mapped[str | None] = mapped_column(String(128))
    # Following through: open until the asker says they acted (acted), skips (skipped) or
    # says "not yet" for the third time (dropped). `followup_week` is the check-in week
    # last answered, so a double click there counts once.
    followup: Mapped[str] = mapped_column(String(16), default="open")
    not_yet: Mapped[int] = mapped_column(Integer, default=0)
    followup_week: Mapped[str | None] = mapped_column(String(8))
    source_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    will_act_at: Mapped[datetime | None]
    acted_at: Mapped[datetime | None]


class CheckinNudge(WorkspaceScoped, Base):
    """The one nudge a person's check-in carried in a week (someone to thank), so that the
    next week's check-in never repeats it."""

    __tablename__ = "checkin_nudges"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "week", name="uq_checkin_nudges_team_user_week"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    week: Mapped[str] = mapped_column(String(8))
    target_user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class ReactionThanks(WorkspaceScoped, Base):
    """One person's appreciation of a message by emoji reaction (`ADVOCATE_REACTIONS`).

    One row per message and giver, whatever emoji they use or however often Slack delivers
    the event: `status` is pending (being recorded), counted (`appreciation_id` holds it),
    withdrawn (the reaction was removed within the window) or refused (the daily limit,
    a bot's message, a leaver). Only pending rows are worked, so a redelivery counts once.
    """

    __tablename__ = "reaction_thanks"
    __table_args__ = (
        UniqueConstraint(
            "team_id", "channel_id", "message_ts", "giver_id", name="uq_reaction_thanks_message"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    giver_id: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str] = mapped_column(String(32))
    reaction: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    appreciation_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]
    counted_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]


class PostedDigest(WorkspaceScoped, Base):
    """A digest queued for a channel, and the days it covers: [starts_at, ends_at).

    The next digest starts where the latest one ended, so every appreciation is in exactly
    one, whatever the schedule did in between. Every channel a week's digest goes to shares
    that week's days. A digest posted before the days were recorded (migration 0015) has
    neither: it covered its ISO week, Monday to Monday in the workspace's timezone, up to
    `created_at`, when it was built.
    """

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("team_id", "week", "channel_id", name="uq_digests_team_week_channel"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(8))  # the ISO week it is scheduled in
    channel_id: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class OutboxMessage(WorkspaceScoped, Base):
    """A message the app owes Slack, written in the same transaction as what caused it.

    The sender claims a row (`claimed_until`), posts, then marks it sent. A claim left by a
    process that died is taken over once it expires; before posting again the sender looks
    for the earlier post by its metadata, so a crash never doubles a message.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("team_id", "dedupe_key", name="uq_outbox_team_dedupe"),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        # What the retention walks: sent and failed messages not erased yet, oldest first.
        Index("ix_outbox_status_erased_created", "status", "erased_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(191))
    kind: Mapped[str] = mapped_column(String(32))  # channel_post | dm | ephemeral | step_result
    channel_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    response_url: Mapped[str | None] = mapped_column(String(1024))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    appreciation_id: Mapped[int | None] = mapped_column(
        ForeignKey("appreciations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    # The claim's own token: renewals and marks touch the row only while it is theirs.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    # The process that holds the claim (bot/holders.py).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[datetime | None]
    sent_channel_id: Mapped[str | None] = mapped_column(String(32))
    sent_ts: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    # When its body was erased (services/retention.py): only the key is left.
    erased_at: Mapped[datetime | None]


class StepExecution(WorkspaceScoped, Base):
    """A run of one of the app's Workflow Builder steps (bot/services/steps.py), recorded
    with its function token in the transaction that stored its `function_executed` event.

    The token is kept only while the run is open: the step may complete much later (when a
    helper commits), and only that token completes it. It is erased in the transaction that
    marks the completion sent (bot/slack/outbox.py), or when the completion fails for good.
    """

    __tablename__ = "step_executions"
    __table_args__ = (
        UniqueConstraint("team_id", "execution_id", name="uq_step_executions_team_execution"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(64))
    callback_id: Mapped[str] = mapped_column(String(64))
    token: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|completed|failed
    # When an "Ask for a commitment" run is complete: committed | done. Its ask is the one
    # whose source_key is the run's key (bot/services/steps.py).
    complete_when: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class BotToken(Base):
    """Which workspace a bot token of token mode belongs to (auth.test), kept by the token's
    SHA-256 so that each token is asked about once and a switch of token is noticed."""

    __tablename__ = "bot_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    enterprise_id: Mapped[str | None] = mapped_column(String(32))
    org_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(255), default="")
    first_seen_at: Mapped[datetime]
    # The app was uninstalled (or the token revoked) while this token served its workspace:
    # it never registers that workspace again; a reinstall brings a new token.
    revoked_at: Mapped[datetime | None]


class SlackRequest(Base):
    """A request from Slack, stored before it is acknowledged and worked from here (see
    bot/pipeline.py). `key` is Slack's own identity of the delivery, so a retry or a double
    click finds the row and is acknowledged without a second one."""

    __tablename__ = "slack_requests"
    __table_args__ = (
        UniqueConstraint("key", name="uq_slack_requests_key"),
        Index("ix_slack_requests_status_fast_id", "status", "fast", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(191))
    team_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # command|shortcut|action|view|event
    # How it came: "http" (body and headers as Slack sent them) or "socket" (the envelope's
    # payload as JSON).
    mode: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A view submission's values as its form's check accepted them (JSON; bot/listeners/forms.py).
    accepted: Mapped[str | None] = mapped_column(Text)
    # Replies to the person made so far, across runs (bot/replies.py).
    replies: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Opens a modal: Slack's trigger_id lives 3 seconds, so it is worked first.
    fast: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|parked
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime]
    done_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(String(255))


class SigninState(Base):
    """A sign-in with Slack under way: the `state` sent to Slack, used once before it
    expires, and the `nonce` its id_token must carry. No workspace yet: the person is not
    known until Slack answers."""

    __tablename__ = "signin_states"
    __table_args__ = (UniqueConstraint("state", name="uq_signin_states_state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(64))
    # Where to go once signed in: a path of this app, never another site.
    return_to: Mapped[str] = mapped_column(String(512), default="/insights")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class WebSession(WorkspaceScoped, Base):
    """A person signed in to the web pages. The cookie holds a random id; this row holds only
    its SHA-256, so that the table alone opens no session."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        UniqueConstraint("id_sha256", name="uq_web_sessions_id_sha256"),
        Index("ix_web_sessions_team_user", "team_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


# slack-sdk's OAuth stores keep installations (tokens) and OAuth states in these tables of
# the app's own database; declaring them here lets Alembic create and migrate them.
slack_installations = SQLAlchemyInstallationStore.build_installations_table(
    Base.metadata, "slack_installations"
)
slack_bots = SQLAlchemyInstallationStore.build_bots_table(Base.metadata, "slack_bots")
slack_oauth_states = SQLAlchemyOAuthStateStore.build_oauth_states_table(
    Base.metadata, "slack_oauth_states"
)
