"""The Alembic migrations create exactly what the models describe, on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from bot.config import Settings
from bot.domain import PersonInfo, Workspace
from bot.services import appreciation, asks, digest, listening, outbox
from bot.services.settings import for_workspace
from bot.store import migrate
from bot.store.db import Database, UTCDateTime
from bot.store.models import (
    AllTimeGiver,
    AllTimeStanding,
    Appreciation,
    AppreciationRecipient,
    Ask,
    Base,
    OutboxMessage,
    PostedDigest,
    RecapTally,
)

# Indexes with a descending column: SQLite reflects their columns without the order, so
# they are compared by `test_descending_indexes_are_descending_on_sqlite` instead.
DESCENDING = {"ix_recap_tallies_team_year_user_thanked"}


def test_migrated_schema_matches_the_models(db: Database) -> None:
    sqlite = db.engine.dialect.name == "sqlite"

    def compared(item: object, name: str | None, kind: str, *_: object) -> bool:
        return not (sqlite and kind == "index" and name in DESCENDING)

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": compared}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_descending_indexes_are_descending_on_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'advocate.db'}")
    migrate.upgrade(db.engine)
    with db.engine.connect() as connection:
        for name in DESCENDING:
            index = next(
                i for t in Base.metadata.tables.values() for i in t.indexes if i.name == name
            )
            modelled = [getattr(e, "name", None) or str(e) for e in index.expressions]
            keyed = connection.exec_driver_sql(f"PRAGMA index_xinfo({name})").all()
            stored = [f"{c[2]} DESC" if c[3] else c[2] for c in keyed if c[5]]
            assert stored == modelled
    db.dispose()


def test_migrated_database_has_nothing_pending(db: Database) -> None:
    assert migrate.pending(db.engine) is False


def test_upgrading_twice_is_harmless(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0005_copies_history_onto_recipients_and_counts_all_time(
    db: Database,
) -> None:
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    made = [  # giver, recipients, private, team
        ("UA", ["UB", "UC"], False, "T1"),
        ("UA", ["UB"], False, "T1"),
        ("UD", ["UB"], False, "T1"),
        ("UD", ["UC"], True, "T1"),
        ("UA", ["UB"], False, "T2"),
    ]
    appreciations = sa.table(
        "appreciations",
        *(sa.column(c) for c in ("id", "team_id", "giver_id", "reason", "is_private")),
        sa.column("company_values", sa.JSON()),
        sa.column("source_key"),
        sa.column("created_at", UTCDateTime()),
    )
    recipients = sa.table(
        "appreciation_recipients",
        *(sa.column(c) for c in ("team_id", "appreciation_id", "user_id")),
    )
    with db.engine.begin() as connection:
        for n, (giver, to, private, team) in enumerate(made, start=1):
            connection.execute(
                appreciations.insert().values(
                    id=n,
                    team_id=team,
                    giver_id=giver,
                    reason="thanks",
                    is_private=private,
                    company_values=[],
                    source_key=f"k{n}",
                    created_at=at + timedelta(hours=n),
                )
            )
            for uid in to:
                connection.execute(
                    recipients.insert().values(team_id=team, appreciation_id=n, user_id=uid)
                )

    migrate.upgrade(db.engine)

    with db.transaction() as session:
        copied = {
            (r.appreciation_id, r.user_id, r.giver_id, r.is_private, r.created_at)
            for r in session.scalars(select(AppreciationRecipient))
        }
        standings = {
            (s.team_id, s.user_id, s.received, s.givers, s.first_public_at)
            for s in session.scalars(select(AllTimeStanding))
        }
        pairs = {
            (p.team_id, p.user_id, p.giver_id, p.received)
            for p in session.scalars(select(AllTimeGiver))
        }
    assert copied == {
        (n, uid, giver, private, at + timedelta(hours=n))
        for n, (giver, to, private, _) in enumerate(made, start=1)
        for uid in to
    }
    hours = [at + timedelta(hours=n) for n in range(6)]
    assert standings == {
        ("T1", "UB", 3, 2, hours[1]),
        ("T1", "UC", 1, 1, hours[1]),  # the private one to UC, later, is not counted
        ("T2", "UB", 1, 1, hours[5]),
    }
    assert pairs == {
        ("T1", "UB", "UA", 2),
        ("T1", "UB", "UD", 1),
        ("T1", "UC", "UA", 1),
        ("T2", "UB", "UA", 1),
    }
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0006_keeps_when_each_person_was_first_publicly_appreciated(
    db: Database,
) -> None:
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    made = [  # giver, recipient, private, hours after `at`, team
        ("UA", "UB", False, 5, "T1"),
        ("UD", "UB", False, 2, "T1"),
        ("UA", "UC", True, 1, "T1"),
        ("UA", "UC", False, 3, "T1"),
        ("UA", "UB", False, 4, "T2"),
    ]
    for n, (giver, to, private, hours, team) in enumerate(made):
        appreciation.record(
            db,
            Workspace(team),
            appreciation.Draft(giver, [to], "thanks", is_private=private, source_key=f"k{n}"),
            PersonInfo(giver),
            at + timedelta(hours=hours),
            daily_limit=10,
        )
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")

    migrate.upgrade(db.engine)

    with db.transaction() as session:
        standings = {
            (s.team_id, s.user_id, s.received, s.first_public_at)
            for s in session.scalars(select(AllTimeStanding))
        }
    assert standings == {
        ("T1", "UB", 2, at + timedelta(hours=2)),
        ("T1", "UC", 1, at + timedelta(hours=3)),
        ("T2", "UB", 1, at + timedelta(hours=4)),
    }


def test_upgrade_from_0011_keeps_asks_and_adds_listens_and_nudges(db: Database) -> None:
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    for n, (asker, helper, team) in enumerate([("UA", "UB", "T1"), ("UB", "UA", "T2")]):
        asks.start(
            db,
            Workspace(team),
            asker_id=asker,
            helper_id=helper,
            request=f"request {n}",
            channel_id="C1",
            due_on=None,
            timezone="UTC",
            source_key=f"k{n}",
            now=at,
        )
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    assert not {"listens", "checkin_nudges"} & set(sa.inspect(db.engine).get_table_names())

    migrate.upgrade(db.engine)

    inspector = sa.inspect(db.engine)
    assert {i["name"] for i in inspector.get_indexes("asks")} >= {
        "ix_asks_team_asker",
        "ix_asks_team_helper",
    }
    with db.transaction() as session:
        kept = {(k.team_id, k.asker_id, k.request) for k in session.scalars(select(Ask))}
    assert kept == {("T1", "UA", "request 0"), ("T2", "UB", "request 1")}
    [listen] = listening.start(
        db,
        Workspace("T1"),
        asker_id="UA",
        request=listening.Request(["UB"], None),
        source_key="c1",
        now=at,
        zone=ZoneInfo("UTC"),
    )
    assert (listen.status, listen.followup, listen.not_yet) == ("asked", "open", 0)
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0012_keeps_appreciations_and_adds_reaction_thanks(db: Database) -> None:
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    appreciation.record(
        db,
        Workspace("T1"),
        appreciation.Draft("UA", ["UB"], "thanks", source_key="k1"),
        PersonInfo("UA"),
        at,
        daily_limit=10,
    )
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012")
    assert "reaction_thanks" not in sa.inspect(db.engine).get_table_names()

    migrate.upgrade(db.engine)

    assert "reaction_thanks" in sa.inspect(db.engine).get_table_names()
    with db.transaction() as session:
        [kept] = session.scalars(select(AppreciationRecipient))
    assert (kept.user_id, kept.giver_id) == ("UB", "UA")
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0013_takes_words_from_unknown_conversations_as_said_in_private(
    db: Database,
) -> None:
    """Appreciation linked to a message (a reaction, Appreciate this) or an ask came from a
    conversation whose privacy was not recorded: it is taken as said in private. Nothing of
    any appreciation is lost on the way (on SQLite, copying the table would have deleted
    its recipients and messages)."""
    at = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    ws = Workspace("T1")
    ask, _ = asks.start(
        db,
        ws,
        asker_id="UA",
        helper_id="UE",
        request="the quarter's numbers",
        channel_id="C1",
        due_on=None,
        timezone="UTC",
        source_key="ask",
        now=at,
    )
    drafts = {  # reason: (draft, said in private after the upgrade)
        "typed": (appreciation.Draft("UA", ["UB"], "typed", channel_id="C1"), False),
        "by reaction": (appreciation.Draft("UA", ["UC"], "by reaction", message_ts="1.2"), True),
        "this message": (
            appreciation.Draft("UA", ["UD"], "this message", channel_id="C1", message_ts="1.3"),
            True,
        ),
        "the ask": (
            appreciation.Draft("UA", ["UE"], "the ask", channel_id="C1", ask_id=ask.id),
            True,
        ),
        "by DM": (appreciation.Draft("UA", ["UB"], "by DM"), False),
    }
    for n, (draft, _) in enumerate(drafts.values()):
        draft.source_key = f"k{n}"
        appreciation.record(db, ws, draft, PersonInfo("UA"), at, daily_limit=10)

    def kept() -> tuple[int, int]:
        with db.transaction() as session:
            recipients = session.scalar(select(sa.func.count()).select_from(AppreciationRecipient))
            messages = session.scalar(select(sa.func.count()).select_from(OutboxMessage))
        return recipients or 0, messages or 0

    before = kept()
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    assert "said_in_private" not in {c["name"] for c in sa.inspect(db.engine).get_columns("asks")}
    assert kept() == before

    migrate.upgrade(db.engine)

    assert kept() == before == (5, 8)
    with db.transaction() as session:
        said = {a.reason: a.said_in_private for a in session.scalars(select(Appreciation))}
        [unknown] = session.scalars(select(Ask.said_in_private))
    assert said == {reason: private for reason, (_, private) in drafts.items()}
    assert unknown is None  # asked of Slack when it matters
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0013_keeps_the_digests_posted_and_the_next_starts_where_they_ended(
    db: Database,
) -> None:
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    built = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # Friday 16:00 in Paris
    queued = [  # key, status, built
        ("digest:2026-W46:C111", "sent", built - timedelta(days=7)),
        ("digest:2026-W47:C111", "sent", built),
        ("digest:2026-W47:C222", "pending", built),
        ("digest:2026-W48:C111", "failed", built + timedelta(days=7)),  # Slack refused it
        ("digest-problem:2026-W48:C111:UADMIN", "sent", built + timedelta(days=7)),
        ("checkin:2026-W48:UA", "sent", built),
    ]
    later = {"claim_token", "erased_at", "claimed_by"}  # columns of later migrations
    with db.transaction() as session:
        for key, status, at in queued:
            row = outbox.channel_post(
                Workspace("T1", "E1"), key=key, channel_id="C111", message={"text": "x"}, now=at
            )
            row.status = status
            values = {
                c.name: getattr(row, c.name)
                for c in OutboxMessage.__table__.c
                if c.name not in later and c.name != "id"
            }
            session.execute(sa.insert(OutboxMessage.__table__).values(**values))

    migrate.upgrade(db.engine)

    with db.transaction() as session:
        kept = {
            (d.team_id, d.enterprise_id, d.week, d.channel_id, d.starts_at, d.ends_at, d.created_at)
            for d in session.scalars(select(PostedDigest))
        }
    assert kept == {
        ("T1", "E1", "2026-W46", "C111", None, None, built - timedelta(days=7)),
        ("T1", "E1", "2026-W47", "C111", None, None, built),
        ("T1", "E1", "2026-W47", "C222", None, None, built),
    }
    settings = replace(Settings(), digest_channel="C111", timezone="Europe/Paris")
    paris = for_workspace(db, Workspace("T1"), settings)
    # The 2026-W47 digest held what was given until it was built; the next starts there.
    window = digest.window(db, Workspace("T1"), "2026-W48", paris)
    assert (window.start, window.end) == (built, built + timedelta(days=7))
    assert migrate.pending(db.engine) is False


def test_upgrade_from_0017_tallies_existing_appreciation_for_the_recaps(db: Database) -> None:
    made = [  # giver, recipients, private, when, team
        ("UA", ["UB", "UC"], False, datetime(2026, 3, 2, 9, tzinfo=UTC), "T1"),
        ("UA", ["UB"], True, datetime(2026, 7, 1, 9, tzinfo=UTC), "T1"),
        ("UD", ["UA"], False, datetime(2026, 12, 31, 9, 59, tzinfo=UTC), "T1"),
        ("UD", ["UA"], False, datetime(2026, 12, 31, 10, tzinfo=UTC), "T1"),  # the edge
        ("UD", ["UB"], False, datetime(2027, 1, 1, 14, tzinfo=UTC), "T1"),
        ("UA", ["UB"], False, datetime(2026, 5, 5, tzinfo=UTC), "T2"),
    ]
    for n, (giver, to, private, at, team) in enumerate(made):
        appreciation.record(
            db,
            Workspace(team),
            appreciation.Draft(giver, to, "thanks", is_private=private, source_key=f"k{n}"),
            PersonInfo(giver),
            at,
            daily_limit=100,
        )

    def tallies() -> set[tuple[object, ...]]:
        with db.transaction() as session:
            return {
                (t.team_id, t.year, t.user_id, t.colleague_id, t.given, t.received, t.thanked)
                for t in session.scalars(select(RecapTally))
            }

    recorded = tallies()
    config = migrate.alembic_config(db.engine)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0017")
    migrate.upgrade(db.engine)

    assert (
        tallies()
        == recorded
        == {
            ("T1", 2026, "UA", "", 2, 1, 0),
            ("T1", 2026, "UA", "UB", 0, 0, 2),
            ("T1", 2026, "UA", "UC", 0, 0, 1),
            ("T1", 2026, "UB", "", 0, 2, 0),
            ("T1", 2026, "UC", "", 0, 1, 0),
            ("T1", 2026, "UD", "", 1, 0, 0),
            ("T1", 2026, "UD", "UA", 0, 0, 1),
            ("T1", 2027, "UD", "", 1, 0, 0),
            ("T1", 2027, "UD", "UB", 0, 0, 1),
            ("T1", 2027, "UB", "", 0, 1, 0),
            ("T2", 2026, "UA", "", 1, 0, 0),
            ("T2", 2026, "UA", "UB", 0, 0, 1),
            ("T2", 2026, "UB", "", 0, 1, 0),
        }
    )
    assert migrate.pending(db.engine) is False
