"""Checks FakeSocketMode against slack_sdk's builtin Socket Mode client (the one Bolt's
SocketModeHandler runs on), so app tests can trust it, plus the wire details that client
never exercises (close frames, refused handshakes)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import queue
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from tests.support.fake_slack import FakeSlack
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.specs import load_json

APP_TOKEN = "xapp-1-test"


@dataclass
class Harness:
    slack: FakeSlack
    socket_mode: FakeSocketMode
    client: SocketModeClient
    requests: queue.Queue[SocketModeRequest] = field(default_factory=queue.Queue)
    messages: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def next_request(self) -> SocketModeRequest:
        return self.requests.get(timeout=5)


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def socket_mode(fake_slack: FakeSlack) -> Iterator[FakeSocketMode]:
    with FakeSocketMode(ping_interval=0.2) as fake:
        fake_slack.use_socket_mode(fake)
        yield fake


@pytest.fixture
def harness(fake_slack: FakeSlack, socket_mode: FakeSocketMode) -> Iterator[Harness]:
    # A short client ping interval makes its monitor, which does the reconnecting, tick fast.
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=WebClient(base_url=fake_slack.url),
        auto_reconnect_enabled=True,
        ping_interval=0.5,
    )
    harness = Harness(fake_slack, socket_mode, client)

    def acknowledge(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        harness.requests.put(request)
        response = SocketModeResponse(
            envelope_id=request.envelope_id, payload={"text": f"ack {request.type}"}
        )
        client.send_socket_mode_response(response)

    def record(client: BaseSocketModeClient, message: dict[str, Any], raw: str | None) -> None:
        harness.messages.put(message)

    client.socket_mode_request_listeners.append(acknowledge)
    client.message_listeners.append(record)
    client.connect()
    try:
        yield harness
    finally:
        client.close()


def _round_trip(harness: Harness) -> None:
    payload = load_json("payloads/event_message_in_thread_im.json")
    envelope_id = harness.socket_mode.send_envelope("events_api", payload)
    ack = harness.socket_mode.wait_ack(envelope_id)
    assert ack == {"envelope_id": envelope_id, "payload": {"text": "ack events_api"}}
    assert harness.next_request().payload == payload


# ---------------------------------------------------------------------- with slack_sdk


def test_client_connects_through_apps_connections_open_and_acks_with_a_payload(
    harness: Harness,
) -> None:
    socket_mode = harness.socket_mode
    socket_mode.wait_connected(1)
    assert [call.token for call in harness.slack.calls_to("apps.connections.open")] == [APP_TOKEN]
    hello = harness.messages.get(timeout=5)
    assert hello["type"] == "hello"
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": "A111"}

    payload = load_json("payloads/slash_command.parsed.json")
    envelope_id = socket_mode.send_envelope(
        "slash_commands", payload, accepts_response_payload=True
    )
    ack = socket_mode.wait_ack(envelope_id)

    assert ack == {"envelope_id": envelope_id, "payload": {"text": "ack slash_commands"}}
    assert socket_mode.acks == [ack]
    request = harness.next_request()
    assert (request.type, request.envelope_id, request.payload) == (
        "slash_commands",
        envelope_id,
        payload,
    )
    assert request.accepts_response_payload is True
    assert request.retry_attempt is None  # only Events API envelopes carry retry fields


def test_events_api_envelopes_carry_retry_fields_and_interactive_ones_do_not(
    harness: Harness,
) -> None:
    socket_mode = harness.socket_mode
    socket_mode.wait_connected(1)
    event = load_json("payloads/event_message_in_thread_im.json")
    retried = socket_mode.send_envelope(
        "events_api", event, retry_attempt=1, retry_reason="http_timeout"
    )
    socket_mode.wait_ack(retried)
    request = harness.next_request()
    assert (request.type, request.retry_attempt, request.retry_reason) == (
        "events_api",
        1,
        "http_timeout",
    )
    assert request.accepts_response_payload is False

    action = load_json("payloads/block_actions.json")
    clicked = socket_mode.send_envelope("interactive", action)
    assert socket_mode.wait_ack(clicked)["payload"] == {"text": "ack interactive"}
    request = harness.next_request()
    assert (request.type, request.payload, request.retry_attempt) == ("interactive", action, None)

    with pytest.raises(ValueError, match="unknown envelope type"):
        socket_mode.send_envelope("event_callback", event)


def test_disconnect_makes_the_client_reconnect_and_envelopes_still_arrive(
    harness: Harness,
) -> None:
    socket_mode = harness.socket_mode
    socket_mode.wait_connected(1)

    socket_mode.send_disconnect()
    socket_mode.wait_connected(2)

    assert len(harness.slack.calls_to("apps.connections.open")) == 2
    _round_trip(harness)
    # The client opens the new connection first, then drops the old one itself.
    assert _wait_until(lambda: socket_mode.live_connections == 1), socket_mode.live_connections
    assert socket_mode.connections_opened == 2


@pytest.mark.parametrize("reset", [True, False], ids=["rst", "fin"])
def test_a_dropped_connection_is_reopened_by_auto_reconnect(harness: Harness, reset: bool) -> None:
    socket_mode = harness.socket_mode
    socket_mode.wait_connected(1)
    _round_trip(harness)

    socket_mode.drop_connection(reset=reset)
    # An RST is seen at once; after a FIN the client only gives up after five failed pings.
    socket_mode.wait_connected(2, timeout=3 if reset else 8)

    assert len(harness.slack.calls_to("apps.connections.open")) == 2
    _round_trip(harness)


def test_pings_are_answered_both_ways(harness: Harness) -> None:
    socket_mode = harness.socket_mode
    socket_mode.wait_connected(1)
    session = harness.client.current_session
    assert session is not None
    # The client matches a pong to its own ping by payload; an unanswered client drops the
    # connection as stale after four ping intervals.
    assert _wait_until(lambda: session.last_ping_pong_time is not None)
    assert socket_mode.pings_received >= 1
    assert _wait_until(lambda: socket_mode.pongs_received >= 1)


# ---------------------------------------------------------------------- without a client


def test_waiting_fails_clearly(socket_mode: FakeSocketMode) -> None:
    with pytest.raises(AssertionError, match="no live Socket Mode connection"):
        socket_mode.send_envelope("events_api", {})
    with pytest.raises(AssertionError, match=r"not acknowledged within 0\.1s"):
        socket_mode.wait_ack("missing", timeout=0.1)
    with pytest.raises(AssertionError, match="expected 1 Socket Mode connection"):
        socket_mode.wait_connected(1, timeout=0.1)


def test_apps_connections_open_takes_only_app_level_tokens(
    fake_slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    app_client = WebClient(token=APP_TOKEN, base_url=fake_slack.url)
    first = app_client.apps_connections_open(app_token=APP_TOKEN)["url"]
    second = app_client.apps_connections_open(app_token=APP_TOKEN)["url"]
    assert first.startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")
    assert first != second

    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        app_client.chat_postMessage(channel="C111", text="hi")
    bot_client = WebClient(token="xoxb-test", base_url=fake_slack.url)
    with pytest.raises(SlackApiError, match="not_allowed_token_type"):
        bot_client.apps_connections_open(app_token="xoxb-test")
    assert bot_client.auth_test()["ok"]


class _RawClient:
    """A bare RFC 6455 client, for what slack_sdk never sends."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
        self.key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        self.status_line, *header_lines = head.decode().split("\r\n")
        self.headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }

    def _recv(self) -> bytes:
        chunk = self.sock.recv(4096)
        if not chunk:
            raise EOFError
        return chunk

    def _read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, opcode: int, payload: bytes, *, masked: bool = True, fin: bool = True) -> None:
        # Short frames only (< 126 bytes), which is all these tests send.
        key = os.urandom(4) if masked else b""
        body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if masked else payload
        first = (0x80 if fin else 0) | opcode
        self.sock.sendall(bytes([first, (0x80 if masked else 0) | len(payload)]) + key + body)

    def read_frame(self) -> tuple[int, bool, bytes]:
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        return first & 0x0F, bool(second & 0x80), self._read(length)

    def read_until(self, opcode: int) -> tuple[bool, bytes]:
        while True:
            got, masked, data = self.read_frame()
            if got == opcode:
                return masked, data

    def close(self) -> None:
        self.sock.close()


