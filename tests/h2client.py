"""
A small blocking HTTP/2 client on the python h2 library, for tests.

It accepts pushes (unless told not to), records every frame-level event per
stream, and can misbehave on purpose: reset pushes, send GOAWAY, shrink its
flow-control windows or concurrency limits.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

GOAWAY_FRAME_TYPE = 0x7


@dataclass(frozen=True)
class GoAway:
    """A GOAWAY frame the server sent."""

    lastStreamID: int
    errorCode: int


class _ClientConnection(h2.connection.H2Connection):  # type: ignore[misc]
    """
    h2's client connection, remembering the method of promised requests:
    h2 4.4 forgets it, and would take the content-length of a pushed HEAD
    response for a body that never came.
    """

    onPromise: Callable[[h2.events.PushedStreamReceived], None] | None = None

    def _receive_push_promise_frame(self, frame):  # type: ignore[no-untyped-def]
        frames, events = super()._receive_push_promise_frame(frame)
        for event in events:
            if isinstance(event, h2.events.PushedStreamReceived):
                method = dict(event.headers).get(b":method")
                self.streams[event.pushed_stream_id].request_method = method
                # Tell the client now, before the frames that follow in the
                # same read, so that it can reset the push in time.
                if self.onPromise is not None:
                    self.onPromise(event)
        return frames, events


@dataclass
class Stream:
    """
    What the client saw on one stream.
    """

    streamID: int
    requestHeaders: list[tuple[bytes, bytes]]
    parentStreamID: int | None = None
    headers: list[tuple[bytes, bytes]] | None = None
    informational: list[list[tuple[bytes, bytes]]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    ended: bool = False
    resetCode: int | None = None
    resetByClient: bool = False

    @property
    def pushed(self) -> bool:
        """Whether the server pushed this stream."""
        return self.parentStreamID is not None

    @property
    def done(self) -> bool:
        """Whether nothing more will arrive on this stream."""
        return self.ended or self.resetCode is not None

    @property
    def status(self) -> int | None:
        """The final response's status code."""
        return None if self.headers is None else int(dict(self.headers)[b":status"])

    def header(self, name: bytes) -> bytes | None:
        """The first value of a response header."""
        for key, value in self.headers or []:
            if key == name:
                return value
        return None

    def requestHeader(self, name: bytes) -> bytes | None:
        """The first value of a request header (for pushes: the promise's)."""
        for key, value in self.requestHeaders:
            if key == name:
                return value
        return None

    @property
    def path(self) -> bytes | None:
        """The request's :path."""
        return self.requestHeader(b":path")


