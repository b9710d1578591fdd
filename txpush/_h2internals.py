"""
Every touch of Twisted's private HTTP/2 internals, in one place.

Twisted Web speaks HTTP/2 through C{twisted.web._http2.H2Connection}, which
has no server push and only starts after TLS ALPN picks C{h2}.  This module
extends it: L{PushingH2Connection} can send C{PUSH_PROMISE} frames and run
the promised request through the site's resource tree, and
L{PushChannelProtocol} also accepts cleartext HTTP/2 with prior knowledge.

Twisted calls these internals private, so L{checkTwistedInternals} verifies
that what this module relies on is still there, and says which Twisted
release it found when it is not.
"""

from __future__ import annotations

import contextlib
import inspect
from collections import deque
from typing import TYPE_CHECKING, Any

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hyperframe.frame
import priority
from twisted import version as twistedVersion
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection, H2Stream
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from txpush.diary import PushDiary
from txpush.errors import IncompatibleTwistedError, PushNotSupportedError

if TYPE_CHECKING:
    from twisted.web.server import Site

TESTED_TWISTED = "Twisted>=26.10.0,<26.11"
"""The Twisted releases whose HTTP/2 internals this module is tested with."""

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface that starts every HTTP/2 connection."""

_CONNECTION_INTERNALS = (
    "conn",
    "streams",
    "priority",
    "_outboundStreamQueues",
    "_streamCleanupCallbacks",
    "_stillProducing",
    "_reactor",
    "_requestReceived",
    "_requestAborted",
    "_requestDone",
    "_tryToWriteControlData",
)
_STREAM_METHODS = ("requestComplete", "connectionLost")
_STREAM_ATTRIBUTES = ("self.streamID", "self.producer", "self._conn", "self._request")
_STREAM_CONSTRUCTOR = (
    "self",
    "streamID",
    "connection",
    "headers",
    "requestFactory",
    "site",
    "factory",
)
_GENERIC_PROTOCOL_INTERNALS = (
    "_negotiatedProtocol",
    "_requestFactory",
    "_site",
    "_factory",
    "_timeOut",
    "_callLater",
)


def checkTwistedInternals() -> None:
    """
    Verify that the Twisted HTTP/2 internals txpush extends are present.

    @raise IncompatibleTwistedError: One is missing or changed shape; the
        message names it and the installed Twisted release.
    """
    missing: list[str] = []
    connection = H2Connection(reactor=Clock())
    missing.extend(
        f"H2Connection.{name}"
        for name in _CONNECTION_INTERNALS
        if not hasattr(connection, name)
    )
    missing.extend(
        f"H2Stream.{name}" for name in _STREAM_METHODS if not hasattr(H2Stream, name)
    )
    streamConstructor = inspect.getsource(H2Stream.__init__)
    missing.extend(
        f"H2Stream.{name[len('self.') :]}"
        for name in _STREAM_ATTRIBUTES
        if f"{name} = " not in streamConstructor
    )
    if tuple(inspect.signature(H2Stream.__init__).parameters) != _STREAM_CONSTRUCTOR:
        missing.append("H2Stream.__init__(streamID, connection, headers, ...)")
    missing.extend(
        f"_GenericHTTPChannelProtocol.{name}"
        for name in _GENERIC_PROTOCOL_INTERNALS
        if not hasattr(_GenericHTTPChannelProtocol, name)
    )
    if "_networkProducer" not in inspect.getsource(HTTPChannel.connectionMade):
        missing.append("HTTPChannel._networkProducer")
    if missing:
        raise IncompatibleTwistedError(
            f"Twisted {twistedVersion.short()} lacks the HTTP/2 internals txpush "
            f"extends ({', '.join(missing)}): install the Twisted release "
            f"txpush is tested with ({TESTED_TWISTED})"
        )


def isPushedStreamID(streamID: int) -> bool:
    """
    Tell a pushed stream from one the client opened.

    @param streamID: An HTTP/2 stream identifier.
    @return: L{True} for server-initiated (even) streams, which on a server
        are exactly the pushed ones.
    """
    return streamID % 2 == 0


class _FlowControlAwarePriorityTree(priority.PriorityTree):  # type: ignore[misc]
    """
    Twisted's priority tree, never scheduling a stream whose next frame is
    data that its flow-control window cannot carry.

    Twisted 26.10 schedules such a stream anyway, sends nothing, and tries
    again on the next reactor turn: a client that opens no window (an
    initial window of 0) keeps the server busy at full CPU, and, as every turn
    resets the idle timeout, forever.  Blocking the stream instead waits for
    the client's WINDOW_UPDATE, which Twisted answers by unblocking it.
    """

    def __init__(self, connection: H2Connection) -> None:
        super().__init__()
        self._connection = connection

    def __next__(self) -> int:
        while True:
            streamID: int = super().__next__()
            queue = self._connection._outboundStreamQueues.get(streamID)
            if queue and isinstance(queue[0], bytes) and queue[0]:
                try:
                    window = self._connection.conn.local_flow_control_window(streamID)
                except h2.exceptions.StreamClosedError:
                    # Closed in h2 by a frame of this read whose event
                    # Twisted has not handled yet: it is about to go.
                    window = 0
                if window <= 0:
                    self.block(streamID)
                    continue
            return streamID

    next = __next__


class PushingH2Connection(H2Connection):
    """
    A Twisted HTTP/2 connection that can push.

    @ivar maxConcurrentPushes: The site's cap on pushed streams open at once.
    @ivar diary: The paths pushed on this connection.
    """

    _log = Logger()

    def __init__(self, reactor: Any = None, maxConcurrentPushes: int = 100) -> None:
        super().__init__(reactor)
        self.maxConcurrentPushes = maxConcurrentPushes
        self.priority = _FlowControlAwarePriorityTree(self)
        self.diary = PushDiary()
        self.goingAway = False
        self._pushedStreamIDs: set[int] = set()

    # Push state, read by the pusher.

    def pushEnabled(self) -> bool:
        """
        @return: Whether the client accepts pushes on this connection now: it
            has not sent C{SETTINGS_ENABLE_PUSH=0} or GOAWAY, and the
            connection is open.
        """
        return bool(
            self._stillProducing
            and not self.goingAway
            and self.conn.remote_settings.enable_push
            and self.conn.state_machine.state != h2.connection.ConnectionState.CLOSED
        )

    def pushLimit(self) -> int:
        """
        @return: How many pushed streams may be open at once: the smaller of
            the client's C{SETTINGS_MAX_CONCURRENT_STREAMS} and the site's cap.
        """
        return int(
            min(
                self.conn.remote_settings.max_concurrent_streams,
                self.maxConcurrentPushes,
            )
        )

    def activePushCount(self) -> int:
        """
        @return: How many pushed streams are promised and not yet finished.
        """
        return len(self._pushedStreamIDs)

    def pageOrigin(self, stream: H2Stream) -> tuple[bytes, bytes | None]:
        """
        @param stream: A stream of this connection.
        @return: The C{:scheme} and C{:authority} its request came with (the
            authority is L{None} if the client sent neither it nor C{Host}).
        """
        scheme = getattr(stream, "_txpushScheme", None)
        if scheme is None:
            scheme = b"https" if self._isSecure() else b"http"
        authority = getattr(stream, "_txpushAuthority", None)
        if authority is None:
            hosts = stream._request.requestHeaders.getRawHeaders(b"host")
            authority = hosts[0] if hosts else None
        return scheme, authority

    # Graceful shutdown.

    def openStreamCount(self) -> int:
        """
        @return: How many streams (the client's and pushed ones) are open.
        """
        return len(self.streams) if self._stillProducing else 0

    def announceShutdown(self) -> None:
        """
        Send GOAWAY naming the last stream the client opened: the client
        opens no new stream, and those open may finish.  Push stops.
        """
        if self.goingAway or not self._stillProducing:
            return
        self.goingAway = True
        self._tryToWriteControlData()
        # h2 refuses to send anything once it has sent GOAWAY, so this first
        # GOAWAY is written around it: the open streams can still finish.
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = self.conn.highest_inbound_stream_id
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        data = frame.serialize()
        assert self.transport is not None
        if self._consumerBlocked is None and not self._bufferedControlFrames:
            self.transport.write(data)
        else:
            self._bufferedControlFrames.append(data)
            self._bufferedControlFrameBytes += len(data)

    def closeGracefully(self) -> None:
        """
        End the connection: a final GOAWAY, then close; streams still open
        are lost.
        """
        if not self._stillProducing:
            return
        self.conn.close_connection(
            error_code=h2.errors.ErrorCodes.NO_ERROR,
            last_stream_id=self.conn.highest_inbound_stream_id,
        )
        self._terminate(Failure(ConnectionLost("Server shutting down")))

    # Sending a push.

    def promise(
        self, parentStreamID: int, requestHeaders: list[tuple[bytes, bytes]]
    ) -> H2Stream:
        """
        Send a C{PUSH_PROMISE} on C{parentStreamID} and schedule the promised
        request's dispatch through the site.

        @param parentStreamID: The page's stream.
        @param requestHeaders: The promised request's header block.
        @return: The promised stream; its C{_request} is the pushed request.
        @raise PushNotSupportedError: HTTP/2 forbids the push now (the page's
            stream is closed, stream identifiers are exhausted).
        """
        try:
            promisedStreamID = self.conn.get_next_available_stream_id()
        except h2.exceptions.H2Error as e:
            raise PushNotSupportedError(f"cannot push now: {e}") from e
        # The priority tree first: a client's PRIORITY frame may already have
        # put this idle stream in it, or filled it, and nothing may be sent
        # or registered for a stream the data loop could not schedule.
        self._placeInPriorityTree(promisedStreamID, parentStreamID)
        try:
            self.conn.push_stream(parentStreamID, promisedStreamID, requestHeaders)
        except h2.exceptions.H2Error as e:
            self.priority.remove_stream(promisedStreamID)
            raise PushNotSupportedError(
                f"cannot push on stream {parentStreamID} now: {e}"
            ) from e

        stream = H2Stream(
            promisedStreamID,
            self,
            requestHeaders,
            self.requestFactory,
            self.site,
            self.factory,
        )
        self.streams[promisedStreamID] = stream
        self._streamCleanupCallbacks[promisedStreamID] = Deferred()
        self._outboundStreamQueues[promisedStreamID] = deque()
        self._pushedStreamIDs.add(promisedStreamID)
        if not self._tryToWriteControlData():
            # The client stopped reading and Twisted dropped the connection.
            raise PushNotSupportedError("the connection was lost while pushing")
        self._reactor.callLater(0, self._dispatchPromised, promisedStreamID)
        return stream

    def _placeInPriorityTree(self, streamID: int, parentStreamID: int) -> None:
        # RFC 9113 5.3.5 default: a pushed stream depends on its parent.
        try:
            self.priority.insert_stream(streamID, depends_on=parentStreamID)
        except priority.DuplicateStreamError:
            self.priority.reprioritize(streamID, depends_on=parentStreamID)
        except priority.PriorityError as e:
            raise PushNotSupportedError(
                f"cannot push now: the stream priority tree refuses it ({e!r})"
            ) from e
        self.priority.block(streamID)

    def _dispatchPromised(self, streamID: int) -> None:
        stream = self.streams.get(streamID)
        if stream is None:
            # Reset by the client, or the connection is gone: nothing to do.
            return
        stream.requestComplete()

    # Overridden internals.

    def _requestReceived(self, event: h2.events.RequestReceived) -> None:
        super()._requestReceived(event)
        stream = self.streams[event.stream_id]
        for name, value in event.headers:
            if name == b":scheme":
                stream._txpushScheme = value
            elif name == b":authority":
                stream._txpushAuthority = value

    def _requestAborted(self, event: h2.events.StreamReset) -> None:
        if not isPushedStreamID(event.stream_id):
            super()._requestAborted(event)
            return
        # Resetting a push is ordinary client behaviour (it has the asset
        # cached, or does not want it): stop producing it and free its state,
        # without spending the Rapid Reset budget meant for client streams.
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return
        self._log.debug(
            "Client reset pushed stream {streamID} with code {errorCode}",
            streamID=event.stream_id,
            errorCode=event.error_code,
        )
        producer = stream.producer
        stream.connectionLost(
            Failure(ConnectionLost(f"Pushed stream reset with code {event.error_code}"))
        )
        if producer is not None:
            producer.stopProducing()
        self._requestDone(event.stream_id)

    def dataReceived(self, data: bytes) -> None:
        """
        Handle bytes from the client, then resume streams that a larger
        C{SETTINGS_INITIAL_WINDOW_SIZE} let send (Twisted ignores that).

        @param data: Bytes from the transport.
        """
        window = self.conn.remote_settings.initial_window_size
        super().dataReceived(data)
        if (
            self._stillProducing
            and self.conn.remote_settings.initial_window_size > window
        ):
            for streamID, queue in self._outboundStreamQueues.items():
                if queue and self.conn.local_flow_control_window(streamID) > 0:
                    self.priority.unblock(streamID)
            self._wakeSendingLoop()

    def _handleWindowUpdate(self, event: h2.events.WindowUpdated) -> None:
        super()._handleWindowUpdate(event)
        # Twisted unblocks the streams in the priority tree but, its sending
        # loop being asleep (see _FlowControlAwarePriorityTree), must be
        # woken: on the next turn, once the events of this read (a reset of
        # one of those streams, say) are handled.
        self._reactor.callLater(0, self._wakeSendingLoop)

    def _wakeSendingLoop(self) -> None:
        if self._sendingDeferred is not None and self._stillProducing:
            sending, self._sendingDeferred = self._sendingDeferred, None
            sending.callback(None)

    def remainingOutboundWindow(self, streamID: int) -> int:
        """
        See Twisted's; 0 for a stream h2 has closed (by a frame of this read
        whose event is not handled yet), where Twisted's raises.

        @param streamID: A stream of this connection.
        @return: The room left in its send window, less what is queued.
        """
        try:
            remaining: int = super().remainingOutboundWindow(streamID)
        except h2.exceptions.StreamClosedError:
            return 0
        return remaining

    def writeDataToStream(self, streamID: int, data: bytes) -> None:
        """
        See Twisted's; data for a stream h2 has closed is dropped (its reset
        is being handled), where Twisted's raises into the producer.

        @param streamID: A stream of this connection.
        @param data: Response bytes.
        """
        with contextlib.suppress(h2.exceptions.StreamClosedError):
            super().writeDataToStream(streamID, data)

    def connectionLost(  # type: ignore[override]
        self, reason: Failure, _cancelTimeouts: bool = True
    ) -> None:
        """
        See Twisted's; the producers of the streams still open are stopped
        too, so a response paused by flow control or still being produced
        ends with its connection.

        @param reason: Why the connection was lost.
        @param _cancelTimeouts: See Twisted's.
        """
        producers = [s.producer for s in self.streams.values() if s.producer]
        super().connectionLost(reason, _cancelTimeouts=_cancelTimeouts)
        for producer in producers:
            try:
                producer.stopProducing()
            except Exception:
                self._log.failure("Stopping a producer failed")

    def _requestDone(self, streamID: int) -> None:
        self._pushedStreamIDs.discard(streamID)
        super()._requestDone(streamID)


def sendEarlyHints(request: Any, linkValues: list[bytes], overHTTP11: bool) -> bool:
    """
    Send a C{103 Early Hints} informational response for C{request}.

    @param request: A request whose response has not started.
    @param linkValues: The C{Link} header values to send.
    @param overHTTP11: Whether to send it to HTTP/1.1 clients too (an
        HTTP/1.0 client never gets one: it cannot parse it).
    @return: Whether it was sent.
    """
    if not linkValues or request.startedWriting or request._disconnected:
        return False
    channel = request.channel
    if isinstance(channel, H2Stream):
        connection = channel._conn
        if channel.streamID not in connection.streams:
            return False
        headers = [(b":status", b"103")] + [(b"link", v) for v in linkValues]
        try:
            connection.conn.send_headers(channel.streamID, headers)
        except h2.exceptions.H2Error:
            return False
        connection._tryToWriteControlData()
        return True
    if overHTTP11 and request.clientproto == b"HTTP/1.1":
        transport = getattr(channel, "transport", None)
        if transport is None:
            return False
        lines = [b"HTTP/1.1 103 Early Hints"] + [b"Link: " + v for v in linkValues]
        transport.write(b"\r\n".join(lines) + b"\r\n\r\n")
        return True
    return False


def requestOrigin(request: Any) -> tuple[bytes, bytes | None]:
    """
    @param request: Any request.
    @return: The scheme and authority the client used: over HTTP/2 the
        request's C{:scheme} and C{:authority} (right behind a TLS-terminating
        TCP proxy too), else C{https} or C{http} by the transport, and the
        C{Host} header (L{None} if absent).
    """
    channel: Any = getattr(request, "channel", None)
    connection = pushingConnectionOf(channel)
    if connection is not None:
        return connection.pageOrigin(channel)
    scheme = b"https" if request.isSecure() else b"http"
    return scheme, request.getHeader(b"host")


def connectionOf(request: object) -> object | None:
    """
    @param request: Any request.
    @return: The object standing for its client connection (the HTTP/2
        connection, or the HTTP/1.1 channel), or L{None} once it is lost.
    """
    channel = getattr(request, "channel", None)
    if isinstance(channel, H2Stream):
        connection: object = channel._conn
        return connection
    return channel


def isPushedRequest(request: object) -> bool:
    """
    @param request: Any request.
    @return: Whether it is a pushed request (answering a C{PUSH_PROMISE}).
    """
    channel = getattr(request, "channel", None)
    return isinstance(channel, H2Stream) and isPushedStreamID(channel.streamID)


def pushingConnectionOf(channel: object) -> PushingH2Connection | None:
    """
    @param channel: A request's C{channel}.
    @return: The pushing HTTP/2 connection the channel is a stream of, or
        L{None} (HTTP/1.1, a stock Twisted site, a lost connection).
    """
    if isinstance(channel, H2Stream):
        connection = channel._conn
        if isinstance(connection, PushingH2Connection):
            return connection
    return None


class PushChannelProtocol(_GenericHTTPChannelProtocol):
    """
    Twisted's HTTP/1.1-or-HTTP/2 switch, speaking HTTP/2 through
    L{PushingH2Connection}, after TLS ALPN C{h2} or, without ALPN, when the
    client starts with the HTTP/2 connection preface (prior knowledge).
    """

    _prefaceBuffer = b""

    def dataReceived(self, data: bytes) -> None:
        """
        Pick the protocol on the first bytes, then hand data to its channel.

        @param data: Bytes from the transport.
        """
        if self._negotiatedProtocol is None:
            alpn = getattr(self._channel.transport, "negotiatedProtocol", None)
            if alpn == b"h2":
                self._startHTTP2()
            elif alpn is None:
                # Prior knowledge: buffer until the preface is complete or
                # the bytes stop matching it.
                data = self._prefaceBuffer + data
                seen = min(len(data), len(HTTP2_PREFACE))
                if data[:seen] == HTTP2_PREFACE[:seen]:
                    if seen < len(HTTP2_PREFACE):
                        self._prefaceBuffer = data
                        return
                    self._startHTTP2()
                else:
                    self._negotiatedProtocol = b"http/1.1"
                self._prefaceBuffer = b""
            else:
                self._negotiatedProtocol = b"http/1.1"
        self._channel.dataReceived(data)

    def _startHTTP2(self) -> None:
        # Mirrors _GenericHTTPChannelProtocol.dataReceived's switch to h2.
        networkProducer = self._channel._networkProducer
        networkProducer.unregisterProducer()
        self._channel.setTimeout(None)
        transport = self._channel.transport
        factory = self._factory
        self._channel = PushingH2Connection(
            reactor=getattr(factory, "reactor", None),
            maxConcurrentPushes=getattr(factory, "maxConcurrentPushes", 100),
        )
        self._channel.requestFactory = self._requestFactory
        self._channel.site = self._site
        self._channel.factory = factory
        self._channel.timeOut = self._timeOut
        self._channel.callLater = self._callLater
        self._channel.makeConnection(transport)
        networkProducer.registerProducer(self._channel, True)
        self._negotiatedProtocol = b"h2"
        connections = getattr(factory, "http2Connections", None)
        if connections is not None:
            connections.add(self._channel)


def buildPushChannelProtocol(factory: Site) -> PushChannelProtocol:
    """
    Build the protocol of one connection of a L{txpush.PushSite}; used as
    the site's C{protocol}.

    @param factory: The site.
    @return: A protocol that starts as HTTP/1.1 and switches to HTTP/2.
    """
    return PushChannelProtocol(HTTPChannel())
