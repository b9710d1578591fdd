"""
L{FloodGuard}: budgets for the HTTP/2 frames a client can send cheaply and
the server must work to handle.

A client can send PRIORITY, WINDOW_UPDATE, SETTINGS, PING and RST_STREAM
frames, empty DATA frames and CONTINUATION frames as fast as its link
allows, each costing the server far more than it costs the client.  Each
kind of such frame spends from a token bucket of its own, refilled at a
steady rate, as nghttp2 and Twisted 26.10 do for stream resets (Rapid
Reset): a client that empties one is flooding, and its connection is
closed.

The guard reads only the 9-byte header of each frame (and the pad length
of a padded DATA frame) from the bytes the client sends, before any HTTP/2
library parses them: it sees every frame, including the CONTINUATION
frames a library folds into one header block.  Pure: no Twisted, no I/O;
time is given by the caller.
"""

from __future__ import annotations

import attrs

FRAME_HEADER_LENGTH = 9
"""The length of an HTTP/2 frame header (RFC 9113 section 4.1)."""

CLIENT_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
"""The client connection preface, which precedes the first frame."""

DATA = 0x0
HEADERS = 0x1
PRIORITY = 0x2
RST_STREAM = 0x3
SETTINGS = 0x4
PUSH_PROMISE = 0x5
PING = 0x6
GOAWAY = 0x7
WINDOW_UPDATE = 0x8
CONTINUATION = 0x9

FLAG_END_STREAM = 0x1
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8

# The budget each kind of frame spends from.
BUDGET_PRIORITY = "PRIORITY"
BUDGET_WINDOW_UPDATE = "WINDOW_UPDATE"
BUDGET_SETTINGS = "SETTINGS"
BUDGET_PING = "PING"
BUDGET_RESET = "RST_STREAM"
BUDGET_EMPTY = "empty"
BUDGET_CONTINUATION = "CONTINUATION"
BUDGET_UNKNOWN = "unknown-type"

MAX_UPDATES_PER_DATA_FRAME = 2
"""The most WINDOW_UPDATE frames one DATA frame the server sends earns."""

_BUDGET_OF_TYPE = {
    PRIORITY: BUDGET_PRIORITY,
    WINDOW_UPDATE: BUDGET_WINDOW_UPDATE,
    PING: BUDGET_PING,
}


