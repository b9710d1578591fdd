"""
L{HardenedH2Connection}: Twisted's HTTP/2 connection, defended against the
well-known attacks of one client on a server.

  - Cheap frames (PRIORITY, WINDOW_UPDATE, SETTINGS, PING, RST_STREAM of the
    client's streams, empty frames, CONTINUATION) spend from the budgets of
    a L{txpush.floodguard.FloodGuard}; a client that overspends one gets
    GOAWAY C{ENHANCE_YOUR_CALM} and its connection is closed.  This is the
    Rapid Reset defence of Twisted 26.10, on every Twisted release, and the
    same defence for the other frames.
  - Client PRIORITY signals are ignored (RFC 9113 deprecates them): the
    C{priority} library can be driven into a loop that never returns.
  - The response bytes buffered for a client are capped: producers pause
    when the cap is reached, and resume once half of it is sent.
  - A closed connection is closed for real: Twisted leaves a TLS connection
    open while the connection is the transport's producer, and keeps
    handing h2 the bytes a closing client still sends.
  - A reset stream's producer is stopped at once.
  - The idle timeout spares a connection whose responses are being made
    by the application: only a client that neither sends nor reads is idle.
"""

from __future__ import annotations

import contextlib
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from twisted.internet.error import ConnectionLost
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from txpush._twisted.fixes import DATA_CHUNK_TYPES, stopProducer
from txpush._twisted.sending import CoalescingH2Connection
from txpush.floodguard import BUDGET_RESET, Flood, FloodGuard, FloodLimits

log = Logger()

DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
"""The default cap on response bytes buffered for one connection's client."""

FLOOD_ABORT_TIMEOUT = 2.0
"""
Seconds a flooding client, or an idle one that reads nothing, has to read its
GOAWAY before it is cut off.
"""


class _ObservedH2Connection(h2.connection.H2Connection):
    """
    h2's connection, telling its Twisted connection of each DATA frame sent.
    """

    def __init__(self, owner: HardenedH2Connection, config: h2.config.H2Configuration):
        super().__init__(config=config)
        self._owner = owner

    def send_data(
        self,
        stream_id: int,
        data: bytes | memoryview,
        end_stream: bool = False,
        pad_length: Any = None,
    ) -> None:
        super().send_data(stream_id, data, end_stream=end_stream, pad_length=pad_length)
        self._owner.dataSent(len(data))


