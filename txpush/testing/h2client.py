"""
A small blocking HTTP/2 client on the python h2 library, for tests and
benchmarks.

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

FRAME_HEADER_LENGTH = 9
GOAWAY_FRAME_TYPE = 0x7


@dataclass(frozen=True)
class GoAway:
    """
    A GOAWAY frame the server sent.

    @ivar lastStreamID: The last stream the server said it would process.
    @ivar errorCode: The frame's error code (0: no error).
    """

    lastStreamID: int
    errorCode: int


@dataclass
class Stream:
    """
    What the client saw on one stream.

    @ivar streamID: The stream's id.
    @ivar requestHeaders: The request's headers (for pushes: the promise's).
    @ivar parentStreamID: For a push, the stream it was promised on.
    @ivar headers: The final response's headers, once they came.
    @ivar informational: The headers of each 1xx response, in order.
    @ivar body: The response body so far.
    @ivar ended: Whether the server ended the stream.
    @ivar resetCode: The error code of the stream's reset, by either side.
    @ivar resetByClient: Whether this client reset it.
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

    @property
    def method(self) -> bytes | None:
        """The request's :method (for pushes: the promised one)."""
        return self.requestHeader(b":method")

    def header(self, name: bytes) -> bytes | None:
        """
        The first value of a response header.

        @param name: The header's name, in lower case.
        @return: Its first value, or L{None} when the response has none.
        """
        for key, value in self.headers or []:
            if key == name:
                return value
        return None

    def requestHeader(self, name: bytes) -> bytes | None:
        """
        The first value of a request header (for pushes: the promise's).

        @param name: The header's name, in lower case.
        @return: Its first value, or L{None} when the request has none.
        """
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

    @ivar streams: What was seen on each stream, by stream id.
    @ivar terminated: The server's GOAWAY, once it came.
    @ivar closed: Whether the connection is closed (by either side).
    @ivar resetsSent: How many streams this client reset.
    @ivar pingsAcknowledged: How many of this client's PINGs were answered.
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
        """
        Connect, send the preface and the client's settings.

        @param port: The server's port on C{host}.
        @param tls: Whether to speak TLS (with ALPN h2) rather than h2c.
        @param enablePush: The SETTINGS_ENABLE_PUSH to send.
        @param settings: More settings to send, by setting code.
        @param onPushPromise: Called with each push as it is promised, before
            the frames that follow it in the same read are handled (so that
            it can reset the push in time).
        @param onPushResponse: Called with each push once its response's
            headers came.
        @param timeout: The default time L{runUntil} waits, in seconds.
        @param host: The server's address.
        """
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
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
        self.conn = h2.connection.H2Connection(config=config)
        self.resetsSent = 0
        self.pingsAcknowledged = 0
        self._pingsSent = 0
        self.conn.initiate_connection()
        newSettings: dict[h2.settings.SettingCodes | int, int] = {
            h2.settings.SettingCodes.ENABLE_PUSH: int(enablePush)
        }
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
        """
        Send a request.

        @param path: Its :path.
        @param headers: Its other headers.
        @param method: Its :method.
        @param endStream: Whether the HEADERS frame ends the stream.
        @return: Its stream id.
        """
        streamID: int = self.conn.get_next_available_stream_id()
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
        """
        Reset a stream, unless it has already ended.

        @param streamID: The stream.
        @param code: The RST_STREAM's error code.
        """
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

    def ping(self, timeout: float | None = None) -> None:
        """
        Send a PING and read until the server answers it: the server has
        then read everything this client sent before, and this client has
        read everything the server sent before its answer.

        @param timeout: How long to wait, in seconds (default: the client's).
        """
        self._pingsSent += 1
        self.sendPing(self._pingsSent.to_bytes(8, "big"))
        answered = self._pingsSent
        self.runUntil(lambda: self.pingsAcknowledged >= answered, timeout)

    def sendPing(self, data: bytes) -> None:
        """
        Send a PING without waiting for its answer.

        @param data: Its 8 bytes of opaque data.
        """
        self.conn.ping(data)
        self.flush()

    def pushes(self, parent: int | None = None) -> list[Stream]:
        """
        The pushed streams, in promise order.

        @param parent: Only those promised on this stream; all when L{None}.
        """
        return [
            s
            for s in self.streams.values()
            if s.pushed and (parent is None or s.parentStreamID == parent)
        ]

    def runUntil(
        self, condition: Callable[[], bool], timeout: float | None = None
    ) -> None:
        """
        Read and handle frames until C{condition()} holds.

        @param condition: Checked before each read.
        @param timeout: How long to wait, in seconds (default: the client's).
        @raise TimeoutError: The time ran out first.
        @raise ConnectionError: The connection closed first.
        """
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
        """
        Feed bytes from the server to h2, a frame at a time, and record the
        events.

        @param data: What was read from the socket.
        """
        for frame in self._frames(data):
            for event in self.conn.receive_data(frame):
                self._handle(event)
        self.flush()

    def describe(self) -> str:
        """The streams' states and the flow-control windows, for a failure."""
        streams = "; ".join(
            f"{s.streamID} {s.path!r} status={s.status} body={len(s.body)} "
            f"ended={s.ended} reset={s.resetCode}"
            for s in self.streams.values()
        )
        return (
            f"streams: {streams}; window to send "
            f"{self.conn.outbound_flow_control_window}"
        )

    def _frames(self, data: bytes) -> list[bytes]:
        # The whole frames read so far, one by one, so that a promise is
        # handled (and can be reset) before the frames after it.  h2 stops
        # processing a connection once it receives GOAWAY, but a server's
        # GOAWAY lets the streams it names finish (RFC 9113 6.8), as browsers
        # and nghttp let them: GOAWAY frames are recorded here instead.
        self._inbound += data
        frames = []
        while len(self._inbound) >= FRAME_HEADER_LENGTH:
            length = int.from_bytes(self._inbound[:3], "big")
            if len(self._inbound) < FRAME_HEADER_LENGTH + length:
                break
            frame = bytes(self._inbound[: FRAME_HEADER_LENGTH + length])
            del self._inbound[: FRAME_HEADER_LENGTH + length]
            if frame[3] == GOAWAY_FRAME_TYPE:
                self.terminated = GoAway(
                    lastStreamID=int.from_bytes(frame[9:13], "big") & 0x7FFFFFFF,
                    errorCode=int.from_bytes(frame[13:17], "big"),
                )
            else:
                frames.append(frame)
        return frames

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.PushedStreamReceived):
            self._promised(event)
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
            reset = self.streams.get(event.stream_id)
            if reset is not None and reset.resetCode is None:
                reset.resetCode = event.error_code
        elif isinstance(event, h2.events.PingAckReceived):
            self.pingsAcknowledged += 1

    def _promised(self, event: h2.events.PushedStreamReceived) -> None:
        pushedID = event.pushed_stream_id
        assert pushedID is not None and event.headers is not None
        stream = Stream(
            pushedID,
            [(bytes(key), bytes(value)) for key, value in event.headers],
            parentStreamID=event.parent_stream_id,
        )
        self.streams[pushedID] = stream
        if stream.method == b"HEAD":
            # h2 remembers the method of the requests it sends, not of those
            # promised to it: without it, h2 would take the content-length of
            # a pushed HEAD response for a body that never came.  Its stream
            # record's request_method is what it reads for its own requests.
            self.conn.streams[pushedID].request_method = b"HEAD"
        if self.onPushPromise is not None:
            self.onPushPromise(self, stream)

    def settled(self, streamID: int) -> Callable[[], bool]:
        """
        A condition: the stream and every push promised on it are done.

        @param streamID: The stream.
        """

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
        """
        Request C{path} and wait for it and its pushes to finish.

        @param path: The :path.
        @param headers: The request's other headers.
        @param method: The :method.
        @return: What was seen on the request's stream.
        """
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
