"""
L{PushingH2Connection} in memory: a client's frames fed to the connection
over a L{StringTransport}, its reactor a L{MemoryReactorClock}, and what it
writes read back frame by frame, as Twisted's own C{test_http2} drives
C{H2Connection}.  No socket, no thread, no wall clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import h2.errors
import hyperframe.frame as frames
import pytest
from h2.settings import SettingCodes
from hpack import Decoder, Encoder
from twisted.internet.interfaces import IPushProducer
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import Data
from zope.interface import implementer

from txpush import (
    IPusher,
    PushError,
    PushLimitReachedError,
    PushNotSupportedError,
    PushResult,
    PushSite,
    RecursivePushError,
)
from txpush._twisted.connection import PushingH2Connection
from txpush._twisted.hardening import FLOOD_ABORT_TIMEOUT
from txpush.floodguard import FloodLimits

APP_JS = b'console.log("app");\n' * 4
STYLE_CSS = b"body { color: navy; }\n" * 4
PAGE = b"<html>page</html>"
BIG = bytes(range(256)) * 4096
AUTHORITY = b"example.com:8443"
PAGE_HEADERS = [
    (b"user-agent", b"in-memory-client"),
    (b"accept-language", b"fr"),
    (b"cookie", b"session=secret"),
]


class Page(Resource):
    """Pushes each of C{targets}, recording what became of them, then answers."""

    isLeaf = True

    def __init__(self, targets: Sequence[bytes]) -> None:
        super().__init__()
        self.targets = targets
        self.pushers: list[Any] = []
        self.errors: list[PushError] = []
        self.results: list[PushResult] = []

    def render_GET(self, request: Request) -> bytes:
        pusher = IPusher(request, None)
        self.pushers.append(pusher)
        for target in self.targets if pusher is not None else []:
            try:
                pusher.push(target).addCallback(self.results.append)
            except PushError as e:
                self.errors.append(e)
        request.setHeader(b"content-type", b"text/html")
        return PAGE


class Hold(Resource):
    """Leaves each response open, after taking its pusher if C{adapt}."""

    isLeaf = True

    def __init__(self, adapt: bool) -> None:
        super().__init__()
        self.adapt = adapt
        self.held: list[Request] = []
        self.pushers: list[Any] = []

    def render_GET(self, request: Request) -> int:
        self.held.append(request)
        if self.adapt:
            self.pushers.append(IPusher(request, None))
        return NOT_DONE_YET


@implementer(IPushProducer)
class Producer:
    """A streaming producer that only records what it is told."""

    stopped = False

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.stopped = True


class Slow(Resource):
    """Writes 10 bytes under a streaming producer and never finishes."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.producers: list[Producer] = []

    def render_GET(self, request: Request) -> int:
        self.producers.append(Producer())
        request.registerProducer(self.producers[-1], True)
        request.write(b"x" * 10)
        return NOT_DONE_YET


