"""Words keep the privacy of where they were said, on the insights page too: through the
real `advocate run`, people thank in private, thank and ask in a private channel, and
answer `/listen`; then the admin and each of them sign in and read every page and every
CSV, for every period and team, and no marker of those words is anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.db import Database
from bot.store.models import Listen
from tests.conftest import ANA, BEN, GIVER
from tests.e2e.processes import Running, bot_env, running
from tests.e2e.test_cli import advocate
from tests.e2e.test_signin import CLIENT_ID, CLIENT_SECRET, base, sign_in
from tests.e2e.test_surfaces import OverHttp, Story, form, text_input
from tests.support.fake_slack import FakeSlack

ADMIN = "U900"
PRIVATE_THANKS = "zebra-only-them"
PRIVATE_CHANNEL = "okapi-in-a-private-channel"
PRIVATE_ASK = "quokka-asked-in-private"
LISTENED = "narwhal-what-i-need"
MARKERS = (PRIVATE_THANKS, PRIVATE_CHANNEL, PRIVATE_ASK, LISTENED)
TABLES = ("weekly", "advocates", "values", "asks", "map", "leaning", "unthanked", "people")


@pytest.fixture
def bot(slack: FakeSlack, db: Database, tmp_path: Path) -> Iterator[tuple[Running, Story]]:
    slack.add_user(ADMIN, name="maya", real_name="Maya", is_admin=True)
    slack.add_user("U444", name="omar")
    slack.set_channel("G777", is_private=True)
    slack.add_usergroup("S0SALES", "Sales", [ADMIN, ANA, BEN])
    slack.openid_client(CLIENT_ID, CLIENT_SECRET)
    env = bot_env(slack, db, SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    with running(env, tmp_path, "run", "--http", "--no-scheduler") as started:
        assert started.client is not None
        story = Story(slack, db, OverHttp(started.client))
        # Public thanks, so that the page has pairs, people and teams to show.
        story.command("/appreciate", f"<@{ANA}> for the renewal numbers", "t1", GIVER)
        story.command("/appreciate", f"<@{GIVER}> for the intro", "t2", ANA)
        story.command("/appreciate", f"<@{BEN}> for the demo", "t3", ADMIN)
        # Thanks only its people may see.
        modal = story.opens(lambda: story.command("/appreciate", "", "form", BEN))
        private = form([ANA], f"for the {PRIVATE_THANKS} feedback", None, private=True)
        assert story.submit(modal, private, BEN, "VPRIVATE") == {}
        # Thanks and an ask in a private channel.
        answer = started.client.command(
            command="/appreciate",
            text=f"<@{BEN}> for the {PRIVATE_CHANNEL} fix",
            user_id=ANA,
            channel_id="G777",
            channel_name="privategroup",
            response_url=slack.response_url("in-private"),
        )
        assert answer[0] == 200
        story.settle()
        asked = started.client.command(
            command="/ask",
            text=f"<@{GIVER}> review the {PRIVATE_ASK} quote",
            user_id=ADMIN,
            channel_id="G777",
            channel_name="privategroup",
            response_url=slack.response_url("ask-in-private"),
        )
        assert asked[0] == 200
        story.settle()
        # What Gloria needs from Ana, for Ana alone.
        story.command("/listen", f"<@{GIVER}>", "listen", ANA)
        [listen] = story.rows(Listen)
        view = story.opens(
            lambda: story.click("listen_answer", GIVER, "answer", value=str(listen.id))
        )
        assert story.submit(view, text_input("need", LISTENED), GIVER, "VNEED") == {}
        ticked = advocate("tick", env=env, cwd=tmp_path)
        assert ticked.returncode == 0, ticked.stderr
        yield started, story


def test_no_private_words_on_any_page_or_csv(bot: tuple[Running, Story], slack: FakeSlack) -> None:
    started, story = bot
    words = " ".join(str(row.__dict__) for row in story.rows(Listen))
    assert LISTENED in words  # the answer was recorded, so its absence below means something
    read = 0
    for person in (ADMIN, ANA, BEN, GIVER):
        browser = sign_in(started, slack, person)
        for period in ("4w", "quarter", "year"):
            for team in ("", "&team=S0SALES"):
                for view in ("", "&view=me"):
                    query = f"period={period}{team}{view}"
                    page = browser.follow(base(started) + f"/insights?{query}")
                    assert page.status == 200, (person, query, page.body[:300])
                    pages = [page.body]
                    for table in TABLES:
                        csv = browser.follow(base(started) + f"/insights.csv?{query}&table={table}")
                        if csv.status == 200:
                            pages.append(csv.body)
                    read += len(pages)
                    for marker in MARKERS:
                        assert not [text for text in pages if marker in text], (person, query)
    assert read > 150
