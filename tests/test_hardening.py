"""
Faults, hostile clients and load: whatever a client or the application does,
the page is served, nothing is lost, and no state is left behind.

Each fault is played by a misbehaving python-h2 client over a real loopback
connection.  Afterwards the server's HTTP/2 connection is inspected on the
reactor thread: its stream tables (C{streams}, C{_outboundStreamQueues},
C{_streamCleanupCallbacks}, C{pushState.pushedStreamIDs}, the priority tree) must be
empty for the streams the fault touched, their producers stopped, and the
site must still answer a well-behaved client.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import socket
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h2.errors
import h2.events
import h2.settings
import hyperframe.frame
import pytest
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.logger import LogLevel, eventAsText, globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request
from twisted.web.static import Data, File

from tests.conftest import onReactor
from tests.pushapp import APP_JS, STYLE_CSS, SlowBody, buildSite, push
from tests.sites import INDEX_HTML, makeSite
from txpush import (
    CacheAwarePushResource,
    InvalidPushHeaderError,
    InvalidPushMethodError,
    InvalidPushTargetError,
    PushConfig,
    PushLimitReachedError,
    PushSite,
)
from txpush.assets import Asset
from txpush.digest import MAX_COOKIE_VALUE_LENGTH, MAX_KEYS, CacheDigest
from txpush.manifest import Manifest, ManifestError, loadManifest
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.sendingloop import SendingLoopTurns, sendingLoopAsleep
from txpush.testing.soak import soak
from txpush.testing.twist import TwistServer
from txpush.testing.waiting import waitFor

CANCEL = h2.errors.ErrorCodes.CANCEL
REFUSED_STREAM = h2.errors.ErrorCodes.REFUSED_STREAM
RESET_CODES = [CANCEL, REFUSED_STREAM]
PAGE = b"<html>page</html>"
MAX_CONCURRENT_STREAMS = h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS
INITIAL_WINDOW_SIZE = h2.settings.SettingCodes.INITIAL_WINDOW_SIZE


# Inspecting the server's connection.


def theConnection(site: PushSite, timeout: float = 5.0) -> Any:
    """
    The site's only HTTP/2 connection, held strongly so that it can still
    be inspected once it has closed.
    """
    connections: list[Any] = []

    def one() -> bool:
        connections[:] = onReactor(lambda: list(site.http2Connections))
        return len(connections) == 1

    assert waitFor(one, timeout), f"expected one HTTP/2 connection: {connections}"
    return connections[0]


def tablesOf(connection: Any) -> dict[str, list[int]]:
    """
    The stream ids in each of the connection's per-stream tables, read on
    the reactor thread; the priority tree's root (0) is left out.
    """

    def read() -> dict[str, list[int]]:
        return {
            "streams": sorted(connection.streams),
            "queues": sorted(connection._outboundStreamQueues),
            "cleanups": sorted(connection._streamCleanupCallbacks),
            "pushed": sorted(connection.pushState.pushedStreamIDs),
            "priority": sorted(set(connection.priority._streams) - {0}),
        }

    return onReactor(read)


EMPTY_TABLES: dict[str, list[int]] = {
    "streams": [],
    "queues": [],
    "cleanups": [],
    "pushed": [],
    "priority": [],
}


def queuedBytes(connection: Any) -> dict[int, int]:
    """The body bytes queued on the server, per stream, not yet sent."""

    def read() -> dict[int, int]:
        return {
            streamID: sum(len(chunk) for chunk in queue if isinstance(chunk, bytes))
            for streamID, queue in connection._outboundStreamQueues.items()
        }

    return onReactor(read)


def stalledOnWindow(connection: Any, streamID: int) -> bool:
    """
    Whether a stream has produced data that waits for flow-control window
    (queued, or its producer paused), with the sending loop asleep.
    """

    def read() -> bool:
        queue = connection._outboundStreamQueues.get(streamID, ())
        stream = connection.streams.get(streamID)
        producer = getattr(stream, "producer", None)
        waiting = any(isinstance(chunk, bytes) for chunk in queue) or bool(
            getattr(producer, "paused", False)
        )
        return waiting and sendingLoopAsleep(connection)

    return onReactor(read)


def connectionWindowFull(connection: Any) -> bool:
    """
    Whether the server has used all of the connection's flow-control window
    and its sending loop sleeps.
    """
    return onReactor(
        lambda: (
            connection.conn.outbound_flow_control_window <= 0
            and sendingLoopAsleep(connection)
        )
    )


def settledTables(connection: Any, timeout: float = 5.0) -> dict[str, list[int]]:
    """The connection's tables once they are empty, or as they are at the timeout."""
    waitFor(lambda: tablesOf(connection) == EMPTY_TABLES, timeout)
    return tablesOf(connection)


