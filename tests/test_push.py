"""
Server push with real HTTP/2 clients over real loopback connections: the
python h2 library and nghttp, over cleartext HTTP/2 (prior knowledge) and
over TLS with ALPN.
"""

from __future__ import annotations

import json
import time

import h2.errors
import h2.settings
import pytest
from twisted.web.static import Data

from tests.conftest import loadExample, onReactor
from tests.pushapp import APP_JS, STYLE_CSS, SlowBody, buildSite, push
from txpush import (
    InvalidPushHeaderError,
    InvalidPushMethodError,
    InvalidPushTargetError,
    PushLimitReachedError,
    PushNotSupportedError,
    PushResult,
    RecursivePushError,
)
from txpush.testing.h2client import H2Client
from txpush.testing.nghttp import runNghttp
from txpush.testing.sendingloop import SendingLoopTurns, sendingLoopAsleep
from txpush.testing.waiting import waitFor

ASSETS = [push(b"/app.js"), push(b"/style.css")]


def connectionOf(server) -> list:
    """The server's open HTTP/2 connections' state, read on the reactor."""

    def read():
        return [
            (
                dict(c.streams),
                dict(c._outboundStreamQueues),
                set(c.pushState.pushedStreamIDs),
            )
            for c in _liveConnections(server)
        ]

    return onReactor(read)


def _liveConnections(server):
    from txpush._twisted.connection import PushingH2Connection

    return [
        obj
        for obj in __import__("gc").get_objects()
        if isinstance(obj, PushingH2Connection)
        and obj.site is server.site
        and obj._stillProducing
    ]


def test_pushesAssetsBeforeThePageBody(serve, transport):
    """
    Both assets are promised on the page's stream, answered through the
    site's resource tree, and carry the page's scheme and authority.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/")
        pushes = client.pushes(page.streamID)
    assert page.status == 200
    assert page.body == b"<html>page</html>"
    assert [p.path for p in pushes] == [b"/app.js", b"/style.css"]
    assert [bytes(p.body) for p in pushes] == [APP_JS, STYLE_CSS]
    assert [p.status for p in pushes] == [200, 200]
    for pushed in pushes:
        assert pushed.streamID % 2 == 0
        assert pushed.requestHeader(b":method") == b"GET"
        assert pushed.requestHeader(b":scheme") == server.scheme.encode()
        assert pushed.requestHeader(b":authority") == client.authority
    assert [a.error for a in log.attempts] == [None, None]


def test_pushResultReportsTheResponse(serve):
    """
    push() returns a Deferred that fires with what became of the push.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.get(b"/")
    waitFor(lambda: all(a.result is not None for a in log.attempts))
    results = [a.result for a in log.attempts]
    assert all(isinstance(r, PushResult) for r in results)
    assert [(r.path, r.completed, r.status, r.bytesSent) for r in results] == [
        (b"/app.js", True, 200, len(APP_JS)),
        (b"/style.css", True, 200, len(STYLE_CSS)),
    ]