def test_raw_handshake_frames_and_close(socket_mode: FakeSocketMode) -> None:
    refused = _RawClient(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=bogus")
    assert refused.status_line.startswith("HTTP/1.1 401")
    refused.close()
    assert "unknown ticket" in socket_mode.rejected_handshakes[0]

    client = _RawClient(socket_mode.url)
    try:
        assert client.status_line == "HTTP/1.1 101 Switching Protocols"
        digest = hashlib.sha1((client.key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode())
        assert client.headers["sec-websocket-accept"] == base64.b64encode(digest.digest()).decode()
        masked, hello = client.read_until(0x1)
        assert not masked  # servers never mask
        assert json.loads(hello)["type"] == "hello"

        client.send(0x9, b"are you there")
        assert client.read_until(0xA) == (False, b"are you there")
        # A message split over two frames is one message.
        client.send(0x1, b'{"envelope_id":"e1",', fin=False)
        client.send(0x0, b'"payload":{"x":1}}')
        assert socket_mode.wait_ack("e1") == {"envelope_id": "e1", "payload": {"x": 1}}

        client.send(0x8, struct.pack("!H", 1000) + b"bye")
        masked, body = client.read_until(0x8)
        assert (masked, body[:2]) == (False, struct.pack("!H", 1000))
        with pytest.raises((EOFError, ConnectionResetError)):
            client.read_frame()
    finally:
        client.close()
    assert _wait_until(lambda: socket_mode.live_connections == 0)


def test_unmasked_client_frames_are_refused_with_1002(socket_mode: FakeSocketMode) -> None:
    client = _RawClient(socket_mode.url)
    try:
        client.read_until(0x1)  # hello
        client.send(0x1, b"{}", masked=False)
        _, body = client.read_until(0x8)
        assert struct.unpack("!H", body[:2]) == (1002,)
    finally:
        client.close()
