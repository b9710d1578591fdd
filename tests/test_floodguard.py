"""
L{txpush.floodguard}: the budget each kind of cheap frame spends from, the
frames that spend nothing, CONTINUATION counting, refills and earned
WINDOW_UPDATEs, and a guard that reads frame headers alike however the
client's bytes are cut into reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import attrs
import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    ExtensionFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from txpush.floodguard import (
    CLIENT_PREFACE,
    Flood,
    FloodGuard,
    FloodLimits,
    TokenBucket,
)

BUCKETS = (
    "PRIORITY",
    "WINDOW_UPDATE",
    "SETTINGS",
    "PING",
    "RST_STREAM",
    "empty",
    "unknown-type",
)
"""Every budget that has a bucket (CONTINUATION has a count instead)."""

BURST = 5

REQUEST = hpack.Encoder().encode(
    [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/"),
    ]
)
"""A header block: a whole request."""


def connect(now: float = 0.0, **limits: Any) -> FloodGuard:
    """
    A guard for a connection whose client sent its preface.
    """
    guard = FloodGuard(FloodLimits(**limits), now)
    assert guard.received(CLIENT_PREFACE, now) is None
    return guard


def wire(*frames: Frame) -> bytes:
    """
    The frames, serialized one after the other.
    """
    return b"".join(frame.serialize() for frame in frames)


def rawFrame(frameType: int, flags: int, streamID: int, body: bytes = b"") -> bytes:
    """
    A frame as bytes, with any type, flags and stream identifier (reserved
    bit included) hyperframe would refuse.
    """
    header = len(body).to_bytes(3, "big") + bytes([frameType, flags])
    return header + streamID.to_bytes(4, "big") + body


def extension(
    frameType: int, streamID: int, flags: int = 0, body: bytes = b""
) -> ExtensionFrame:
    """
    A frame of a type the guard does not know (hyperframe leaves the
    length of one it builds at 0).
    """
    frame = ExtensionFrame(frameType, streamID, flag_byte=flags, body=body)
    frame.body_len = len(body)
    return frame


def ping(ack: bool = False) -> PingFrame:
    """
    A PING frame (an answer to the server's if C{ack}).
    """
    return PingFrame(0, opaque_data=b"12345678", flags=["ACK"] if ack else [])


def tokens(guard: FloodGuard) -> dict[str, float]:
    """
    The tokens left in each of the guard's buckets.
    """
    return {budget: guard.tokensLeft(budget) for budget in BUCKETS}


def full(burst: float, **spent: float) -> dict[str, float]:
    """
    The tokens of every bucket: C{burst}, less what C{spent} says.
    """
    return {budget: burst - spent.get(budget, 0) for budget in BUCKETS}


# The frames that spend from a bucket: (frame, budget, stream of the verdict).
SPENDING = [
    pytest.param(PriorityFrame(7, depends_on=1, stream_weight=16), "PRIORITY", 7),
    pytest.param(
        WindowUpdateFrame(0, window_increment=1), "WINDOW_UPDATE", 0, id="WU-conn"
    ),
    pytest.param(
        WindowUpdateFrame(7, window_increment=65535), "WINDOW_UPDATE", 7, id="WU-7"
    ),
    pytest.param(SettingsFrame(0), "SETTINGS", 0, id="SETTINGS-empty"),
    pytest.param(
        SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1}),
        "SETTINGS",
        0,
        id="SETTINGS-one",
    ),
    pytest.param(ping(), "PING", 0, id="PING"),
    pytest.param(ping(ack=True), "PING", 0, id="PING-ACK"),
    pytest.param(SettingsFrame(0, flags=["ACK"]), "SETTINGS", 0, id="SETTINGS-ACK"),
    pytest.param(
        HeadersFrame(7, flags=["END_STREAM"]), "empty", 7, id="HEADERS-empty-END_STREAM"
    ),
    pytest.param(RstStreamFrame(7, error_code=8), "RST_STREAM", 7, id="RST-odd"),
    pytest.param(DataFrame(7), "empty", 7, id="DATA-empty"),
    pytest.param(
        DataFrame(7, flags=["PADDED"], pad_length=9), "empty", 7, id="DATA-padding"
    ),
    pytest.param(
        DataFrame(7, flags=["PADDED"], pad_length=0), "empty", 7, id="DATA-padbyte"
    ),
    pytest.param(HeadersFrame(7), "empty", 7, id="HEADERS-empty"),
    pytest.param(ContinuationFrame(7), "empty", 7, id="CONTINUATION-empty"),
    pytest.param(extension(0xA, 0, body=b"x"), "unknown-type", 0, id="0xA"),
    pytest.param(extension(0x10, 7, flags=0xFF), "unknown-type", 7, id="0x10"),
    pytest.param(extension(0xFF, 3, body=b"?" * 300), "unknown-type", 3, id="0xFF"),
]


@pytest.mark.parametrize(("frame", "budget", "streamID"), SPENDING)
def test_budgetAllowsBurst(frame: Frame, budget: str, streamID: int) -> None:
    """
    Each kind of cheap frame takes a token from its own bucket: C{burst}
    frames pass, the next is a L{Flood} naming the budget and the frame's
    stream; the other buckets are untouched.
    """
    guard = connect(burst=BURST, rate=0, maxContinuations=100)
    one = frame.serialize()
    for sent in range(1, BURST + 1):
        assert guard.received(one, 0) is None
        assert tokens(guard) == full(BURST, **{budget: sent})
    flood = guard.received(one, 0)
    assert flood == Flood(budget, streamID)
    assert guard.flood is flood
    assert guard.framesSeen == BURST + 1
    assert tokens(guard) == full(BURST, **{budget: BURST})


@pytest.mark.parametrize(("frame", "budget", "streamID"), SPENDING)
def test_burstInOneRead(frame: Frame, budget: str, streamID: int) -> None:
    """
    The frames of one read are counted one by one: the one that overspends
    is the verdict's, and the guard reads no further.
    """
    guard = connect(burst=BURST, rate=0, maxContinuations=100)
    assert guard.received(frame.serialize() * (BURST + 3), 0) == Flood(budget, streamID)
    assert guard.framesSeen == BURST + 1


@pytest.mark.parametrize(("frame", "budget", "streamID"), SPENDING)
def test_floodedStaysFlooded(frame: Frame, budget: str, streamID: int) -> None:
    """
    Once flooded, the guard answers every read with the same verdict: it
    reads nothing more, and time refills nothing.
    """
    guard = connect(burst=1, rate=1000, maxContinuations=100)
    flood = guard.received(frame.serialize() * 2, 0)
    assert flood == Flood(budget, streamID)
    before = tokens(guard)
    for data in [b"", wire(DataFrame(1, b"x")), frame.serialize(), b"\xff" * 50]:
        assert guard.received(data, 3600) is flood
    assert guard.framesSeen == 2
    assert tokens(guard) == before
    assert flood.describe() == f"too many {budget} frames"


# The frames that spend nothing.
FREE = [
    pytest.param(DataFrame(1, b"x"), id="DATA"),
    pytest.param(DataFrame(1, b"", flags=["END_STREAM"]), id="DATA-END_STREAM"),
    pytest.param(
        DataFrame(1, b"x", flags=["PADDED"], pad_length=200), id="DATA-padded"
    ),
    pytest.param(
        DataFrame(1, b"", flags=["PADDED", "END_STREAM"], pad_length=4),
        id="DATA-padding-END_STREAM",
    ),
    pytest.param(GoAwayFrame(0), id="GOAWAY"),
    pytest.param(GoAwayFrame(0, 5, 2, additional_data=b"bye"), id="GOAWAY-debug"),
    pytest.param(HeadersFrame(1, REQUEST, flags=["END_HEADERS"]), id="HEADERS"),
    pytest.param(HeadersFrame(1, b"", flags=["END_HEADERS"]), id="HEADERS-empty"),
    pytest.param(HeadersFrame(1, REQUEST), id="HEADERS-no-END_HEADERS"),
    pytest.param(
        HeadersFrame(1, b"", flags=["PADDED"], pad_length=3), id="HEADERS-padded"
    ),
    pytest.param(RstStreamFrame(2, error_code=8), id="RST-2"),
    pytest.param(RstStreamFrame(2**31 - 2), id="RST-even-max"),
]


@pytest.mark.parametrize("frame", FREE)
def test_freeFrames(frame: Frame) -> None:
    """
    Frames that carry data, end something or answer the server spend
    nothing, however many come, read one by one or all at once.
    """
    guard = connect(burst=1, rate=0)
    for _ in range(10):
        assert guard.received(frame.serialize(), 0) is None
    assert guard.received(frame.serialize() * 10, 0) is None
    assert guard.framesSeen == 20
    assert tokens(guard) == full(1)
    assert guard.flood is None


def test_normalTraffic() -> None:
    """
    What a browser sends, hundreds of requests on a connection, spends
    only its SETTINGS, the acknowledgement of the server's, and its first
    WINDOW_UPDATE.
    """
    guard = connect(burst=3, rate=0)
    opening = wire(
        SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 1}),
        WindowUpdateFrame(0, window_increment=15 << 20),
        SettingsFrame(0, flags=["ACK"]),
    )
    assert guard.received(opening, 0) is None
    for streamID in range(1, 800, 2):
        request = wire(
            HeadersFrame(streamID, REQUEST, flags=["END_HEADERS"]),
            DataFrame(streamID, b"form=data"),
            DataFrame(streamID, flags=["END_STREAM"]),
            RstStreamFrame(streamID + 1, error_code=8),
        )
        assert guard.received(request, 0) is None
    assert guard.received(wire(GoAwayFrame(0)), 0) is None
    assert guard.framesSeen == 3 + 400 * 4 + 1
    assert tokens(guard) == full(3, SETTINGS=2, WINDOW_UPDATE=1)


def test_reservedBitIgnored() -> None:
    """
    The reserved bit of the stream identifier is not part of it: the
    verdict names the stream, and a pushed stream is still even.
    """
    guard = connect(burst=1, rate=0)
    assert guard.received(rawFrame(0x3, 0, 0x80000002, b"\0" * 4) * 3, 0) is None
    odd = rawFrame(0x3, 0, 0x80000007, b"\0" * 4)
    assert guard.received(odd * 2, 0) == Flood("RST_STREAM", 7)


def test_paddingOnly() -> None:
    """
    A padded DATA frame whose payload is only padding is empty; one with a
    single byte of data is not.
    """
    guard = connect(burst=BURST, rate=0)
    assert (
        guard.received(wire(DataFrame(1, flags=["PADDED"], pad_length=255)), 0) is None
    )
    assert guard.tokensLeft("empty") == BURST - 1
    frame = DataFrame(1, b"x", flags=["PADDED"], pad_length=255)
    assert guard.received(wire(frame), 0) is None
    assert guard.tokensLeft("empty") == BURST - 1


def test_paddedWithoutPadLength() -> None:
    """
    A DATA frame flagged PADDED but with no payload at all (not even the
    pad length) is empty, and the next frame header is read right after
    its header.
    """
    guard = connect(burst=BURST, rate=0)
    data = rawFrame(0x0, 0x8, 1) + wire(ping())
    assert guard.received(data, 0) is None
    assert guard.framesSeen == 2
    assert tokens(guard) == full(BURST, empty=1, PING=1)
    guard = connect(burst=BURST, rate=0)
    assert guard.received(rawFrame(0x0, 0x8, 1), 0) is None
    assert guard.framesSeen == 1
    assert tokens(guard) == full(BURST, empty=1)


def test_paddingLongerThanFrame() -> None:
    """
    A padded DATA frame whose pad length exceeds its payload (malformed)
    counts as empty, and its length still decides where the next frame
    starts.
    """
    guard = connect(burst=BURST, rate=0)
    data = rawFrame(0x0, 0x8, 1, b"\xc8xy") + wire(ping())
    assert guard.received(data, 0) is None
    assert guard.framesSeen == 2
    assert tokens(guard) == full(BURST, empty=1, PING=1)


def test_padLengthInNextRead() -> None:
    """
    A padded DATA frame's header arriving without its pad length is not
    judged until the pad length comes.
    """
    frame = wire(DataFrame(1, flags=["PADDED"], pad_length=3))
    guard = connect(burst=BURST, rate=0)
    assert guard.received(frame[:9], 0) is None
    assert guard.framesSeen == 0
    assert guard.tokensLeft("empty") == BURST
    assert guard.received(frame[9:10], 0) is None
    assert guard.framesSeen == 1
    assert guard.tokensLeft("empty") == BURST - 1
    assert guard.received(frame[10:] + wire(ping()), 0) is None
    assert guard.framesSeen == 2
    assert guard.tokensLeft("PING") == BURST - 1


def headerBlock(streamID: int, continuations: int, empty: bool = False) -> bytes:
    """
    A HEADERS frame and C{continuations} CONTINUATION frames, the last
    ending the header block.
    """
    fragment = b"" if empty else REQUEST[:2]
    if not continuations:
        return wire(HeadersFrame(streamID, REQUEST, flags=["END_HEADERS"]))
    frames: list[Frame] = [HeadersFrame(streamID, REQUEST[:2])]
    frames += [ContinuationFrame(streamID, fragment)] * (continuations - 1)
    frames.append(ContinuationFrame(streamID, REQUEST[2:], flags=["END_HEADERS"]))
    return wire(*frames)


def test_continuationsAllowed() -> None:
    """
    A header block may have C{maxContinuations} CONTINUATION frames.
    """
    guard = connect(burst=1, rate=0, maxContinuations=3)
    assert guard.received(headerBlock(1, 3), 0) is None
    assert guard.framesSeen == 4
    assert tokens(guard) == full(1)


def test_continuationFlood() -> None:
    """
    One CONTINUATION more than C{maxContinuations} in a header block is a
    flood of its own budget, whatever the tokens left.
    """
    guard = connect(burst=1000, rate=0, maxContinuations=3)
    assert guard.received(headerBlock(5, 4), 0) == Flood("CONTINUATION", 5)
    assert guard.framesSeen == 5
    assert tokens(guard) == full(1000)


def test_continuationFloodFrameByFrame() -> None:
    """
    The count spans reads: the frame over the count floods, not before.
    """
    guard = connect(burst=1000, rate=0, maxContinuations=2)
    assert guard.received(wire(HeadersFrame(3, REQUEST[:1])), 0) is None
    for _ in range(2):
        assert guard.received(wire(ContinuationFrame(3, REQUEST[1:2])), 0) is None
    frame = ContinuationFrame(3, REQUEST[2:], flags=["END_HEADERS"])
    assert guard.received(wire(frame), 0) == Flood("CONTINUATION", 3)


def test_newHeadersNewCount() -> None:
    """
    Each HEADERS frame starts a new header block, and a new count.
    """
    guard = connect(burst=1, rate=0, maxContinuations=3)
    data = b"".join(headerBlock(streamID, 3) for streamID in range(1, 200, 2))
    assert guard.received(data, 0) is None
    assert guard.framesSeen == 100 * 4


def test_pushPromiseNewCount() -> None:
    """
    A PUSH_PROMISE frame (which no client should send) starts a header
    block as HEADERS does.
    """
    guard = connect(burst=1, rate=0, maxContinuations=1)
    block = wire(
        PushPromiseFrame(1, promised_stream_id=2, data=REQUEST[:1]),
        ContinuationFrame(1, REQUEST[1:], flags=["END_HEADERS"]),
    )
    assert guard.received(block * 10, 0) is None
    assert guard.received(wire(ContinuationFrame(1, b"x")), 0) == Flood(
        "CONTINUATION", 1
    )


def test_emptyContinuationsSpend() -> None:
    """
    Empty CONTINUATION frames within the count still spend from the empty
    frames' bucket; the one ending the block does not.
    """
    guard = connect(burst=BURST, rate=0, maxContinuations=8)
    assert guard.received(headerBlock(1, 4, empty=True), 0) is None
    assert tokens(guard) == full(BURST, empty=3)
    empty = ContinuationFrame(1, flags=["END_HEADERS"])
    assert guard.received(wire(HeadersFrame(3, REQUEST[:1]), empty), 0) is None
    assert tokens(guard) == full(BURST, empty=3)


def exhausted(budget: str = "PING", now: float = 0.0, **limits: Any) -> FloodGuard:
    """
    A guard whose bucket C{budget} was emptied by PING frames (or
    WINDOW_UPDATE frames) at C{now}.
    """
    frame = ping() if budget == "PING" else WindowUpdateFrame(0, window_increment=1)
    guard = connect(now, **limits)
    assert guard.received(frame.serialize() * limits["burst"], now) is None
    assert guard.tokensLeft(budget) == 0
    return guard


def pings(guard: FloodGuard, count: int, now: float) -> Flood | None:
    """
    The guard's verdict on C{count} PING frames in one read at C{now}.
    """
    return guard.received(wire(ping()) * count, now)


def test_refill() -> None:
    """
    After C{t} seconds, C{rate * t} more frames pass, before the frames of
    the same read are counted.
    """
    guard = exhausted(burst=10, rate=4.0)
    assert pings(guard, 2, 0.5) is None
    assert guard.tokensLeft("PING") == 0
    assert pings(guard, 1, 0.5) == Flood("PING", 0)


def test_refillAllBuckets() -> None:
    """
    Every bucket refills, whichever read the time comes with.
    """
    guard = connect(burst=10, rate=2.0)
    spend = wire(
        *[PriorityFrame(1)] * 10, *[ping()] * 6, *[RstStreamFrame(1)] * 10, DataFrame(1)
    )
    assert guard.received(spend, 0) is None
    assert guard.received(b"", 1.5) is None
    assert tokens(guard) == full(10, PRIORITY=7, PING=3, RST_STREAM=7)


def test_refillFractions() -> None:
    """
    Fractions of a token add up: half a token is no frame, two halves
    are one.
    """
    guard = exhausted(burst=10, rate=2.0)
    assert guard.received(b"", 0.25) is None
    assert guard.tokensLeft("PING") == 0.5
    assert guard.received(b"", 0.5) is None
    assert guard.tokensLeft("PING") == 1.0
    assert pings(guard, 1, 0.5) is None
    guard = exhausted(burst=10, rate=2.0)
    assert pings(guard, 1, 0.25) == Flood("PING", 0)


def test_refillUpToBurst() -> None:
    """
    A bucket holds no more than C{burst}, however long the client waited.
    """
    guard = connect(burst=10, rate=4.0)
    assert pings(guard, 3, 0) is None
    assert guard.received(b"", 1e6) is None
    assert guard.tokensLeft("PING") == 10
    assert pings(guard, 10, 1e6) is None
    assert pings(guard, 1, 1e6) == Flood("PING", 0)


def test_noRefillAtZeroRate() -> None:
    """
    A rate of 0 never refills.
    """
    guard = exhausted(burst=3, rate=0)
    assert pings(guard, 1, 1e9) == Flood("PING", 0)


def test_clockSteppedBack() -> None:
    """
    A clock stepping back adds nothing; time is counted again from where
    it stepped to.
    """
    guard = exhausted(now=10.0, burst=10, rate=4.0)
    assert guard.received(b"", 5.0) is None
    assert guard.tokensLeft("PING") == 0
    assert guard.received(b"", 5.5) is None
    assert guard.tokensLeft("PING") == 2
    guard = exhausted(now=10.0, burst=10, rate=4.0)
    assert pings(guard, 1, 9.0) == Flood("PING", 0)


def test_dataSentEarnsWindowUpdates() -> None:
    """
    Each C{bytesPerWindowUpdate} bytes of DATA the server sends earn the
    client one WINDOW_UPDATE, a fraction of that a fraction, and one DATA
    frame at most two (its stream's and the connection's).
    """
    guard = exhausted("WINDOW_UPDATE", burst=10, rate=0, bytesPerWindowUpdate=100)
    guard.dataSent(150)
    assert tokens(guard) == full(10, WINDOW_UPDATE=8.5)
    guard.dataSent(10**6)
    assert tokens(guard) == full(10, WINDOW_UPDATE=6.5)
    update = wire(WindowUpdateFrame(1, window_increment=250))
    assert guard.received(update * 3, 0) is None
    assert guard.received(update, 0) == Flood("WINDOW_UPDATE", 1)


def test_dribbleEarnsLittle() -> None:
    """
    A data dribble earns a WINDOW_UPDATE only once its bytes add up.
    """
    guard = exhausted("WINDOW_UPDATE", burst=10, rate=0, bytesPerWindowUpdate=1024)
    update = wire(WindowUpdateFrame(1, window_increment=512))
    guard.dataSent(512)
    assert guard.tokensLeft("WINDOW_UPDATE") == 0.5
    guard.dataSent(512)
    assert guard.tokensLeft("WINDOW_UPDATE") == 1
    assert guard.received(update, 0) is None
    guard.dataSent(1023)
    assert guard.received(update, 0) == Flood("WINDOW_UPDATE", 1)


def test_responseEndedEarnsWindowUpdates() -> None:
    """
    Each finished response earns C{windowUpdatesPerStream} WINDOW_UPDATEs.
    """
    guard = exhausted("WINDOW_UPDATE", burst=10, rate=0, windowUpdatesPerStream=3)
    guard.responseEnded()
    assert tokens(guard) == full(10, WINDOW_UPDATE=7)
    update = wire(WindowUpdateFrame(0, window_increment=1))
    assert guard.received(update * 3, 0) is None
    assert guard.received(update, 0) == Flood("WINDOW_UPDATE", 0)


def test_earningUpToBurst() -> None:
    """
    Earned WINDOW_UPDATEs fill the bucket no higher than C{burst}.
    """
    guard = connect(burst=10, rate=0, bytesPerWindowUpdate=1)
    guard.dataSent(10**9)
    guard.responseEnded()
    assert tokens(guard) == full(10)
    update = wire(WindowUpdateFrame(0, window_increment=1))
    assert guard.received(update * 3, 0) is None
    for _ in range(100):
        guard.responseEnded()
    assert guard.tokensLeft("WINDOW_UPDATE") == 10
    assert guard.received(update * 3, 0) is None
    for _ in range(5):
        guard.dataSent(10**9)
    assert guard.tokensLeft("WINDOW_UPDATE") == 10


def test_spendForWhatTheServerDid() -> None:
    """
    C{spend} takes a token of a budget without a frame (h2 resetting a
    stream the client misused), and gives the verdict once it is empty;
    the guard then reads nothing more.
    """
    guard = connect(burst=2, rate=0)
    assert guard.spend("RST_STREAM", 1) is None
    assert guard.spend("RST_STREAM", 3) is None
    assert guard.tokensLeft("RST_STREAM") == 0
    assert guard.spend("RST_STREAM", 5) == Flood("RST_STREAM", 5)
    assert guard.received(wire(ping()), 0) == Flood("RST_STREAM", 5)


def test_settingsReceived() -> None:
    """
    C{settingsReceived} becomes true at the client's first non-ACK
    SETTINGS frame, and only then.
    """
    guard = FloodGuard(FloodLimits(), 0)
    assert not guard.settingsReceived
    assert guard.received(CLIENT_PREFACE, 0) is None
    assert not guard.settingsReceived
    others = wire(
        SettingsFrame(0, flags=["ACK"]), ping(), WindowUpdateFrame(0, 1), GoAwayFrame()
    )
    assert guard.received(others, 0) is None
    assert not guard.settingsReceived
    settingsFrame = wire(SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 0}))
    assert guard.received(settingsFrame[:8], 0) is None
    assert not guard.settingsReceived
    assert guard.received(settingsFrame[8:], 0) is None
    assert guard.settingsReceived
    assert guard.received(wire(SettingsFrame(0, flags=["ACK"])), 0) is None
    assert guard.settingsReceived


def test_framesSeen() -> None:
    """
    C{framesSeen} counts the frame headers read: not the preface, not a
    header still incomplete.
    """
    guard = FloodGuard(FloodLimits(), 0)
    for byte in range(len(CLIENT_PREFACE)):
        assert guard.received(CLIENT_PREFACE[byte : byte + 1], 0) is None
    assert guard.framesSeen == 0
    data = wire(ping(), DataFrame(1, b"abc"), HeadersFrame(3, REQUEST))
    assert guard.received(data + data[:8], 0) is None
    assert guard.framesSeen == 3
    assert guard.received(data[8:9], 0) is None
    assert guard.framesSeen == 4


def test_largePayloadSkipped() -> None:
    """
    A 1 MiB DATA frame is one frame, its payload skipped unread, in one
    read or many: frames inside it are not seen, the one after it is.
    """
    inside = wire(ping()) * ((1 << 20) // 17)
    frame = wire(DataFrame(1, inside)) + wire(ping())
    guard = connect(burst=1, rate=0)
    assert guard.received(frame, 0) is None
    assert guard.framesSeen == 2
    guard = connect(burst=1, rate=0)
    for start in range(0, len(frame), 65536):
        assert guard.received(frame[start : start + 65536], 0) is None
    assert guard.framesSeen == 2
    assert tokens(guard) == full(1, PING=1)


def test_largestFrameSkipped() -> None:
    """
    A frame of the largest length a header can say (16 MiB less a byte)
    swallows that many bytes that follow, however like frames they look.
    """
    guard = connect(burst=1, rate=0)
    largest = (1 << 24) - 1
    assert guard.received(largest.to_bytes(3, "big"), 0) is None
    assert guard.received(rawFrame(0x0, 0, 1)[3:], 0) is None
    inside = (wire(ping()) * (largest // 17 + 1))[:largest]
    for start in range(0, largest, 1 << 20):
        assert guard.received(inside[start : start + (1 << 20)], 0) is None
    assert guard.framesSeen == 1
    assert guard.received(wire(ping()) * 2, 0) == Flood("PING", 0)
    assert guard.framesSeen == 3


# Limits.


@pytest.mark.parametrize(
    ("field", "value", "least"),
    [
        ("burst", 0, 1),
        ("burst", -1, 1),
        ("maxContinuations", 0, 1),
        ("maxContinuations", -8, 1),
        ("bytesPerWindowUpdate", 0, 1),
        ("bytesPerWindowUpdate", -1024, 1),
        ("rate", -0.5, 0),
        ("rate", -math.inf, 0),
    ],
)
def test_limitsRejected(field: str, value: float, least: int) -> None:
    """
    A bucket of no tokens, a block of no CONTINUATION, no bytes per
    WINDOW_UPDATE or a negative rate are refused, by name.
    """
    limits: dict[str, Any] = {field: value}
    message = f"{field} must be {least} or more, not {value}"
    with pytest.raises(ValueError, match=rf"^{re.escape(message)}$"):
        FloodLimits(**limits)


def test_limitsAccepted() -> None:
    """
    The least limits are accepted; the defaults are nghttp2's.
    """
    least = FloodLimits(burst=1, rate=0, maxContinuations=1, bytesPerWindowUpdate=1)
    assert attrs.astuple(least) == (1, 0, 1, 1, 2)
    assert attrs.astuple(FloodLimits()) == (1000, 33.0, 8, 1024, 2)


def test_nanRateRejected() -> None:
    """
    A rate that is not a number is refused: with it, any time that passes
    refills every bucket, and the guard never sees a flood.
    """
    with pytest.raises(ValueError, match=r"^rate "):
        FloodLimits(rate=math.nan)


def test_nanBurstRejected() -> None:
    """
    A burst that is not a number is refused: with it, no bucket ever
    empties.
    """
    with pytest.raises(ValueError, match=r"^burst "):
        FloodLimits(burst=math.nan)  # type: ignore[arg-type]


def test_tokenBucket() -> None:
    """
    A L{TokenBucket} spends whole tokens, earns up to its burst, and
    refills for positive time only.
    """
    bucket = TokenBucket(burst=3, rate=2, tokens=1.5)
    assert bucket.spend()
    assert not bucket.spend()
    assert bucket.tokens == 0.5
    bucket.refill(-10)
    bucket.refill(0)
    assert bucket.tokens == 0.5
    bucket.refill(0.25)
    assert bucket.tokens == 1
    bucket.earn(100)
    assert bucket.tokens == 3
    assert [bucket.spend() for _ in range(4)] == [True, True, True, False]
    assert bucket.tokens == 0


# Properties.


@attrs.frozen
class Seen:
    """
    What the guard should read in a frame's header: its type, flags and
    stream, and how many bytes of its payload are not padding.
    """

    frameType: int
    flags: int
    streamID: int
    payload: int


def seenIn(frame: Frame) -> Seen:
    """
    What hyperframe says a frame it builds holds.
    """
    body = frame.serialize()[9:]
    assert frame.type is not None
    if isinstance(frame, ExtensionFrame):
        return Seen(frame.type, frame.flag_byte, frame.stream_id, len(body))
    flags = sum(bit for name, bit in frame.defined_flags if name in frame.flags)
    payload = len(frame.data) if isinstance(frame, DataFrame) else len(body)
    return Seen(frame.type, flags, frame.stream_id, payload)


def seenInRaw(frameType: int, flags: int, streamID: int, body: bytes) -> Seen:
    payload = len(body)
    if frameType == 0 and flags & 0x8 and body:
        payload -= body[0] + 1
    return Seen(frameType, flags, streamID & 0x7FFFFFFF, payload)


def budgetOf(seen: Seen) -> str | None:
    """
    The budget a frame spends from, as the module's documentation says.
    """
    endStream = seen.flags & 0x1
    endHeaders = seen.flags & 0x4
    empty = seen.payload <= 0
    spends = {
        0x0: "empty" if empty and not endStream else None,
        0x1: "empty" if empty and not endHeaders else None,
        0x2: "PRIORITY",
        0x3: "RST_STREAM" if seen.streamID % 2 else None,
        0x4: "SETTINGS",
        0x5: "empty" if empty and not endHeaders else None,
        0x6: "PING",
        0x7: None,
        0x8: "WINDOW_UPDATE",
        0x9: "empty" if empty and not endHeaders else None,
    }
    return spends.get(seen.frameType, "unknown-type")


@attrs.frozen
class Outcome:
    """
    All a guard tells.
    """

    flood: Flood | None
    framesSeen: int
    tokens: dict[str, float]
    settingsReceived: bool


def outcomeOf(guard: FloodGuard, verdict: Flood | None) -> Outcome:
    assert verdict is guard.flood
    return Outcome(verdict, guard.framesSeen, tokens(guard), guard.settingsReceived)


def expected(limits: FloodLimits, frames: Sequence[Seen]) -> Outcome:
    """
    What a guard reading C{frames} should tell, counted frame by frame.
    """
    left = full(limits.burst)
    continuations = 0
    settingsReceived = False
    for count, seen in enumerate(frames, 1):
        if seen.frameType == 0x4 and not seen.flags & 0x1:
            settingsReceived = True
        if seen.frameType in (0x1, 0x5):
            continuations = 0
        elif seen.frameType == 0x9:
            continuations += 1
            if continuations > limits.maxContinuations:
                flood = Flood("CONTINUATION", seen.streamID)
                return Outcome(flood, count, left, settingsReceived)
        budget = budgetOf(seen)
        if budget is None:
            continue
        if left[budget] < 1:
            flood = Flood(budget, seen.streamID)
            return Outcome(flood, count, left, settingsReceived)
        left[budget] -= 1
    return Outcome(None, len(frames), left, settingsReceived)


streamIDs = st.one_of(st.integers(1, 9), st.integers(1, 2**31 - 1))
payloads = st.one_of(st.binary(max_size=12), st.binary(min_size=250, max_size=300))
padLengths = st.integers(0, 255)


def padded(frame: Any) -> Any:
    """
    Pad only a frame flagged PADDED: hyperframe writes C{pad_length} bytes
    of padding even without the flag (and then without the pad length).
    """
    if "PADDED" not in frame.flags:
        frame.pad_length = 0
    return frame


def flagsOf(*names: str) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(names), unique=True)


typedFrames = st.one_of(
    st.builds(
        DataFrame,
        streamIDs,
        payloads,
        flags=flagsOf("END_STREAM", "PADDED"),
        pad_length=padLengths,
    ).map(padded),
    st.builds(
        HeadersFrame,
        streamIDs,
        payloads,
        flags=flagsOf("END_STREAM", "END_HEADERS", "PADDED", "PRIORITY"),
        pad_length=padLengths,
        depends_on=streamIDs,
        stream_weight=st.integers(0, 255),
    ).map(padded),
    st.builds(ContinuationFrame, streamIDs, payloads, flags=flagsOf("END_HEADERS")),
    st.builds(
        PushPromiseFrame,
        streamIDs,
        promised_stream_id=streamIDs,
        data=payloads,
        flags=flagsOf("END_HEADERS", "PADDED"),
        pad_length=padLengths,
    ).map(padded),
    st.builds(PriorityFrame, streamIDs, streamIDs, st.integers(0, 255)),
    st.builds(RstStreamFrame, streamIDs, st.integers(0, 2**32 - 1)),
    st.builds(
        SettingsFrame,
        st.just(0),
        st.dictionaries(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1)),
    ),
    st.builds(SettingsFrame, st.just(0), flags=st.just(["ACK"])),
    st.builds(
        PingFrame, st.just(0), st.binary(min_size=8, max_size=8), flags=flagsOf("ACK")
    ),
    st.builds(GoAwayFrame, st.just(0), streamIDs, st.integers(0, 255), payloads),
    st.builds(WindowUpdateFrame, st.just(0) | streamIDs, st.integers(1, 2**31 - 1)),
    st.builds(
        extension,
        st.integers(0xA, 0xFF),
        st.integers(0, 2**31 - 1),
        st.integers(0, 255),
        payloads,
    ),
).map(lambda frame: (frame.serialize(), seenIn(frame)))

rawFrames = st.tuples(
    st.integers(0, 0xB) | st.integers(0, 0xFF),
    st.integers(0, 0xFF),
    st.integers(0, 9) | st.integers(0, 2**32 - 1),
    payloads,
).map(lambda parts: (rawFrame(*parts), seenInRaw(*parts)))

frameLists = st.lists(st.one_of(typedFrames, rawFrames), max_size=16)

limitses = st.builds(
    FloodLimits,
    burst=st.integers(1, 6),
    rate=st.floats(0, 100),
    maxContinuations=st.integers(1, 4),
)

times = st.floats(-1e9, 1e9)


def feed(limits: FloodLimits, now: float, chunks: Sequence[bytes]) -> Outcome:
    """
    A guard fed C{chunks}, one read each, all at C{now}: the verdicts of
    the reads are none until one floods, the same from then on.
    """
    guard = FloodGuard(limits, now)
    verdicts = [guard.received(chunk, now) for chunk in chunks]
    flooded = [verdict for verdict in verdicts if verdict is not None]
    assert verdicts == [None] * (len(verdicts) - len(flooded)) + flooded
    assert all(verdict is guard.flood for verdict in flooded)
    return outcomeOf(guard, guard.flood)


def cut(data: bytes, offsets: Sequence[int]) -> list[bytes]:
    ends = sorted({offset for offset in offsets if 0 < offset < len(data)})
    return [
        data[start:end]
        for start, end in zip([0, *ends], [*ends, len(data)], strict=True)
    ]


def boundaries(frames: Sequence[tuple[bytes, Seen]]) -> list[int]:
    """
    The offsets, in the connection's bytes, of every frame's header and
    pad length: where a cut is hardest to read across.
    """
    offsets: list[int] = []
    start = len(CLIENT_PREFACE)
    for data, _ in frames:
        offsets += range(start, start + 11)
        start += len(data)
    return offsets


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limitses, now=times, frames=frameLists)
def test_agreesWithModel(
    limits: FloodLimits, now: float, frames: list[tuple[bytes, Seen]]
) -> None:
    """
    A guard fed any frames tells what counting them one by one, by the
    rules of the module's documentation, tells.
    """
    data = CLIENT_PREFACE + b"".join(serialized for serialized, _ in frames)
    outcome = feed(limits, now, [data])
    assert outcome == expected(limits, [seen for _, seen in frames])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limitses, now=times, frames=frameLists, choice=st.data())
def test_anySplit(
    limits: FloodLimits,
    now: float,
    frames: list[tuple[bytes, Seen]],
    choice: st.DataObject,
) -> None:
    """
    However the bytes are cut into reads (inside the preface, inside frame
    headers, before the pad length, a byte at a time), the guard tells
    what it tells reading them whole.
    """
    data = CLIENT_PREFACE + b"".join(serialized for serialized, _ in frames)
    whole = feed(limits, now, [data])
    anywhere = st.integers(0, len(data))
    hard = st.sampled_from(boundaries(frames)) if frames else anywhere
    offsets = choice.draw(st.lists(anywhere | hard, max_size=40), label="cuts")
    assert feed(limits, now, cut(data, offsets)) == whole
    assert feed(limits, now, cut(data, range(len(data)))) == whole
    assert feed(limits, now, cut(data, boundaries(frames))) == whole


@settings(max_examples=150, deadline=None)
@given(limits=limitses, junk=st.binary(max_size=400), choice=st.data())
def test_arbitraryBytes(
    limits: FloodLimits, junk: bytes, choice: st.DataObject
) -> None:
    """
    Any bytes after the preface are read without an error, and alike
    however they are cut into reads.
    """
    data = CLIENT_PREFACE + junk
    whole = feed(limits, 0, [data])
    assert whole.framesSeen <= len(junk) // 9
    offsets = choice.draw(st.lists(st.integers(0, len(data)), max_size=20))
    assert feed(limits, 0, cut(data, offsets)) == whole
    assert feed(limits, 0, cut(data, range(len(data)))) == whole
