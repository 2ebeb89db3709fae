"""Telling someone a request failed: only ever to a real id, whatever the failed body held."""

from __future__ import annotations

from typing import Any

import pytest

from bot.listeners.errors import reply_to_person


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def chat_postEphemeral(self, **params: Any) -> None:
        self.calls.append(("chat.postEphemeral", params))

    def chat_postMessage(self, **params: Any) -> None:
        self.calls.append(("chat.postMessage", params))


@pytest.mark.parametrize(
    "body",
    [
        {"user": {"id": [[], "<!channel>"]}},
        {"user_id": "<!channel>"},
        {"user": "U111"},
        {"user": {"id": "u111 "}},
        {},
    ],
)
def test_no_reply_without_a_user_id(body: dict[str, Any]) -> None:
    client = RecordingClient()
    reply_to_person(client, body, "sorry")  # type: ignore[arg-type]
    assert client.calls == []


def test_a_malformed_channel_or_response_url_falls_back_to_a_dm() -> None:
    client = RecordingClient()
    body = {"user": {"id": "U111"}, "channel": ["<!here>"], "response_url": ["x"]}
    reply_to_person(client, body, "sorry")  # type: ignore[arg-type]
    assert client.calls == [("chat.postMessage", {"channel": "U111", "text": "sorry"})]


def test_a_well_formed_body_gets_an_ephemeral_reply_where_it_came_from() -> None:
    client = RecordingClient()
    reply_to_person(client, {"user_id": "U111", "channel_id": "C222"}, "sorry")  # type: ignore[arg-type]
    assert client.calls == [
        ("chat.postEphemeral", {"channel": "C222", "user": "U111", "text": "sorry"})
    ]
