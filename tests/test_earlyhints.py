"""
Early Hints learned from a page's own Link headers, sent before the
application answers: real clients (the python h2 library and nghttp)
against a L{CacheAwarePushResource} whose page thinks before it answers.
"""

from __future__ import annotations

import subprocess

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import File

from tests.conftest import onReactor
from tests.sites import INDEX_HTML, makeSite
from txpush import CacheAwarePushResource, PushConfig, PushSite
from txpush.manifest import Manifest
from txpush.testing.digests import digestCookie
from txpush.testing.h2client import H2Client
from txpush.testing.waiting import waitFor

STYLE_LINK = b"</style.css>; rel=preload; as=style"
APP_LINK = b"</app.js>; rel=preload; as=script"
FONT_HOST = b"<https://fonts.example/face.woff2>; rel=preload; as=font; crossorigin"


class ThinkingPage(Resource):
    """
    A page that thinks until the test lets it answer, then sets its Link
    headers with its final response, as most applications do.

    @ivar links: The Link values its next responses set.
    @ivar thinking: The requests still waiting for their answer.
    """

    isLeaf = True

    def __init__(self, links):
        super().__init__()
        self.links = list(links)
        self.thinking = []
        self.holding = False

    def render_GET(self, request):
        if self.holding:
            self.thinking.append(request)
            return NOT_DONE_YET
        self.answer(request)
        return NOT_DONE_YET

    def answer(self, request):
        request.setHeader(b"content-type", b"text/html")
        for value in self.links:
            request.responseHeaders.addRawHeader(b"link", value)
        request.write(INDEX_HTML)
        request.finish()

    def release(self):
        """Answer every request still thinking (in the reactor thread)."""
        while self.thinking:
            self.answer(self.thinking.pop(0))


def serveThinking(serve, tmp_path, page, tls=False, **config):
    root = File(str(makeSite(tmp_path / "site")))
    root.putChild(b"page", page)
    resource = CacheAwarePushResource(root, PushConfig(**config))
    site = PushSite(resource)
    site.noisy = False
    return serve(site, tls=tls), resource


def hintLinks(stream):
    """The Link values of each 103 a response had."""
    return [[v for k, v in block if k == b"link"] for block in stream.informational]


def visit(server, headers=()):
    """One visit of /page that does not take pushes, answered at once."""
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        return client.get(b"/page", headers=list(headers))


def test_learnedLinksAreHintedBeforeThePageAnswers(serve, transport, tmp_path):
    """
    The first visit teaches the page's Link headers; the second gets them
    in a 103 while the page still thinks, and its 200 only once it answers.
    """
    page = ThinkingPage([STYLE_LINK, APP_LINK])
    server, resource = serveThinking(serve, tmp_path, page, tls=transport == "tls")
    first = visit(server)
    assert first.informational == [] and first.status == 200
    page.holding = True
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        streamID = client.request(b"/page")
        client.runUntil(lambda: client.streams[streamID].informational != [])
        stream = client.streams[streamID]
        assert stream.status is None, "the 200 came before the page answered"
        assert hintLinks(stream) == [[STYLE_LINK, APP_LINK]]
        assert len(page.thinking) == 1
        onReactor(page.release)
        client.runUntil(lambda: stream.done)
    assert stream.status == 200 and bytes(stream.body) == INDEX_HTML
    assert resource.counters.earlyHints == 1


