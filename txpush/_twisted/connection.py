"""
L{PushingH2Connection}: a Twisted HTTP/2 connection that can push, and close
gracefully.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import Any

import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import hyperframe.frame
import priority
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionLost
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import H2Stream

from txpush._twisted.fixes import stopProducer
from txpush._twisted.hardening import DEFAULT_MAX_BUFFERED_BYTES, HardenedH2Connection
from txpush.connectionstate import ConnectionPushState
from txpush.diary import PushDiary
from txpush.errors import PushNotSupportedError
from txpush.floodguard import FloodLimits

log = Logger()

DEFAULT_MAX_CONCURRENT_PUSHES = 100
"""The default cap on pushed streams open at once per connection."""


def isPushedStreamID(streamID: int) -> bool:
    """
    Tell a pushed stream from one the client opened.

    @param streamID: An HTTP/2 stream identifier.
    @return: L{True} for server-initiated (even) streams, which on a server
        are exactly the pushed ones.
    """
    return streamID % 2 == 0


class PushingH2Connection(HardenedH2Connection):
    """
    A Twisted HTTP/2 connection that can push.

    @ivar maxConcurrentPushes: The site's cap on pushed streams open at once.
    @ivar pushState: The connection's L{ConnectionPushState}: its diary, its
        pushed streams, its requests' origins, the digest it sent, its page
        loads.
    @ivar goingAway: Whether L{announceShutdown} ran.
    """

    def __init__(
        self,
        reactor: Any = None,
        maxConcurrentPushes: int = DEFAULT_MAX_CONCURRENT_PUSHES,
        floodLimits: FloodLimits | None = None,
        maxBufferedBytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    ) -> None:
        """
        @param reactor: See Twisted's.
        @param maxConcurrentPushes: See L{maxConcurrentPushes}.
        @param floodLimits: See L{HardenedH2Connection}.
        @param maxBufferedBytes: See L{HardenedH2Connection}.
        """
        super().__init__(reactor, floodLimits, maxBufferedBytes)
        self.maxConcurrentPushes = maxConcurrentPushes
        self.pushState = ConnectionPushState()
        self.goingAway = False
        self._lastServedStreamID: int | None = None

    # Push state, read by the pusher.

    @property
    def diary(self) -> PushDiary:
        """
        The paths pushed on this connection (the L{pushState}'s diary).
        """
        return self.pushState.diary

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
        return len(self.pushState.pushedStreamIDs)

    def pageOrigin(self, stream: H2Stream) -> tuple[bytes, bytes | None]:
        """
        @param stream: A stream of this connection.
        @return: The C{:scheme} and C{:authority} its request came with (the
            authority is L{None} if the client sent neither it nor C{Host}).
        """
        scheme, authority = self.pushState.originOf(stream.streamID)
        if scheme is None:
            scheme = b"https" if self._isSecure() else b"http"
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
        if not self._tryToWriteControlData():
            return
        # h2 refuses to send anything once it has sent GOAWAY, so this first
        # GOAWAY is written around it: the open streams can still finish.
        frame = hyperframe.frame.GoAwayFrame(0)
        frame.last_stream_id = self._lastServedStreamID = (
            self.conn.highest_inbound_stream_id
        )
        frame.error_code = h2.errors.ErrorCodes.NO_ERROR
        self.writeOwnFrame(frame.serialize())

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
        @return: The promised stream (see
            L{txpush._twisted.requests.streamRequest} for its request).
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

        stream = self.streamFactory(
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
        self.pushState.streamPushed(promisedStreamID)
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
        self._answering.add(streamID)
        stream.requestComplete()

    # Overridden internals.

    def _requestReceived(self, event: h2.events.RequestReceived) -> None:
        if not self._stillProducing:
            return  # closed earlier in this read: nothing more is served
        last = self._lastServedStreamID
        if last is not None and event.stream_id > last:
            # Sent before the client read the shutdown GOAWAY, which h2 does
            # not know of: refused unprocessed, so the client retries it
            # elsewhere (RFC 9113 section 6.8).
            with contextlib.suppress(h2.exceptions.H2Error):
                self.conn.reset_stream(
                    event.stream_id, h2.errors.ErrorCodes.REFUSED_STREAM
                )
            self._tryToWriteControlData()
            return
        super()._requestReceived(event)
        headers = dict(event.headers)
        self.pushState.streamOpened(
            event.stream_id, headers.get(b":scheme"), headers.get(b":authority")
        )

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
        log.debug(
            "Client reset pushed stream {streamID} with code {errorCode}",
            streamID=event.stream_id,
            errorCode=event.error_code,
        )
        producer = stream.producer
        stream.connectionLost(
            Failure(ConnectionLost(f"Pushed stream reset with code {event.error_code}"))
        )
        if producer is not None:
            stopProducer(producer)
        self._requestDone(event.stream_id)

    def _requestDone(self, streamID: int) -> None:
        self.pushState.streamClosed(streamID)
        super()._requestDone(streamID)