def test_pushedStreamsDependOnTheirParent(serve):
    """
    In the server's priority tree, each pushed stream depends on the page's.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
    assert log.promisedParents == [page.streamID, page.streamID]


def test_absoluteURLOfTheSameOrigin(serve, transport):
    """
    An absolute URL with the page's scheme and authority is pushed as its
    path; a fragment is dropped.
    """
    site, _log, _ = buildSite([])
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        origin = f"{server.scheme}://{client.authority.decode()}"
        site.resource.children[b""].pushes[:] = [push(origin + "/app.js?v=2#top")]
        page = client.get(b"/")
        (pushed,) = client.pushes(page.streamID)
    assert pushed.path == b"/app.js?v=2"
    assert bytes(pushed.body) == APP_JS


@pytest.mark.parametrize(
    "target",
    [
        b"app.js",
        b"",
        b"//evil.example/app.js",
        b"https://evil.example/app.js",
        b"ftp://localhost/app.js",
        "/caf\u00e9.js",
        b"/a b.js",
        b"/a\r\nb.js",
        42,
    ],
)
def test_refusedTargets(serve, target):
    """
    Relative, scheme-relative, cross-origin, other-scheme and malformed
    targets raise InvalidPushTargetError; the page still loads and nothing is
    promised.
    """
    site, log, _ = buildSite([push(target)])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert client.pushes() == []
    assert page.status == 200
    (attempt,) = log.attempts
    assert isinstance(attempt.error, InvalidPushTargetError)


def test_otherSchemeOfTheSameHostIsRefused(serve):
    """
    An https URL of the page's host:port is refused on a cleartext page.
    """
    site, log, _ = buildSite([])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        target = b"https://" + client.authority + b"/app.js"
        site.resource.children[b""].pushes[:] = [push(target)]
        client.get(b"/")
        assert client.pushes() == []
    assert isinstance(log.attempts[0].error, InvalidPushTargetError)
    assert "scheme" in str(log.attempts[0].error)


@pytest.mark.parametrize("method", [b"POST", b"PUT", b"DELETE", "OPTIONS", b"CONNECT"])
def test_refusedMethods(serve, method):
    """
    Only GET and HEAD may be pushed.
    """
    site, log, _ = buildSite([push(b"/app.js", method=method)])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.get(b"/")
        assert client.pushes() == []
    assert isinstance(log.attempts[0].error, InvalidPushMethodError)


def test_headPush(serve):
    """
    A HEAD push promises a HEAD request and answers it without a body.
    """
    site, _log, _ = buildSite([push(b"/echo", method="head")])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        (pushed,) = client.pushes(page.streamID)
    assert pushed.requestHeader(b":method") == b"HEAD"
    assert pushed.status == 200
    assert pushed.body == b""


@pytest.mark.parametrize(
    "headers",
    [
        {b":path": b"/x"},
        {"content-length": "3"},
        {b"Content-Encoding": b"gzip"},
        {b"trailer": b"x"},
        {b"te": b"trailers"},
        {b"expect": b"100-continue"},
        {b"host": b"evil.example"},
        {b"connection": b"close"},
        {b"keep-alive": b"5"},
        {b"proxy-connection": b"x"},
        {b"transfer-encoding": b"chunked"},
        {b"upgrade": b"h2c"},
        {b"x-ok": b"a\r\nx-injected: 1"},
        {b"x-ok": b"a\nb"},
        {b"x-ok": b"a\x00b"},
        {b"bad name": b"v"},
        {b"x-\r\n": b"v"},
    ],
)
def test_refusedHeaders(serve, headers):
    """
    Pseudo-headers, headers a promised request may not carry, and names or
    values with CR, LF or NUL are refused.
    """
    site, log, _ = buildSite([push(b"/app.js", headers=headers)])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.get(b"/")
        assert client.pushes() == []
    assert isinstance(log.attempts[0].error, InvalidPushHeaderError)


def test_promisedRequestHeaders(serve, transport):
    """
    The pushed request copies user-agent, accept-encoding, accept-language
    and cache-control from the page, adds the caller's headers (which win),
    and never copies cookies or authorization.
    """
    site, _log, _ = buildSite(
        [push(b"/echo", headers={b"x-extra": b"1", b"Accept-Language": b"fr"})]
    )
    server = serve(site, tls=transport == "tls")
    pageHeaders = [
        (b"user-agent", b"test-agent/1"),
        (b"accept-encoding", b"gzip"),
        (b"accept-language", b"en"),
        (b"cache-control", b"no-cache"),
        (b"cookie", b"session=secret"),
        (b"authorization", b"Bearer secret"),
        (b"referer", b"https://elsewhere/"),
    ]
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/", headers=pageHeaders)
        (pushed,) = client.pushes(page.streamID)
    echoed = json.loads(pushed.body)
    assert echoed["method"] == "GET"
    assert echoed["uri"] == "/echo"
    assert echoed["secure"] is server.tls
    assert echoed["headers"] == {
        "host": [client.authority.decode()],
        "user-agent": ["test-agent/1"],
        "accept-encoding": ["gzip"],
        "accept-language": ["fr"],
        "cache-control": ["no-cache"],
        "x-extra": ["1"],
    }


def test_cookiesWhenTheCallerPassesThem(serve):
    """
    A caller that needs the pushed request to carry a cookie passes it.
    """
    site, _log, _ = buildSite([push(b"/echo", headers=[("cookie", "a=1")])])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/", headers=[(b"cookie", b"session=secret")])
        (pushed,) = client.pushes(page.streamID)
    assert json.loads(pushed.body)["headers"]["cookie"] == ["a=1"]


def test_clientDisablesPush(serve, transport):
    """
    A client that sends SETTINGS_ENABLE_PUSH=0 gets no pusher: IPusher is
    None and the page loads.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        page = client.get(b"/")
        assert client.pushes() == []
    assert page.status == 200
    assert log.hadPusher == [False]