@contextlib.contextmanager
def capturedLog() -> Iterator[list[dict[str, Any]]]:
    """Every twisted.logger event emitted inside the block."""
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def errorEvents(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events at error level or above, or carrying a failure."""
    return [
        e
        for e in events
        if "log_failure" in e
        or e.get("log_level") in (LogLevel.error, LogLevel.critical)
    ]


def wellBehavedVisit(server: Any) -> Stream:
    """A fresh client loads the page and every push it is given, completely."""
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/")
        assert client.terminated is None
        assert all(p.ended and p.resetCode is None for p in client.pushes())
    assert page.status == 200
    return page


# Clients that misbehave.


class StallingClient(H2Client):
    """
    A client that never opens the flow-control window of a pushed stream:
    the few bytes that arrive on one are given back to the connection's
    window only, so the pushed stream's own window stays as the client's
    SETTINGS_INITIAL_WINDOW_SIZE made it.
    """

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived) and event.stream_id % 2 == 0:
            self.streams[event.stream_id].body += event.data
            if event.flow_controlled_length:
                self.conn.increment_flow_control_window(event.flow_controlled_length)
            return
        super()._handle(event)

    def openWindow(self, streamID: int, size: int = 1 << 20) -> None:
        """Open one stream's window (the page's) by C{size} bytes."""
        self.conn.increment_flow_control_window(size, stream_id=streamID)
        self.flush()

    def requestWithWindow(
        self, path: bytes, size: int = 1 << 20, flush: bool = True
    ) -> int:
        """
        Request C{path} and open its stream's window by C{size} bytes in the
        same write, so that the server reads both at once; return the
        stream ID.
        """
        streamID = self.conn.get_next_available_stream_id()
        headers = [
            (b":method", b"GET"),
            (b":scheme", self.scheme),
            (b":authority", self.authority),
            (b":path", path),
        ]
        self.conn.send_headers(streamID, headers, end_stream=True)
        self.conn.increment_flow_control_window(size, stream_id=streamID)
        self.streams[streamID] = Stream(streamID, headers)
        if flush:
            self.flush()
        return streamID


def wideOpenClient(port: int, **kwargs: Any) -> H2Client:
    """
    A client whose windows (1 GiB) never need a WINDOW_UPDATE in a test: its
    frames then never mix a WINDOW_UPDATE with a reset, which
    test_windowUpdateResetAndRequestInOneRead covers on its own.
    """
    client = H2Client(port, settings={INITIAL_WINDOW_SIZE: 1 << 30}, **kwargs)
    client.conn.increment_flow_control_window(1 << 30)
    client.flush()
    return client


def resetter(code: int) -> Callable[[H2Client, Stream], None]:
    """A push callback that resets the pushed stream with C{code}."""

    def reset(client: H2Client, stream: Stream) -> None:
        client.reset(stream.streamID, code)

    return reset


class Hang(Resource):
    """A resource that never answers."""

    isLeaf = True

    def render_GET(self, request: Request) -> int:
        return NOT_DONE_YET


class Raises(Resource):
    """A resource whose render raises."""

    isLeaf = True

    def render_GET(self, request: Request) -> bytes:
        raise RuntimeError("the asset's code failed")


class Status(Resource):
    """A resource that answers with a given status."""

    isLeaf = True

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def render_GET(self, request: Request) -> bytes:
        request.setResponseCode(self.code)
        return b"status %d" % (self.code,)


class Late(Resource):
    """
    A resource that answers from a Deferred fired C{delay} seconds later, if
    its client is still there; C{finished} records which it was.
    """

    isLeaf = True

    def __init__(self, delay: float, body: bytes = b"late();\n") -> None:
        super().__init__()
        self.delay = delay
        self.body = body
        self.finished: list[bool] = []

    def render_GET(self, request: Request) -> int:
        fired: Deferred[None] = Deferred()
        reactor.callLater(self.delay, fired.callback, None)

        def answer(_: None) -> None:
            if request._disconnected:
                self.finished.append(False)
                return
            request.setHeader(b"content-type", b"text/javascript")
            request.write(self.body)
            request.finish()
            self.finished.append(True)

        fired.addCallback(answer)
        return NOT_DONE_YET


# Clients that reset pushes.


@pytest.mark.parametrize("code", RESET_CODES)
@pytest.mark.parametrize("timing", ["promise", "response"])
def test_resettingEveryPushOfManyPages(serve, code, timing):
    """
    A client that resets every push of 25 pages at once, as soon as it is
    promised or once its response starts, gets every page; each pushed
    producer still running is stopped, the connection keeps no state for any stream, and
    another client is served normally.  (Its windows are wide open: see
    L{wideOpenClient}.)
    """
    pushes = [push(b"/big")] + [push(f"/app.js?{i}") for i in range(7)]
    site, log, root = buildSite(pushes)
    big = SlowBody(chunks=512)
    root.putChild(b"big", big)
    server = serve(site)
    callback = resetter(code)
    hooks = {"onPushPromise" if timing == "promise" else "onPushResponse": callback}
    with wideOpenClient(server.portNumber, **hooks) as client:
        for _ in range(25):
            page = client.get(b"/")
            assert (page.status, bytes(page.body)) == (200, PAGE)
            assert len(client.pushes(page.streamID)) == len(pushes)
        connection = theConnection(site)
        assert client.terminated is None
        assert client.resetsSent >= 25
        if timing == "promise":
            assert client.resetsSent == 25 * len(pushes)
        assert settledTables(connection) == EMPTY_TABLES
    assert all(a.error is None for a in log.attempts)
    # Every producer is stopped, unless its push ended before the reset came.
    assert waitFor(lambda: len(big.stopped) + len(big.finished) == big.rendered)
    assert len(big.stopped) > len(big.finished)
    wellBehavedVisit(server)


def test_resettingPushesOnResponseIsNotRapidReset(serve):
    """
    1200 resets of pushed streams, each sent once the pushed response has
    started (so after the server committed work to it), over 60 pages: more
    than Twisted's Rapid Reset burst of 1000, yet the client is not
    disconnected.
    """
    site, _log, root = buildSite([push(f"/late.js?{i}") for i in range(20)])
    root.putChild(b"late.js", Late(0.0))
    server = serve(site)
    with wideOpenClient(server.portNumber, onPushResponse=resetter(CANCEL)) as client:
        for _ in range(60):
            assert client.get(b"/").status == 200
        assert client.terminated is None
        assert len(client.pushes()) == 1200
        # A response may end before its reset arrives; most are reset.
        assert client.resetsSent > 1000
        connection = theConnection(site)
        assert settledTables(connection) == EMPTY_TABLES


def test_rapidResetFloodOfClientStreamsIsStillRefused(serve):
    """
    A real Rapid Reset flood (CVE-2023-44487) of the client's own streams,
    1500 requests each reset at once, still ends the connection with GOAWAY
    ENHANCE_YOUR_CALM; the connection keeps no state, and other clients are
    served.
    """
    site, _log, root = buildSite([push(b"/app.js")])
    root.putChild(b"hang", Hang())
    server = serve(site)
    with H2Client(server.portNumber) as client:
        assert client.get(b"/app.js").status == 200
        connection = theConnection(site)
        sent = 0
        with contextlib.suppress(OSError):
            for _ in range(1500):
                client.reset(client.request(b"/hang"))
                client.flush()
                sent += 1
        with contextlib.suppress(OSError, ConnectionError):
            client.runUntil(lambda: client.terminated is not None or client.closed)
    assert client.terminated is not None
    assert client.terminated.errorCode == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    assert sent > 1000
    assert settledTables(connection) == EMPTY_TABLES
    wellBehavedVisit(server)


# SETTINGS_MAX_CONCURRENT_STREAMS.


def test_maxConcurrentStreamsZero(serve):
    """
    A client that allows no concurrent server streams is never promised
    anything: every push raises PushLimitReachedError, every page loads.
    """
    site, log, _ = buildSite([push(b"/app.js"), push(b"/style.css")])
    server = serve(site)
    with H2Client(server.portNumber, settings={MAX_CONCURRENT_STREAMS: 0}) as client:
        for _ in range(3):
            page = client.get(b"/")
            assert (page.status, bytes(page.body)) == (200, PAGE)
        assert client.pushes() == []
        assert settledTables(theConnection(site)) == EMPTY_TABLES
    assert len(log.attempts) == 6
    assert all(isinstance(a.error, PushLimitReachedError) for a in log.attempts)


def test_maxConcurrentStreamsOneWithAStalledPush(serve):
    """
    With one concurrent stream allowed and the one push stalled by flow
    control, later pages push nothing (PushLimitReachedError) but load;
    once the client resets the stalled push, the next page pushes again.
    """
    site, log, root = buildSite([push(b"/big"), push(b"/app.js")])
    big = SlowBody(chunks=64)
    root.putChild(b"big", big)
    server = serve(site)
    settings = {MAX_CONCURRENT_STREAMS: 1, INITIAL_WINDOW_SIZE: 0}
    with StallingClient(server.portNumber, settings=settings) as client:

        def page() -> Stream:
            streamID = client.requestWithWindow(b"/")
            client.runUntil(lambda: client.streams[streamID].done)
            return client.streams[streamID]

        first = page()
        (stalled,) = client.pushes(first.streamID)
        second = page()
        assert client.pushes(second.streamID) == []
        client.reset(stalled.streamID)
        client.flush()
        connection = theConnection(site)
        waitFor(lambda: tablesOf(connection)["pushed"] == [])
        third = page()
        assert [p.path for p in client.pushes(third.streamID)] == [b"/big"]
    assert [p.status for p in (first, second, third)] == [200] * 3
    errors = [type(a.error).__name__ for a in log.attempts]
    assert errors == [
        *("NoneType", "PushLimitReachedError"),
        *("PushLimitReachedError", "PushLimitReachedError"),
        *("NoneType", "PushLimitReachedError"),
    ]


def test_maxConcurrentStreamsChangedMidConnection(serve):
    """
    The client's limit is read at each push: 100, then 0 (nothing pushed),
    then 1 (one push per page), then 100 again (all pushed).
    """
    pushes = [push(b"/app.js"), push(b"/style.css"), push(b"/echo")]
    site, log, _ = buildSite(pushes)
    server = serve(site)
    counts = []
    with H2Client(server.portNumber) as client:
        for limit in (100, 0, 1, 100):
            client.conn.update_settings({MAX_CONCURRENT_STREAMS: limit})
            client.flush()
            page = client.get(b"/")
            assert page.status == 200
            counts.append(len(client.pushes(page.streamID)))
        assert settledTables(theConnection(site)) == EMPTY_TABLES
    assert counts == [3, 0, 1, 3]
    refused = [a for a in log.attempts if a.error is not None]
    assert len(refused) == 5
    assert all(isinstance(a.error, PushLimitReachedError) for a in refused)


def test_pushDisabledMidConnection(serve):
    """
    A client that sends SETTINGS_ENABLE_PUSH=0 while a push is in flight:
    the push in flight completes, later pages get no pusher (and no
    promise), and the connection keeps no state.
    """
    site, log, root = buildSite([push(b"/big")])
    big = SlowBody(chunks=32)
    root.putChild(b"big", big)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        first = client.request(b"/")
        client.runUntil(lambda: len(client.pushes(first)) == 1)
        client.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
        client.flush()
        client.runUntil(client.settled(first))
        second = client.get(b"/")
        assert client.pushes(second.streamID) == []
        (inFlight,) = client.pushes(first)
        assert inFlight.ended and len(inFlight.body) == 32 * len(SlowBody.CHUNK)
        assert settledTables(theConnection(site)) == EMPTY_TABLES
    assert second.status == 200
    assert log.hadPusher == [True, False]
    assert big.finished == [True]


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(
            hyperframe.frame.RstStreamFrame(100, error_code=CANCEL),
            id="RST_STREAM-of-a-push-never-promised",
        ),
        pytest.param(
            hyperframe.frame.WindowUpdateFrame(100, window_increment=1),
            id="WINDOW_UPDATE-of-a-push-never-promised",
        ),
        pytest.param(
            hyperframe.frame.DataFrame(2, b"x", flags=["END_STREAM"]),
            id="DATA-on-a-pushed-stream",
        ),
        pytest.param(
            hyperframe.frame.PriorityFrame(2, depends_on=2),
            id="pushed-stream-depends-on-itself",
        ),
    ],
)
def test_framesAClientMayNotSendOnPushedStreams(serve, frame):
    """
    Frames a client may not send on server streams (on one never promised,
    DATA on a promised one, a self-dependency) end its connection with a
    GOAWAY naming a protocol error, or are ignored or answered by a reset
    while the connection goes on; either way it keeps no state, and the
    site serves other clients.
    """
    site, _log, root = buildSite([push(b"/big")])
    root.putChild(b"big", SlowBody(chunks=64))
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.request(b"/")
        client.runUntil(lambda: len(client.pushes(page)) == 1)
        connection = theConnection(site)
        client.sock.sendall(frame.serialize())
        with contextlib.suppress(OSError, ConnectionError, TimeoutError):
            client.runUntil(
                lambda: client.terminated is not None or client.pushes(page)[0].done,
                timeout=3,
            )
        if client.terminated is not None:
            assert client.terminated.errorCode == h2.errors.ErrorCodes.PROTOCOL_ERROR
        else:
            # Ignored (h2 ignores a reset of an idle stream), or the stream
            # reset: the connection goes on.
            assert client.get(b"/app.js").status == 200
    assert settledTables(connection) == EMPTY_TABLES
    wellBehavedVisit(server)


# Flow control: windows of 0 and 1 byte, never updated.


def _stalledPushes(
    serve: Callable[..., Any], window: int, **siteArguments: Any
) -> tuple[StallingClient, Any, int, SlowBody, Any]:
    """
    A page pushing /big (a flow-controlled producer of 4 MiB) and /app.js
    to a client whose initial window is C{window} and who opens only the
    page's window; return once the page is done and both pushes have their
    headers: the client, the server connection, the page's stream, the
    producer's resource and the server.
    """
    site, _log, root = buildSite([push(b"/big"), push(b"/app.js")], **siteArguments)
    big = SlowBody(chunks=256)
    root.putChild(b"big", big)
    server = serve(site)
    client = StallingClient(server.portNumber, settings={INITIAL_WINDOW_SIZE: window})
    streamID = client.requestWithWindow(b"/")
    client.runUntil(
        lambda: (
            client.streams[streamID].done
            and len(client.pushes(streamID)) == 2
            and all(p.headers is not None for p in client.pushes(streamID))
        )
    )
    return client, theConnection(site), streamID, big, server


@pytest.mark.parametrize("window", [0, 1])
def test_tinyWindowStallsOnlyThePushes(serve, window):
    """
    With SETTINGS_INITIAL_WINDOW_SIZE of 0 or 1 byte that the client never
    updates for pushed streams (it opens only the page's), the page is
    served whole while the pushes stall after their headers; the server
    queues at most what each pushed resource produced (its flow-controlled
    producer is paused after one chunk, a static body is queued once), and
    sits idle: its sending loop sleeps, and takes no turn while the client
    goes on pinging.
    """
    client, connection, streamID, big, _server = _stalledPushes(serve, window)
    with client:
        page = client.streams[streamID]
        assert (page.status, bytes(page.body)) == (200, PAGE)
        bigPush, appPush = client.pushes(streamID)
        client.runUntil(lambda: all(len(p.body) >= window for p in (bigPush, appPush)))
        # The server has read the WINDOW_UPDATE given back for those bytes.
        client.ping()
        assert waitFor(lambda: onReactor(sendingLoopAsleep, connection))
        turns = onReactor(SendingLoopTurns, connection)
        for _ in range(20):
            client.ping()
        asleep = onReactor(sendingLoopAsleep, connection)
        queued = queuedBytes(connection)
        paused = onReactor(lambda: connection.streams[bigPush.streamID].producer.paused)
        assert not bigPush.done and not appPush.done
        assert len(bigPush.body) <= window and len(appPush.body) <= window
    assert queued[appPush.streamID] <= len(APP_JS)
    assert queued[bigPush.streamID] <= len(SlowBody.CHUNK)
    assert paused
    assert big.rendered == 1 and big.finished == []
    assert asleep
    assert turns.turns == 0, f"{turns.turns} turns of the sending loop while stalled"


@pytest.mark.parametrize("window", [0, 1])
def test_idleTimeoutClosesAConnectionOfStalledPushes(serve, window):
    """
    With pushes stalled on a window the client never updates, the idle
    timeout (PushSite(timeout=2)) still closes the connection, with GOAWAY;
    the connection then keeps no stream state, and the site serves others.
    """
    client, connection, _streamID, _big, server = _stalledPushes(
        serve, window, timeout=2
    )
    with client, contextlib.suppress(TimeoutError):
        client.runUntil(lambda: client.closed, timeout=30)
    assert client.closed, "the server never timed the connection out"
    assert client.terminated is not None
    assert settledTables(connection) == EMPTY_TABLES
    wellBehavedVisit(server)


def test_idleTimeoutStopsStalledPushProducers(serve):
    """
    The producer of a push stalled by flow control is stopped when the idle
    timeout closes the connection.
    """
    client, _connection, _streamID, big, _server = _stalledPushes(serve, 0, timeout=2)
    with client, contextlib.suppress(TimeoutError):
        client.runUntil(lambda: client.closed, timeout=5)
    assert client.closed
    assert waitFor(lambda: big.stopped == [True], timeout=2)


# Twisted's stream tables lag behind h2's within one read.


@pytest.mark.parametrize("asset", ["queued", "producer"])
def test_windowUpdateResetAndRequestInOneRead(serve, asset):
    """
    A WINDOW_UPDATE, the reset of a stalled push and a new request, in one
    write (as a browser that cancels a push while it acknowledges data and
    asks for more may send them): the new request is answered, the
    connection stays open, the push's state and producer are gone, and
    nothing is logged as an error.
    """
    path = b"/app.js" if asset == "queued" else b"/big"
    site, _log, root = buildSite([push(path)])
    big = SlowBody(chunks=64)
    root.putChild(b"big", big)
    server = serve(site)
    with (
        capturedLog() as events,
        StallingClient(server.portNumber, settings={INITIAL_WINDOW_SIZE: 0}) as client,
    ):
        page = client.requestWithWindow(b"/")
        client.runUntil(
            lambda: (
                client.streams[page].done
                and len(client.pushes()) == 1
                and client.pushes()[0].headers is not None
            )
        )
        connection = theConnection(site)
        (stalled,) = client.pushes()
        # The push is stalled: what it produced waits for window, and the
        # server's sending loop sleeps.
        assert waitFor(lambda: stalledOnWindow(connection, stalled.streamID))
        client.conn.increment_flow_control_window(4096)
        client.reset(stalled.streamID)
        following = client.requestWithWindow(b"/style.css", flush=False)
        client.flush()
        with contextlib.suppress(TimeoutError, ConnectionError):
            client.runUntil(lambda: client.streams[following].done, timeout=3)
        assert client.streams[following].ended
        assert bytes(client.streams[following].body) == STYLE_CSS
        assert not client.closed and client.terminated is None
        assert settledTables(connection) == EMPTY_TABLES
    assert errorEvents(events) == []
    assert len(big.stopped) == big.rendered


class HoardingClient(H2Client):
    """
    A client that gives back no flow-control window until told to: the
    server fills the connection's window and waits.
    """

    acknowledging = False

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived) and not self.acknowledging:
            self.streams[event.stream_id].body += event.data
            return
        super()._handle(event)


def test_windowUpdateAndPushResetInOneRead(serve):
    """
    A client that lets the server fill the connection's window with a large
    push, then, in one write, gives back some window and resets the push
    (what a browser does when it finds the asset in its cache while it
    reads the page): its next request is answered whole, and nothing is
    logged as an error.
    """
    site, _log, root = buildSite([push(b"/large.js")])
    root.putChild(b"large.js", Data(b"x" * 200_000, "text/javascript"))
    server = serve(site)
    with capturedLog() as events, HoardingClient(server.portNumber) as client:
        page = client.request(b"/")
        client.runUntil(
            lambda: (
                client.streams[page].done
                and len(client.pushes()) == 1
                and len(client.pushes()[0].body) > 60_000
            )
        )
        connection = theConnection(site)
        (large,) = client.pushes()
        # The server has filled the connection's window and waits.
        assert waitFor(lambda: connectionWindowFull(connection))
        client.conn.increment_flow_control_window(50_000)
        client.reset(large.streamID)
        client.flush()
        # The server has read the WINDOW_UPDATE and the reset.
        assert waitFor(lambda: large.streamID not in tablesOf(connection)["streams"])
        client.acknowledging = True
        following = client.request(b"/style.css")
        with contextlib.suppress(TimeoutError):
            client.runUntil(lambda: client.streams[following].done, timeout=3)
        assert bytes(client.streams[following].body) == STYLE_CSS
        assert settledTables(connection) == EMPTY_TABLES
        gc.collect()
    assert errorEvents(events) == []


# The client's GOAWAY and a dropped TCP connection, with pushes in flight.


def _faultMidPush(serve, fault: str) -> tuple[Any, SlowBody, Any, Any]:
    """
    Two pushes of a 4 MiB flow-controlled body in flight (some bytes
    received), then C{fault}: the client's GOAWAY, or its socket closed.
    """
    site, log, root = buildSite([push(b"/big"), push(b"/big?2")])
    big = SlowBody(chunks=256)
    root.putChild(b"big", big)
    server = serve(site)
    client = H2Client(server.portNumber)
    streamID = client.request(b"/")
    client.runUntil(
        lambda: (
            len(client.pushes(streamID)) == 2
            and all(len(p.body) > 0 for p in client.pushes(streamID))
        )
    )
    connection = theConnection(site)
    assert not any(p.done for p in client.pushes(streamID))
    if fault == "goaway":
        client.goAway()
    else:
        # SO_LINGER 0: the close sends RST, as a crashed client's kernel does.
        client.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
    client.close()
    return connection, big, log, server


@pytest.mark.parametrize("fault", ["goaway", "drop"])
def test_faultMidPushLeavesNoState(serve, fault):
    """
    The client's GOAWAY, or its TCP connection dropped, while pushes are in
    flight: the server closes the connection, keeps no stream state, reports
    each push as not completed, and serves the next client.
    """
    connection, _big, log, server = _faultMidPush(serve, fault)
    assert waitFor(lambda: not onReactor(lambda: connection._stillProducing))
    assert settledTables(connection) == EMPTY_TABLES
    assert waitFor(lambda: all(a.result is not None for a in log.attempts))
    assert [a.result.completed for a in log.attempts] == [False, False]
    wellBehavedVisit(server)


@pytest.mark.parametrize("fault", ["goaway", "drop"])
def test_faultMidPushStopsProducers(serve, fault):
    """
    The client's GOAWAY, or its TCP connection dropped, while pushes are in
    flight: the producer of each push is stopped, none finishes.
    """
    _connection, big, _log, _server = _faultMidPush(serve, fault)
    assert waitFor(lambda: len(big.stopped) == big.rendered == 2, timeout=3)
    assert big.finished == []


# Pushed resources that fail, are missing or are slow.


def test_failingMissingAndSlowPushedResources(serve):
    """
    Pushed resources that raise (answered 500), are missing (404), answer
    500 themselves, or answer from a Deferred fired 1 s later: the page is
    served at once, whole, each push is answered, and only the one that
    raised is logged as an error, once.
    """
    pushes = [push(p) for p in (b"/raises.js", b"/missing.js", b"/five.js")]
    pushes += [push(b"/late.js"), push(b"/app.js")]
    site, log, root = buildSite(pushes)
    root.putChild(b"raises.js", Raises())
    root.putChild(b"five.js", Status(500))
    late = Late(1.0)
    root.putChild(b"late.js", late)
    server = serve(site)
    with capturedLog() as events, H2Client(server.portNumber) as client:
        streamID = client.request(b"/")
        client.runUntil(lambda: client.streams[streamID].done, timeout=0.8)
        page = client.streams[streamID]
        lateOne = client.pushes(streamID)[3]
        assert not lateOne.done, "the slow push finished before the page"
        client.runUntil(client.settled(streamID))
        connection = theConnection(site)
        assert settledTables(connection) == EMPTY_TABLES
    assert (page.status, bytes(page.body)) == (200, PAGE)
    answered = [(p.path, p.status) for p in client.pushes(streamID)]
    assert answered == [
        (b"/raises.js", 500),
        (b"/missing.js", 404),
        (b"/five.js", 500),
        (b"/late.js", 200),
        (b"/app.js", 200),
    ]
    assert bytes(lateOne.body) == b"late();\n" and late.finished == [True]
    (error,) = errorEvents(events)
    assert isinstance(error["log_failure"].value, RuntimeError)
    assert error["log_source"].uri == b"/raises.js"
    assert all(a.error is None for a in log.attempts)


def test_failingPushedResourceIsLoggedWithItsPath(serve):
    """
    The error logged for a pushed resource that raises names its path in
    the text that reaches the log.
    """
    site, _log, root = buildSite([push(b"/raises.js")])
    root.putChild(b"raises.js", Raises())
    server = serve(site)
    with capturedLog() as events, H2Client(server.portNumber) as client:
        client.get(b"/")
    (error,) = errorEvents(events)
    assert "/raises.js" in eventAsText(error, includeTraceback=False)


def test_slowPushOutlivedByItsConnection(serve):
    """
    A pushed resource whose Deferred fires after the client closed the
    connection finds its request disconnected; nothing is left behind.
    """
    site, log, root = buildSite([push(b"/late.js")])
    late = Late(0.5)
    root.putChild(b"late.js", late)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        streamID = client.request(b"/")
        client.runUntil(lambda: client.streams[streamID].done)
        connection = theConnection(site)
    assert waitFor(lambda: late.finished == [False])
    assert settledTables(connection) == EMPTY_TABLES
    assert waitFor(lambda: log.attempts[0].result is not None)
    assert log.attempts[0].result.completed is False


class _LateWrapped(Resource):
    """
    A wrapped resource that answers 0.3 s after the request came.

    @ivar rendered: How many requests it was asked to render.
    @ivar lateWrites: For each late write that ran, whether its request was
        disconnected by then.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.rendered = 0
        self.lateWrites: list[bool] = []

    def render_GET(self, request: Request) -> int:
        self.rendered += 1

        def answer() -> None:
            request.setHeader(b"content-type", b"text/html")
            request.write(PAGE)
            self.lateWrites.append(bool(request._disconnected))
            if not request._disconnected:
                request.finish()

        reactor.callLater(0.3, answer)
        return NOT_DONE_YET


def test_clientGoneBeforeThePageWrites(serve):
    """
    A client that asks for a page and leaves before the wrapped resource
    writes it: the late write runs on the disconnected request and is
    dropped quietly, with no error logged.
    """
    wrapped = _LateWrapped()
    resource = CacheAwarePushResource(
        wrapped, PushConfig(manifest=Manifest.fromMapping(MANIFEST))
    )
    site = PushSite(resource)
    site.noisy = False
    server = serve(site)
    with capturedLog() as events:
        with H2Client(server.portNumber) as client:
            client.request(b"/index.html")
            assert waitFor(lambda: wrapped.rendered == 1)
        assert waitFor(lambda: wrapped.lateWrites != [])
    assert wrapped.lateWrites == [True]
    assert errorEvents(events) == []


# Hostile digest cookies over a real connection.


def cacheAwareSite(
    directory: Path, resourceClass: type = CacheAwarePushResource, **config: Any
) -> tuple[PushSite, CacheAwarePushResource]:
    """A PushSite serving tests.sites' site through CacheAwarePushResource."""
    config.setdefault("manifest", Manifest.fromMapping(MANIFEST))
    resource = resourceClass(File(str(makeSite(directory))), PushConfig(**config))
    site = PushSite(resource)
    site.noisy = False
    return site, resource


MANIFEST = {"/index.html": ["/style.css", "/app.js"]}
_RANDOM = bytes(
    b
    for b in (
        (1103515245 * i + 12345) % 2**31 % 256 for i in range(4000)
    )  # A fixed pseudo-random byte string.
    if b not in b"\x00\r\n;"
)[:1000]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(_RANDOM, id="random-bytes"),
        pytest.param(b"\xff\xfe\x80" * 50, id="not-utf8"),
        pytest.param(b"A" * 8192, id="over-the-length-cap"),
        pytest.param(b"A" * MAX_COOKIE_VALUE_LENGTH, id="all-zero-bits"),
        pytest.param(b"_" * MAX_COOKIE_VALUE_LENGTH, id="all-one-bits"),
        pytest.param(b"gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", id="key-far-out"),
        pytest.param(b"=" * 100, id="padding-only"),
        pytest.param(b'"' * 3, id="quotes"),
    ],
)
def test_hostileDigestCookie(serve, tmp_path, value):
    """
    Whatever the digest cookie holds, the page is served with its pushes,
    and the cookie set in return reads back within the documented bounds.
    """
    site, _resource = cacheAwareSite(tmp_path)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/", headers=[(b"cookie", b"h2o_casper=" + value)])
        pushed = [p.path for p in client.pushes(page.streamID)]
    assert page.status == 200 and bytes(page.body) == INDEX_HTML
    expected = CacheDigest.fromCookieValue(value)
    assert pushed == [p for p in (b"/style.css", b"/app.js") if p not in expected]
    for name, header in page.headers or []:
        if name == b"set-cookie":
            cookieValue = header.split(b";", 1)[0].split(b"=", 1)[1]
            assert len(cookieValue) <= 2475
            digest = CacheDigest.fromCookieValue(cookieValue)
            assert len(digest) <= MAX_KEYS
            assert all(path in digest for path in pushed)


