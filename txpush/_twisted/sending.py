"""
L{CoalescingH2Connection}: Twisted's HTTP/2 connection, sending what a
reactor turn produced in one write.

Twisted sends each response's header block in a write of its own, then one
DATA frame per reactor turn, then the end of the stream in another turn: a
small response costs three writes (three TLS records) and two turns.  Here
header blocks wait in h2's buffer until the end of the turn; then one pass of
the sending loop sends every DATA frame flow control allows, in the priority
tree's order and round robin between streams as Twisted's does, ending a
stream on its last DATA frame, and writes it all at once.

Pull producers (a C{twisted.web.static.File}'s) are pulled by the stream
itself, at once when registered (as a TCP transport pulls them) and then on
each turn while the stream has room, instead of by Twisted's cooperator
(C{twisted.internet.task.Cooperator}), which starts them a reactor turn
later.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import h2.exceptions
import priority
from h2.connection import ConnectionState
from h2.stream import StreamState
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.web._http2 import _END_STREAM_SENTINEL, H2Stream

from txpush._twisted.fixes import H2ConnectionFixes
from txpush.headerblock import informationalBlock

log = Logger()

MAX_BYTES_PER_TURN = 256 * 1024
"""
The most DATA bytes one pass of the sending loop sends before it lets the
reactor serve other connections (it goes on at the next turn).
"""

# The HEADERS frame type, and its END_HEADERS flag.
_HEADERS_END_HEADERS = bytes([0x1, 0x4])

_ANSWERABLE = frozenset({StreamState.OPEN, StreamState.HALF_CLOSED_REMOTE})

PULLS_PER_TURN = 4
"""
How many chunks a stream pulls from its pull producer in one reactor turn
before it lets the other streams and connections have the turn (a static
file's chunk is 64 KiB).
"""


def headersFrame(streamID: int, block: bytes) -> bytes:
    """
    A HEADERS frame that carries a whole header block (C{END_HEADERS}, no
    padding, no priority), serialized (RFC 9113 section 6.2).

    @param streamID: Its stream.
    @param block: The HPACK block, at most the peer's largest frame.
    @return: The frame's bytes.
    """
    # hyperframe's frame objects cost more to make than the block to encode.
    return (
        len(block).to_bytes(3, "big")
        + _HEADERS_END_HEADERS
        + (streamID & 0x7FFFFFFF).to_bytes(4, "big")
        + block
    )


class PullingH2Stream(H2Stream):
    """
    Twisted's C{H2Stream}, pulling a pull producer itself (see
    L{StreamPull}) instead of through Twisted's cooperator.
    """

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        See Twisted's; a pull producer is pulled at once, and then on each
        turn while the stream has room.

        @param producer: The producer.
        @param streaming: Whether it is a push producer.
        @raise ValueError: A producer is already registered.
        """
        if streaming:
            super().registerProducer(producer, streaming)
            return
        if self.producer:
            raise ValueError(
                f"registering producer {producer} before previous one "
                f"({self.producer}) was unregistered"
            )
        pull = StreamPull(producer, self, self._conn._reactor)
        # Twisted's unregisterProducer calls stopStreaming on a pull
        # producer's adapter.
        self.hasStreamingProducer = False
        self.producer = pull
        self._producerProducing = True
        pull.startStreaming()


class StreamPull:
    """
    A push producer made of a pull producer, for an HTTP/2 stream: it pulls
    until the stream says it has no room (C{pauseProducing}) or the producer
    unregisters, at most L{PULLS_PER_TURN} chunks per reactor turn.

    @ivar producer: The pull producer.
    """

    def __init__(self, producer: Any, consumer: Any, reactor: Any) -> None:
        """
        @param producer: The pull producer.
        @param consumer: What it writes to (the stream).
        @param reactor: Where the next turn's pulls are scheduled.
        """
        self.producer = producer
        self._stream = consumer
        self._reactor = reactor
        self._paused = False
        self._unregistered = False
        self._pulling = False
        self._nextTurn: IDelayedCall | None = None

    def startStreaming(self) -> None:
        """
        Pull the first chunks now.
        """
        self._pull()

    def stopStreaming(self) -> None:
        """
        The producer is unregistered: pull no more.
        """
        self._unregistered = True
        self._cancelNextTurn()

    def pauseProducing(self) -> None:
        """
        The stream has no room: pull nothing until resumed.
        """
        self._paused = True
        self._cancelNextTurn()

    def resumeProducing(self) -> None:
        """
        The stream has room again: pull.
        """
        self._paused = False
        if not self._pulling:
            self._pull()

    def stopProducing(self) -> None:
        """
        Stop for good, and stop the producer.
        """
        self.stopStreaming()
        self.producer.stopProducing()

    def _cancelNextTurn(self) -> None:
        call, self._nextTurn = self._nextTurn, None
        if call is not None and call.active():
            call.cancel()

    def _pull(self) -> None:
        self._nextTurn = None
        self._pulling = True
        try:
            for _ in range(PULLS_PER_TURN):
                if self._paused or self._unregistered:
                    return
                self.producer.resumeProducing()
        except Exception:
            # As Twisted's adapter: a failing producer is unregistered; and
            # stopped, so that it lets go of its file.
            log.failure("Pulling from {producer} failed", producer=self.producer)
            self._unregistered = True
            for release in (
                self._stream.unregisterProducer,
                self.producer.stopProducing,
            ):
                try:
                    release()
                except Exception:
                    log.failure("Releasing {producer} failed", producer=self.producer)
            return
        finally:
            self._pulling = False
        if not (self._paused or self._unregistered) and self._nextTurn is None:
            self._nextTurn = self._reactor.callLater(0, self._pull)