def test_http11GetsNoPusher(serve, transport):
    """
    HTTP/1.1 on the same ports is served as by a stock Site, with no pusher.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site, tls=transport == "tls")
    connection = server.http11Connection()
    connection.request("GET", "/")
    response = connection.getresponse()
    assert (response.status, response.read()) == (200, b"<html>page</html>")
    connection.request("GET", "/app.js")
    assert connection.getresponse().read() == APP_JS
    connection.close()
    assert log.hadPusher == [False]


def test_prefaceInSmallPieces(serve):
    """
    A prior-knowledge preface that arrives a byte at a time still starts
    HTTP/2.
    """
    import socket

    import h2.config
    import h2.connection

    site, _log, _ = buildSite(ASSETS)
    server = serve(site)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    with socket.create_connection(("127.0.0.1", server.portNumber), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in conn.data_to_send():
            sock.sendall(bytes([byte]))
            time.sleep(0.001)
        sock.settimeout(5)
        events = conn.receive_data(sock.recv(65536))
    assert any(type(e).__name__ == "RemoteSettingsChanged" for e in events)


def test_recursivePushRefused(serve):
    """
    A pushed request's resource that tries to push gets RecursivePushError;
    its own response still goes out.
    """
    site, log, _ = buildSite([push(b"/recursive.js")])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        (pushed,) = client.pushes(page.streamID)
    assert pushed.body == b"recursive"
    (error,) = log.recursiveErrors
    assert isinstance(error, RecursivePushError)


def test_limitFromClientMaxConcurrentStreams(serve):
    """
    A client that allows one concurrent stream gets one push per page: the
    second raises PushLimitReachedError.
    """
    site, log, _ = buildSite(ASSETS)
    server = serve(site)
    settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    with H2Client(server.portNumber, settings=settings) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes(page.streamID)] == [b"/app.js"]
    assert log.attempts[0].error is None
    assert isinstance(log.attempts[1].error, PushLimitReachedError)


def test_limitFromTheSite(serve):
    """
    The site's own cap applies when it is below the client's.
    """
    site, log, _ = buildSite(
        [push(f"/app.js?{i}") for i in range(5)], maxConcurrentPushes=2
    )
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert len(client.pushes(page.streamID)) == 2
    assert [type(a.error).__name__ for a in log.attempts] == ["NoneType"] * 2 + [
        "PushLimitReachedError"
    ] * 3


def test_limitFreesAsPushesFinish(serve):
    """
    The limit counts open pushed streams: once they finish, later pages push
    again.
    """
    site, log, _ = buildSite(ASSETS, maxConcurrentPushes=2)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        for _ in range(3):
            page = client.get(b"/")
            assert len(client.pushes(page.streamID)) == 2
    assert all(a.error is None for a in log.attempts)


def test_pushOfAMissingResourceIs404(serve):
    """
    A push whose resource does not exist is answered 404 on its stream; the
    page is unaffected.
    """
    site, _log, _ = buildSite([push(b"/missing.js"), push(b"/app.js")])
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        missing, app = client.pushes(page.streamID)
    assert (page.status, missing.status, app.status) == (200, 404, 200)
    assert bytes(app.body) == APP_JS


RESET_CODES = [h2.errors.ErrorCodes.CANCEL, h2.errors.ErrorCodes.REFUSED_STREAM]


@pytest.mark.parametrize("code", RESET_CODES)
def test_clientResetsPushesOnTheirHeaders(serve, transport, code):
    """
    A client that resets each push once its response has started still gets
    the page; the pushed response's producer is stopped, its state freed.
    """
    site, _log, root = buildSite([push(b"/big"), push(b"/app.js")])
    big = SlowBody(chunks=512)
    root.putChild(b"big", big)
    server = serve(site, tls=transport == "tls")

    def resetPush(client, stream):
        client.reset(stream.streamID, code)

    with H2Client(
        server.portNumber, tls=server.tls, onPushResponse=resetPush
    ) as client:
        page = client.get(b"/")
        assert page.status == 200 and page.body == b"<html>page</html>"
        assert client.pushes(page.streamID)[0].resetByClient
        assert waitFor(lambda: big.stopped)
        assert bytes(client.get(b"/app.js").body) == APP_JS
        ((streams, queues, pushed),) = connectionOf(server)
    assert big.rendered == 1 and big.stopped == [True] and big.finished == []
    assert streams == {} and queues == {} and pushed == set()


@pytest.mark.parametrize("code", RESET_CODES)
def test_clientResetsPushesOnTheirPromise(serve, transport, code):
    """
    A client that resets each push as soon as it is promised still gets the
    page; a pushed response is never finished and leaves no state behind.
    """
    site, _log, root = buildSite([push(b"/big"), push(b"/app.js")])
    big = SlowBody(chunks=512)
    root.putChild(b"big", big)
    server = serve(site, tls=transport == "tls")

    def resetPush(client, stream):
        client.reset(stream.streamID, code)

    with H2Client(server.portNumber, tls=server.tls, onPushPromise=resetPush) as client:
        page = client.get(b"/")
        assert page.status == 200 and page.body == b"<html>page</html>"
        assert all(p.resetByClient for p in client.pushes(page.streamID))
        assert bytes(client.get(b"/app.js").body) == APP_JS
        waitFor(lambda: connectionOf(server) == [({}, {}, set())])
        ((streams, queues, pushed),) = connectionOf(server)
    # Reset before its dispatch, the request is never rendered; after, its
    # producer is stopped.  Either way it never completes.
    assert big.stopped == [True] * big.rendered and big.finished == []
    assert streams == {} and queues == {} and pushed == set()


def test_resettingPushesIsNotRapidReset(serve):
    """
    Resets of pushed streams are normal: a client that resets every push of
    many pages (twice Twisted's Rapid Reset burst of 1000) is not
    disconnected.
    """
    site, _log, _ = buildSite([push(f"/app.js?{i}") for i in range(20)])
    server = serve(site)

    def resetPush(client, stream):
        client.reset(stream.streamID)

    with H2Client(server.portNumber, onPushPromise=resetPush) as client:
        for _ in range(100):
            page = client.get(b"/")
            assert page.status == 200
        assert client.terminated is None
        assert len(client.pushes()) == 2000
        assert client.resetsSent == 2000


def test_goAwayStopsPushing(serve):
    """
    After the client's GOAWAY there is no pusher, and a pusher taken before
    it raises PushNotSupportedError.
    """
    site, log, _ = buildSite(ASSETS, delay=0.3)
    server = serve(site)
    captured = capturePushers(site, b"hold")
    with H2Client(server.portNumber) as client:
        client.get(b"/hold")
        client.request(b"/")
        # The server has read the request (its answer waits 0.3 s) once it
        # answers a PING sent after it.
        client.ping()
        client.goAway()
        assert waitFor(lambda: log.hadPusher != [])
    (pusher,) = captured
    assert pusher is not None
    assert log.hadPusher == [False]
    with pytest.raises(PushNotSupportedError):
        onReactor(pusher.push, b"/app.js")


def test_pushAfterThePageFinishedIsRefused(serve):
    """
    Once the page's response has ended, push raises PushNotSupportedError.
    """
    site, _log, _ = buildSite([])
    server = serve(site)
    captured = capturePushers(site, b"done")
    with H2Client(server.portNumber) as client:
        client.get(b"/done")
        (pusher,) = captured
        with pytest.raises(PushNotSupportedError):
            onReactor(pusher.push, b"/app.js")


def capturePushers(site, name):
    """
    Add a resource at /NAME that answers at once and keeps its request's
    pusher; return the list the pushers go to.
    """
    captured = []
    site.resource.putChild(name, _PusherCapture(captured))
    return captured


class _PusherCapture(Data):
    def __init__(self, captured):
        super().__init__(b"", "text/plain")
        self.captured = captured

    def render_GET(self, request):
        from txpush import IPusher

        self.captured.append(IPusher(request, None))
        return b"captured"


NGHTTP_ROW = r"^\s*(\d+)\s+\S+\s+(\*?)\s*\S+\s+\S+\s+(\d+)\s+\d+\s+(\S+)\s*$"


def nghttpStatistics(nghttp, url, *options):
    """
    Fetch a page and its assets with nghttp -ans; return {path: (pushed,
    status)}.
    """
    import re

    rows = {}
    for line in runNghttp(nghttp, "-ans", *options, url).splitlines():
        match = re.match(NGHTTP_ROW, line)
        if match:
            _, star, code, path = match.groups()
            rows[path] = (star == "*", int(code))
    return rows


def test_goBlogExampleWithNghttp(serve, transport, nghttp):
    """
    The Go blog's example app: nghttp -ans sees both assets pushed, over
    TLS and over h2c; with --no-push it fetches them itself.
    """
    gopush = loadExample("gopush")
    server = serve(gopush.buildSite(), tls=transport == "tls")
    assert nghttpStatistics(nghttp, server.url()) == {
        "/": (False, 200),
        "/app.js": (True, 200),
        "/style.css": (True, 200),
    }
    assert nghttpStatistics(nghttp, server.url(), "--no-push") == {
        "/": (False, 200),
        "/app.js": (False, 200),
        "/style.css": (False, 200),
    }


def test_zeroWindowDoesNotSpin(serve):
    """
    A client that opens no flow-control window (initial window 0) gets its
    headers, and the server waits for a WINDOW_UPDATE without spinning: its
    sending loop sleeps and takes no turn while the client goes on pinging,
    its idle timeout closes the connection, and other clients are served
    meanwhile.
    """
    site, _log, _ = buildSite(ASSETS, timeout=2)
    server = serve(site)
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with H2Client(server.portNumber, settings=settings) as client:
        streamID = client.request(b"/")
        client.runUntil(lambda: client.streams[streamID].headers is not None)
        (connection,) = _liveConnections(server)
        assert waitFor(lambda: onReactor(sendingLoopAsleep, connection))
        turns = onReactor(SendingLoopTurns, connection)
        for _ in range(20):
            client.ping()
        asleep = onReactor(sendingLoopAsleep, connection)
        with H2Client(server.portNumber) as other:
            assert other.get(b"/app.js").status == 200
        client.runUntil(
            lambda: client.closed or client.terminated is not None, timeout=10
        )
    assert asleep
    assert turns.turns == 0, f"{turns.turns} turns of the sending loop while stalled"
    assert client.streams[streamID].body == b""


def test_windowOpenedBySettings(serve):
    """
    A client that starts with a window of 0 and opens it with
    SETTINGS_INITIAL_WINDOW_SIZE alone (no WINDOW_UPDATE) gets its response.
    """
    site, _log, _ = buildSite(ASSETS)
    server = serve(site)
    settings = {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
    with H2Client(server.portNumber, settings=settings) as client:
        streamID = client.request(b"/")
        client.runUntil(lambda: client.streams[streamID].headers is not None)
        (connection,) = _liveConnections(server)
        assert waitFor(lambda: onReactor(sendingLoopAsleep, connection))
        client.ping()
        assert client.streams[streamID].body == b""
        client.conn.update_settings(
            {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535}
        )
        client.flush()
        client.runUntil(client.settled(streamID))
    assert client.streams[streamID].body == b"<html>page</html>"
    assert [bytes(p.body) for p in client.pushes(streamID)] == [APP_JS, STYLE_CSS]