@pytest.mark.parametrize(
    ("headers", "errorCode"),
    [
        pytest.param(
            [(b"cookie", b"h2o_casper=AB\x00CD")],
            h2.errors.ErrorCodes.PROTOCOL_ERROR,
            id="NUL",
        ),
        pytest.param(
            [(b"cookie", b"h2o_casper=" + b"A" * 100_000)],
            h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
            id="100-KiB",
        ),
        pytest.param(
            [(b"cookie", b"a=b")] * 5000,
            h2.errors.ErrorCodes.ENHANCE_YOUR_CALM,
            id="5000-fields",
        ),
    ],
)
def test_refusedCookieHeaders(serve, tmp_path, headers, errorCode):
    """
    Cookie fields HTTP/2 forbids (NUL) or too large for the server's header
    list limit are refused with GOAWAY and a clear error code; other
    clients are served meanwhile.
    """
    site, _resource = cacheAwareSite(tmp_path)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.request(b"/", headers=headers)
        with contextlib.suppress(ConnectionError):
            client.runUntil(lambda: client.terminated is not None)
    assert client.terminated is not None
    assert client.terminated.errorCode == errorCode
    with H2Client(server.portNumber) as other:
        assert other.get(b"/").status == 200
        assert len(other.pushes()) == 2


# Hostile Link headers through CacheAwarePushResource.