class Recursive(Resource):
    """A pushed asset that tries to push in turn."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.errors: list[PushError] = []

    def render_GET(self, request: Request) -> bytes:
        try:
            IPusher(request, None).push(b"/app.js")
        except PushError as e:
            self.errors.append(e)
        return b"recursive"


def settle(reactor: MemoryReactorClock, turns: int = 200) -> int:
    """
    Run reactor turns, each the calls due when it starts (not those they
    schedule), until none is due; return how many turns that took.  A
    sending loop that reschedules itself for ever fails here instead of
    hanging C{reactor.advance(0)}.
    """
    for turn in range(turns):
        due = [c for c in reactor.getDelayedCalls() if c.getTime() <= reactor.seconds()]
        if not due:
            return turn
        for call in due:
            if call.active():
                reactor.calls.remove(call)
                call.called = 1
                call.func(*call.args, **call.kw)
    raise AssertionError(f"still busy after {turns} reactor turns: spinning")


class Harness:
    """
    A L{PushSite} and one of its HTTP/2 connections, built as
    C{PushChannelProtocol._startHTTP2} builds it, after the client's preface
    and SETTINGS (C{settings}).
    """

    def __init__(
        self,
        targets: Sequence[bytes] = (b"/app.js", b"/style.css"),
        settings: dict[int, int] | None = None,
        maxConcurrentPushes: int = 100,
        **siteOptions: Any,
    ) -> None:
        self.page, self.hold, self.wait = Page(targets), Hold(True), Hold(False)
        self.slow, self.recursive = Slow(), Recursive()
        root = Resource()
        root.putChild(b"", self.page)
        root.putChild(b"hold", self.hold)
        root.putChild(b"wait", self.wait)
        root.putChild(b"slow", self.slow)
        root.putChild(b"recursive", self.recursive)
        root.putChild(b"app.js", Data(APP_JS, "text/javascript"))
        root.putChild(b"style.css", Data(STYLE_CSS, "text/css"))
        self.reactor = MemoryReactorClock()
        root.putChild(b"big", Data(BIG, "application/octet-stream"))
        self.site = site = PushSite(
            root,
            reactor=self.reactor,
            maxConcurrentPushes=maxConcurrentPushes,
            **siteOptions,
        )
        self.connection = PushingH2Connection(
            reactor=site.reactor,
            maxConcurrentPushes=site.maxConcurrentPushes,
            floodLimits=site.floodLimits,
            maxBufferedBytes=site.maxBufferedBytes,
        )
        self.connection.requestFactory = site.requestFactory
        self.connection.site = site
        self.connection.factory = site
        self.connection.timeOut = site.timeOut
        self.connection.callLater = site.reactor.callLater
        self.transport = StringTransport()
        self.connection.makeConnection(self.transport)
        # As the channel does: the connection produces for its transport.
        self.transport.registerProducer(self.connection, True)
        site.http2Connections.add(self.connection)
        self.encoder, self.decoder, self.unread = Encoder(), Decoder(), b""
        self.send(
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", self.settingsFrame(settings or {})
        )
        self.frames()

    def send(self, *data: bytes | frames.Frame) -> None:
        """Feed bytes and frames to the connection, in one read."""
        self.connection.dataReceived(
            b"".join(d if isinstance(d, bytes) else d.serialize() for d in data)
        )

    def request(self, path: bytes, streamID: int, *others: frames.Frame) -> None:
        """Send a GET of C{path} with L{PAGE_HEADERS} (and C{others})."""
        frame = frames.HeadersFrame(streamID)
        frame.data = self.encoder.encode(
            [
                (b":method", b"GET"),
                (b":scheme", b"https"),
                (b":authority", AUTHORITY),
                (b":path", path),
                *PAGE_HEADERS,
            ]
        )
        frame.flags.add("END_HEADERS")
        frame.flags.add("END_STREAM")
        self.send(frame, *others)

    def postOpening(self, streamID: int) -> frames.HeadersFrame:
        """The HEADERS of a POST of /wait whose body is still to come."""
        frame = frames.HeadersFrame(streamID)
        frame.data = self.encoder.encode(
            [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", AUTHORITY),
                (b":path", b"/wait"),
            ]
        )
        frame.flags.add("END_HEADERS")
        return frame

    @staticmethod
    def settingsFrame(settings: dict[int, int]) -> frames.SettingsFrame:
        frame = frames.SettingsFrame(0)
        frame.settings = settings
        return frame

    def frames(self) -> list[frames.Frame]:
        """
        The frames written since the last call; HEADERS and PUSH_PROMISE
        have their decoded header block as C{headers}.
        """
        self.unread += self.transport.value()
        self.transport.clear()
        written = []
        while len(self.unread) >= 9:
            frame, length = frames.Frame.parse_frame_header(memoryview(self.unread[:9]))
            if len(self.unread) < 9 + length:
                break
            frame.parse_body(memoryview(self.unread[9 : 9 + length]))
            self.unread = self.unread[9 + length :]
            if isinstance(frame, frames.HeadersFrame | frames.PushPromiseFrame):
                frame.headers = [
                    tuple(h) for h in self.decoder.decode(frame.data, True)
                ]
            written.append(frame)
        return written

    def idle(self) -> bool:
        """Whether the sending loop is asleep with nothing due to wake it."""
        settle(self.reactor)
        due = [
            c
            for c in self.reactor.getDelayedCalls()
            if c.getTime() <= self.reactor.seconds()
        ]
        return self.connection._sendingDeferred is not None and not due

    def streamState(self, streamID: int) -> dict[str, bool]:
        """Where the connection still knows C{streamID}."""
        connection = self.connection
        return {
            "streams": streamID in connection.streams,
            "queues": streamID in connection._outboundStreamQueues,
            "cleanups": streamID in connection._streamCleanupCallbacks,
            "priority": streamID in connection.priority._streams,
        }


def of(written: list[frames.Frame], kind: type, streamID: int | None = None) -> list:
    """The frames of C{kind} (on C{streamID}, if given) among C{written}."""
    return [
        f for f in written if isinstance(f, kind) and streamID in (None, f.stream_id)
    ]


def promised(written: list[frames.Frame]) -> list[tuple[int, int]]:
    """The (page stream, promised stream) of each PUSH_PROMISE among C{written}."""
    return [
        (f.stream_id, f.promised_stream_id)
        for f in of(written, frames.PushPromiseFrame)
    ]


def body(written: list[frames.Frame], streamID: int) -> bytes:
    """The DATA sent on C{streamID}, joined."""
    return b"".join(f.data for f in of(written, frames.DataFrame, streamID))


def ended(written: list[frames.Frame], streamID: int) -> bool:
    """Whether C{streamID}'s last frame among C{written} ends it."""
    last = [f for f in written if f.stream_id == streamID][-1]
    return "END_STREAM" in last.flags


def rstStream(streamID: int, code: int = h2.errors.ErrorCodes.CANCEL) -> frames.Frame:
    frame = frames.RstStreamFrame(streamID)
    frame.error_code = code
    return frame


def windowUpdate(streamID: int, increment: int) -> frames.Frame:
    frame = frames.WindowUpdateFrame(streamID)
    frame.window_increment = increment
    return frame