class H2Client:
    """
    One HTTP/2 connection to a server on loopback.
    """

    def __init__(
        self,
        port: int,
        tls: bool = False,
        enablePush: bool = True,
        settings: dict[int, int] | None = None,
        onPushPromise: Callable[[H2Client, Stream], None] | None = None,
        onPushResponse: Callable[[H2Client, Stream], None] | None = None,
        timeout: float = 10.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.timeout = timeout
        self.streams: dict[int, Stream] = {}
        self.terminated: GoAway | None = None
        self._inbound = bytearray()
        self.closed = False
        self.onPushPromise = onPushPromise
        self.onPushResponse = onPushResponse
        self.scheme = b"https" if tls else b"http"
        self.authority = f"localhost:{port}".encode()
        raw = socket.create_connection((host, port), timeout=timeout)
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            context.set_alpn_protocols(["h2"])
            self.sock: socket.socket = context.wrap_socket(
                raw, server_hostname="localhost"
            )
            assert self.sock.selected_alpn_protocol() == "h2"
        else:
            self.sock = raw
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.conn = _ClientConnection(config=config)
        self.conn.onPromise = self._promised
        self.resetsSent = 0
        self.conn.initiate_connection()
        newSettings = {h2.settings.SettingCodes.ENABLE_PUSH: int(enablePush)}
        newSettings.update(settings or {})
        self.conn.update_settings(newSettings)
        self.flush()

    def flush(self) -> None:
        """Send whatever h2 has queued."""
        data = self.conn.data_to_send()
        if data and not self.closed:
            self.sock.sendall(data)

    def request(
        self,
        path: bytes,
        headers: Iterable[tuple[bytes, bytes]] = (),
        method: bytes = b"GET",
        endStream: bool = True,
    ) -> int:
        """Send a request; return its stream ID."""
        streamID = self.conn.get_next_available_stream_id()
        requestHeaders = [
            (b":method", method),
            (b":scheme", self.scheme),
            (b":authority", self.authority),
            (b":path", path),
            *headers,
        ]
        self.conn.send_headers(streamID, requestHeaders, end_stream=endStream)
        self.streams[streamID] = Stream(streamID, requestHeaders)
        self.flush()
        return streamID

    def reset(self, streamID: int, code: int = h2.errors.ErrorCodes.CANCEL) -> None:
        """Reset a stream, unless it has already ended."""
        try:
            self.conn.reset_stream(streamID, error_code=code)
        except h2.exceptions.StreamClosedError:
            return
        self.streams[streamID].resetCode = code
        self.streams[streamID].resetByClient = True
        self.resetsSent += 1

    def goAway(self) -> None:
        """Send GOAWAY."""
        self.conn.close_connection()
        self.flush()

    def pushes(self, parent: int | None = None) -> list[Stream]:
        """The pushed streams, of one parent or all, in promise order."""
        return [
            s
            for s in self.streams.values()
            if s.pushed and (parent is None or s.parentStreamID == parent)
        ]

    def runUntil(
        self, condition: Callable[[], bool], timeout: float | None = None
    ) -> None:
        """Read and handle frames until C{condition()} or the timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    f"HTTP/2 client timed out waiting: {self.describe()}"
                )
            if self.closed:
                raise ConnectionError("connection closed before the condition held")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not data:
                self.closed = True
                continue
            self.receive(data)

    def receive(self, data: bytes) -> None:
        """Feed bytes from the server to h2 and record the events."""
        for event in self.conn.receive_data(self._withoutGoAway(data)):
            self._handle(event)
        self.flush()

    def describe(self) -> str:
        """The streams' states and the flow-control windows, for a failure."""
        streams = "; ".join(
            f"{s.streamID} {s.path!r} status={s.status} body={len(s.body)} "
            f"ended={s.ended} reset={s.resetCode}"
            for s in self.streams.values()
        )
        inbound = self.conn._inbound_flow_control_window_manager.current_window_size
        return (
            f"streams: {streams}; window to send "
            f"{self.conn.outbound_flow_control_window}, inbound window {inbound}"
        )

    def _withoutGoAway(self, data: bytes) -> bytes:
        # h2 stops processing a connection once it receives GOAWAY, but a
        # server's GOAWAY lets the streams it names finish (RFC 9113 6.8), as
        # browsers and nghttp let them: record GOAWAY frames here instead.
        self._inbound += data
        passed = bytearray()
        while len(self._inbound) >= 9:
            length = int.from_bytes(self._inbound[:3], "big")
            if len(self._inbound) < 9 + length:
                break
            frame = bytes(self._inbound[: 9 + length])
            del self._inbound[: 9 + length]
            if frame[3] == GOAWAY_FRAME_TYPE:
                self.terminated = GoAway(
                    lastStreamID=int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF,
                    errorCode=int.from_bytes(frame[13:17], "big"),
                )
            else:
                passed += frame
        return bytes(passed)

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.PushedStreamReceived):
            pass  # Recorded by _promised as the frame arrived.
        elif isinstance(event, h2.events.InformationalResponseReceived):
            self.streams[event.stream_id].informational.append(list(event.headers))
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self.streams[event.stream_id]
            stream.headers = list(event.headers)
            if stream.pushed and self.onPushResponse is not None:
                self.onPushResponse(self, stream)
        elif isinstance(event, h2.events.DataReceived):
            self.streams[event.stream_id].body += event.data
            self.conn.acknowledge_received_data(
                event.flow_controlled_length, event.stream_id
            )
        elif isinstance(event, h2.events.StreamEnded):
            self.streams[event.stream_id].ended = True
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id)
            if stream is not None and stream.resetCode is None:
                stream.resetCode = event.error_code

    def _promised(self, event: h2.events.PushedStreamReceived) -> None:
        stream = Stream(
            event.pushed_stream_id,
            list(event.headers),
            parentStreamID=event.parent_stream_id,
        )
        self.streams[event.pushed_stream_id] = stream
        if self.onPushPromise is not None:
            self.onPushPromise(self, stream)

    def settled(self, streamID: int) -> Callable[[], bool]:
        """A condition: the stream and every push promised on it are done."""

        def condition() -> bool:
            return self.streams[streamID].done and all(
                s.done for s in self.pushes(streamID)
            )

        return condition

    def get(
        self,
        path: bytes,
        headers: Iterable[tuple[bytes, bytes]] = (),
        method: bytes = b"GET",
    ) -> Stream:
        """Request C{path} and wait for it and its pushes to finish."""
        streamID = self.request(path, headers, method)
        self.runUntil(self.settled(streamID))
        return self.streams[streamID]

    def close(self) -> None:
        """Close the socket."""
        self.closed = True
        self.sock.close()

    def __enter__(self) -> H2Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
