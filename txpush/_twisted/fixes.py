"""
L{H2ConnectionFixes}: Twisted's HTTP/2 connection with fixes to its flow
control and producers.

Each fix is for a Twisted behaviour that costs a server under an ordinary
client: a closed window that makes the sending loop spin, a larger initial
window that never resumes a stream, a frame of one read that closes a stream
before Twisted hears of it, producers left running after their connection.
"""

from __future__ import annotations

import contextlib
from typing import Any

import h2.events
import h2.exceptions
import priority
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web._http2 import H2Connection

from txpush._twisted.backports import TwistedBackports

log = Logger()

DATA_CHUNK_TYPES = (bytes, bytearray, memoryview)
"""What a stream's queued response data may be (the rest is Twisted's marker)."""


class FlowControlAwarePriorityTree(priority.PriorityTree):  # type: ignore[misc]
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
        """
        @param connection: The connection whose streams the tree schedules.
        """
        super().__init__()
        self._owner = connection

    def __next__(self) -> int:
        """
        @return: The next stream to send on, skipping those with no window.
        """
        while True:
            streamID: int = super().__next__()
            if self._sendable(streamID):
                return streamID
            self.block(streamID)

    def _sendable(self, streamID: int) -> bool:
        # A stream h2 has closed was reset by a frame of this read whose event
        # Twisted has not handled yet: it is about to go, and h2 would raise
        # on anything sent on it (which would kill the sending loop).
        h2Stream = self._owner.conn.streams.get(streamID)
        if h2Stream is not None and h2Stream.closed:
            return False
        queue = self._owner._outboundStreamQueues.get(streamID)
        if queue and isinstance(queue[0], DATA_CHUNK_TYPES) and len(queue[0]):
            try:
                window = self._owner.conn.local_flow_control_window(streamID)
            except h2.exceptions.StreamClosedError:
                return False
            return bool(window > 0)
        return True

    next = __next__


class H2ConnectionFixes(TwistedBackports, H2Connection):
    """
    Twisted's C{twisted.web._http2.H2Connection}, fixed: it
    waits for WINDOW_UPDATE instead of spinning on a closed window, resumes
    streams a larger C{SETTINGS_INITIAL_WINDOW_SIZE} lets send, survives data
    for a stream closed earlier in the same read, and stops the producers of
    open streams when the connection is lost.

    @ivar sendingLoopTurns: How many turns the data-sending loop has taken:
        a loop that spins instead of sleeping turns on every reactor pass.
    """

    def __init__(self, reactor: Any = None) -> None:
        """
        @param reactor: See Twisted's.
        """
        super().__init__(reactor)
        self.priority = FlowControlAwarePriorityTree(self)
        self.sendingLoopTurns = 0
        self._wakeScheduled = False

    def sendingLoopAsleep(self) -> bool:
        """
        @return: Whether the data-sending loop is asleep, waiting for a
            stream to have data and window to send it in.
        """
        return self._sendingDeferred is not None

    def _sendPrioritisedData(self, *args: object) -> None:
        # The loop looks itself up on the connection for each turn.
        self.sendingLoopTurns += 1
        super()._sendPrioritisedData(*args)

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
        # loop being asleep (see FlowControlAwarePriorityTree), must be
        # woken: on the next turn, once the events of this read (a reset of
        # one of those streams, say) are handled.  One wake-up serves every
        # WINDOW_UPDATE until then.
        if not self._wakeScheduled:
            self._wakeScheduled = True
            self._reactor.callLater(0, self._wakeSendingLoop)

    def _wakeSendingLoop(self) -> None:
        self._wakeScheduled = False
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
            stopProducer(producer)


def stopProducer(producer: Any) -> None:
    """
    Stop a stream's producer, logging (not raising) its failure.

    @param producer: An C{IProducer}.
    """
    try:
        producer.stopProducing()
    except Exception:
        log.failure("Stopping a producer failed")