def goAway(lastStreamID: int) -> frames.Frame:
    frame = frames.GoAwayFrame(0)
    frame.last_stream_id = lastStreamID
    return frame


NO_STATE = dict.fromkeys(["streams", "queues", "cleanups", "priority"], False)


# Promise.


def test_pagePromisesItsAssetsBeforeItsBody():
    """
    A page's pushes are PUSH_PROMISE frames on the page's stream, promising
    even streams 2 and 4, each with the promised request's header block (the
    page's scheme and authority, the copied user-agent and accept-language,
    never its cookie), all before the page's DATA.
    """
    h = Harness()
    h.request(b"/", 1)
    settle(h.reactor)
    written = h.frames()
    assert promised(written) == [(1, 2), (1, 4)]
    promises = of(written, frames.PushPromiseFrame)
    for promise, path in zip(promises, [b"/app.js", b"/style.css"], strict=True):
        assert promise.headers == [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", AUTHORITY),
            (b":path", path),
            (b"user-agent", b"in-memory-client"),
            (b"accept-language", b"fr"),
        ]
    firstPageData = written.index(of(written, frames.DataFrame, 1)[0])
    assert all(written.index(p) < firstPageData for p in promises)
    assert body(written, 1) == PAGE and ended(written, 1)


def test_pushedResponsesAreSentOnThePromisedStreams():
    """
    Each promised request is answered through the site's resource tree on
    its promised stream: HEADERS then DATA ending the stream; its Deferred
    fires with a completed PushResult, the diary holds its path, and no
    state of the pushed streams is left.
    """
    h = Harness()
    h.request(b"/", 1)
    settle(h.reactor)
    written = h.frames()
    for streamID, asset, kind in [
        (2, APP_JS, b"text/javascript"),
        (4, STYLE_CSS, b"text/css"),
    ]:
        (headers,) = of(written, frames.HeadersFrame, streamID)
        assert headers.headers[0] == (b":status", b"200")
        assert (b"content-type", kind) in headers.headers
        assert written.index(headers) < written.index(
            of(written, frames.DataFrame, streamID)[0]
        )
        assert body(written, streamID) == asset and ended(written, streamID)
    assert h.page.results == [
        PushResult(b"/app.js", 2, True, 200, len(APP_JS)),
        PushResult(b"/style.css", 4, True, 200, len(STYLE_CSS)),
    ]
    assert b"/app.js" in h.connection.diary and b"/style.css" in h.connection.diary
    assert h.page.errors == []
    assert h.connection.activePushCount() == 0
    assert h.streamState(2) == h.streamState(4) == NO_STATE
    assert h.connection.openStreamCount() == 0


# Limits.


@pytest.mark.parametrize(
    ("settings", "siteCap"),
    [({SettingCodes.MAX_CONCURRENT_STREAMS: 1}, 100), ({}, 1)],
    ids=["client", "site"],
)
def test_pushLimit(settings, siteCap):
    """
    The client's SETTINGS_MAX_CONCURRENT_STREAMS and the site's cap both
    limit open pushes: the push beyond is refused with PushLimitReachedError
    and not promised; once the first push finishes, the next page may push.
    """
    h = Harness(settings=settings, maxConcurrentPushes=siteCap)
    assert h.connection.pushLimit() == 1
    h.request(b"/", 1)
    assert h.connection.activePushCount() == 1
    assert [type(e) for e in h.page.errors] == [PushLimitReachedError]
    assert h.page.pushers[0].maxConcurrentPushes == 1
    settle(h.reactor)
    assert promised(h.frames()) == [(1, 2)]
    assert h.connection.activePushCount() == 0
    h.request(b"/", 3)
    settle(h.reactor)
    assert promised(h.frames()) == [(3, 4)]
    assert [r.path for r in h.page.results] == [b"/app.js", b"/app.js"]


def test_noPusherWhenTheClientDisablesPush():
    """
    After SETTINGS_ENABLE_PUSH=0, a request has no pusher, nothing is
    promised, and the page is served.
    """
    h = Harness(settings={SettingCodes.ENABLE_PUSH: 0})
    assert not h.connection.pushEnabled()
    h.request(b"/", 1)
    settle(h.reactor)
    written = h.frames()
    assert h.page.pushers == [None]
    assert promised(written) == []
    assert body(written, 1) == PAGE and ended(written, 1)


def test_pushFromAPushedRequestIsRecursive():
    """
    A pushed request's own push raises RecursivePushError and promises
    nothing; the pushed response is still sent.
    """
    h = Harness(targets=[b"/recursive"])
    h.request(b"/", 1)
    settle(h.reactor)
    written = h.frames()
    assert [type(e) for e in h.recursive.errors] == [RecursivePushError]
    assert promised(written) == [(1, 2)]
    assert body(written, 2) == b"recursive" and ended(written, 2)
    assert h.connection.activePushCount() == 0


# Resets.