class LinkingPages(Resource):
    """
    A site whose page C{/page} sets the Link header field values a test
    gives, and whose every other path is a small script.
    """

    def __init__(self, links: list[bytes]) -> None:
        super().__init__()
        self.links = links
        self.served: list[bytes] = []

    def getChild(self, path: bytes, request: Request) -> Resource:
        return _LinkingLeaf(self)


class _LinkingLeaf(Resource):
    isLeaf = True

    def __init__(self, owner: LinkingPages) -> None:
        super().__init__()
        self.owner = owner

    def render_GET(self, request: Request) -> bytes:
        self.owner.served.append(request.uri)
        if request.path.startswith(b"/page"):
            for value in self.owner.links:
                request.responseHeaders.addRawHeader(b"link", value)
            request.setHeader(b"content-type", b"text/html")
            return PAGE
        request.setHeader(b"content-type", b"text/javascript")
        return b"/* " + request.uri + b" */"


def linkedSite(links: list[bytes], maxPushes: int = 3) -> tuple[PushSite, LinkingPages]:
    """A PushSite whose CacheAwarePushResource wraps L{LinkingPages}."""
    pages = LinkingPages(links)
    resource = CacheAwarePushResource(
        pages, PushConfig(maxPushes=maxPushes, useDigest=False)
    )
    site = PushSite(resource)
    site.noisy = False
    return site, pages


