"""The baselines: Bolt apps with no database, served exactly like Advocate.

`python -m bench.bare_bolt --port N [--inline] [--work]` reads SLACK_API_URL and
SLACK_SIGNING_SECRET from the environment and serves Bolt's WSGI adapter with waitress,
with the threads `advocate run --http` uses (bot/web.py).

- By default `/appreciate` only acks, with Bolt's default runner
  (`process_before_response=False`): the listener runs on Bolt's thread pool and the request's
  thread polls every 10 ms until it has acked. This is "bare Bolt", the ack target's baseline.
- `--inline`: the same with `process_before_response=True`, the runner Advocate uses: the
  listener runs on the request's thread, which answers as soon as it returns. Nothing is
  faster through Bolt: the "inline floor".
- `--work`: the listener acks, then makes the Web API calls Advocate makes for one
  `/appreciate @a @b <why>`, with messages like its own, and nothing else: no database, no
  outbox. What the work itself costs through Bolt and slack_sdk: the "work floor". With the
  default runner the work runs after the ack on a pool of as many threads as Advocate has
  workers.

The calls Advocate makes for `/appreciate <@U222> <@U333> for the release` were found by
running it against the fake Slack, which counts them (the benchmark reports the counts per
request for both, `api_calls_per_request`): `users.info` for the giver and each recipient,
`chat.postMessage` in the channel and to each recipient (a DM posted to the user id, so no
`conversations.open`), and the reply posted to the response URL. Bolt's `auth.test`, once
per process, comes on top.
"""

from __future__ import annotations

import argparse
import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve

from bench.common import BOT_TOKEN

THREADS = 8  # as in bot.web.serve
WORK_THREADS = 16  # as bot.pipeline.WORKERS
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def bare_app(api_url: str, signing_secret: str, *, inline: bool = False, work: bool = False) -> App:
    # The client points at the fake Slack: Bolt calls auth.test once, on the first request.
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=signing_secret,
        token_verification_enabled=False,
        process_before_response=inline,
        listener_executor=ThreadPoolExecutor(max_workers=WORK_THREADS) if work else None,
    )

    if work:

        @app.command("/appreciate")
        def appreciate_and_work(
            ack: Ack, command: dict[str, Any], client: WebClient, respond: Respond
        ) -> None:
            ack()
            do_the_work(command, client, respond)

    else:

        @app.command("/appreciate")
        def appreciate(ack: Ack) -> None:
            ack()

    return app


def do_the_work(command: dict[str, Any], client: WebClient, respond: Respond) -> None:
    """The Web API calls of one `/appreciate`, with messages like Advocate's."""
    text = command.get("text") or ""
    giver = command["user_id"]
    recipients = list(dict.fromkeys(MENTION.findall(text)))
    reason = MENTION.sub("", text).strip()
    for user in [giver, *recipients]:
        client.users_info(user=user)
    names = " and ".join(f"<@{user}>" for user in recipients)
    client.chat_postMessage(
        channel=command["channel_id"],
        text=f"<@{giver}> appreciates {names}",
        blocks=[section(f":sparkles: <@{giver}> appreciates {names}\n>{reason}")],
        metadata={"event_type": "bench_delivery", "event_payload": {"key": "post"}},
        unfurl_links=False,
        unfurl_media=False,
    )
    for user in recipients:
        client.chat_postMessage(
            channel=user,
            text=f"<@{giver}> appreciated you",
            blocks=[
                section(f":sparkles: <@{giver}> appreciated {names}:\n>{reason}"),
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": "The people you help remember it. Pass it on: who helped "
                            "you lately?",
                            "verbatim": True,
                        }
                    ],
                },
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Appreciate someone"},
                            "action_id": "appreciate_open_modal",
                        }
                    ],
                },
            ],
            metadata={"event_type": "bench_delivery", "event_payload": {"key": f"dm:{user}"}},
            unfurl_links=False,
            unfurl_media=False,
        )
    respond(
        text=f":white_check_mark: Your appreciation for {names} is recorded.\n"
        f"Shared in <#{command['channel_id']}>, and {names} got it by DM."
    )


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text, "verbatim": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--inline", action="store_true", help="process_before_response=True (the inline floor)"
    )
    parser.add_argument(
        "--work", action="store_true", help="make Advocate's Web API calls (the work floor)"
    )
    args = parser.parse_args()
    app = bare_app(
        os.environ["SLACK_API_URL"],
        os.environ["SLACK_SIGNING_SECRET"],
        inline=args.inline,
        work=args.work,
    )
    serve(SlackRequestHandler(app), host="127.0.0.1", port=args.port, threads=THREADS)


if __name__ == "__main__":
    main()