@pytest.mark.parametrize("when", ["promise", "response"])
def test_resetPushIsStoppedAndForgotten(when):
    """
    A client's RST_STREAM of a promised stream, on its PUSH_PROMISE (before
    the pushed request is dispatched) or during its response, stops its
    producer, frees all its state, and fires its Deferred as not completed;
    nothing more is sent on it and the page is unaffected.
    """
    h = Harness(targets=[b"/slow"])
    h.request(b"/", 1)
    if when == "response":
        settle(h.reactor)
        (producer,) = h.slow.producers
        assert h.connection.streams[2].producer is producer
        assert body(h.frames(), 2) == b"x" * 10
        assert h.page.results == [] and not producer.stopped
    h.frames()
    h.send(rstStream(2))
    settle(h.reactor)
    if when == "response":
        assert producer.stopped
        assert h.page.results == [PushResult(b"/slow", 2, False, 200, 10)]
    else:
        assert h.slow.producers == []
        assert h.page.results == [PushResult(b"/slow", 2, False, None, 0)]
    assert h.streamState(2) == NO_STATE
    assert h.connection.activePushCount() == 0
    written = h.frames()
    assert [f for f in written if f.stream_id == 2] == []
    if when == "promise":
        assert body(written, 1) == PAGE and ended(written, 1)
    assert not h.transport.disconnecting


def test_requestAndItsResetInOneRead():
    """
    A client request and its RST_STREAM in one read, on a connection whose
    sending loop sleeps after an earlier response: the reset stream is
    forgotten, and the next request is answered whole.  (Twisted's loop,
    woken by the response, sends on the stream h2 has closed and dies.)
    """
    h = Harness(targets=[])
    h.request(b"/app.js", 1)
    settle(h.reactor)
    assert h.idle()
    h.request(b"/app.js", 3, rstStream(3))
    settle(h.reactor)
    assert [f for f in h.frames() if f.stream_id == 3 and f.body_len] == []
    assert h.streamState(3) == NO_STATE
    h.request(b"/style.css", 5)
    settle(h.reactor)
    written = h.frames()
    assert body(written, 5) == STYLE_CSS and ended(written, 5)


# GOAWAY.


def test_clientGoAwayStopsPush():
    """
    After the client's GOAWAY, a request has no pusher, and a pusher taken
    before refuses with PushNotSupportedError, promising nothing.
    """
    h = Harness()
    h.request(b"/hold", 1)
    h.request(b"/wait", 3)
    (pusher,) = h.hold.pushers
    assert pusher is not None
    h.send(goAway(0))
    assert not h.connection.pushEnabled()
    assert IPusher(h.wait.held[0], None) is None
    with pytest.raises(PushNotSupportedError):
        pusher.push(b"/app.js")
    settle(h.reactor)
    assert promised(h.frames()) == []


def test_noPusherAnyMoreForARequestThatHadOne():
    """
    A request that had a pusher has none once the client sent GOAWAY.
    """
    h = Harness()
    h.request(b"/hold", 1)
    assert h.hold.pushers[0] is not None
    h.send(goAway(0))
    assert IPusher(h.hold.held[0], None) is None


def test_gracefulShutdown():
    """
    announceShutdown writes GOAWAY NO_ERROR naming the last client stream and
    stops push, but lets the open streams finish; closeGracefully then
    writes the final GOAWAY and closes the transport.
    """
    h = Harness()
    h.request(b"/hold", 1)
    h.request(b"/wait", 3)
    h.frames()
    h.connection.announceShutdown()
    (goaway,) = of(h.frames(), frames.GoAwayFrame)
    assert (goaway.error_code, goaway.last_stream_id) == (
        h2.errors.ErrorCodes.NO_ERROR,
        3,
    )
    assert not h.transport.disconnecting
    assert not h.connection.pushEnabled()
    assert h.connection.openStreamCount() == 2
    assert IPusher(h.wait.held[0], None) is None
    with pytest.raises(PushNotSupportedError):
        h.hold.pushers[0].push(b"/app.js")

    for request in h.hold.held + h.wait.held:
        request.write(b"done")
        request.finish()
    settle(h.reactor)
    written = h.frames()
    assert promised(written) == []
    for streamID in (1, 3):
        assert body(written, streamID) == b"done" and ended(written, streamID)
    assert h.connection.openStreamCount() == 0
    assert not h.transport.disconnecting

    h.connection.closeGracefully()
    (goaway,) = of(h.frames(), frames.GoAwayFrame)
    assert (goaway.error_code, goaway.last_stream_id) == (
        h2.errors.ErrorCodes.NO_ERROR,
        3,
    )
    assert h.transport.disconnecting
    assert h.connection.openStreamCount() == 0


def test_streamsAfterTheShutdownGoAwayAreIgnored():
    """
    A request on a stream above the shutdown GOAWAY's last stream id (sent
    before the client read the GOAWAY) is not processed, as RFC 9113
    section 6.8 says: the client will retry it elsewhere.
    """
    h = Harness()
    h.request(b"/wait", 1)
    h.connection.announceShutdown()
    h.frames()
    h.request(b"/app.js", 3)
    settle(h.reactor)
    written = h.frames()
    assert of(written, frames.HeadersFrame, 3) == []
    (refused,) = of(written, frames.RstStreamFrame, 3)
    assert refused.error_code == h2.errors.ErrorCodes.REFUSED_STREAM
    assert h.connection.openStreamCount() == 1