def bigHeaderClient(port: int) -> H2Client:
    """A client that accepts response header lists of up to 8 MiB."""
    client = H2Client(port)
    client.conn.decoder.max_header_list_size = 8 << 20
    client.conn.local_settings.max_header_list_size = 8 << 20
    return client


def _links(paths: list[str]) -> bytes:
    return b", ".join(f"<{p}>; rel=preload".encode() for p in paths)


@pytest.mark.parametrize(
    ("links", "pushed"),
    [
        pytest.param(
            [_links([f"/a{i}.js" for i in range(3000)])], [], id="3000-in-one-field"
        ),
        pytest.param(
            [_links([f"/a{i}.js"]) for i in range(3000)],
            [b"/a0.js", b"/a1.js", b"/a2.js"],
            id="3000-fields",
        ),
        pytest.param(
            [b"</huge.js>; rel=preload; x=" + b"y" * 40_000, _links(["/ok.js"])],
            [],
            id="huge-value-first",
        ),
        pytest.param(
            [_links(["/ok.js"]), b"</huge.js>; rel=preload; x=" + b"y" * 40_000],
            [b"/ok.js"],
            id="huge-value-last",
        ),
        pytest.param(
            [
                b"</crlf.js>; rel=preload\r\nx-injected: yes",
                b"</cr\rlf.js>; rel=preload",
                b"</lf.js>; rel=preload\n, </ok.js>; rel=preload",
            ],
            [b"/lf.js", b"/ok.js"],
            id="CR-LF",
        ),
        pytest.param(
            [
                b"</../secret.txt>; rel=preload",
                b"</a/../../secret.txt>; rel=preload",
                b"</%2e%2e/secret.txt>; rel=preload",
                b"</%2E%2E%2Fsecret.txt>; rel=preload",
                b"</..%2fsecret.txt>; rel=preload",
                b"</.%2e/secret.txt>; rel=preload",
                b"</..\\secret.txt>; rel=preload",
                b"</%5c..%5csecret.txt>; rel=preload",
                b"</./ok.js>; rel=preload",
                b"</ok.js>; rel=preload",
            ],
            [b"/ok.js"],
            id="dot-segments-and-backslashes",
        ),
        pytest.param(
            [
                b"<//evil.example/x.js>; rel=preload",
                b"<https://evil.example/x.js>; rel=preload",
                b"<http://evil.example/x.js>; rel=preload",
                b"<http://localhost:1/x.js>; rel=preload",
                b"<http://user@localhost:{port}/x.js>; rel=preload",
                b"<HTTP://LOCALHOST:{port}/same.js>; rel=preload",
                b"<x.js>; rel=preload",
                b"<javascript:alert(1)>; rel=preload",
            ],
            [b"/same.js"],
            id="other-origins",
        ),
        pytest.param(
            [
                "</caf\u00e9.js>; rel=preload".encode(),
                b"</\xff\xfe.js>; rel=preload",
                "</ok.js>; rel=preload; title=\u00e9t\u00e9".encode(),
                b"</fine.js>; rel=preload",
            ],
            [b"/fine.js"],
            id="non-ASCII",
        ),
    ],
)
def test_hostileLinkHeaders(serve, links, pushed):
    """
    Link headers from the wrapped resource, hostile or huge: only safe
    paths of the page's own origin are pushed, at most PushConfig.maxPushes
    (3) of them; CR and LF never split a header; the page is served whole.
    """
    site, pages = linkedSite([])
    server = serve(site)
    with bigHeaderClient(server.portNumber) as client:
        port = str(server.portNumber).encode()
        pages.links = [value.replace(b"{port}", port) for value in links]
        page = client.get(b"/page")
        promised = [p.path for p in client.pushes(page.streamID)]
        assert settledTables(theConnection(site)) == EMPTY_TABLES
    assert (page.status, bytes(page.body)) == (200, PAGE)
    assert promised == pushed
    assert all(p.status == 200 for p in client.pushes(page.streamID))
    assert page.header(b"x-injected") is None
    assert not any(b"secret" in uri or b"evil" in uri for uri in pages.served)