@attrs.frozen
class FloodLimits:
    """
    How many cheap frames a client may send: each kind spends from a bucket
    of C{burst} tokens, refilled at C{rate} tokens a second.

    The defaults are nghttp2's for stream resets (1000 and 33 a second):
    far above what browsers send, far below what costs the server.

    @ivar burst: The tokens each bucket holds, and starts with.
    @ivar rate: The tokens each bucket gains a second.
    @ivar maxContinuations: The most CONTINUATION frames one header block
        may have (nghttp2's default is 8).
    @ivar bytesPerWindowUpdate: A client reading data earns one more
        WINDOW_UPDATE for each this many bytes of DATA the server sends it;
        a client opening windows a few bytes at a time (a data dribble)
        earns almost nothing.
    @ivar windowUpdatesPerStream: The WINDOW_UPDATE frames each finished
        response earns (for its stream's window and the connection's).
    """

    burst: int = attrs.field(default=1000)
    rate: float = attrs.field(default=33.0)
    maxContinuations: int = attrs.field(default=8)
    bytesPerWindowUpdate: int = attrs.field(default=1024)
    windowUpdatesPerStream: int = attrs.field(default=2)

    @burst.validator
    @maxContinuations.validator
    @bytesPerWindowUpdate.validator
    def _positive(self, attribute: attrs.Attribute[int], value: int) -> None:
        # Written so that NaN fails too.
        if not value >= 1:
            raise ValueError(f"{attribute.name} must be 1 or more, not {value}")

    @rate.validator
    @windowUpdatesPerStream.validator
    def _notNegative(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= 0:
            raise ValueError(f"{attribute.name} must be 0 or more, not {value}")


@attrs.define
class TokenBucket:
    """
    A token bucket: spending takes a token, time puts them back.

    @ivar burst: The most tokens it holds.
    @ivar rate: The tokens it gains a second.
    @ivar tokens: The tokens in it now.
    """

    burst: float
    rate: float
    tokens: float

    def refill(self, elapsed: float) -> None:
        """
        Add the tokens C{elapsed} seconds earn.

        @param elapsed: Seconds since the last refill; a negative value (a
            wall clock stepped back) adds nothing.
        """
        if elapsed > 0:
            self.earn(elapsed * self.rate)

    def earn(self, tokens: float) -> None:
        """
        Add tokens, up to L{burst}.

        @param tokens: How many.
        """
        self.tokens = min(self.burst, self.tokens + tokens)

    def spend(self) -> bool:
        """
        Take one token.

        @return: L{False} if the bucket was empty (nothing is taken).
        """
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@attrs.frozen
class Flood:
    """
    The verdict on a client that spent a budget.

    @ivar budget: Which (for instance C{"PRIORITY"} or C{"empty"}).
    @ivar streamID: The stream of the frame that overspent.
    """

    budget: str
    streamID: int

    def describe(self) -> str:
        """
        @return: One line for the log.
        """
        return f"too many {self.budget} frames"


class FloodGuard:
    """
    Reads the frames a client sends on one HTTP/2 connection and tells when
    it floods.

    Feed it every byte the client sends, in order, from the connection
    preface on (L{received}); tell it what the server sends (L{dataSent},
    L{responseEnded}).

    @ivar limits: The L{FloodLimits}.
    @ivar flood: The verdict once the client flooded, else L{None}; the
        guard reads nothing after it.
    @ivar framesSeen: How many frame headers it read.
    @ivar settingsReceived: Whether the client's first SETTINGS frame came:
        its connection preface is complete.
    """

    def __init__(self, limits: FloodLimits, now: float) -> None:
        """
        @param limits: See L{limits}.
        @param now: The time, in seconds.
        """
        self.limits = limits
        self.flood: Flood | None = None
        self.framesSeen = 0
        self.settingsReceived = False
        self._buckets = {
            budget: TokenBucket(limits.burst, limits.rate, limits.burst)
            for budget in (
                BUDGET_PRIORITY,
                BUDGET_WINDOW_UPDATE,
                BUDGET_SETTINGS,
                BUDGET_PING,
                BUDGET_RESET,
                BUDGET_EMPTY,
                BUDGET_UNKNOWN,
            )
        }
        self._lastRefill = now
        # Bytes still to skip: the preface, then each frame's payload.
        self._skip = len(CLIENT_PREFACE)
        # The start of a frame header (or of a padded DATA frame's header and
        # pad length) split across reads.
        self._partial = b""
        self._continuations = 0

    def tokensLeft(self, budget: str) -> float:
        """
        @param budget: A budget's name (such as C{"PRIORITY"}).
        @return: The tokens left in its bucket.
        """
        return self._buckets[budget].tokens

    def dataSent(self, length: int) -> None:
        """
        The server sent a DATA frame of C{length} bytes: the client may send
        the WINDOW_UPDATE frames that reading it calls for, at most two (one
        for the stream's window, one for the connection's), so that a client
        downloading fast earns no more than a frame's worth of updates.

        @param length: The DATA frame's payload length.
        """
        self._buckets[BUDGET_WINDOW_UPDATE].earn(
            min(MAX_UPDATES_PER_DATA_FRAME, length / self.limits.bytesPerWindowUpdate)
        )

    def spend(self, budget: str, streamID: int) -> Flood | None:
        """
        Spend one token of C{budget} for something the client made the server
        do without sending a frame of that kind (h2 resetting a stream the
        client misused spends from the C{RST_STREAM} budget, as a reset the
        client sends does).

        @param budget: A budget's name.
        @param streamID: The stream concerned.
        @return: The L{Flood} verdict if the budget was empty, else L{None}.
        """
        if self.flood is None and not self._buckets[budget].spend():
            self.flood = Flood(budget, streamID)
        return self.flood

    def responseEnded(self) -> None:
        """
        The server finished a response: its stream's last WINDOW_UPDATE
        frames are earned.
        """
        self._buckets[BUDGET_WINDOW_UPDATE].earn(self.limits.windowUpdatesPerStream)

    def received(self, data: bytes, now: float) -> Flood | None:
        """
        Read bytes the client sent.

        @param data: The next bytes of the connection.
        @param now: The time, in seconds.
        @return: The L{Flood} verdict if these bytes overspent a budget (or
            one did earlier), else L{None}.
        """
        if self.flood is not None:
            return self.flood
        elapsed = now - self._lastRefill
        self._lastRefill = now
        for bucket in self._buckets.values():
            bucket.refill(elapsed)
        if self._partial:
            data = self._partial + data
            self._partial = b""
        position = 0
        end = len(data)
        while True:
            if self._skip:
                step = min(self._skip, end - position)
                position += step
                self._skip -= step
                if self._skip:
                    return None
            if end - position < FRAME_HEADER_LENGTH:
                self._partial = data[position:]
                return None
            length = int.from_bytes(data[position : position + 3], "big")
            frameType = data[position + 3]
            flags = data[position + 4]
            streamID = int.from_bytes(data[position + 5 : position + 9], "big")
            streamID &= 0x7FFFFFFF
            padding = 0
            if frameType == DATA and flags & FLAG_PADDED and length:
                if end - position < FRAME_HEADER_LENGTH + 1:
                    self._partial = data[position:]
                    return None
                padding = data[position + FRAME_HEADER_LENGTH] + 1
            self.framesSeen += 1
            position += FRAME_HEADER_LENGTH
            self._skip = length
            budget = self._budgetOf(frameType, flags, streamID, length - padding)
            if budget is not None and not self._spend(budget):
                self.flood = Flood(budget, streamID)
                return self.flood

    def _budgetOf(
        self, frameType: int, flags: int, streamID: int, payload: int
    ) -> str | None:
        # Which budget a frame spends from, if any.
        if frameType == DATA:
            if payload <= 0 and not flags & FLAG_END_STREAM:
                return BUDGET_EMPTY
            return None
        if frameType in (HEADERS, PUSH_PROMISE):
            self._continuations = 0
            if payload <= 0 and not flags & FLAG_END_HEADERS:
                return BUDGET_EMPTY
            return None
        if frameType == CONTINUATION:
            self._continuations += 1
            if self._continuations > self.limits.maxContinuations:
                return BUDGET_CONTINUATION
            if payload <= 0 and not flags & FLAG_END_HEADERS:
                return BUDGET_EMPTY
            return None
        if frameType == RST_STREAM:
            # Even streams are the server's pushes: a client resets those
            # when it has the asset, which is no attack.
            return BUDGET_RESET if streamID % 2 else None
        if frameType == SETTINGS:
            # Acknowledgements too: the server sends one SETTINGS frame, and a
            # flood of unsolicited ones costs as much as SETTINGS do.
            if not flags & FLAG_ACK:
                self.settingsReceived = True
            return BUDGET_SETTINGS
        if frameType == GOAWAY:
            return None
        budget = _BUDGET_OF_TYPE.get(frameType)
        return budget if budget is not None else BUDGET_UNKNOWN

    def _spend(self, budget: str) -> bool:
        if budget == BUDGET_CONTINUATION:
            return False
        return self._buckets[budget].spend()