class CoalescingH2Connection(H2ConnectionFixes):
    """
    L{H2ConnectionFixes}, sending what each reactor turn produced in one
    write (see L{txpush._twisted.sending}), and making its streams
    L{PullingH2Stream}s.
    """

    streamFactory = PullingH2Stream

    def __init__(self, reactor: Any = None) -> None:
        """
        @param reactor: See Twisted's.
        """
        self._turn: IDelayedCall | None = None
        self._behindTransport = False
        super().__init__(reactor)

    # The loop's schedule.

    def sendingLoopAsleep(self) -> bool:
        """
        @return: Whether the data-sending loop is asleep, waiting for a
            stream to have data and window to send it in.
        """
        return self._sendingDeferred is not None and self._turn is None

    def sendSoon(self) -> None:
        """
        Send what h2 holds (header blocks, control frames) and the streams'
        data at the end of this reactor turn, in one write.
        """
        if not self._stillProducing:
            return
        if self._consumerBlocked is not None:
            # The client is not reading: what h2 holds is buffered as
            # Twisted buffers control frames, within its cap, and the loop
            # goes on when the transport asks for more.
            self._tryToWriteControlData()
        self._scheduleTurn()

    def _scheduleTurn(self) -> None:
        if self._turn is None and not self._behindTransport:
            self._sendingDeferred = None
            self._turn = self._reactor.callLater(0, self._sendPrioritisedData)

    def _sleep(self) -> None:
        self._sendingDeferred = Deferred()
        self._sendingDeferred.addCallback(lambda _: self.sendSoon())

    def _transportResumed(self, result: object) -> object:
        self._behindTransport = False
        self._sendPrioritisedData()
        return result

    def sendInformational(self, streamID: int, links: list[bytes]) -> None:
        """
        Send a C{103 Early Hints} with C{links} on a stream.

        Its header block uses no HPACK state (see
        L{txpush.headerblock.statelessHeaderBlock}): it is encoded once
        per set of links, for every connection, and sent now, ahead of what
        h2 holds for the end of the turn.

        @param streamID: The stream.
        @param links: The C{Link} field values.
        @raise h2.exceptions.H2Error: The stream cannot take it now.
        """
        block = informationalBlock(b"103", links)
        stream = self.conn.streams.get(streamID)
        if (
            stream is None
            or stream.state_machine.state not in _ANSWERABLE
            or len(block) > self.conn.max_outbound_frame_size
            # A change of the table's size is announced at the start of the
            # encoder's next block, which must come first.
            or self.conn.encoder.header_table.resized
        ):
            self._sendInformationalThroughH2(streamID, links)
            return
        # After what h2 holds: the stream's own earlier frames among it.
        if self._tryToWriteControlData():
            self.writeOwnFrame(headersFrame(streamID, block))

    def _sendInformationalThroughH2(self, streamID: int, links: list[bytes]) -> None:
        # h2's checks of outbound fields cost as much as the encoding, and
        # these are txpush's own: the connection's configuration skips them
        # for this block only.
        config = self.conn.config
        validate, normalize = (
            config.validate_outbound_headers,
            config.normalize_outbound_headers,
        )
        config.validate_outbound_headers = config.normalize_outbound_headers = False
        try:
            self.conn.send_headers(
                streamID, [(b":status", b"103"), *((b"link", v) for v in links)]
            )
        finally:
            config.validate_outbound_headers = validate
            config.normalize_outbound_headers = normalize
        self.sendSoon()

    def writeOwnFrame(self, data: bytes) -> None:
        """
        Write a frame h2 did not make: at once unless the client stopped
        reading, else buffered within Twisted's cap on buffered control
        frames (as Twisted writes h2's).  Write what h2 holds first.

        @param data: The serialized frame.
        """
        assert self.transport is not None
        if self._consumerBlocked is None and not self._bufferedControlFrames:
            self.transport.write(data)
            return
        self._bufferedControlFrames.append(data)
        self._bufferedControlFrameBytes += len(data)
        if self._bufferedControlFrameBytes >= self._maxBufferedControlFrameBytes:
            log.error(
                "Maximum number of control frame bytes buffered: aborting "
                "connection to client {client}",
                client=self.transport.getPeer(),
            )
            self.transport.abortConnection()

    # The loop.

    def _sendPrioritisedData(self, *args: object) -> None:
        turn, self._turn = self._turn, None
        if turn is not None and turn.active():
            turn.cancel()
        if not self._stillProducing:
            return
        self.sendingLoopTurns += 1
        sent = 0
        while True:
            if self._consumerBlocked is not None:
                # Behind the transport: what h2 holds is buffered as control
                # data (within Twisted's cap), the rest waits for resume.
                self._tryToWriteControlData()
                if not self._behindTransport:
                    self._behindTransport = True
                    self._consumerBlocked.addCallback(self._transportResumed)
                return
            try:
                streamID = next(self.priority)
            except priority.DeadlockError:
                self._flush()
                if self._stillProducing and self._sendingDeferred is None:
                    self._sleep()
                return
            if not sent:
                self.resetTimeout()
            sent += self._sendFrame(streamID)
            if not self._stillProducing:
                return
            if sent >= MAX_BYTES_PER_TURN:
                self._flush()
                self.sendSoon()
                return

    def _sendFrame(self, streamID: int) -> int:
        # One frame of the stream's queue, as Twisted's loop sends it, with
        # END_STREAM on the last DATA frame rather than in a frame of its own.
        queue = self._outboundStreamQueues[streamID]
        chunk = queue.popleft()
        if chunk is _END_STREAM_SENTINEL:
            self.conn.end_stream(streamID)
            self._requestDone(streamID)
            return 0
        window = self.conn.local_flow_control_window(streamID)
        size = min(self.conn.max_outbound_frame_size, window)
        if len(chunk) > size:
            queue.appendleft(chunk[size:])
            chunk = chunk[:size]
        ending = len(queue) == 1 and queue[0] is _END_STREAM_SENTINEL
        if ending:
            queue.popleft()
        if chunk or ending:
            self.conn.send_data(streamID, chunk, end_stream=ending)
        if ending:
            self._requestDone(streamID)
            return len(chunk)
        if not queue:
            self.priority.block(streamID)
        if self.remainingOutboundWindow(streamID) <= 0:
            self.streams[streamID].flowControlBlocked()
        return len(chunk)

    def _flush(self) -> None:
        if self._bufferedControlFrames:
            self._flushBufferedControlData()
        self._tryToWriteControlData()

    # What the loop sends.

    def writeHeaders(
        self,
        version: bytes,
        code: bytes,
        reason: bytes,
        headers: Any,
        streamID: int,
    ) -> None:
        """
        See Twisted's; the header block goes out at the end of the turn,
        with the response's first data.

        @param version: Unused in HTTP/2.
        @param code: The status code.
        @param reason: Unused in HTTP/2.
        @param headers: The header fields, as pairs.
        @param streamID: The response's stream.
        """
        headers.insert(0, (b":status", code))
        try:
            self.conn.send_headers(streamID, headers)
        except (h2.exceptions.StreamClosedError, h2.exceptions.StreamIDTooLowError):
            # As Twisted's: the client closed the stream (h2 may have
            # forgotten it already, when the reset came in the same read).
            return
        except h2.exceptions.ProtocolError:
            # The client's GOAWAY, earlier in the read being handled, closed
            # the connection: Twisted is about to hear of it.
            if self.conn.state_machine.state is ConnectionState.CLOSED:
                return
            raise
        self.sendSoon()

    def _requestReceived(self, event: Any) -> None:
        # Twisted's, making this connection's kind of stream.
        stream = self.streamFactory(
            event.stream_id,
            self,
            event.headers,
            self.requestFactory,
            self.site,
            self.factory,
        )
        self.streams[event.stream_id] = stream
        self._streamCleanupCallbacks[event.stream_id] = Deferred()
        self._outboundStreamQueues[event.stream_id] = deque()
        try:
            self.priority.insert_stream(event.stream_id)
        except priority.DuplicateStreamError:
            # A PRIORITY frame came first and put it in the tree.
            pass
        else:
            self.priority.block(event.stream_id)