def test_pushCapHoldsOnEveryPage(serve):
    """
    Page after page on one connection, each naming 50 new assets in Link
    headers, each pushes exactly PushConfig.maxPushes (3) of them.
    """
    site, pages = linkedSite([])
    server = serve(site)
    counts = []
    with H2Client(server.portNumber) as client:
        for n in range(5):
            pages.links = [_links([f"/p{n}/a{i}.js" for i in range(50)])]
            page = client.get(b"/page")
            assert page.status == 200
            counts.append(len(client.pushes(page.streamID)))
    assert counts == [3] * 5


# Push targets given by application code.


def test_moreRefusedPushArguments(serve):
    """
    Targets, methods and headers not covered by tests/test_push.py raise
    their typed errors; the page loads and nothing is promised.
    """
    site, log, _ = buildSite([])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        authority = client.authority
        host = authority.split(b":")[0]
        refused: list[tuple[Any, dict[str, Any], type]] = [
            (b"/a\tb.js", {}, InvalidPushTargetError),
            (b"/a\x00b.js", {}, InvalidPushTargetError),
            (b"/a\x7fb.js", {}, InvalidPushTargetError),
            (b"/caf\xc3\xa9.js", {}, InvalidPushTargetError),
            (b"http://" + host + b":1/app.js", {}, InvalidPushTargetError),
            (b"http://user@" + authority + b"/app.js", {}, InvalidPushTargetError),
            (b"http://" + authority + b"@evil.example/", {}, InvalidPushTargetError),
            (b"http://" + authority + b"?x", {}, InvalidPushTargetError),
            (b"http:///app.js", {}, InvalidPushTargetError),
            (b"?x", {}, InvalidPushTargetError),
            (b"#top", {}, InvalidPushTargetError),
            (b"javascript:alert(1)", {}, InvalidPushTargetError),
            (b"\\\\evil.example\\x", {}, InvalidPushTargetError),
            (b" /app.js", {}, InvalidPushTargetError),
            (b"/app.js ", {}, InvalidPushTargetError),
            (bytearray(b"/app.js"), {}, InvalidPushTargetError),
            (None, {}, InvalidPushTargetError),
            (b"/app.js", {"method": b"GET "}, InvalidPushMethodError),
            (b"/app.js", {"method": "G\u00c9T"}, InvalidPushMethodError),
            (b"/app.js", {"method": b""}, InvalidPushMethodError),
            (b"/app.js", {"method": None}, InvalidPushMethodError),
            (b"/app.js", {"headers": {b"": b"v"}}, InvalidPushHeaderError),
            (b"/app.js", {"headers": {b"x-a": 5}}, InvalidPushHeaderError),
            (b"/app.js", {"headers": {b"x-a": None}}, InvalidPushHeaderError),
            (b"/app.js", {"headers": {"x-caf\u00e9": "v"}}, InvalidPushHeaderError),
            (b"/app.js", {"headers": {b"X-A": b"\r"}}, InvalidPushHeaderError),
            (b"/app.js", {"headers": [b"ab"]}, InvalidPushHeaderError),
        ]
        site.resource.children[b""].pushes[:] = [
            (target, kwargs) for target, kwargs, _ in refused
        ]
        page = client.get(b"/")
        assert client.pushes() == []
    assert (page.status, bytes(page.body)) == (200, PAGE)
    assert [type(a.error) for a in log.attempts] == [error for _, _, error in refused]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([(b"x-a", b"1", b"2")], id="triple"),
        pytest.param([(b"x-a",)], id="single"),
        pytest.param(42, id="int"),
        pytest.param([42], id="int-item"),
        pytest.param(b"x-a: 1", id="bytes"),
    ],
)
def test_malformedPushHeadersRaiseTheTypedError(serve, headers):
    """
    Headers that are not a mapping or (name, value) pairs raise
    InvalidPushHeaderError, so that the page, which catches PushError, is
    served.
    """
    site, log, _ = buildSite([push(b"/app.js", headers=headers)])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
    assert page.status == 200
    assert isinstance(log.attempts[0].error, InvalidPushHeaderError)


