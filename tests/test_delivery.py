"""
The digest names an asset only when the client got it whole and can keep
it: real clients (the python h2 library and nghttp) against a
L{CacheAwarePushResource} on loopback, for each way a push can fail.
"""

from __future__ import annotations

import re

import pytest
from twisted.logger import LogLevel, globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from tests.conftest import onReactor
from tests.sites import INDEX_HTML, LOGO_PNG, STYLE_CSS, makeSite
from tests.test_resource import fetchedPaths, pushedPaths
from txpush import CacheAwarePushResource, PushConfig, PushSite
from txpush.digest import CacheDigest
from txpush.manifest import Manifest, loadManifest
from txpush.testing.digests import cookieDigest, digestCookie
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.nghttp import runNghttp
from txpush.testing.waiting import waitFor

FONT_WOFF2 = b"wOF2" + bytes(range(256)) * 8


class Failing(Resource):
    """An asset that answers C{code}, as a broken application would."""

    isLeaf = True

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def render_GET(self, request):
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", b"text/plain")
        return b"broken\n"


class NotToKeep(Resource):
    """A script served with C{Cache-Control: no-store}."""

    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/javascript")
        request.setHeader(b"cache-control", b"private, no-store")
        return b"console.log('secret');\n"


class Held(Resource):
    """
    A script that writes its headers and a first part, then holds the
    rest: its response ends only when the client resets it or leaves.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.held: list[object] = []
        self.ended: list[bool] = []

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/javascript")
        request.write(b"// the first part\n")
        self.held.append(request)

        def ended(_):
            self.held.remove(request)
            self.ended.append(True)

        request.notifyFinish().addBoth(ended)
        return NOT_DONE_YET

    def release(self) -> None:
        """End the responses still held (in the reactor thread)."""
        for request in list(self.held):
            request.finish()


def serveSite(serve, siteDirectory, assets, children=(), tls=False, **config):
    """
    Serve C{siteDirectory} with C{children} added, pushing C{assets} for
    its index page.
    """
    root = File(str(siteDirectory))
    for name, child in children:
        root.putChild(name, child)
    manifest = Manifest.fromMapping({"/index.html": assets})
    resource = CacheAwarePushResource(root, PushConfig(manifest=manifest, **config))
    site = PushSite(resource)
    site.noisy = False
    return serve(site, tls=tls), resource


@pytest.fixture
def siteDirectory(tmp_path):
    directory = makeSite(tmp_path / "site")
    (directory / "font.woff2").write_bytes(FONT_WOFF2)
    return directory


@pytest.fixture
def warnings():
    """The warnings logged while the test runs."""
    seen: list[dict] = []

    def observe(event):
        if event.get("log_level") == LogLevel.warn:
            seen.append(event)

    globalLogPublisher.addObserver(observe)
    yield seen
    globalLogPublisher.removeObserver(observe)


def cookieHeader(stream: Stream) -> list[tuple[bytes, bytes]]:
    cookie = digestCookie(stream)
    assert cookie is not None, "the response set no digest cookie"
    return [(b"cookie", cookie)]


def named(*paths: bytes) -> set[int]:
    digest = CacheDigest()
    for path in paths:
        digest.add(path)
    return set(digest.keys())


@pytest.mark.parametrize(
    ("path", "resource", "status"),
    [(b"/gone.js", None, 404), (b"/broken.js", Failing(500), 500)],
)
def test_pushedErrorIsTakenBack(
    serve, transport, siteDirectory, warnings, path, resource, status
):
    """
    A pushed asset that answers 404 or 500: the next response on the
    connection sets a cookie without it; a new visit with the first cookie
    gets a cookie without it too, and does not push it again for a while;
    one warning names the page, the asset and where it was listed.
    """
    children = [] if resource is None else [(path[1:], resource)]
    server, served = serveSite(
        serve,
        siteDirectory,
        ["/style.css", path.decode()],
        children,
        tls=transport == "tls",
    )
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/")
        assert [(p.path, p.status) for p in client.pushes()] == [
            (b"/style.css", 200),
            (path, status),
        ]
        # The page's cookie went out while the pushes were in flight.
        firstCookie = cookieHeader(page)
        assert waitFor(lambda: len(served.undelivered) == 1)
        following = client.get(b"/logo.png", headers=firstCookie)
    corrected = cookieDigest(following)
    assert corrected is not None
    assert set(corrected.keys()) == named(b"/style.css", b"/logo.png")
    with H2Client(server.portNumber, tls=server.tls) as client:
        repeat = client.get(b"/", headers=firstCookie)
        assert client.pushes() == []
    again = cookieDigest(repeat)
    assert again is not None and set(again.keys()) == named(b"/style.css")
    assert served.counters.skippedFailing == 1
    (warning,) = warnings
    text = warning["log_format"].format(**warning)
    assert f"Asset {path.decode()} of page /" in text
    assert f"answered {status}" in text and "the manifest" in text


def test_errorIsPushedAgainAfterItsRetryTime(serve, siteDirectory, warnings):
    """
    With a retry time of 0, the failing asset is pushed again on the next
    visit; it is still logged once.
    """
    server, _ = serveSite(
        serve, siteDirectory, ["/style.css", "/gone.js"], failedAssetRetry=0
    )
    for _ in range(2):
        with H2Client(server.portNumber) as client:
            client.get(b"/")
            assert [p.path for p in client.pushes()] == [b"/style.css", b"/gone.js"]
    assert len(warnings) == 1


def test_noStorePushIsTakenBack(serve, siteDirectory):
    """
    A pushed response with Cache-Control: no-store is not kept by the
    client: the next response's cookie does not name it.
    """
    server, served = serveSite(
        serve,
        siteDirectory,
        ["/style.css", "/secret.js"],
        [(b"secret.js", NotToKeep())],
    )
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert [p.status for p in client.pushes()] == [200, 200]
        assert waitFor(lambda: len(served.undelivered) == 1)
        following = client.get(b"/logo.png", headers=cookieHeader(page))
    assert set(cookieDigest(following).keys()) == named(b"/style.css", b"/logo.png")


def serveHeld(serve, siteDirectory, held, transport):
    """Serve the site, pushing the stylesheet and C{held} for its page."""
    return serveSite(
        serve,
        siteDirectory,
        ["/style.css", "/held.js"],
        [(b"held.js", held)],
        tls=transport == "tls",
    )


def visitUntilHeld(client: H2Client) -> Stream:
    """Get the page, until its push of the held script has started."""
    streamID = client.request(b"/")
    client.runUntil(
        lambda: (
            client.streams[streamID].done
            and any(p.path == b"/held.js" and p.status for p in client.pushes())
        )
    )
    return client.streams[streamID]


def test_pushResetByTheClientIsTakenBack(serve, transport, siteDirectory):
    """
    A push the client resets before its end: the next response on the
    connection sets a cookie without it.
    """
    held = Held()
    server, _ = serveHeld(serve, siteDirectory, held, transport)
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = visitUntilHeld(client)
        firstCookie = cookieHeader(page)
        assert set(cookieDigest(page).keys()) == named(b"/style.css", b"/held.js")
        (pushed,) = [p for p in client.pushes() if p.path == b"/held.js"]
        client.reset(pushed.streamID)
        client.flush()
        assert waitFor(lambda: held.ended == [True])
        following = client.get(b"/logo.png", headers=firstCookie)
    assert set(cookieDigest(following).keys()) == named(b"/style.css", b"/logo.png")


def test_pushCutOffWithTheConnectionIsPushedAgain(serve, transport, siteDirectory):
    """
    A push cut off with its connection: the client's next visit, on a new
    connection with the cookie it got, gets it pushed again (and not the
    stylesheet, which it got whole).
    """
    held = Held()
    server, served = serveHeld(serve, siteDirectory, held, transport)
    with H2Client(server.portNumber, tls=server.tls) as client:
        firstCookie = cookieHeader(visitUntilHeld(client))
    assert waitFor(lambda: held.ended == [True] and len(served.undelivered) == 1)
    with H2Client(server.portNumber, tls=server.tls) as client:
        streamID = client.request(b"/", headers=firstCookie)
        client.runUntil(
            lambda: (
                client.streams[streamID].done
                and any(p.path == b"/held.js" for p in client.pushes())
            )
        )
        assert [p.path for p in client.pushes()] == [b"/held.js"]
        onReactor(held.release)


def test_imagesAndFontsAreNotPushedAgain(serve, transport, siteDirectory, nghttp):
    """
    With the defaults, a repeat visit carrying the cookie pushes none of
    the first visit's assets, images and fonts included (h2 and nghttp).
    """
    assets = ["/style.css", "/logo.png", "/font.woff2"]
    server, _ = serveSite(serve, siteDirectory, assets, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/")
        pushes = client.pushes()
        assert [(p.path, p.status) for p in pushes] == [
            (b"/style.css", 200),
            (b"/logo.png", 200),
            (b"/font.woff2", 200),
        ]
        assert [bytes(p.body) for p in pushes] == [STYLE_CSS, LOGO_PNG, FONT_WOFF2]
    assert bytes(page.body) == INDEX_HTML
    with H2Client(server.portNumber, tls=server.tls) as client:
        client.get(b"/", headers=cookieHeader(page))
        assert client.pushes() == []
    first = runNghttp(nghttp, "-ans", "-v", server.url())
    assert pushedPaths(first) == ["/font.woff2", "/logo.png", "/style.css"]
    cookie = re.search(r"set-cookie: (h2o_casper=[^;]+)", first).group(1)
    repeat = runNghttp(nghttp, "-ans", "-H", f"cookie: {cookie}", server.url())
    assert pushedPaths(repeat) == []
    assert "/logo.png" in fetchedPaths(repeat)


def test_nghttpSeesThePushed404TakenBack(serve, siteDirectory, nghttp):
    """
    nghttp, with the cookie of a first visit whose push answered 404: the
    repeat visit's page sets a cookie that no longer names it.
    """
    server, served = serveSite(serve, siteDirectory, ["/style.css", "/gone.js"])
    first = runNghttp(nghttp, "-ns", "-v", server.url())
    assert ":status: 404" in first
    cookie = re.search(r"set-cookie: (h2o_casper=[^;]+)", first).group(1)
    assert set(CacheDigest.fromCookieValue(cookie.split("=", 1)[1]).keys()) == named(
        b"/style.css", b"/gone.js"
    )
    assert waitFor(lambda: len(served.undelivered) == 1)
    repeat = runNghttp(nghttp, "-ns", "-v", "-H", f"cookie: {cookie}", server.url())
    assert "PUSH_PROMISE" not in repeat
    updated = re.search(r"set-cookie: h2o_casper=([^;]+)", repeat).group(1)
    assert set(CacheDigest.fromCookieValue(updated).keys()) == named(b"/style.css")


def test_http11PageSetsNoCookieForWhatItDidNotSend(serve, siteDirectory):
    """
    Over HTTP/1.1 with hints off, nothing is pushed or hinted: the page
    sets no digest cookie.
    """
    server, _ = serveSite(serve, siteDirectory, ["/style.css", "/logo.png"])
    connection = server.http11Connection()
    connection.request("GET", "/")
    response = connection.getresponse()
    response.read()
    assert response.status == 200
    assert response.getheader("set-cookie") is None


class LinkingPage(Resource):
    """A page whose response lists a mistyped asset in a Link header."""

    isLeaf = True

    def render_GET(self, request):
        request.setHeader(b"content-type", b"text/html")
        request.responseHeaders.addRawHeader(
            b"link", b"</stlye.css>; rel=preload; as=style"
        )
        return INDEX_HTML


class TypingResource(CacheAwarePushResource):
    """A subclass whose assetsFor names a script that does not exist."""

    def assetsFor(self, request):
        return [b"/js/ap.js"] if request.path == b"/page" else []


def test_subclassTyposAreLoggedWithTheirSource(
    serve, tmp_path, siteDirectory, warnings
):
    """
    A subclass of the resource, its assetsFor, a manifest file and the
    page's Link header each naming a path that does not exist: each push
    answers 404, and is logged once, naming the page, the asset and where
    it was listed; the next visit pushes none of them.
    """
    manifestFile = tmp_path / "push.json"
    manifestFile.write_text(
        '{\n  "/page": [\n    "/style.css",\n    "/ap.js"\n  ]\n}\n'
    )
    root = File(str(siteDirectory))
    root.putChild(b"page", LinkingPage())
    resource = TypingResource(root, PushConfig(manifest=loadManifest(manifestFile)))
    site = PushSite(resource)
    site.noisy = False
    server = serve(site)
    for visit in range(2):
        with H2Client(server.portNumber) as client:
            client.get(b"/page")
            statuses = {p.path: p.status for p in client.pushes()}
        if visit == 0:
            assert statuses == {
                b"/js/ap.js": 404,
                b"/style.css": 200,
                b"/ap.js": 404,
                b"/stlye.css": 404,
            }
            assert waitFor(lambda: len(warnings) == 3)
        else:
            assert statuses == {b"/style.css": 200}
    texts = sorted(w["log_format"].format(**w) for w in warnings)
    assert len(texts) == 3
    assert "Asset /ap.js of page /page answered 404" in texts[0]
    assert f"listed by {manifestFile}, line 4" in texts[0]
    assert "Asset /js/ap.js of page /page answered 404" in texts[1]
    assert "listed by assetsFor" in texts[1]
    assert "Asset /stlye.css of page /page answered 404" in texts[2]
    assert "listed by a Link header of the page" in texts[2]


def test_fetchedScriptResetIsTakenBack(serve, transport, siteDirectory):
    """
    A script the client fetches itself is recorded with its own response's
    headers; when the client resets it before its end, the next response on
    the connection sets a cookie without it.
    """
    held = Held()
    server, _ = serveHeld(serve, siteDirectory, held, transport)
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        streamID = client.request(b"/held.js")
        client.runUntil(lambda: client.streams[streamID].status is not None)
        response = client.streams[streamID]
        assert set(cookieDigest(response).keys()) == named(b"/held.js")
        client.reset(streamID)
        client.flush()
        assert waitFor(lambda: held.ended == [True])
        following = client.get(b"/app.js", headers=cookieHeader(response))
    assert set(cookieDigest(following).keys()) == named(b"/app.js")


def test_fetchedNoStoreScriptIsNotRecorded(serve, siteDirectory):
    """
    A script fetched with Cache-Control: no-store sets no digest cookie.
    """
    server, _ = serveSite(
        serve, siteDirectory, ["/style.css"], [(b"secret.js", NotToKeep())]
    )
    with H2Client(server.portNumber, enablePush=False) as client:
        secret = client.get(b"/secret.js")
        script = client.get(b"/app.js")
    assert secret.status == 200 and cookieDigest(secret) is None
    assert set(cookieDigest(script).keys()) == named(b"/app.js")