class HardenedH2Connection(CoalescingH2Connection):
    """
    L{CoalescingH2Connection}, defended against flooding, memory exhaustion and
    idle clients (see L{txpush._twisted.hardening}).

    @ivar floodGuard: The budgets of the client's cheap frames.
    @ivar maxBufferedBytes: The cap on response bytes buffered for the
        client (queued for streams, not yet sent).
    @ivar closedFor: Why the server closed the connection on the client
        (a flood, a timeout), or L{None}.
    """

    def __init__(
        self,
        reactor: Any = None,
        floodLimits: FloodLimits | None = None,
        maxBufferedBytes: int = DEFAULT_MAX_BUFFERED_BYTES,
    ) -> None:
        """
        @param reactor: See Twisted's.
        @param floodLimits: The budgets of cheap frames; nghttp2's by
            default.
        @param maxBufferedBytes: See L{maxBufferedBytes}.
        """
        super().__init__(reactor)
        self.conn = _ObservedH2Connection(self, self.conn.config)
        self.floodGuard = FloodGuard(
            floodLimits or FloodLimits(), self._reactor.seconds()
        )
        self.maxBufferedBytes = maxBufferedBytes
        self.closedFor: str | None = None
        self._bufferedBytes = 0
        self._bufferFull = False
        self._resumeScheduled = False
        self._quietRead = False
        # Streams whose request is complete: their responses are the
        # application's to make.
        self._answering: set[int] = set()

    # Reading.

    def dataReceived(self, data: bytes) -> None:
        """
        Budget the client's frames, then handle them; bytes a connection
        being closed still receives are dropped.

        @param data: Bytes from the transport.
        """
        if not self._stillProducing:
            return
        framesBefore = self.floodGuard.framesSeen
        flood = self.floodGuard.received(data, self._reactor.seconds())
        if flood is not None:
            self._closeFlooding(flood)
            return
        # Bytes that start no frame (a frame dribbled a byte at a time) are
        # no sign of life: Twisted would reset the idle timer on them.
        self._quietRead = self.floodGuard.framesSeen == framesBefore
        try:
            super().dataReceived(data)
        finally:
            self._quietRead = False

    def resetTimeout(self) -> None:
        """
        See Twisted's C{TimeoutMixin}; not for a read that started no frame.
        """
        if not self._quietRead:
            super().resetTimeout()

    def handshakeComplete(self) -> bool:
        """
        @return: Whether the client sent its connection preface and SETTINGS.
        """
        return self.floodGuard.settingsReceived

    def _closeFlooding(self, flood: Flood) -> None:
        assert self.transport is not None
        self.closedFor = flood.describe()
        log.info(
            "Closing the connection of {client}: {why} (on stream {streamID})",
            client=self.transport.getPeer(),
            why=self.closedFor,
            streamID=flood.streamID,
        )
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.conn.close_connection(
                error_code=h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
                last_stream_id=self.conn.highest_inbound_stream_id,
            )
        self._terminate(Failure(ConnectionLost(f"Client flooded: {self.closedFor}")))
        self._abortLater(FLOOD_ABORT_TIMEOUT)

    def _handlePriorityUpdate(self, event: h2.events.PriorityUpdated) -> None:
        # Ignored: RFC 9113 section 5.3.2 lets a server ignore priority
        # signals, and the priority library can be made to loop forever by a
        # few PRIORITY frames.  Pushes still follow their pages (see
        # PushingH2Connection).
        pass

    def _requestEnded(self, event: h2.events.StreamEnded) -> None:
        if event.stream_id not in self.streams:
            return  # refused or reset earlier in this read
        self._answering.add(event.stream_id)
        super()._requestEnded(event)

    def _requestDataReceived(self, event: h2.events.DataReceived) -> None:
        if event.stream_id not in self.streams:
            # Refused or reset earlier in this read: the data still counts
            # against the connection's window, which is given back.
            with contextlib.suppress(h2.exceptions.H2Error):
                self.conn.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            return
        super()._requestDataReceived(event)

    def _requestAborted(self, event: h2.events.StreamReset) -> None:
        # A reset stream's producer (a static file, say) would otherwise go on
        # reading into a request nobody will see.
        stream = self.streams.get(event.stream_id)
        if stream is None:
            return
        # A reset response earns no WINDOW_UPDATE frames.
        self._answering.discard(event.stream_id)
        producer = stream.producer
        super()._requestAborted(event)
        if producer is not None:
            stopProducer(producer)
        if not event.remote_reset and self._stillProducing:
            # h2 reset the stream for the client's mistake (data after the
            # end of its request, a window overflow): as costly as a reset
            # the client sends (MadeYouReset, CVE-2025-8671).
            flood = self.floodGuard.spend(BUDGET_RESET, event.stream_id)
            if flood is not None:
                self._closeFlooding(flood)

    # Sending.

    def bufferedBytes(self) -> int:
        """
        @return: How many response bytes are queued for the client, not yet
            sent.
        """
        return self._bufferedBytes

    def dataSent(self, length: int) -> None:
        """
        h2 sent C{length} bytes of DATA: they leave the buffer, and earn the
        client the WINDOW_UPDATE frames it needs to read on.  Producers paused
        by a full buffer resume once it is half empty.

        @param length: The DATA frame's payload length.
        """
        self._bufferedBytes -= length
        self.floodGuard.dataSent(length)
        self._resumeIfDrained()

    def _resumeIfDrained(self) -> None:
        if (
            self._bufferFull
            and self._bufferedBytes <= self.maxBufferedBytes // 2
            and not self._resumeScheduled
        ):
            # On the next turn: not from inside h2's send_data, where a
            # producer's failure would end the sending loop.
            self._resumeScheduled = True
            self._reactor.callLater(0, self._resumeProducers)

    def _resumeProducers(self) -> None:
        self._resumeScheduled = False
        if not self._bufferFull or self._bufferedBytes > self.maxBufferedBytes // 2:
            return
        self._bufferFull = False
        for stream in list(self.streams.values()):
            try:
                stream.windowUpdated()
            except Exception:
                log.failure(
                    "Resuming the producer of stream {streamID} failed",
                    streamID=stream.streamID,
                )

    def writeDataToStream(self, streamID: int, data: bytes) -> None:
        """
        See Twisted's; the bytes count against L{maxBufferedBytes}, and every
        producer pauses when it is reached.

        @param streamID: A stream of this connection.
        @param data: Response bytes.
        """
        if streamID in self._outboundStreamQueues:
            self._bufferedBytes += len(data)
        super().writeDataToStream(streamID, data)
        if self._bufferedBytes >= self.maxBufferedBytes and not self._bufferFull:
            self._bufferFull = True
            for stream in list(self.streams.values()):
                stream.flowControlBlocked()

    def remainingOutboundWindow(self, streamID: int) -> int:
        """
        See Twisted's; no room at all while the buffer is full.

        @param streamID: A stream of this connection.
        @return: The room left in its send window, less what is queued.
        """
        if self._bufferFull:
            return 0
        return super().remainingOutboundWindow(streamID)

    def _requestDone(self, streamID: int) -> None:
        queue = self._outboundStreamQueues.get(streamID, ())
        self._bufferedBytes -= sum(
            len(c) for c in queue if isinstance(c, DATA_CHUNK_TYPES)
        )
        if streamID in self._answering:
            self._answering.discard(streamID)
            self.floodGuard.responseEnded()
        super()._requestDone(streamID)
        # A reset stream's bytes may be what kept the buffer full.
        self._resumeIfDrained()

    # Closing.

    def timeoutConnection(self) -> None:
        """
        Close an idle connection (see Twisted's), unless the application is
        still making a response the client is ready to read: a long poll or
        a slow page is not an idle client.
        """
        if not self._stillProducing:
            # Closed already, its abort timer armed: nothing to time out.
            return
        if self._applicationBusy():
            # The timer has fired: set anew (resetTimeout would not).
            self.setTimeout(self.timeOut)
            return
        assert self.transport is not None
        self.closedFor = "idle"
        stuck = self._consumerBlocked is not None
        super().timeoutConnection()
        self._releaseTransport()
        if stuck:
            # The client reads nothing: its GOAWAY cannot get out anyway.
            self._abortLater(FLOOD_ABORT_TIMEOUT)

    def _applicationBusy(self) -> bool:
        # Busy: a response the client is ready for (it reads, and the stream
        # has room to send) has nothing queued, so the application is still
        # making it.  A producer paused by a closed window is the client's.
        if self._consumerBlocked is not None or self._bufferFull:
            return False
        return any(
            not self._outboundStreamQueues.get(streamID)
            and self.remainingOutboundWindow(streamID) > 0
            for streamID in self._answering
            if streamID in self.streams
        )

    def forceAbortClient(self) -> None:
        """
        See Twisted's; nothing to do once the transport has gone (a TLS
        transport cannot be aborted twice).
        """
        if not getattr(self.transport, "connected", True):
            self._abortingCall = None
            return
        super().forceAbortClient()

    def connectionLost(  # type: ignore[override]
        self, reason: Failure, _cancelTimeouts: bool = True
    ) -> None:
        """
        See Twisted's; when the server closes (C{_cancelTimeouts} false: a
        protocol error, a GOAWAY, a flood), the transport is released so
        that it really closes, TLS included.

        @param reason: Why the connection was lost.
        @param _cancelTimeouts: See Twisted's.
        """
        super().connectionLost(reason, _cancelTimeouts=_cancelTimeouts)
        if not _cancelTimeouts:
            self._releaseTransport()

    def _releaseTransport(self) -> None:
        # TLSMemoryBIOProtocol starts its shutdown only once no producer is
        # registered with it, and this connection is one.  The client then
        # still has abortTimeout seconds to read what was sent.
        transport = self.transport
        if transport is None:
            return
        transport.unregisterProducer()
        self._abortLater(self.abortTimeout)

    def _abortLater(self, delay: float | None) -> None:
        if delay is None:
            return
        pending: IDelayedCall | None = self._abortingCall
        if pending is not None and pending.active():
            if pending.getTime() - self._reactor.seconds() <= delay:
                return
            pending.cancel()
        self._abortingCall = self.callLater(delay, self.forceAbortClient)