def test_applicationTargetClimbingOutIsRefused(serve, tmp_path):
    """
    A push target with dot segments, plain or percent-encoded, is refused
    with InvalidPushTargetError, as manifests and Link headers are: nothing
    is promised, and the file outside the site never comes back.
    """
    secret, directory = _secretBesideSite(tmp_path)
    targets = [b"/files/../secret.txt", b"/files/%2e%2e/secret.txt"]
    site, log, root = buildSite([push(target) for target in targets])
    root.putChild(b"files", File(str(directory)))
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert client.pushes(page.streamID) == []
    assert page.status == 200 and secret not in bytes(page.body)
    assert [type(a.error) for a in log.attempts] == [InvalidPushTargetError] * 2


# Paths that would escape the served directory.

SECRET = b"TOP-SECRET-8d1c"
CLIMBING = [
    b"/../secret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2E%2E/secret.txt",
    b"/.%2e/secret.txt",
    b"/..%2fsecret.txt",
    b"/..%2Fsecret.txt",
    b"/%2e%2e%2fsecret.txt",
    b"/sub/../../secret.txt",
    b"/sub/%2e%2e/%2e%2e/secret.txt",
    b"/index.html/../../secret.txt",
    b"/..\\secret.txt",
    b"/%5c..%5csecret.txt",
    b"/..%5csecret.txt",
]
"""Paths that climb out of the served directory, however written."""

ESCAPES = [*CLIMBING, b"/%2fsecret.txt", b"//secret.txt", b"/..;/secret.txt"]
"""
The climbing paths, and forms that other servers have let escape (an
encoded slash, an empty first segment, Tomcat's C{..;}).
"""


def _secretBesideSite(directory: Path) -> tuple[bytes, Path]:
    """A site in C{directory}/site, and a secret file beside it."""
    site = makeSite(directory / "site")
    (site / "sub").mkdir()
    (directory / "secret.txt").write_bytes(SECRET)
    return SECRET, site


