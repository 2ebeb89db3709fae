"""`advocate digest post` while Slack is not answering: the digest stays queued, the
command says so with EX_TEMPFAIL (75), and the scheduled work posts it once later."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.runtime import Runtime
from bot.store.models import OutboxMessage
from tests.e2e.test_scheduled_work_cli import DIGEST_AT, env_for, run, week_of_thanks
from tests.support.fake_slack import FakeSlack
from tests.support.ports import free_port

__all__ = ["week_of_thanks"]  # the fixture, used by name


def digests(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.db.transaction() as session:
        return [
            (row.dedupe_key, row.status)
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("digest:"))
            )
        ]


def retry_due(runtime: Runtime) -> datetime:
    """When the queued digest is next tried."""
    with runtime.db.transaction() as session:
        [due] = session.scalars(
            select(OutboxMessage.next_attempt_at).where(
                OutboxMessage.dedupe_key.startswith("digest:")
            )
        )
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def test_digest_post_while_slack_is_down_queues_it_and_exits_75(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    up = env_for(week_of_thanks, slack)
    # The bot has run before: which workspace the token serves is known.
    assert run(up, tmp_path, "digest", "preview", "--week", "2026-W48").returncode == 0
    down = {**up, "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}

    posted = run(down, tmp_path, "digest", "post", "--week", "2026-W48")

    assert posted.returncode == 75, posted.stderr
    assert "queued; it will be posted when Slack answers" in posted.stderr
    assert digests(week_of_thanks) == [("digest:2026-W48:C111", "pending")]
    assert slack.messages("C111") == []

    # The scheduler's next ticks, once the retry is due (5 s after the failed attempt): the
    # ticks before then have nothing to send, so the first one starts when it is due.
    time.sleep(max(0.0, (retry_due(week_of_thanks) - datetime.now(UTC)).total_seconds()))
    for _ in range(20):
        ticked = run(up, tmp_path, "tick")
        assert ticked.returncode == 0, ticked.stderr
        if digests(week_of_thanks) == [("digest:2026-W48:C111", "sent")]:
            break
        time.sleep(1)
    assert digests(week_of_thanks) == [("digest:2026-W48:C111", "sent")]
    assert run(up, tmp_path, "tick", "--now", DIGEST_AT).returncode == 0
    [digest] = slack.messages("C111")
    assert "internal advocates" in digest["text"]
    again = run(up, tmp_path, "digest", "post", "--week", "2026-W48")
    assert again.returncode == 0 and "already posted" in again.stdout
    assert len(slack.messages("C111")) == 1


def test_digest_post_run_again_once_slack_answers_posts_it_now_and_exits_0(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    up = env_for(week_of_thanks, slack)
    assert run(up, tmp_path, "digest", "preview", "--week", "2026-W48").returncode == 0
    down = {**up, "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
    assert run(down, tmp_path, "digest", "post", "--week", "2026-W48").returncode == 75

    # Slack is back; the person runs the command again at once, before the retry is due.
    again = run(up, tmp_path, "digest", "post", "--week", "2026-W48")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "posted the 2026-W48 digest" in again.stdout
    assert digests(week_of_thanks) == [("digest:2026-W48:C111", "sent")]
    assert len(slack.messages("C111")) == 1
    assert run(up, tmp_path, "tick").returncode == 0
    assert len(slack.messages("C111")) == 1


def test_digest_post_when_slack_answers_503_queues_it_too(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    env = env_for(week_of_thanks, slack)
    assert run(env, tmp_path, "digest", "preview", "--week", "2026-W48").returncode == 0
    for method in ("auth.test", "conversations.info", "chat.postMessage"):
        slack.fail_next(method, status=503, times=10)

    posted = run(env, tmp_path, "digest", "post", "--week", "2026-W48")

    assert posted.returncode == 75, posted.stderr
    assert digests(week_of_thanks) == [("digest:2026-W48:C111", "pending")]


def test_digest_post_with_slack_down_and_an_unknown_token_does_nothing_and_exits_75(
    week_of_thanks: Runtime, slack: FakeSlack, tmp_path: Path
) -> None:
    down = {**env_for(week_of_thanks, slack), "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/"}

    posted = run(down, tmp_path, "digest", "post", "--week", "2026-W48")

    assert posted.returncode == 75, posted.stderr
    assert "nothing was done" in posted.stderr
    assert digests(week_of_thanks) == []
