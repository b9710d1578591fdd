"""
CacheAwarePushResource with real clients: the python h2 library and nghttp,
over cleartext HTTP/2 and TLS.
"""

from __future__ import annotations

import re
from email.utils import formatdate

import h2.settings
import pytest
from twisted.logger import LogLevel, globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site
from twisted.web.static import File

from tests.sites import APP_JS, INDEX_HTML, MANIFEST, STYLE_CSS, makeSite
from txpush import CacheAwarePushResource, PushConfig, PushSite
from txpush.assets import Asset
from txpush.digest import CacheDigest
from txpush.manifest import Manifest
from txpush.testing.digests import cookieDigest, digestCookie
from txpush.testing.h2client import H2Client
from txpush.testing.nghttp import runNghttp

COOKIE = "h2o_casper"


@pytest.fixture
def siteDirectory(tmp_path):
    return makeSite(tmp_path / "site")


def cacheAware(
    siteDirectory, siteClass=PushSite, resourceClass=CacheAwarePushResource, **config
):
    config.setdefault("manifest", Manifest.fromMapping(MANIFEST))
    resource = resourceClass(File(str(siteDirectory)), PushConfig(**config))
    site = siteClass(resource)
    site.noisy = False
    return site, resource


def links(stream):
    return [v for k, v in stream.headers or [] if k == b"link"]


def test_firstVisitPushesAndSetsTheDigest(serve, transport, siteDirectory):
    """
    The first visit pushes both blocking assets named by the manifest for
    "/" (served as /index.html) and sets the digest cookie holding them.
    """
    site, resource = cacheAware(siteDirectory)
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/")
        pushes = client.pushes(page.streamID)
    assert page.status == 200 and bytes(page.body) == INDEX_HTML
    assert [(p.path, p.status) for p in pushes] == [
        (b"/style.css", 200),
        (b"/app.js", 200),
    ]
    assert [bytes(p.body) for p in pushes] == [STYLE_CSS, APP_JS]
    digest = cookieDigest(page)
    assert digest is not None and b"/style.css" in digest and b"/app.js" in digest
    assert len(digest) == 2
    setCookie = next(v for k, v in page.headers if k == b"set-cookie")
    for attribute in (b"Path=/", b"Secure", b"HttpOnly", b"SameSite=Lax", b"Max-Age="):
        assert attribute in setCookie
    assert links(page) == [
        b"</style.css>; rel=preload; as=style",
        b"</app.js>; rel=preload; as=script",
    ]
    assert resource.counters.pushed == 2


def test_repeatVisitPushesNothing(serve, transport, siteDirectory):
    """
    A new connection carrying the first visit's cookie gets no push and no
    new cookie; the page and its assets still load.
    """
    site, resource = cacheAware(siteDirectory)
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        cookie = digestCookie(client.get(b"/"))
    with H2Client(server.portNumber, tls=server.tls) as client:
        page = client.get(b"/", headers=[(b"cookie", cookie)])
        assert client.pushes() == []
        assert cookieDigest(page) is None
        assert (
            bytes(client.get(b"/style.css", headers=[(b"cookie", cookie)]).body)
            == STYLE_CSS
        )
    assert page.status == 200
    assert resource.counters.skippedCached == 2


def test_partialDigestPushesTheRest(serve, siteDirectory):
    """
    A digest holding only style.css gets only app.js pushed, and a cookie
    now holding both.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    digest = CacheDigest()
    digest.add(b"/style.css")
    cookie = f"{COOKIE}={digest.cookieValue()}".encode()
    with H2Client(server.portNumber) as client:
        page = client.get(b"/", headers=[(b"cookie", cookie)])
        assert [p.path for p in client.pushes()] == [b"/app.js"]
    updated = cookieDigest(page)
    assert b"/style.css" in updated and b"/app.js" in updated


@pytest.mark.parametrize(
    "cookies",
    [
        [b"a=b; h2o_casper={v}; c=d"],
        [b"a=b", b"h2o_casper={v}", b"c=d"],
    ],
)
def test_digestAmongOtherCookies(serve, siteDirectory, cookies):
    """
    The digest is found among other cookies in one field, and across
    several cookie fields (HTTP/2 crumbs).
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    digest = CacheDigest()
    digest.add(b"/style.css")
    digest.add(b"/app.js")
    headers = [
        (b"cookie", c.replace(b"{v}", digest.cookieValue().encode())) for c in cookies
    ]
    with H2Client(server.portNumber) as client:
        page = client.get(b"/", headers=headers)
        assert client.pushes() == []
    assert page.status == 200