def test_siteShutDownClosesOnceStreamsFinish():
    """
    PushSite.shutDown announces the shutdown to its connection, keeps it open
    while a stream is open, and closes it at the first check after that
    stream finishes, long before the grace period.
    """
    h = Harness()
    h.request(b"/wait", 1)
    h.frames()
    done = h.site.shutDown(gracePeriod=10)
    assert [g.error_code for g in of(h.frames(), frames.GoAwayFrame)] == [0]
    h.reactor.advance(1)
    assert not h.transport.disconnecting and not done.called
    h.wait.held[0].finish()
    settle(h.reactor)
    assert ended(h.frames(), 1)
    h.reactor.advance(0.05)
    assert h.transport.disconnecting and done.called


# Flow-control windows.


def test_zeroWindowSendsHeadersOnlyAndSleeps():
    """
    With the client's SETTINGS_INITIAL_WINDOW_SIZE of 0, the page and its
    pushes get their HEADERS but no DATA, their streams are blocked in the
    priority tree, and the sending loop sleeps: turn after turn nothing is
    due and nothing is written.
    """
    h = Harness(settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    h.request(b"/", 1)
    settle(h.reactor)
    written = h.frames()
    assert [f.stream_id for f in of(written, frames.HeadersFrame)] == [1, 2, 4]
    assert of(written, frames.DataFrame) == []
    for streamID in (1, 2, 4):
        assert h.connection._outboundStreamQueues[streamID]
        assert not h.connection.priority._streams[streamID].active
    for _ in range(5):
        assert h.idle()
        h.reactor.advance(0)
    assert h.frames() == []


def test_windowUpdateLetsOutExactlyItsIncrement():
    """
    On a zero window, a WINDOW_UPDATE of 5 on a pushed stream lets exactly 5
    bytes of it out, in one DATA frame, and the loop sleeps again.
    """
    h = Harness(settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    h.request(b"/", 1)
    settle(h.reactor)
    h.frames()
    h.send(windowUpdate(2, 5))
    assert h.idle()
    written = h.frames()
    assert [
        (f.stream_id, f.data, "END_STREAM" in f.flags)
        for f in of(written, frames.DataFrame)
    ] == [(2, APP_JS[:5], False)]
    assert h.idle()
    assert h.frames() == []


def test_largerInitialWindowResumesTheStreams():
    """
    A SETTINGS raising the initial window from 0 (with no WINDOW_UPDATE)
    resumes every waiting stream: the page and both pushes complete.
    """
    h = Harness(settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    h.request(b"/", 1)
    settle(h.reactor)
    h.send(windowUpdate(2, 5))
    settle(h.reactor)
    h.frames()
    h.send(h.settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 65535}))
    settle(h.reactor)
    written = h.frames()
    assert body(written, 1) == PAGE and ended(written, 1)
    assert body(written, 2) == APP_JS[5:] and ended(written, 2)
    assert body(written, 4) == STYLE_CSS and ended(written, 4)
    assert [r.completed for r in h.page.results] == [True, True]
    assert h.connection.openStreamCount() == 0


# Defences against one client's attacks (see docs/deployment.md).


@implementer(IPushProducer)
class Streaming:
    """A streaming producer writing C{count} chunks, pausing when told."""

    def __init__(self, request: Request, chunk: bytes, count: int) -> None:
        self.request, self.chunk, self.left = request, chunk, count
        self.paused = self.stopped = False

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self.left and not self.paused and not self.stopped:
            self.left -= 1
            self.request.write(self.chunk)
        if not self.left and not self.stopped:
            self.request.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:
        self.stopped = True


class StreamingResource(Resource):
    """Answers with 64 chunks of 64 KiB (4 MiB) from a streaming producer."""

    isLeaf = True
    chunk = b"s" * 65536

    def __init__(self) -> None:
        super().__init__()
        self.producers: list[Streaming] = []

    def render_GET(self, request: Request) -> int:
        producer = Streaming(request, self.chunk, 64)
        self.producers.append(producer)
        request.registerProducer(producer, True)
        producer.resumeProducing()
        return NOT_DONE_YET


def priorityFrame(streamID: int, dependsOn: int, exclusive: bool = False) -> Any:
    frame = frames.PriorityFrame(streamID, depends_on=dependsOn)
    frame.exclusive = exclusive
    return frame


def closedFlooding(h: Harness) -> bool:
    """Whether the server sent GOAWAY ENHANCE_YOUR_CALM and is closing."""
    goaways = of(h.frames(), frames.GoAwayFrame)
    return [g.error_code for g in goaways] == [
        h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    ] and h.transport.disconnecting


def test_priorityCycleThenExclusiveDoesNotHang():
    """
    The PRIORITY frames that make the C{priority} library loop for ever
    (streams 1, 3, 5 with a closed window; 1 on 3, 3 on 5, 5 on 3, then 1 on
    3 exclusively) are ignored: the responses are sent once the window
    opens, and the streams are forgotten.
    """
    h = Harness(targets=[], settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    for streamID in (1, 3, 5):
        h.request(b"/app.js", streamID)
    h.send(
        priorityFrame(1, 3),
        priorityFrame(3, 5),
        priorityFrame(5, 3),
        priorityFrame(1, 3, exclusive=True),
    )
    settle(h.reactor)
    h.send(h.settingsFrame({SettingCodes.INITIAL_WINDOW_SIZE: 65535}))
    settle(h.reactor)
    written = h.frames()
    for streamID in (1, 3, 5):
        assert body(written, streamID) == APP_JS and ended(written, streamID)
        assert h.streamState(streamID) == NO_STATE
    assert not h.transport.disconnecting


def _settingsFlood() -> frames.Frame:
    return Harness.settingsFrame({SettingCodes.MAX_CONCURRENT_STREAMS: 100})


def _emptyData() -> frames.Frame:
    return frames.DataFrame(1)


def _ping() -> frames.Frame:
    frame = frames.PingFrame(0)
    frame.opaque_data = b"12345678"
    return frame


@pytest.mark.parametrize(
    "frame",
    [
        lambda: priorityFrame(7, 0),
        lambda: windowUpdate(0, 1),
        lambda: windowUpdate(1, 1),
        _settingsFlood,
        _ping,
        _emptyData,
        lambda: rstStream(1),
    ],
    ids=[
        "PRIORITY",
        "WINDOW_UPDATE",
        "WINDOW_UPDATE-stream",
        "SETTINGS",
        "PING",
        "empty-DATA",
        "RST_STREAM",
    ],
)
def test_floodOfCheapFramesIsClosed(frame):
    """
    A client sending more of one kind of cheap frame than its budget allows
    (here 20, refilled never) gets GOAWAY ENHANCE_YOUR_CALM and is closed; up
    to the budget it is served.  Nothing it sends after is read.
    """
    h = Harness(targets=[], floodLimits=FloodLimits(burst=20, rate=0))
    # Stream 1 stays open (its request body is still coming) for the frames
    # that need an open stream.
    opening = h.postOpening(1)
    h.send(opening)
    settle(h.reactor)
    h.send(*[frame() for _ in range(19)])
    settle(h.reactor)
    assert of(h.frames(), frames.GoAwayFrame) == []
    assert not h.transport.disconnecting
    h.send(frame(), frame())
    assert closedFlooding(h)
    assert h.connection.closedFor is not None
    h.request(b"/app.js", 3)
    settle(h.reactor)
    assert h.frames() == []


def test_continuationFloodIsClosed():
    """
    A header block of more than 8 CONTINUATION frames (nghttp2's limit) is
    a flood: GOAWAY ENHANCE_YOUR_CALM, and the connection closes.
    """
    h = Harness(targets=[])
    headers = frames.HeadersFrame(1)
    headers.data = h.encoder.encode([(b":method", b"GET")])
    continuations = []
    for _ in range(9):
        continuation = frames.ContinuationFrame(1)
        continuation.data = b"\x40\x01a\x01b"
        continuations.append(continuation)
    h.send(headers, *continuations[:8])
    assert of(h.frames(), frames.GoAwayFrame) == []
    h.send(continuations[8])
    assert closedFlooding(h)


def test_pushResetsSpendNoResetBudget():
    """
    Resets of promised streams spend nothing of the RST_STREAM budget (here
    2): a client resets the pushes of assets it has; resets of streams it
    opened do.
    """
    h = Harness(targets=[b"/slow"], floodLimits=FloodLimits(burst=2, rate=0))
    for page, push in ((1, 2), (3, 4), (5, 6)):
        h.request(b"/", page)
        settle(h.reactor)
        h.send(rstStream(push))
        settle(h.reactor)
    assert of(h.frames(), frames.GoAwayFrame) == []
    assert h.connection.floodGuard.tokensLeft("RST_STREAM") == 2
    for streamID in (7, 9, 11):
        h.request(b"/slow", streamID)
        h.send(rstStream(streamID))
    assert closedFlooding(h)


def _readWithUpdates(h: Harness, increment: int, rounds: int) -> bytes:
    # A client reading its response, re-opening its windows after each read.
    received = b""
    for _ in range(rounds):
        settle(h.reactor)
        received += body(h.frames(), 1)
        if len(received) == len(BIG) or h.transport.disconnecting:
            break
        h.send(windowUpdate(0, increment), windowUpdate(1, increment))
    return received


def test_windowUpdatesOfAReadingClientAreEarned():
    """
    A client reading a large response and sending WINDOW_UPDATE for every
    16 KiB it reads spends far more than its budget (here 20) of
    WINDOW_UPDATE frames, and is served whole: reading earns them.
    """
    h = Harness(targets=[], floodLimits=FloodLimits(burst=20, rate=0))
    h.request(b"/big", 1)
    received = _readWithUpdates(h, 16384, rounds=200)
    assert received == BIG
    assert not h.transport.disconnecting


def test_windowDribbleIsClosed():
    """
    A client opening its windows a byte at a time (CVE-2019-9511, data
    dribble) earns almost nothing: past its budget it is closed.
    """
    h = Harness(
        targets=[],
        floodLimits=FloodLimits(burst=20, rate=0),
        settings={SettingCodes.INITIAL_WINDOW_SIZE: 0},
    )
    h.request(b"/big", 1)
    received = _readWithUpdates(h, 1, rounds=100)
    assert len(received) < 20
    assert h.transport.disconnecting
    assert h.connection.closedFor == "too many WINDOW_UPDATE frames"


def _notReading(cap: int) -> tuple[Harness, StreamingResource]:
    # A client that opened huge windows and reads nothing, on a site whose
    # /stream answers from a streaming producer, with a buffer cap of cap.
    h = Harness(
        targets=[],
        maxBufferedBytes=cap,
        settings={SettingCodes.INITIAL_WINDOW_SIZE: 2**31 - 1},
    )
    streaming = StreamingResource()
    h.site.resource.putChild(b"stream", streaming)
    h.send(windowUpdate(0, 2**31 - 1 - 65535))
    h.connection.pauseProducing()
    return h, streaming


def test_bufferedBytesAreCapped():
    """
    For a client that opened huge windows and reads nothing
    (CVE-2019-9517), the response bytes buffered stay under the cap plus
    one chunk a stream: the producers pause.  Once the client reads, they
    resume and every response arrives whole; nothing stays counted.
    """
    cap = 256 * 1024
    h, streaming = _notReading(cap)
    streams = (1, 3, 5, 7, 9)
    for streamID in streams:
        h.request(b"/stream", streamID)
    settle(h.reactor)
    bound = cap + len(streams) * len(streaming.chunk)
    assert h.connection.bufferedBytes() <= bound
    assert all(p.paused for p in streaming.producers)
    received: dict[int, bytes] = dict.fromkeys(streams, b"")
    for _ in range(100):
        h.connection.resumeProducing()
        settle(h.reactor, turns=10**5)
        assert h.connection.bufferedBytes() <= bound
        for frame in of(h.frames(), frames.DataFrame):
            received[frame.stream_id] += frame.data
        if all(len(r) == 64 * 65536 for r in received.values()):
            break
        h.connection.pauseProducing()
    assert {len(r) for r in received.values()} == {64 * 65536}
    assert h.connection.bufferedBytes() == 0


def test_idleConnectionTimesOut():
    """
    A connection with no stream open is closed after the idle timeout
    (PushSite's C{timeout}), with GOAWAY, and released by its transport.
    """
    h = Harness(targets=[], timeout=5)
    h.request(b"/app.js", 1)
    settle(h.reactor)
    h.frames()
    h.reactor.advance(4)
    assert not h.transport.disconnecting
    h.reactor.advance(1.5)
    (goaway,) = of(h.frames(), frames.GoAwayFrame)
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    assert h.transport.disconnecting and h.transport.producer is None
    assert h.connection.closedFor == "idle"


def test_slowApplicationIsNotIdle():
    """
    A response the application takes longer than the idle timeout to make
    does not get its connection closed; a client that stops reading its
    response does.
    """
    h = Harness(targets=[], timeout=5)
    h.request(b"/wait", 1)
    settle(h.reactor)
    h.reactor.advance(12)
    assert not h.transport.disconnecting
    (held,) = h.wait.held
    held.write(b"x" * 200000)  # beyond the stream's 64 KiB window
    settle(h.reactor)
    h.frames()
    h.reactor.advance(6)
    assert h.transport.disconnecting
    assert h.connection.closedFor == "idle"


def _channel(site: PushSite) -> tuple[Any, StringTransport]:
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"PRI * HTTP/2.0\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n",
    ],
    ids=[
        "nothing",
        "half-preface",
        "preface-no-SETTINGS",
        "HTTP/1.1-headers-unfinished",
    ],
)
def test_handshakeTimeout(sent):
    """
    A client that has not sent the HTTP/2 preface and SETTINGS, or an
    HTTP/1.1 request's headers, within the handshake timeout is cut off.
    """
    site = PushSite(Resource(), reactor=MemoryReactorClock(), handshakeTimeout=3)
    protocol, transport = _channel(site)
    protocol.dataReceived(sent)
    site.reactor.advance(2.9)
    assert not transport.disconnected
    site.reactor.advance(0.2)
    assert transport.disconnected


