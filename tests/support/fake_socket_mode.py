"""A local fake of Slack's Socket Mode WebSocket server, for tests.

It listens on 127.0.0.1 (plain ``ws://``, no TLS) and speaks as much of RFC 6455 as
slack_sdk's builtin ``SocketModeClient`` needs: the opening handshake, masked client frames,
unmasked server frames, ping answered by pong, close answered by close, fragmented client
messages. Like Slack it greets every new connection with ``hello``, pushes envelopes
(``send_envelope``), records acknowledgements (``wait_ack``), asks the client to reconnect
(``send_disconnect``) and can lose the connection (``drop_connection``).

Wire it to a :class:`~tests.support.fake_slack.FakeSlack` with ``slack.use_socket_mode(fake)``
so ``apps.connections.open`` hands out its URL; every read of :attr:`FakeSocketMode.url`
issues a fresh ticket, and a handshake with a ticket that was never issued is refused (401).

It pings every live connection every ``ping_interval`` seconds, as Slack's servers do.

What it does not do: TLS, extensions (permessage-deflate), subprotocols, binary messages
(ignored), the 3-second ack deadline, redelivery of unacknowledged envelopes, Slack's own
periodic ``warning``/``refresh_requested`` disconnects, or several apps. Envelopes go to
the most recently opened live connection only, whereas Slack spreads them across an app's
connections.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import select
import socket
import struct
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ENVELOPE_TYPES", "FakeSocketMode"]

ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})

_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONTINUATION = 0x0
_OP_TEXT = 0x1
_OP_BINARY = 0x2
_OP_CLOSE = 0x8
_OP_PING = 0x9
_OP_PONG = 0xA
_CLOSE_NORMAL = 1000
_CLOSE_PROTOCOL_ERROR = 1002
_CLOSE_INVALID_DATA = 1007
_CLOSE_TOO_BIG = 1009
_MAX_HANDSHAKE_BYTES = 16_384
_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# Blocking reads poll at this interval, so stop() and drop_connection() take effect
# promptly: closing a socket does not wake a thread blocked in recv() on it (Linux).
_POLL_SECONDS = 0.05


class _Gone(Exception):
    """The peer closed the TCP connection, or the fake is tearing it down."""


class _ProtocolError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Connection:
    def __init__(self, number: int, sock: socket.socket) -> None:
        self.number = number
        self.sock = sock
        self.ticket: str | None = None
        self.live = False
        self.send_lock = threading.Lock()
        self.abort = threading.Event()
        self.reset = True
        self.finished = threading.Event()
        self.buffer = bytearray()


def _frame(opcode: int, payload: bytes) -> bytes:
    # Server-to-client frames are never masked (RFC 6455 5.1); slack_sdk's reader
    # cannot even unmask them.
    length = len(payload)
    if length <= 125:
        header = struct.pack("!BB", 0x80 | opcode, length)
    elif length <= 0xFFFF:
        header = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return header + payload


def _unmask(data: bytes, key: bytes) -> bytes:
    if not data:
        return b""
    mask = (key * (len(data) // 4 + 1))[: len(data)]
    value = int.from_bytes(data, "big") ^ int.from_bytes(mask, "big")
    return value.to_bytes(len(data), "big")


def _accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()


def _http_refusal(status: str, reason: str, extra_headers: str = "") -> bytes:
    body = reason.encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
        f"{extra_headers}Connection: close\r\n\r\n"
    ).encode() + body


class FakeSocketMode:
    """Slack's Socket Mode endpoint on 127.0.0.1, scriptable from the test thread."""

    def __init__(self, app_id: str = "A111", *, ping_interval: float | None = 0.5) -> None:
        """``ping_interval``: seconds between the pings this end sends, None for none.

        Slack's servers ping their clients too. Here it also keeps tests fast: slack_sdk's
        builtin client holds a lock in recv() for up to 3 s (its receive timeout), and
        switching connections or close() waits for that lock until a frame arrives.
        """
        self.app_id = app_id
        self.ping_interval = ping_interval
        self._cond = threading.Condition()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: list[_Connection] = []
        self._accepted = 0
        self._tickets: set[str] = set()
        self._ticket_counter = 0
        self._acks: list[dict[str, Any]] = []
        self._received: list[str] = []
        self._sent: dict[str, dict[str, Any]] = {}
        self._pings = 0
        self._pongs = 0
        self._rejected: list[str] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSocketMode:
        if self._listener is not None:
            return self
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        self._listener = listener
        self._accept_thread = threading.Thread(
            target=self._accept_loop, args=(listener,), name="fake-socket-mode", daemon=True
        )
        self._accept_thread.start()
        if self.ping_interval is not None:
            pinger = threading.Thread(
                target=self._ping_loop,
                args=(self.ping_interval,),
                name="fake-socket-mode-ping",
                daemon=True,
            )
            with self._cond:
                self._threads.append(pinger)
            pinger.start()
        return self

    def stop(self) -> None:
        listener, accept_thread = self._listener, self._accept_thread
        if listener is None:
            return
        self._stopping.set()
        if accept_thread is not None:
            accept_thread.join(timeout=5)
        listener.close()
        self._listener = self._accept_thread = None
        with self._cond:
            connections = list(self._connections)
            threads = list(self._threads)
        for connection in connections:
            connection.abort.set()
        for thread in threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeSocketMode:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("FakeSocketMode is not running; call start() first")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        """A WebSocket URL with a new ticket, as ``apps.connections.open`` returns."""
        port = self.port
        with self._cond:
            self._ticket_counter += 1
            ticket = str(self._ticket_counter)
            self._tickets.add(ticket)
        return f"ws://127.0.0.1:{port}/link/?ticket={ticket}"

    # ------------------------------------------------------------------ observations

    @property
    def connections_opened(self) -> int:
        """Completed handshakes since start, live or not."""
        with self._cond:
            return len(self._connections)

    @property
    def live_connections(self) -> int:
        with self._cond:
            return sum(1 for connection in self._connections if connection.live)

    @property
    def acks(self) -> list[dict[str, Any]]:
        """Every message that carried an ``envelope_id``, oldest first."""
        with self._cond:
            return [dict(ack) for ack in self._acks]

    @property
    def received(self) -> list[str]:
        """Every text message from clients, raw, oldest first (acks included)."""
        with self._cond:
            return list(self._received)

    @property
    def pings_received(self) -> int:
        with self._cond:
            return self._pings

    @property
    def pongs_received(self) -> int:
        with self._cond:
            return self._pongs

    @property
    def rejected_handshakes(self) -> list[str]:
        """Why handshakes were refused, for assertions and failure messages."""
        with self._cond:
            return list(self._rejected)

    def wait_connected(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until ``count`` connections were opened in total (a reconnect makes two).
        The timeout only bounds a failing test (tests that time a reconnect pass their own)."""
        with self._cond:
            if self._cond.wait_for(lambda: len(self._connections) >= count, timeout):
                return
            opened, rejected = len(self._connections), list(self._rejected)
        raise AssertionError(
            f"expected {count} Socket Mode connection(s) within {timeout}s, got {opened}"
            + (f"; refused handshakes: {rejected}" if rejected else "")
        )

    def wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        """Block until the client acknowledged ``envelope_id``; returns the whole ack message.
        The timeout only bounds a failing test (tests that hold the client to Slack's 3 s
        pass their own)."""

        def find() -> dict[str, Any] | None:
            return next((a for a in self._acks if a.get("envelope_id") == envelope_id), None)

        with self._cond:
            ack = self._cond.wait_for(find, timeout)
            if ack is not None:
                return dict(ack)
            sent = envelope_id in self._sent
            acked = [a.get("envelope_id") for a in self._acks]
            live = sum(1 for connection in self._connections if connection.live)
        raise AssertionError(
            f"envelope {envelope_id} was not acknowledged within {timeout}s"
            f" ({'sent' if sent else 'never sent by this fake'}; acks received for: "
            f"{acked or 'none'}; live connections: {live})"
        )

    # ------------------------------------------------------------------ acting as Slack

    def send_envelope(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool = False,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        """Push an envelope to the newest live connection; returns its ``envelope_id``.

        Slack sets ``accepts_response_payload`` true for slash commands and for interactions
        that take a response (view submissions, block suggestions); pass it accordingly.
        """
        if envelope_type not in ENVELOPE_TYPES:
            raise ValueError(
                f"unknown envelope type {envelope_type!r}; use {sorted(ENVELOPE_TYPES)}"
            )
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": accepts_response_payload,
        }
        # Slack only puts the retry fields on Events API envelopes.
        if envelope_type == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        elif retry_attempt or retry_reason:
            raise ValueError("only events_api envelopes carry retry_attempt/retry_reason")
        connection = self._newest_live()
        with self._cond:
            self._sent[envelope_id] = envelope
        self._send_json(connection, envelope)
        return envelope_id

    def send_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect; this end leaves the socket open for the client to close."""
        self._send_json(
            self._newest_live(),
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}},
        )

    def drop_connection(self, *, reset: bool = True) -> None:
        """Kill the newest live connection without a close frame.

        ``reset=True`` sends a TCP RST, which slack_sdk's builtin client notices at once;
        ``reset=False`` closes with a FIN, which it only notices after five failed pings.
        """
        connection = self._newest_live()
        with self._cond:
            connection.live = False
        connection.reset = reset
        connection.abort.set()
        if not connection.finished.wait(timeout=5):
            raise AssertionError(f"connection {connection.number} did not close within 5s")

    # ------------------------------------------------------------------ plumbing

    def _newest_live(self) -> _Connection:
        with self._cond:
            for connection in reversed(self._connections):
                if connection.live:
                    return connection
            opened = len(self._connections)
        raise AssertionError(
            f"no live Socket Mode connection ({opened} opened so far); "
            "call wait_connected() before sending"
        )

    def _send_json(self, connection: _Connection, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        try:
            self._send_frame(connection, _OP_TEXT, data)
        except OSError as error:
            raise AssertionError(
                f"connection {connection.number} died while sending: {error}"
            ) from error

    def _send_frame(self, connection: _Connection, opcode: int, payload: bytes) -> None:
        with connection.send_lock:
            connection.sock.sendall(_frame(opcode, payload))

    def _ping_loop(self, interval: float) -> None:
        while not self._stopping.wait(interval):
            with self._cond:
                live = [connection for connection in self._connections if connection.live]
            for connection in live:
                # A dying connection is the reader thread's business, not the pinger's.
                with contextlib.suppress(OSError):
                    self._send_frame(connection, _OP_PING, b"fake-socket-mode")

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            readable, _, _ = select.select([listener], [], [], _POLL_SECONDS)
            if not readable:
                continue
            try:
                sock, _ = listener.accept()
            except OSError:
                continue
            with self._cond:
                self._accepted += 1
                connection = _Connection(self._accepted, sock)
                thread = threading.Thread(
                    target=self._serve,
                    args=(connection,),
                    name=f"fake-socket-mode-{connection.number}",
                    daemon=True,
                )
                self._threads.append(thread)
            thread.start()

    def _serve(self, connection: _Connection) -> None:
        try:
            if self._handshake(connection):
                self._read_frames(connection)
        except _Gone:
            pass
        except _ProtocolError as error:
            with contextlib.suppress(OSError):
                self._send_frame(connection, _OP_CLOSE, self._close_body(error.code, error.reason))
        except OSError:
            pass
        finally:
            with self._cond:
                connection.live = False
            # Under the send lock, so no other thread writes to a descriptor being closed.
            with connection.send_lock:
                if connection.abort.is_set() and connection.reset:
                    # Linger 0 turns close() into an RST, as when a load balancer kills the link.
                    with contextlib.suppress(OSError):
                        connection.sock.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                connection.sock.close()
            connection.finished.set()

    @staticmethod
    def _close_body(code: int, reason: str) -> bytes:
        return struct.pack("!H", code) + reason.encode()[:123]

    def _fill(self, connection: _Connection) -> None:
        while True:
            if connection.abort.is_set() or self._stopping.is_set():
                raise _Gone()
            readable, _, _ = select.select([connection.sock], [], [], _POLL_SECONDS)
            if readable:
                break
        chunk = connection.sock.recv(65_536)
        if not chunk:
            raise _Gone()
        connection.buffer += chunk

    def _read_exact(self, connection: _Connection, size: int) -> bytes:
        while len(connection.buffer) < size:
            self._fill(connection)
        data = bytes(connection.buffer[:size])
        del connection.buffer[:size]
        return data

    def _handshake(self, connection: _Connection) -> bool:
        while b"\r\n\r\n" not in connection.buffer:
            if len(connection.buffer) > _MAX_HANDSHAKE_BYTES:
                return self._refuse(connection, "431 Request Header Fields Too Large", "too big")
            self._fill(connection)
        head, _, rest = bytes(connection.buffer).partition(b"\r\n\r\n")
        connection.buffer = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        request = lines[0].split(" ")
        if len(request) != 3 or request[0] != "GET" or request[2] != "HTTP/1.1":
            return self._refuse(connection, "400 Bad Request", f"bad request line {lines[0]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon:
                return self._refuse(connection, "400 Bad Request", f"bad header line {line!r}")
            headers[name.strip().lower()] = value.strip()
        target = urlsplit(request[1])
        if target.path != "/link/":
            return self._refuse(connection, "404 Not Found", f"unknown path {target.path!r}")
        ticket = parse_qs(target.query).get("ticket", [""])[0]
        with self._cond:
            known = ticket in self._tickets
        if not known:
            return self._refuse(connection, "401 Unauthorized", f"unknown ticket {ticket!r}")
        connection_tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if (
            "host" not in headers
            or headers.get("upgrade", "").lower() != "websocket"
            or "upgrade" not in connection_tokens
        ):
            return self._refuse(
                connection, "400 Bad Request", f"not a WebSocket upgrade: {headers}"
            )
        if headers.get("sec-websocket-version") != "13":
            return self._refuse(
                connection,
                "426 Upgrade Required",
                f"unsupported Sec-WebSocket-Version {headers.get('sec-websocket-version')!r}",
                "Sec-WebSocket-Version: 13\r\n",
            )
        key = headers.get("sec-websocket-key", "")
        try:
            valid_key = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            valid_key = False
        if not valid_key:
            return self._refuse(connection, "400 Bad Request", f"bad Sec-WebSocket-Key {key!r}")
        response = (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {_accept_key(key)}\r\n\r\n"
        )
        with self._cond:
            live = 1 + sum(1 for c in self._connections if c.live)
        hello = {
            "type": "hello",
            "num_connections": live,
            "debug_info": {
                "host": "applink-fake",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        # hello goes out before the connection is listed, so no envelope can overtake it.
        with connection.send_lock:
            connection.sock.sendall(response.encode())
            connection.sock.sendall(_frame(_OP_TEXT, json.dumps(hello).encode()))
        with self._cond:
            connection.ticket = ticket
            connection.live = True
            self._connections.append(connection)
            self._cond.notify_all()
        return True

    def _refuse(self, connection: _Connection, status: str, reason: str, extra: str = "") -> bool:
        with self._cond:
            self._rejected.append(f"{status}: {reason}")
        with contextlib.suppress(OSError):
            connection.sock.sendall(_http_refusal(status, reason, extra))
        return False

    def _read_frames(self, connection: _Connection) -> None:
        fragments: bytearray | None = None
        fragment_opcode = _OP_TEXT
        while True:
            first, second = self._read_exact(connection, 2)
            fin, opcode = bool(first & 0x80), first & 0x0F
            if first & 0x70:
                raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, "no extension negotiated")
            if not second & 0x80:
                raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, "client frames must be masked")
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read_exact(connection, 2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read_exact(connection, 8))
            if length > _MAX_MESSAGE_BYTES:
                raise _ProtocolError(_CLOSE_TOO_BIG, "frame too big")
            key = self._read_exact(connection, 4)
            data = _unmask(self._read_exact(connection, length), key)

            if opcode >= _OP_CLOSE:
                if not fin or length > 125:
                    raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, "bad control frame")
                if opcode == _OP_PING:
                    with self._cond:
                        self._pings += 1
                    self._send_frame(connection, _OP_PONG, data)
                elif opcode == _OP_CLOSE:
                    # Echo the code, then close the TCP connection: the server closes first.
                    code = data[:2] if len(data) >= 2 else struct.pack("!H", _CLOSE_NORMAL)
                    with contextlib.suppress(OSError):
                        self._send_frame(connection, _OP_CLOSE, code)
                    return
                elif opcode == _OP_PONG:
                    with self._cond:
                        self._pongs += 1
                else:
                    raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
                continue

            if opcode == _OP_CONTINUATION:
                if fragments is None:
                    raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, "continuation without a start")
                fragments += data
            elif opcode in (_OP_TEXT, _OP_BINARY):
                if fragments is not None:
                    raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, "new message inside a fragment")
                fragments, fragment_opcode = bytearray(data), opcode
            else:
                raise _ProtocolError(_CLOSE_PROTOCOL_ERROR, f"unknown opcode {opcode}")
            if len(fragments) > _MAX_MESSAGE_BYTES:
                raise _ProtocolError(_CLOSE_TOO_BIG, "message too big")
            if fin:
                message, fragments = bytes(fragments), None
                if fragment_opcode == _OP_TEXT:
                    self._on_text(message)

    def _on_text(self, message: bytes) -> None:
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _ProtocolError(_CLOSE_INVALID_DATA, "text message is not UTF-8") from error
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        with self._cond:
            self._received.append(text)
            if isinstance(decoded, dict) and "envelope_id" in decoded:
                self._acks.append(decoded)
            self._cond.notify_all()