@pytest.mark.parametrize(
    "value",
    [b"!!!garbage!!!", b"A" * 8000, b"====", b"AAAA" * 10 + b"\xff\xfe", b"\x80\x81"],
)
def test_garbageCookie(serve, siteDirectory, value):
    """
    A garbage digest cookie: both assets pushed, the page loads, nothing
    logged above debug.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    events = []

    def observe(event):
        if event["log_level"] > LogLevel.info:
            events.append(event)

    globalLogPublisher.addObserver(observe)
    try:
        with H2Client(server.portNumber) as client:
            header = b"h2o_casper=" + value.replace(b";", b"")
            page = client.get(b"/", headers=[(b"cookie", header)])
            assert [p.path for p in client.pushes()] == [b"/style.css", b"/app.js"]
    finally:
        globalLogPublisher.removeObserver(observe)
    assert page.status == 200 and bytes(page.body) == INDEX_HTML
    assert events == []


def test_noPushClientGetsEarlyHints(serve, transport, siteDirectory):
    """
    A client that disables push gets a 103 with both preload links before
    the 200, which carries the same links, and no push.
    """
    site, resource = cacheAware(siteDirectory)
    server = serve(site, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        page = client.get(b"/")
    assert page.status == 200
    (hints,) = page.informational
    assert dict(hints)[b":status"] == b"103"
    expected = [
        b"</style.css>; rel=preload; as=style",
        b"</app.js>; rel=preload; as=script",
    ]
    assert [v for k, v in hints if k == b"link"] == expected
    assert links(page) == expected
    assert resource.counters.earlyHints == 1 and resource.counters.pushed == 0
    # Hinted is not received: the digest names an asset once it is fetched.
    assert cookieDigest(page) is None


def test_cachedAssetsAreNotHinted(serve, siteDirectory):
    """
    Cache awareness applies to hints: with both assets in the digest, no 103.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    digest = CacheDigest()
    digest.add(b"/style.css")
    cookie = f"{COOKIE}={digest.cookieValue()}".encode()
    with H2Client(server.portNumber, enablePush=False) as client:
        page = client.get(b"/", headers=[(b"cookie", cookie)])
    (hints,) = page.informational
    assert [v for k, v in hints if k == b"link"] == [
        b"</app.js>; rel=preload; as=script"
    ]


def test_pushOff(serve, siteDirectory):
    """
    With push off, even a push-capable client gets hints instead.
    """
    site, _ = cacheAware(siteDirectory, push=False)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert client.pushes() == []
    assert len(page.informational) == 1


@pytest.mark.parametrize(
    "header",
    [
        (b"if-none-match", b'"abc"'),
        (b"if-modified-since", formatdate(usegmt=True).encode()),
    ],
)
def test_conditionalRequestNoPush(serve, siteDirectory, header):
    """
    A conditional page request gets no push and no hint.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/", headers=[header])
        assert client.pushes() == []
    assert page.informational == []
    assert page.status in (200, 304)


def test_headPageNoPush(serve, siteDirectory):
    """
    Only GET pages push.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.get(b"/", method=b"HEAD")
        assert client.pushes() == []


def test_missingPageNoPush(serve, siteDirectory):
    """
    A page whose response is not 2xx pushes nothing, even if the manifest
    lists assets for it.
    """
    site, _ = cacheAware(
        siteDirectory, manifest=Manifest.fromMapping({"/gone.html": ["/app.js"]})
    )
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/gone.html")
        assert client.pushes() == []
    assert page.status == 404


def test_pushedOncePerConnection(serve, siteDirectory):
    """
    Without cache awareness, a second load of the page on the same
    connection pushes nothing: the connection's diary remembers.
    """
    site, resource = cacheAware(siteDirectory, useDigest=False)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        first = client.get(b"/")
        second = client.get(b"/")
        assert len(client.pushes(first.streamID)) == 2
        assert client.pushes(second.streamID) == []
    assert cookieDigest(first) is None
    assert resource.counters.skippedDiary == 2


