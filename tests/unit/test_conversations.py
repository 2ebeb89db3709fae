"""Whether a conversation is private: what the payload says, what Slack says, and when
Slack can't say."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.slack.conversations import Conversations, said_by_payload
from tests.support.fake_slack import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.set_channel("CPUB")
        fake.set_channel("CPRIV", is_private=True)
        fake.set_channel("GMPIM", is_mpim=True)
        fake.set_channel("CHIDDEN", is_private=True, is_member=False)
        yield fake


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    # No retries: a dropped connection reaches the caller, as with the app's own client.
    return WebClient(token="xoxb-test", base_url=slack.url, retry_handlers=[])


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_payload_says_private_for_dms_and_slacks_private_names() -> None:
    assert said_by_payload("D123", None) is True
    assert said_by_payload("C123", "privategroup") is True
    assert said_by_payload("C123", "directmessage") is True
    assert said_by_payload("G123", "mpdm-ana--ben--gloria-1") is True
    assert said_by_payload("C123", "general") is None
    assert said_by_payload("C123", None) is None


def test_slack_is_asked_once_in_a_while(slack: FakeSlack, client: WebClient) -> None:
    ticks = Ticks()
    known = Conversations(remembered=300, clock=ticks)
    answers = [known.private(client, "T1", c) for c in ("CPUB", "CPRIV", "GMPIM", "CPUB")]
    assert answers == [False, True, True, False]
    assert len(slack.calls_to("conversations.info")) == 3
    # A channel made private is noticed once what was remembered is old.
    slack.set_channel("CPUB", is_private=True)
    ticks.now = 299
    assert known.private(client, "T1", "CPUB") is False
    ticks.now = 301
    assert known.private(client, "T1", "CPUB") is True
    # Another workspace's answer is its own.
    assert known.private(client, "T2", "CPRIV") is True
    assert len(slack.calls_to("conversations.info")) == 5


def test_what_the_payload_says_needs_no_question(slack: FakeSlack, client: WebClient) -> None:
    known = Conversations()
    assert known.private(client, "T1", "D222") is True
    assert known.private(client, "T1", "CPUB", name="privategroup") is True
    assert (
        known.of_command(client, "T1", {"channel_id": "CPRIV", "channel_name": "random"}) is False
    )
    assert known.of_command(client, "T1", {"channel_id": "CPUB", "channel_name": "mpdm-a--b-1"})
    assert slack.calls_to("conversations.info") == []
    # A command without a channel name: Slack is asked.
    assert known.of_command(client, "T1", {"channel_id": "CPRIV"}) is True
    assert len(slack.calls_to("conversations.info")) == 1


def test_what_slack_cannot_say_is_private_and_asked_again(
    slack: FakeSlack, client: WebClient
) -> None:
    known = Conversations()
    assert known.private(client, "T1", "CHIDDEN") is True  # the app isn't in it
    slack.fail_next("conversations.info", status=503)
    assert known.private(client, "T1", "CPUB") is True  # Slack is down: taken as private
    slack.drop_next("conversations.info")
    assert known.private(client, "T1", "CPUB") is True
    assert known.private(client, "T1", "CPUB") is False  # Slack answers again
    assert len(slack.calls_to("conversations.info")) == 4
