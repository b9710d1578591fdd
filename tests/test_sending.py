"""
How a txpush HTTP/2 connection sends, in memory (L{StringTransport},
L{MemoryReactorClock}): what a turn produced goes out together, a stream
ends on its last DATA frame, streams share a turn round robin, and pull
producers are pulled by their stream.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import hyperframe.frame as frames
from h2.settings import SettingCodes
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from tests.test_connection import BIG, STYLE_CSS, Harness, body, ended, of, settle
from tests.test_hardening import capturedLog, errorEvents
from txpush._twisted.sending import MAX_BYTES_PER_TURN


class CountedWrites:
    """Counts the writes of a harness's transport from now on."""

    def __init__(self, harness: Harness) -> None:
        self.count = 0
        transport = harness.transport
        write = transport.write

        def counted(data: bytes) -> None:
            self.count += 1
            write(data)

        transport.write = counted  # type: ignore[method-assign]


def grantWindow(harness: Harness, increment: int, *streamIDs: int) -> None:
    """Open the connection's window, and each stream's, by C{increment}."""
    updates = []
    for streamID in (0, *streamIDs):
        update = frames.WindowUpdateFrame(streamID)
        update.window_increment = increment
        updates.append(update)
    harness.send(*updates)


def oneTurn(harness: Harness) -> list[frames.Frame]:
    """Run the calls due now (not those they schedule); the frames written."""
    reactor = harness.reactor
    for call in [
        c for c in reactor.getDelayedCalls() if c.getTime() <= reactor.seconds()
    ]:
        if call.active():
            reactor.calls.remove(call)
            call.called = 1
            call.func(*call.args, **call.kw)
    return harness.frames()


def getRequest(harness: Harness, path: bytes, streamID: int) -> frames.HeadersFrame:
    """A GET of C{path} that ends its stream."""
    frame = frames.HeadersFrame(streamID)
    frame.data = harness.encoder.encode(
        [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", path),
        ]
    )
    frame.flags.add("END_HEADERS")
    frame.flags.add("END_STREAM")
    return frame


def test_aReadsResponsesInTwoWrites():
    """
    Ten requests in one read get their ten responses in two writes (the
    header blocks with the read's control frames, then every DATA frame),
    and each response is one HEADERS and one DATA frame that ends the
    stream: Twisted writes each header block at once, and sends each DATA
    frame, and each stream's end, in a turn of its own.
    """
    harness = Harness()
    writes = CountedWrites(harness)
    streamIDs = range(1, 21, 2)
    harness.send(*(getRequest(harness, b"/style.css", s) for s in streamIDs))
    assert writes.count <= 1
    assert settle(harness.reactor) <= 2
    assert writes.count == 2
    written = harness.frames()
    for streamID in streamIDs:
        [headers] = of(written, frames.HeadersFrame, streamID)
        assert headers.headers[0] == (b":status", b"200")
        [data] = of(written, frames.DataFrame, streamID)
        assert data.data == STYLE_CSS and "END_STREAM" in data.flags


def test_streamsShareATurnRoundRobin():
    """
    Two large responses take turns, frame by frame, within one turn of the
    sending loop, until the windows are spent.
    """
    harness = Harness()
    harness.send(getRequest(harness, b"/big", 1), getRequest(harness, b"/big", 3))
    written = oneTurn(harness)
    order = [f.stream_id for f in of(written, frames.DataFrame)]
    assert len(order) >= 4 and set(order) == {1, 3}
    assert all(a != b for a, b in itertools.pairwise(order)), order


def test_aTurnSendsAtMostItsShare():
    """
    With windows wide open, one pass of the loop sends at most
    L{MAX_BYTES_PER_TURN} (and the frame that crosses it), then lets the
    reactor turn, so that other connections get theirs; the rest follows
    on the next turns, and the response is whole.
    """
    harness = Harness(settings={SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1})
    grantWindow(harness, 2**31 - 1 - 65535)
    harness.frames()
    harness.request(b"/big", 1)
    received, perTurn = b"", []
    for _ in range(100):
        sent = body(oneTurn(harness) if perTurn else harness.frames(), 1)
        perTurn.append(len(sent))
        received += sent
        if len(received) == len(BIG):
            break
    assert received == BIG
    assert max(perTurn) <= MAX_BYTES_PER_TURN + 16384
    assert len([n for n in perTurn if n]) >= len(BIG) // (MAX_BYTES_PER_TURN + 16384)


class FailingPull:
    """A pull producer whose second pull fails; records its stop."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.pulls = 0
        self.stopped = False

    def resumeProducing(self) -> None:
        self.pulls += 1
        if self.pulls > 1:
            raise RuntimeError("the disk went away")
        self.request.write(b"first chunk")

    def stopProducing(self) -> None:
        self.stopped = True


class FailingResource(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.producers: list[FailingPull] = []

    def render_GET(self, request: Any) -> object:
        producer = FailingPull(request)
        self.producers.append(producer)
        request.registerProducer(producer, False)
        return NOT_DONE_YET


def test_staticFilePulledByItsStream(tmp_path: Path):
    """
    A C{twisted.web.static.File} (a pull producer) is served whole on the
    connection's own reactor: its stream pulls it, where Twisted's
    cooperator would run on the global reactor.
    """
    harness = Harness()
    asset = tmp_path / "asset.bin"
    asset.write_bytes(BIG[:50000])
    harness.site.resource.putChild(b"file", File(str(asset)))
    harness.request(b"/file", 1)
    settle(harness.reactor)
    written = harness.frames()
    assert body(written, 1) == BIG[:50000]
    assert ended(written, 1)


def test_failingPullProducerIsReleased():
    """
    A pull producer that raises is logged, unregistered and stopped (so it
    lets go of its file), and the connection serves on.
    """
    harness = Harness()
    failing = FailingResource()
    harness.site.resource.putChild(b"failing", failing)
    with capturedLog() as events:
        harness.request(b"/failing", 1)
        settle(harness.reactor)
    [producer] = failing.producers
    assert producer.stopped
    assert [str(e["log_failure"].value) for e in errorEvents(events)] == [
        "the disk went away"
    ]
    harness.request(b"/style.css", 3)
    settle(harness.reactor)
    written = harness.frames()
    assert body(written, 3) == STYLE_CSS and ended(written, 3)