class LinkingPage(Resource):
    """A page that sets Link preload headers, as an application would."""

    isLeaf = True

    def __init__(self, values):
        super().__init__()
        self.values = values

    def render_GET(self, request):
        for value in self.values:
            request.responseHeaders.addRawHeader(b"link", value)
        return b"<html>linked</html>"


def linkingSite(siteDirectory, values, **config):
    root = File(str(siteDirectory))
    root.putChild(b"linked", LinkingPage(values))
    config.setdefault(
        "manifest", Manifest.fromMapping({"/linked": ["/style.css", "/style.css"]})
    )
    resource = CacheAwarePushResource(root, PushConfig(**config))
    return PushSite(resource), resource


def test_linkHeadersArePushed(serve, siteDirectory):
    """
    Link preload headers set by the wrapped resource are pushed; nopush is
    honoured; cross-origin and relative targets are ignored; an asset named
    twice, or by both the manifest and a Link header, is pushed once.
    """
    site, _ = linkingSite(
        siteDirectory,
        [
            b"</app.js>; rel=preload; as=script, </style.css>; rel=preload",
            b"</logo.png>; rel=preload; as=image; nopush",
            b"<https://evil.example/x.js>; rel=preload; as=script",
            b"<rel.js>; rel=preload",
            b"</app.js>; rel=preload",
        ],
    )
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/linked")
        assert [p.path for p in client.pushes()] == [b"/style.css", b"/app.js"]
    assert page.status == 200
    # The page's own Link headers are kept, and not repeated.
    assert len([v for v in links(page) if b"/app.js" in v]) == 2


def test_subclassAssets(serve, siteDirectory):
    """
    A subclass names a page's assets; they come before the manifest's.
    """

    class Themed(CacheAwarePushResource):
        def assetsFor(self, request):
            if request.path == b"/":
                return [b"/app.js", Asset(b"/logo.png", "image")]
            return []

    site, _ = cacheAware(siteDirectory, resourceClass=Themed, track="all")
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes()] == [
            b"/app.js",
            b"/logo.png",
            b"/style.css",
        ]
    assert b"/logo.png" in cookieDigest(page)


def test_maxPushes(serve, siteDirectory):
    """
    Beyond maxPushes, assets are not pushed but listed as preload.
    """
    site, _ = cacheAware(siteDirectory, maxPushes=1)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes()] == [b"/style.css"]
    assert b"</app.js>; rel=preload; as=script" in links(page)


@pytest.mark.parametrize("track", ["all", "blocking-assets"])
def test_fetchedAssetGoesIntoTheDigest(serve, siteDirectory, track):
    """
    An asset the client fetched itself is added to its digest: any asset by
    default, only stylesheets and scripts with blocking-assets tracking.
    """
    site, _ = cacheAware(siteDirectory, track=track)
    server = serve(site)
    with H2Client(server.portNumber, enablePush=False) as client:
        asset = client.get(b"/app.js")
        image = client.get(b"/logo.png", headers=[(b"cookie", digestCookie(asset))])
    assert list(cookieDigest(asset).keys()) == list(
        CacheDigest.fromCookieValue(_single(b"/app.js")).keys()
    )
    if track == "all":
        assert b"/logo.png" in cookieDigest(image)
    else:
        assert cookieDigest(image) is None


def _single(path):
    digest = CacheDigest()
    digest.add(path)
    return digest.cookieValue()


def test_limitFromTheClient(serve, siteDirectory):
    """
    A client allowing one stream at once: the first asset is pushed, the
    second push is refused by the limit and the page still loads.
    """
    site, resource = cacheAware(siteDirectory)
    server = serve(site)
    settings = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    with H2Client(server.portNumber, settings=settings) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes()] == [b"/style.css"]
    assert page.status == 200
    assert resource.counters.pushFailed == 1
    assert b"/app.js" not in cookieDigest(page)


def test_http11(serve, transport, siteDirectory):
    """
    HTTP/1.1 clients get the page with its preload headers and, by default,
    no Early Hints: Python's own http.client, like other old clients, would
    take a 103 for the final response.
    """

    site, _ = cacheAware(siteDirectory)
    server = serve(site, tls=transport == "tls")
    connection = server.http11Connection()
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200
    assert response.read() == INDEX_HTML
    assert response.headers.get_all("link") == [
        "</style.css>; rel=preload; as=style",
        "</app.js>; rel=preload; as=script",
    ]
    connection.close()