def test_nghttpSeesThe103BeforeThe200(serve, tmp_path, nghttp):
    """
    nghttp, on the page's second visit: the 103 with the learned links is
    on the wire while the page thinks, the 200 after it answers.
    """
    page = ThinkingPage([STYLE_LINK])
    server, resource = serveThinking(serve, tmp_path, page)
    visit(server)
    page.holding = True
    client = subprocess.Popen(
        [nghttp, "--timeout=10", "-nv", "--no-push", server.url("/page")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert waitFor(lambda: len(page.thinking) == 1, timeout=10)
        assert resource.counters.earlyHints == 1
        onReactor(page.release)
        output, _ = client.communicate(timeout=30)
    finally:
        client.kill()
    assert client.returncode == 0
    informational = output.index(":status: 103")
    assert output.index("link: </style.css>; rel=preload; as=style") > informational
    assert output.index(":status: 200") > informational


def test_hintsOnlyForNavigations(serve, tmp_path):
    """
    A request whose Sec-Fetch headers say it is a fetch, an image or a
    script gets no 103; a navigation, or a request without Sec-Fetch
    headers, gets one.
    """
    page = ThinkingPage([STYLE_LINK])
    server, _ = serveThinking(serve, tmp_path, page)
    visit(server)
    for headers, hinted in [
        ([(b"sec-fetch-mode", b"cors"), (b"sec-fetch-dest", b"empty")], False),
        ([(b"sec-fetch-mode", b"no-cors"), (b"sec-fetch-dest", b"image")], False),
        ([(b"sec-fetch-mode", b"no-cors"), (b"sec-fetch-dest", b"script")], False),
        ([(b"sec-fetch-mode", b"navigate"), (b"sec-fetch-dest", b"document")], True),
        ([], True),
    ]:
        response = visit(server, headers)
        assert response.status == 200
        assert hintLinks(response) == ([[STYLE_LINK]] if hinted else []), headers


def test_oneEarlyHintsPerRequest(serve, tmp_path):
    """
    A resource wrapped twice, each naming assets: the client still gets a
    single 103, the first.
    """
    root = File(str(makeSite(tmp_path / "site")))
    inner = CacheAwarePushResource(
        root, PushConfig(manifest=Manifest.fromMapping({"/index.html": ["/app.js"]}))
    )
    outer = CacheAwarePushResource(
        inner,
        PushConfig(manifest=Manifest.fromMapping({"/index.html": ["/style.css"]})),
    )
    site = PushSite(outer)
    site.noisy = False
    server = serve(site)
    with H2Client(server.portNumber, enablePush=False) as client:
        response = client.get(b"/")
    assert hintLinks(response) == [[STYLE_LINK]]
    assert outer.counters.earlyHints == 1 and inner.counters.earlyHints == 0


def test_preconnectForAnotherOrigin(serve, tmp_path):
    """
    A page whose Link header names a font on another site: its next visit's
    103 carries a crossorigin preconnect to that origin (the font itself
    cannot be preloaded from here); with preconnect off, none.
    """
    for preconnect in (True, False):
        page = ThinkingPage([STYLE_LINK, FONT_HOST])
        server, _ = serveThinking(
            serve, tmp_path / str(preconnect), page, preconnect=preconnect
        )
        visit(server)
        expected = [STYLE_LINK]
        if preconnect:
            expected.append(b"<https://fonts.example>; rel=preconnect; crossorigin")
        assert hintLinks(visit(server)) == [expected]


def test_hintsFadeWhenThePageStopsListingThem(serve, tmp_path):
    """
    Once the page stops listing the script, it is still hinted while one of
    the page's last three responses listed it, then no more.
    """
    page = ThinkingPage([STYLE_LINK, APP_LINK])
    server, _ = serveThinking(serve, tmp_path, page)
    visit(server)
    page.links = [STYLE_LINK]
    hinted = [hintLinks(visit(server)) for _ in range(4)]
    assert hinted == [
        [[STYLE_LINK, APP_LINK]],
        [[STYLE_LINK, APP_LINK]],
        [[STYLE_LINK, APP_LINK]],
        [[STYLE_LINK]],
    ]


def test_linkHintsOff(serve, tmp_path):
    """
    With linkHints=None, the page's Link headers are not remembered: no 103
    without a manifest.
    """
    page = ThinkingPage([STYLE_LINK])
    server, resource = serveThinking(serve, tmp_path, page, linkHints=None)
    visit(server)
    assert visit(server).informational == []
    assert resource.linkHints is None


def test_cachedAssetsAreNotHintedFromMemory(serve, tmp_path):
    """
    A learned hint the client's digest names is not sent.
    """
    page = ThinkingPage([STYLE_LINK, APP_LINK])
    server, _ = serveThinking(serve, tmp_path, page)
    visit(server)
    with H2Client(server.portNumber, enablePush=False) as client:
        cookie = digestCookie(client.get(b"/style.css"))
    response = visit(server, [(b"cookie", cookie)])
    assert hintLinks(response) == [[APP_LINK]]


def test_manifestPreconnect(serve, tmp_path):
    """
    A manifest entry naming another site's origin: the page's very first
    103 carries a preconnect to it, beside the manifest's assets.
    """
    page = ThinkingPage([])
    manifest = Manifest.fromMapping(
        {
            "/page": [
                "/style.css",
                {"preconnect": "https://fonts.example", "crossorigin": True},
            ]
        }
    )
    server, _ = serveThinking(serve, tmp_path, page, manifest=manifest)
    assert hintLinks(visit(server)) == [
        [STYLE_LINK, b"<https://fonts.example>; rel=preconnect; crossorigin"]
    ]