def test_escapesThroughTwistTxpush(tmp_path, nghttp):
    """
    C{twist txpush --path DIR}: requests whose :path climbs out of DIR
    (dot segments, percent-encoded, backslashes), sent raw by the python h2
    client and by nghttp, never get the secret file beside DIR; the page is
    served meanwhile.
    """
    _, site = _secretBesideSite(tmp_path)
    server = TwistServer(
        *("--path", str(site), "--listen", "tcp:0:interface=127.0.0.1"),
        stateDirectory=tmp_path / "state",
    )
    try:
        with H2Client(server.port()) as client:
            answers = {path: client.get(path) for path in ESCAPES}
            assert client.get(b"/").status == 200
        urls = [server.url(path=path.decode()) for path in ESCAPES]
        completed = subprocess.run(
            [nghttp, "-v", "--timeout=10", *urls],
            capture_output=True,
            timeout=60,
        )
    finally:
        server.stop()
    for path, stream in answers.items():
        assert stream.status != 200 and SECRET not in bytes(stream.body), path
    assert completed.returncode == 0, completed.stderr
    sent = re.findall(rb":path: (\S+)", completed.stdout)
    assert sorted(sent) == sorted(ESCAPES)
    statuses = re.findall(rb"recv \(stream_id=\d+\) :status: (\d+)", completed.stdout)
    assert len(statuses) == len(ESCAPES) and b"200" not in statuses
    assert SECRET not in completed.stdout


def test_manifestNamingAnEscapeIsRefused(tmp_path):
    """
    A manifest naming any escaping form is refused when it is loaded, with
    the file, line and path in one message; C{twist txpush} exits 64 with it.
    """
    _, site = _secretBesideSite(tmp_path)
    for escape in CLIMBING:
        manifestPath = tmp_path / "push.json"
        manifestPath.write_text(
            json.dumps({"/index.html": ["/style.css", escape.decode()]}, indent=1)
        )
        with pytest.raises(ManifestError) as raised:
            loadManifest(manifestPath, siteRoot=site)
        assert "push.json, line 4" in str(raised.value), escape
    twist = Path(sys.executable).parent / "twist"
    manifestPath.write_text(json.dumps({"/index.html": ["/../secret.txt"]}))
    completed = subprocess.run(
        [
            str(twist),
            "txpush",
            "--path",
            str(site),
            "--push-manifest",
            str(manifestPath),
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 64
    (line,) = completed.stderr.strip().splitlines()
    assert "--push-manifest" in line and "/../secret.txt" in line


class _LinkingFile(File):
    """A File whose HTML pages announce the escaping paths in Link headers."""

    def render_GET(self, request: Request) -> Any:
        if self.path.endswith(".html"):
            for escape in CLIMBING:
                request.responseHeaders.addRawHeader(
                    b"link", b"<" + escape + b">; rel=preload; as=script"
                )
        return super().render_GET(request)


class _EscapingAssets(CacheAwarePushResource):
    """A subclass whose assetsFor names an escaping path."""

    def assetsFor(self, request: Any) -> list[Any]:
        return [b"/style.css", b"/../secret.txt"]


def test_escapesThroughCacheAwarePushResource(serve, tmp_path):
    """
    CacheAwarePushResource(File(DIR)) whose pages announce every climbing
    form in Link headers, and a subclass whose assetsFor names one: none is
    pushed, the page is served, and no escaping request gets the secret.
    A manifest or an Asset made in code with one is refused when it is
    made.
    """
    _, site = _secretBesideSite(tmp_path)
    for escape in CLIMBING:
        with pytest.raises(ManifestError):
            Manifest.fromMapping({"/index.html": [escape.decode()]})
        with pytest.raises(ValueError):
            Asset(escape, "script")
    linking = CacheAwarePushResource(_LinkingFile(str(site)), PushConfig())
    escaping = _EscapingAssets(File(str(site)), PushConfig())
    for resource in (linking, escaping):
        pushSite = PushSite(resource)
        pushSite.noisy = False
        server = serve(pushSite)
        with capturedLog() as events, H2Client(server.portNumber) as client:
            page = client.get(b"/index.html")
            pushes = client.pushes(page.streamID)
            answers = [client.get(path) for path in ESCAPES]
        assert (page.status, bytes(page.body)) == (200, INDEX_HTML)
        assert pushes == []
        for answer in answers:
            assert answer.status != 200 and SECRET not in bytes(answer.body)
        if resource is escaping:
            # The subclass's bad asset is reported once per request, naming
            # it, and the response is unaffected.
            errors = errorEvents(events)
            assert len(errors) == 1 + len(ESCAPES)
            for error in errors:
                assert isinstance(error["log_failure"].value, ValueError)
                assert "/../secret.txt" in str(error["log_failure"].value)


# Load: the 30-second soak.


def test_soak30s(tmp_path):
    """
    30 seconds of the soak's load (L{txpush.testing.soak}, which
    bench/soak.py runs for minutes: h2load and the push client, in separate
    processes, the push client resetting pushes and dropping connections
    mid-push among its visits) against C{twist txpush}: no
    failed response, the file descriptors back to their count before the
    load (within 2) once the clients have closed, resident memory grown by
    less than 8 MiB from the end of a 10-second warm-up to the end, and no
    error in the server's log.
    """
    result = soak(duration=30, warmUp=10, workDirectory=tmp_path)
    assert result.failures == 0, (result.h2load.problems, result.push.problems)
    assert result.h2load.requests > 1000
    assert result.push.pages > 100 and result.push.pushesCompleted > 100
    assert result.push.resetsSent > 0 and result.push.drops > 0
    assert result.fdsAfter <= result.fdsBefore + 2, result.leakedDescriptors
    assert result.growthAfterWarmUp < 8192
    assert result.exitStatus == 0
    assert result.serverProblems == []


def _dropWhilePushing(port: int) -> None:
    """Load the page, and drop the connection once both pushes are flowing."""
    client = H2Client(port)
    streamID = client.request(b"/")
    client.runUntil(
        lambda: (
            len(client.pushes(streamID)) == 2
            and all(len(p.body) > 0 for p in client.pushes(streamID))
        )
    )
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()


def _openFiles(name: str) -> int:
    """How many descriptors of this process are open on a file called C{name}."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            count += Path(os.readlink(fd)).name == name
    return count


def test_droppedConnectionsKeepNoFileOpen(serve, tmp_path):
    """
    Connections dropped while static files are pushed to them close those
    files when they go, not at some later garbage collection (automatic
    collection is off here, as it may not run for long in a server).
    """
    (tmp_path / "big.bin").write_bytes(b"z" * (4 << 20))
    site, _log, root = buildSite([push(b"/files/big.bin"), push(b"/files/big.bin?2")])
    root.putChild(b"files", File(str(tmp_path)))
    server = serve(site)
    gc.disable()
    try:
        for _ in range(3):
            _dropWhilePushing(server.portNumber)
        assert waitFor(lambda: _openFiles("big.bin") == 0, timeout=3)
    finally:
        gc.enable()