def test_http11EarlyHintsOnTheWire(serve, siteDirectory):
    """
    With Early Hints over HTTP/1.1 on, the raw response starts with a 103.
    """
    import socket

    site, _ = cacheAware(siteDirectory, earlyHintsOverHTTP11=True)
    server = serve(site)
    with socket.create_connection(("127.0.0.1", server.portNumber), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(
        b"HTTP/1.1 103 Early Hints\r\n"
        b"Link: </style.css>; rel=preload; as=style\r\n"
        b"Link: </app.js>; rel=preload; as=script\r\n\r\n"
        b"HTTP/1.1 200 OK\r\n"
    )


def test_stockSiteGetsHints(serve, siteDirectory):
    """
    Served by a stock twisted.web Site (HTTP/2 only after ALPN), the resource
    still hints and adds preload headers.
    """
    site, _ = cacheAware(siteDirectory, siteClass=Site)
    server = serve(site, tls=True)
    with H2Client(server.portNumber, tls=True) as client:
        page = client.get(b"/")
        assert client.pushes() == []
    assert len(page.informational) == 1


def pushedPaths(output):
    # nghttp -s's table: id, end, start (* when pushed), process, code, size
    # (1K past 999 bytes), path.
    return sorted(
        m.group(2)
        for m in re.finditer(
            r"^\s*\d+\s+\S+\s+(\*)\s*\S+\s+\S+\s+\d+\s+\S+\s+(\S+)\s*$", output, re.M
        )
    )


def fetchedPaths(output):
    return sorted(
        m.group(1)
        for m in re.finditer(
            r"^\s*\d+\s+\S+\s+\S+\s+\S+\s+\d+\s+\S+\s+(\S+)\s*$", output, re.M
        )
    )


def test_nghttpVisits(serve, transport, siteDirectory, nghttp):
    """
    nghttp -ans: the first visit's assets are pushed; a repeat visit with
    the cookie pushes nothing and nghttp fetches them itself; --no-push gets
    a 103 with both preload links and no PUSH_PROMISE.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site, tls=transport == "tls")
    first = runNghttp(nghttp, "-ans", "-v", server.url())
    assert pushedPaths(first) == ["/app.js", "/style.css"]
    cookie = re.search(r"set-cookie: (h2o_casper=[^;]+)", first).group(1)
    repeat = runNghttp(nghttp, "-ans", "-H", f"cookie: {cookie}", server.url())
    assert pushedPaths(repeat) == []
    assert fetchedPaths(repeat) == ["/", "/app.js", "/logo.png", "/style.css"]
    hinted = runNghttp(nghttp, "-nv", "--no-push", server.url())
    assert "PUSH_PROMISE" not in hinted
    status103 = hinted.index(":status: 103")
    assert hinted.index(":status: 200") > status103
    assert hinted.index("link: </style.css>; rel=preload; as=style") > status103
    assert hinted.index("link: </app.js>; rel=preload; as=script") > status103


class CookieSettingPage(Resource):
    """A page that sets its own session cookie, both ways Twisted allows."""

    isLeaf = True

    def __init__(self, useAddCookie):
        super().__init__()
        self.useAddCookie = useAddCookie

    def render_GET(self, request):
        if self.useAddCookie:
            request.addCookie(b"session", b"s3cret", path=b"/")
        else:
            request.responseHeaders.addRawHeader(b"set-cookie", b"session=s3cret")
        return b"<html>session</html>"


@pytest.mark.parametrize("useAddCookie", [False, True])
def test_applicationCookiesAreKept(serve, siteDirectory, useAddCookie):
    """
    The digest cookie is added beside the application's own cookies, never
    instead of them.
    """
    root = File(str(siteDirectory))
    root.putChild(b"session", CookieSettingPage(useAddCookie))
    manifest = Manifest.fromMapping({"/session": ["/app.js"]})
    site = PushSite(CacheAwarePushResource(root, PushConfig(manifest=manifest)))
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/session")
    cookies = [v for k, v in page.headers if k == b"set-cookie"]
    assert len(cookies) == 2
    assert cookies[0].startswith(b"session=s3cret")
    assert b"/app.js" in cookieDigest(page)


def test_priorityFrameOnAnIdlePushStream(serve, siteDirectory):
    """
    A client PRIORITY frame naming the stream the next push will use (legal
    on an idle stream) does not break the push.
    """
    import hyperframe.frame

    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        frame = hyperframe.frame.PriorityFrame(2)
        frame.depends_on = 0
        frame.stream_weight = 15
        client.sock.sendall(frame.serialize())
        page = client.get(b"/")
        pushes = client.pushes(page.streamID)
        assert [(p.path, p.status) for p in pushes] == [
            (b"/style.css", 200),
            (b"/app.js", 200),
        ]
        assert pushes[0].streamID == 2


class ShoutingPage(Resource):
    """A page that wraps request.write, as a filter would."""

    isLeaf = True

    def render_GET(self, request):
        original = request.write
        request.write = lambda data: original(data.upper())
        request.write(b"one ")
        request.write(b"two ")
        request.write(b"three")
        request.finish()
        return NOT_DONE_YET


def test_applicationWriteWrapperIsKept(serve, siteDirectory):
    """
    A resource that wraps request.write keeps its wrapper for every write.
    """
    root = File(str(siteDirectory))
    root.putChild(b"shout", ShoutingPage())
    site = PushSite(CacheAwarePushResource(root, PushConfig()))
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/shout")
    assert bytes(page.body) == b"ONE TWO THREE"


def test_gzipInsideIsKept(serve, siteDirectory):
    """
    An EncodingResourceWrapper inside the wrapped tree still compresses.
    """
    import gzip

    from twisted.web.resource import EncodingResourceWrapper
    from twisted.web.server import GzipEncoderFactory

    root = File(str(siteDirectory))
    root.putChild(
        b"zipped.css",
        EncodingResourceWrapper(
            File(str(siteDirectory / "style.css")), [GzipEncoderFactory()]
        ),
    )
    site = PushSite(CacheAwarePushResource(root, PushConfig()))
    server = serve(site)
    with H2Client(server.portNumber) as client:
        asset = client.get(b"/zipped.css", headers=[(b"accept-encoding", b"gzip")])
    assert asset.header(b"content-encoding") == b"gzip"
    assert gzip.decompress(bytes(asset.body)) == STYLE_CSS


def test_headAndRangeDoNotFillTheDigest(serve, siteDirectory):
    """
    A HEAD or a range request for an asset does not put it in the digest:
    the client does not have the asset.
    """
    site, _ = cacheAware(siteDirectory)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        head = client.get(b"/app.js", method=b"HEAD")
        ranged = client.get(b"/style.css", headers=[(b"range", b"bytes=0-9")])
    assert ranged.status == 206
    assert cookieDigest(head) is None
    assert cookieDigest(ranged) is None


def test_absoluteLinkOfThePageOrigin(serve, siteDirectory):
    """
    A Link preload with an absolute URL of the page's origin is pushed, the
    origin being the one the client used (:scheme https over cleartext
    HTTP/2, as behind a TLS-terminating TCP proxy).
    """
    site, _ = linkingSite(
        siteDirectory,
        [b"<https://localhost/app.js>; rel=preload; as=script"],
        manifest=None,
    )
    server = serve(site)
    with H2Client(server.portNumber) as client:
        client.scheme = b"https"
        client.authority = b"localhost"
        client.get(b"/linked")
        assert [p.path for p in client.pushes()] == [b"/app.js"]


def test_concurrentResponsesKeepEveryAsset(serve, siteDirectory):
    """
    Responses on one connection whose requests carried the same old cookie
    (the client fetched while earlier Set-Cookie headers were in flight)
    carry the union: the last digest the client stores holds every asset.
    """
    site, _ = cacheAware(siteDirectory, maxPushes=1)
    server = serve(site)
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes()] == [b"/style.css"]
        # The client fetches the script itself, without the page's cookie.
        script = client.get(b"/app.js")
        again = client.get(b"/style.css")
    assert set(cookieDigest(page).keys()) == set(_keys(b"/style.css"))
    assert set(cookieDigest(script).keys()) == set(_keys(b"/style.css", b"/app.js"))
    # Nothing new: no cookie to send again.
    assert cookieDigest(again) is None


def _keys(*paths):
    digest = CacheDigest()
    for path in paths:
        digest.add(path)
    return digest.keys()