@pytest.mark.parametrize(
    "sent",
    [
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frames.SettingsFrame(0).serialize(),
        b"GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
    ids=["HTTP/2", "HTTP/1.1"],
)
def test_completedHandshakeIsNotCutOff(sent):
    """
    Once the preface and SETTINGS, or a request's headers, came, the
    handshake timeout is off (the idle timeout takes over).
    """
    site = PushSite(
        Resource(), reactor=MemoryReactorClock(), handshakeTimeout=3, timeout=100
    )
    protocol, transport = _channel(site)
    protocol.dataReceived(sent)
    site.reactor.advance(50)
    assert not transport.disconnected


def test_floodingClientIsCutOffIfItDoesNotGo():
    """
    A flooding client that does not close after its GOAWAY is cut off
    shortly after.
    """
    h = Harness(targets=[], floodLimits=FloodLimits(burst=1, rate=0))
    h.send(_ping(), _ping())
    assert closedFlooding(h)
    assert h.transport.producer is None
    assert not h.transport.disconnected
    h.reactor.advance(FLOOD_ABORT_TIMEOUT)
    assert h.transport.disconnected


def test_windowUpdatesOfOneReadWakeTheLoopOnce():
    """
    Many WINDOW_UPDATE frames in one read schedule one wake-up of the
    sleeping sending loop, not one each; the response then goes out whole.
    """
    h = Harness(targets=[], settings={SettingCodes.INITIAL_WINDOW_SIZE: 0})
    h.request(b"/app.js", 1)
    settle(h.reactor)
    assert h.idle()
    h.send(*[windowUpdate(1, 1) for _ in range(len(APP_JS))])
    wakeUps = [
        c
        for c in h.reactor.getDelayedCalls()
        if c.func == h.connection._wakeSendingLoop
    ]
    assert len(wakeUps) == 1
    settle(h.reactor)
    written = h.frames()
    assert body(written, 1) == APP_JS and ended(written, 1)


def test_idleClientThatReadsNothingIsCutOff():
    """
    A client that neither sends nor reads is cut off shortly after its idle
    timeout, not after Twisted's 15 s abort timeout: its GOAWAY sits behind
    the data it does not read.
    """
    h = Harness(targets=[], timeout=5)
    h.connection.pauseProducing()  # the client reads nothing
    h.request(b"/big", 1)
    settle(h.reactor)
    h.reactor.advance(5.5)
    assert h.connection.closedFor == "idle"
    assert not h.transport.disconnected
    h.reactor.advance(FLOOD_ABORT_TIMEOUT)
    assert h.transport.disconnected


def test_resetsOfTheClientsMistakesSpendTheResetBudget():
    """
    A stream h2 resets because the client misused it (DATA after its
    request ended) costs the server what a reset costs: it spends from the
    RST_STREAM budget (here 3), on every Twisted release (MadeYouReset).
    """
    h = Harness(targets=[], floodLimits=FloodLimits(burst=3, rate=0))
    for streamID in (1, 3, 5, 7):
        h.request(b"/wait", streamID)
        data = frames.DataFrame(streamID)
        data.data = b"x"
        h.send(data)
        settle(h.reactor)
    assert closedFlooding(h)
    assert h.connection.closedFor == "too many RST_STREAM frames"


def test_producerPausedByTheClientIsNotABusyApplication():
    """
    A response whose producer is paused because the client's window is
    closed is the client's doing: once the client is quiet for the idle
    timeout, the connection is closed.
    """
    h = Harness(
        targets=[], timeout=5, settings={SettingCodes.INITIAL_WINDOW_SIZE: 65536}
    )
    streaming = StreamingResource()
    h.site.resource.putChild(b"stream", streaming)
    h.send(windowUpdate(0, 1))
    h.request(b"/stream", 1)
    settle(h.reactor)
    assert len(body(h.frames(), 1)) == 65536
    assert streaming.producers[0].paused
    h.reactor.advance(5.5)
    assert h.connection.closedFor == "idle"


def test_resetOfBufferedStreamsResumesTheOthers():
    """
    When the streams that filled the buffer for a client that does not read
    are reset, the others' producers resume.
    """
    h, streaming = _notReading(128 * 1024)
    h.request(b"/stream", 1)
    h.request(b"/stream", 3)
    settle(h.reactor)
    first, second = streaming.producers
    assert first.paused and second.paused
    left = second.left
    h.send(rstStream(1))
    settle(h.reactor)
    assert second.left < left


def test_timeoutAfterAFloodChangesNothing():
    """
    The idle timer firing after a flood closed the connection sends no
    second GOAWAY and keeps the earlier cut-off.
    """
    h = Harness(targets=[], timeout=1, floodLimits=FloodLimits(burst=1, rate=0))
    h.send(_ping(), _ping())
    assert closedFlooding(h)
    h.reactor.advance(1.5)
    assert of(h.frames(), frames.GoAwayFrame) == []
    assert not h.transport.disconnected
    h.reactor.advance(FLOOD_ABORT_TIMEOUT)
    assert h.transport.disconnected


def test_frameDribbledAByteAtATimeDoesNotKeepTheConnection():
    """
    A client sending one byte of a large frame every few seconds does not
    keep its connection open past the idle timeout: bytes that start no
    frame are no sign of life.
    """
    h = Harness(targets=[], timeout=5)
    opening = h.postOpening(1)
    h.send(opening, (16384).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01")
    for _ in range(3):
        h.reactor.advance(4)
        h.send(b"x")
    assert h.connection.closedFor == "idle"


def test_emptyLinesBeforeAnHTTP11RequestAreIgnored():
    """
    An empty line before an HTTP/1.1 request line (RFC 9112 section 2.2
    asks a server to ignore it, and Twisted does) does not make the
    connection look like garbage.
    """
    site = PushSite(Resource(), reactor=MemoryReactorClock())
    protocol, transport = _channel(site)
    protocol.dataReceived(b"\r\nGET /nothing HTTP/1.1\r\nHost: a\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 404")
