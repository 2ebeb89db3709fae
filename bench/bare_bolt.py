"""The baseline: a Bolt app that only acks `/appreciate`, served exactly like Advocate.

`python -m bench.bare_bolt --port N` reads SLACK_API_URL and SLACK_SIGNING_SECRET from the
environment and serves Bolt's WSGI adapter with waitress, with the threads `advocate run
--http` uses (bot/web.py).
"""

from __future__ import annotations

import argparse
import os

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from waitress import serve

from bench.common import BOT_TOKEN

THREADS = 8  # as in bot.web.serve


def bare_app(api_url: str, signing_secret: str) -> App:
    # The client points at the fake Slack: Bolt calls auth.test once, on the first request.
    app = App(
        client=WebClient(token=BOT_TOKEN, base_url=api_url),
        signing_secret=signing_secret,
        token_verification_enabled=False,
    )

    @app.command("/appreciate")
    def appreciate(ack: Ack) -> None:
        ack()

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = bare_app(os.environ["SLACK_API_URL"], os.environ["SLACK_SIGNING_SECRET"])
    serve(SlackRequestHandler(app), host="127.0.0.1", port=args.port, threads=THREADS)


if __name__ == "__main__":
    main()
