"""
What the README and docs/ say is pushed, hinted, listed (as C{Link:
rel=preload} on the response) and recorded (in the digest cookie), for the
claims no other test checks.  Each test's docstring names the page and the
claim it backs.

Real clients (the python h2 library) against a L{CacheAwarePushResource} on
loopback where the claim is about the wire; the pure L{PageSession} and
L{planPage} where it is a rule.
"""

from __future__ import annotations

from email.utils import formatdate

import pytest
from twisted.logger import LogLevel, globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET
from twisted.web.static import Data, File

from tests.conftest import loadExample, onReactor
from tests.sites import INDEX_HTML, makeSite
from tests.test_delivery import NotToKeep
from tests.test_resource import LinkingPage
from txpush import CacheAwarePushResource, IPusher, PushConfig, PushSite
from txpush.assets import asset
from txpush.connectionstate import ConnectionPushState
from txpush.diary import DEFAULT_DIARY_SIZE
from txpush.digest import CacheDigest
from txpush.learning import AssetLearner, LearningConfig
from txpush.manifest import Manifest
from txpush.policy import DEFAULT_MAX_PUSHES, PageFacts, PushPolicy, planPage
from txpush.session import PageRequest, PageResponse, PageSession
from txpush.testing.digests import cookieDigest, digestCookie
from txpush.testing.h2client import H2Client, Stream
from txpush.testing.waiting import waitFor

STYLE_LINK = b"</style.css>; rel=preload; as=style"
APP_LINK = b"</app.js>; rel=preload; as=script"
LOGO_LINK = b"</logo.png>; rel=preload; as=image"
PAGE_ASSETS = {"/index.html": ["/style.css", "/app.js", "/logo.png"]}


@pytest.fixture
def siteDirectory(tmp_path):
    return makeSite(tmp_path / "site")


def serveResource(serve, resource, tls=False):
    """Serve C{resource} from a L{PushSite} on loopback."""
    site = PushSite(resource)
    site.noisy = False
    return serve(site, tls=tls)


def serveFiles(
    serve, siteDirectory, assets=PAGE_ASSETS, root=None, tls=False, **config
):
    """
    Serve the test site (or C{root}), with a manifest of C{assets} and
    C{config}, over TLS when C{tls}; return the server and the resource.
    """
    config.setdefault("manifest", Manifest.fromMapping(assets))
    resource = CacheAwarePushResource(
        File(str(siteDirectory)) if root is None else root, PushConfig(**config)
    )
    return serveResource(serve, resource, tls), resource


def links(stream: Stream) -> list[bytes]:
    """The Link values of a final response."""
    return [v for k, v in stream.headers or [] if k == b"link"]


def hints(stream: Stream) -> list[bytes]:
    """The Link values of the 103 Early Hints before a response."""
    return [v for headers in stream.informational for k, v in headers if k == b"link"]


def pushed(client: H2Client) -> list[bytes | None]:
    """The paths promised to C{client}, in order."""
    return [p.path for p in client.pushes()]


def named(*paths: bytes, capacityBits: int = 13) -> set[int]:
    """The keys of a digest holding C{paths}."""
    digest = CacheDigest(capacityBits)
    for path in paths:
        digest.add(path)
    return set(digest.keys())


def cookieKeys(stream: Stream) -> set[int] | None:
    """The keys of the digest cookie a response set, or L{None}."""
    digest = cookieDigest(stream)
    return None if digest is None else set(digest.keys())


def cookieOf(*paths: bytes) -> tuple[bytes, bytes]:
    """A Cookie field presenting a digest of C{paths}."""
    digest = CacheDigest()
    for path in paths:
        digest.add(path)
    return (b"cookie", b"h2o_casper=" + digest.cookieValue().encode())


# Which pages get anything.


def test_errorPageGetsNoPushNorPreloadButItsHintsWentOut(serve, siteDirectory):
    """
    docs/cache-aware-push.md, "What is pushed, hinted or skipped", and
    docs/how-it-works.md: a page answering other than 2xx gets no push, no
    preload header and records nothing; a browser has had its Early Hints,
    which go out before the page renders.
    """
    server, _ = serveFiles(
        serve, siteDirectory, {"/gone.html": ["/style.css", "/app.js"]}
    )
    with H2Client(server.portNumber) as client:
        page = client.get(b"/gone.html")
        assert pushed(client) == []
    assert page.status == 404 and links(page) == [] and cookieDigest(page) is None
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(b"/gone.html")
    assert hints(browser) == [STYLE_LINK, APP_LINK]
    assert browser.status == 404
    assert links(browser) == [] and cookieDigest(browser) is None


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        (b"HEAD", []),
        (b"POST", []),
        (b"GET", [(b"if-none-match", b'"abc"')]),
        (b"GET", [(b"if-modified-since", formatdate(usegmt=True).encode())]),
    ],
)
def test_otherMethodsAndConditionalPagesGetNothing(
    serve, siteDirectory, method, headers
):
    """
    docs/cache-aware-push.md, "What is pushed, hinted or skipped": only GET
    pages get anything; not HEAD, not other methods, not conditional
    requests: no push, no Early Hints, no preload header, no cookie, for a
    client that takes pushes and for one that does not.
    """
    server, _ = serveFiles(serve, siteDirectory)
    for enablePush in (True, False):
        with H2Client(server.portNumber, enablePush=enablePush) as client:
            page = client.get(b"/", headers=headers, method=method)
            assert pushed(client) == []
        assert page.informational == [] and links(page) == []
        assert cookieDigest(page) is None


# Cached assets, the limit, the diary.


def test_cachedAssetsAreNeitherPushedHintedNorListed(serve, transport, siteDirectory):
    """
    docs/cache-aware-push.md and docs/interoperability.md ("No
    push-then-cancel"), README "What it does", docs/index.md: a repeat visit
    with the first visit's cookie is promised nothing, hinted nothing, gets
    no preload header and no new cookie; a browser presenting that cookie
    neither.
    """
    server, _ = serveFiles(serve, siteDirectory, tls=transport == "tls")
    with H2Client(server.portNumber, tls=server.tls) as client:
        first = client.get(b"/")
        assert pushed(client) == [b"/style.css", b"/app.js", b"/logo.png"]
    cookie = digestCookie(first)
    assert cookie is not None
    for enablePush in (True, False):
        with H2Client(
            server.portNumber, tls=server.tls, enablePush=enablePush
        ) as client:
            repeat = client.get(b"/", headers=[(b"cookie", cookie)])
            assert client.pushes() == []
        assert repeat.status == 200 and bytes(repeat.body) == INDEX_HTML
        assert repeat.informational == [] and links(repeat) == []
        assert cookieDigest(repeat) is None


def test_overTheLimitIsListedNotRecorded(serve, siteDirectory):
    """
    docs/cache-aware-push.md: the assets over maxPushes are not pushed but
    listed as preload headers, and an asset only listed is not in the
    digest until the client fetches it; the next visit pushes it.
    """
    server, _ = serveFiles(serve, siteDirectory, maxPushes=1)
    with H2Client(server.portNumber) as client:
        first = client.get(b"/")
        assert pushed(client) == [b"/style.css"]
    assert links(first) == [STYLE_LINK, APP_LINK, LOGO_LINK]
    assert cookieKeys(first) == named(b"/style.css")
    with H2Client(server.portNumber) as client:
        second = client.get(b"/", headers=[(b"cookie", digestCookie(first))])
        assert pushed(client) == [b"/app.js"]
    assert links(second) == [APP_LINK, LOGO_LINK]
    assert cookieKeys(second) == named(b"/style.css", b"/app.js")


def test_defaultLimitIsTenPushesPerPage():
    """
    docs/interoperability.md and docs/cache-aware-push.md: at most 10
    assets are pushed per page by default; the rest are listed.
    """
    assets = [asset(f"/a{i}.js") for i in range(12)]
    facts = PageFacts(method=b"GET", conditional=False, status=200, canPush=True)
    plan = planPage(PushPolicy(), facts, assets, CacheDigest())
    assert DEFAULT_MAX_PUSHES == 10 == len(plan.push)
    assert plan.push == tuple(assets[:10])
    assert plan.skippedLimit == tuple(assets[10:])
    assert plan.preload == tuple(assets)


def test_pushedOncePerConnectionWithoutACookie(serve, siteDirectory):
    """
    docs/how-it-works.md, "One connection: the push diary", and
    docs/cache-aware-push.md ("never pushes an asset twice on one
    connection"): a client that never returns the cookie is pushed each
    asset once per connection, not once per page; a new connection pushes
    it again.
    """
    (siteDirectory / "other.html").write_bytes(INDEX_HTML)
    server, _ = serveFiles(
        serve,
        siteDirectory,
        {
            "/index.html": ["/style.css", "/app.js"],
            "/other.html": ["/style.css", "/logo.png"],
        },
    )
    with H2Client(server.portNumber) as client:
        first = client.get(b"/")
        second = client.get(b"/other.html")
        assert [p.path for p in client.pushes(first.streamID)] == [
            b"/style.css",
            b"/app.js",
        ]
        assert [p.path for p in client.pushes(second.streamID)] == [b"/logo.png"]
    with H2Client(server.portNumber) as client:
        client.get(b"/other.html")
        assert pushed(client) == [b"/style.css", b"/logo.png"]


def test_diaryHoldsTheLast256Paths():
    """
    docs/how-it-works.md and docs/interoperability.md: each connection's
    diary keeps the last 256 paths pushed on it (Apache's
    H2PushDiarySize).
    """
    diary = ConnectionPushState().diary
    assert DEFAULT_DIARY_SIZE == 256 == diary.size
    for i in range(257):
        diary.add(f"/a{i}.js".encode())
    assert b"/a0.js" not in diary and b"/a1.js" in diary and b"/a256.js" in diary


# What the digest names for a browser.


@pytest.mark.parametrize("track", ["blocking-assets", "all"])
def test_browserDigestNamesWhatItFetched(serve, siteDirectory, track):
    """
    docs/cache-aware-push.md, "The digest cookie", and docs/how-it-works.md
    ("Repeat visit"): hinted assets are not recorded; those the browser then
    fetches are, of the types track names (stylesheets and scripts by
    default, every asset with "all"); the next visit hints only what the
    digest does not name.
    """
    server, _ = serveFiles(serve, siteDirectory, track=track)
    with H2Client(server.portNumber, enablePush=False) as client:
        page = client.get(b"/")
        assert hints(page) == [STYLE_LINK, APP_LINK, LOGO_LINK]
        assert links(page) == [STYLE_LINK, APP_LINK, LOGO_LINK]
        assert cookieDigest(page) is None
        style = client.get(b"/style.css")
        logo = client.get(b"/logo.png", headers=[(b"cookie", digestCookie(style))])
    assert cookieKeys(style) == named(b"/style.css")
    if track == "all":
        assert cookieKeys(logo) == named(b"/style.css", b"/logo.png")
        cookie = digestCookie(logo)
        expected = [APP_LINK]
    else:
        assert cookieDigest(logo) is None
        cookie = digestCookie(style)
        expected = [APP_LINK, LOGO_LINK]
    with H2Client(server.portNumber, enablePush=False) as client:
        repeat = client.get(b"/", headers=[(b"cookie", cookie)])
    assert hints(repeat) == expected == links(repeat)


def test_subclassExampleRecordsTheIllustrationABrowserFetches(serve):
    """
    docs/subclassing.md: with track="all", the digest also records the
    illustration a browser fetches after the hints (pushed ones are
    recorded whatever track says: tests/test_examples.py).
    """
    site = loadExample("cacheaware").buildSite()
    site.noisy = False
    server = serve(site)
    with H2Client(server.portNumber, enablePush=False) as client:
        article = client.get(b"/articles/push")
        illustration = client.get(b"/static/push.svg")
    assert b"</static/push.svg>; rel=preload; as=image" in hints(article)
    assert cookieDigest(article) is None
    assert cookieKeys(illustration) == named(b"/static/push.svg")


def test_pushedAssetSharingAKeyIsPushedAgain():
    """
    docs/how-it-works.md, "False positives": a failed push takes its key
    out of the digest, and with it another asset of the same key, which is
    pushed again on the next visit (the safe side).
    """
    byKey: dict[int, list[bytes]] = {}
    for i in range(40):
        path = f"/a{i}.js".encode()
        byKey.setdefault(min(named(path, capacityBits=4)), []).append(path)
    failing, sharing = next(paths for paths in byKey.values() if len(paths) >= 2)[:2]
    manifest = Manifest.fromMapping(
        {"/index.html": [failing.decode(), sharing.decode()]}
    )
    config = PushConfig(manifest=manifest, capacityBits=4)

    def visit(connection, cookie=None):
        request = PageRequest(
            method=b"GET",
            path=b"/index.html",
            uri=b"/index.html",
            canPush=True,
            cookieHeaders=() if cookie is None else (cookie,),
        )
        session = PageSession(config, request, connection)
        actions = session.respond(PageResponse(200, b"text/html"), 0.0)
        return session, actions, session.settle(actions.push)

    connection = ConnectionPushState()
    first, actions, outcome = visit(connection)
    assert [a.path for a in actions.push] == [failing, sharing]
    first.pushEnded(sharing, 200, True, False, 1.0)
    first.pushEnded(failing, 200, False, False, 1.0)
    fetch = PageSession(
        config,
        PageRequest(
            method=b"GET",
            path=b"/style.css",
            uri=b"/style.css",
            cookieHeaders=(outcome.setCookie.split(b";", 1)[0],),
        ),
        connection,
    )
    fetch.respond(PageResponse(200, b"text/css"), 0.0)
    corrected = fetch.settle(()).setCookie
    assert corrected is not None
    _, again, _ = visit(ConnectionPushState(), corrected.split(b";", 1)[0])
    assert [a.path for a in again.push] == [failing, sharing]


# Link headers of the page.


def linkingRoot(siteDirectory, values):
    root = File(str(siteDirectory))
    root.putChild(b"linked", LinkingPage(values))
    return root


NOPUSH_APP = b"</app.js>; rel=preload; as=script; nopush"


def test_nopushLinkIsLeftToTheBrowser(serve, siteDirectory):
    """
    docs/link-headers.md ("Reading"), docs/link-headers-from-resources.md
    and docs/cache-aware-push.md: a link with nopush is not pushed, not
    hinted (not even once remembered, as the page's other link is) and not
    recorded; the page's own Link headers stay on the response as they
    were, and txpush adds none for them.
    """
    values = [STYLE_LINK, NOPUSH_APP]
    server, _ = serveFiles(
        serve, siteDirectory, root=linkingRoot(siteDirectory, values), manifest=None
    )
    with H2Client(server.portNumber) as client:
        page = client.get(b"/linked")
        assert pushed(client) == [b"/style.css"]
    assert links(page) == values
    assert cookieKeys(page) == named(b"/style.css")
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(b"/linked")
    assert hints(browser) == [STYLE_LINK] and links(browser) == values
    assert cookieDigest(browser) is None


def test_nopushLinkDoesNotUnnameAnotherSource(serve, siteDirectory):
    """
    docs/link-headers.md ("Reading") and docs/cache-aware-push.md: nopush
    concerns its own link only: an asset the manifest also names is pushed
    all the same.
    """
    server, _ = serveFiles(
        serve,
        siteDirectory,
        {"/linked": ["/app.js"]},
        root=linkingRoot(siteDirectory, [NOPUSH_APP]),
    )
    with H2Client(server.portNumber) as client:
        page = client.get(b"/linked")
        assert pushed(client) == [b"/app.js"]
    assert links(page) == [NOPUSH_APP]


def test_pagesOwnLinkForACachedAssetIsKept(serve, siteDirectory):
    """
    docs/link-headers-from-resources.md and docs/cache-aware-push.md: an
    asset the digest names is not pushed, and txpush lists nothing for it;
    the page's own Link header for it stays as it was.
    """
    server, _ = serveFiles(
        serve,
        siteDirectory,
        root=linkingRoot(siteDirectory, [APP_LINK, STYLE_LINK]),
        manifest=None,
    )
    with H2Client(server.portNumber) as client:
        page = client.get(b"/linked", headers=[cookieOf(b"/app.js")])
        assert pushed(client) == [b"/style.css"]
    assert links(page) == [APP_LINK, STYLE_LINK]
    assert cookieKeys(page) == named(b"/app.js", b"/style.css")


class HintedLinks(CacheAwarePushResource):
    """Names the stylesheet of /linked before it renders, too."""

    def assetsFor(self, request):
        return [b"/style.css"] if request.path == b"/linked" else []


def test_assetNamedBothWaysIsPushedHintedAndListedOnce(serve, siteDirectory):
    """
    docs/link-headers-from-resources.md ("Early Hints need the assets
    earlier"): an asset named by assetsFor and by the page's Link header is
    pushed or hinted, and listed, once; a Link header's asset alone is
    pushed and listed, and hinted only once a response listed it
    (docs/cache-aware-push.md, "Hints learned from Link headers").
    """
    root = linkingRoot(siteDirectory, [STYLE_LINK, APP_LINK])
    server = serveResource(serve, HintedLinks(root, PushConfig()))
    with H2Client(server.portNumber, enablePush=False) as client:
        assert hints(client.get(b"/linked")) == [STYLE_LINK]
    with H2Client(server.portNumber) as client:
        page = client.get(b"/linked")
        assert pushed(client) == [b"/style.css", b"/app.js"]
    assert links(page) == [STYLE_LINK, APP_LINK]
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(b"/linked")
    assert hints(browser) == [STYLE_LINK, APP_LINK]
    assert links(browser) == [STYLE_LINK, APP_LINK]


# When things happen.


def test_promisesPrecedeThePageHeaders(serve, transport, siteDirectory):
    """
    docs/cache-aware-push.md ("When things happen") and
    docs/how-it-works.md: the PUSH_PROMISE frames precede the page's
    HEADERS, so no byte of the page reaches the client before them.
    """
    server, _ = serveFiles(serve, siteDirectory, tls=transport == "tls")
    seen: list[tuple[bytes | None, bool]] = []

    def promised(client: H2Client, stream: Stream) -> None:
        parent = client.streams[stream.parentStreamID]
        seen.append((stream.path, parent.headers is None and not parent.body))

    with H2Client(server.portNumber, tls=server.tls, onPushPromise=promised) as client:
        page = client.get(b"/")
    assert page.status == 200
    assert seen == [(b"/style.css", True), (b"/app.js", True), (b"/logo.png", True)]


class HeldPage(Resource):
    """A page that renders only when the test releases it."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.held: list[object] = []

    def render_GET(self, request):
        self.held.append(request)
        return NOT_DONE_YET

    def release(self) -> None:
        for request in self.held:
            request.setHeader(b"content-type", b"text/html")
            request.write(INDEX_HTML)
            request.finish()


def test_earlyHintsGoOutBeforeThePageRenders(serve, transport, siteDirectory):
    """
    docs/cache-aware-push.md ("When things happen") and
    docs/how-it-works.md: the 103 Early Hints go out when the request
    arrives, while the page has yet to answer.
    """
    held = HeldPage()
    root = File(str(siteDirectory))
    root.putChild(b"held", held)
    server, _ = serveFiles(
        serve,
        siteDirectory,
        {"/held": ["/style.css", "/app.js"]},
        root=root,
        tls=transport == "tls",
    )
    with H2Client(server.portNumber, tls=server.tls, enablePush=False) as client:
        streamID = client.request(b"/held")
        page = client.streams[streamID]
        client.runUntil(lambda: page.informational != [])
        assert page.headers is None and held.held != []
        assert hints(page) == [STYLE_LINK, APP_LINK]
        onReactor(held.release)
        client.runUntil(lambda: page.done)
    assert page.status == 200 and links(page) == [STYLE_LINK, APP_LINK]


# Failed pushes, for every client.


def test_failedAssetIsLeftOutForEveryClient(serve, siteDirectory):
    """
    docs/cache-aware-push.md and docs/digest.md ("What the digest names"):
    an asset whose push answered 404 is then left out of its page, neither
    pushed to the next client, nor hinted nor listed to a browser.
    """
    warned = []

    def observe(event):
        if event.get("log_level") == LogLevel.warn:
            warned.append(event)

    server, _ = serveFiles(
        serve, siteDirectory, {"/index.html": ["/style.css", "/gone.js"]}
    )
    globalLogPublisher.addObserver(observe)
    try:
        with H2Client(server.portNumber) as client:
            client.get(b"/")
            assert [(p.path, p.status) for p in client.pushes()] == [
                (b"/style.css", 200),
                (b"/gone.js", 404),
            ]
        assert waitFor(lambda: len(warned) == 1)
    finally:
        globalLogPublisher.removeObserver(observe)
    with H2Client(server.portNumber) as client:
        again = client.get(b"/")
        assert pushed(client) == [b"/style.css"]
    assert links(again) == [STYLE_LINK]
    with H2Client(server.portNumber, enablePush=False) as client:
        browser = client.get(b"/")
    assert hints(browser) == [STYLE_LINK] == links(browser)


# The settings.


@pytest.mark.parametrize(
    ("config", "pushing", "browsing"),
    [
        # (pushed, hinted, listed, cookie keys) for a client that takes
        # pushes, then for one that does not.
        (
            {},
            ([b"/style.css", b"/app.js"], [], [STYLE_LINK, APP_LINK], 2),
            ([], [STYLE_LINK, APP_LINK], [STYLE_LINK, APP_LINK], None),
        ),
        (
            {"push": False},
            ([], [STYLE_LINK, APP_LINK], [STYLE_LINK, APP_LINK], None),
            ([], [STYLE_LINK, APP_LINK], [STYLE_LINK, APP_LINK], None),
        ),
        (
            {"earlyHints": False},
            ([b"/style.css", b"/app.js"], [], [STYLE_LINK, APP_LINK], 2),
            ([], [], [STYLE_LINK, APP_LINK], None),
        ),
        (
            {"addLinkHeaders": False},
            ([b"/style.css", b"/app.js"], [], [], 2),
            ([], [STYLE_LINK, APP_LINK], [], None),
        ),
        (
            {"useDigest": False},
            ([b"/style.css", b"/app.js"], [], [STYLE_LINK, APP_LINK], None),
            ([], [STYLE_LINK, APP_LINK], [STYLE_LINK, APP_LINK], None),
        ),
    ],
    ids=["defaults", "push-off", "hints-off", "no-link-headers", "no-digest"],
)
def test_settings(serve, siteDirectory, config, pushing, browsing):
    """
    docs/cache-aware-push.md ("Configuration"), README's options: push off
    hints every client and pushes to none; earlyHints off sends no 103;
    addLinkHeaders off lists nothing; useDigest off sets no cookie; in each
    case hinted assets are not recorded.
    """
    server, _ = serveFiles(
        serve, siteDirectory, {"/index.html": ["/style.css", "/app.js"]}, **config
    )
    for enablePush, (push, hinted, listed, keys) in (
        (True, pushing),
        (False, browsing),
    ):
        with H2Client(server.portNumber, enablePush=enablePush) as client:
            page = client.get(b"/")
            assert pushed(client) == push
        assert hints(page) == hinted
        assert links(page) == listed
        digest = cookieDigest(page)
        assert (None if digest is None else len(digest)) == keys


# Where a page's assets come from.


def test_assetsComeFromAssetsForTheManifestLearningThenLinks():
    """
    docs/cache-aware-push.md ("Where a page's assets come from"),
    docs/subclassing.md and docs/learned-push.md: assetsFor first, then the
    manifest, then learned assets, then the page's Link headers; learned
    assets go through the same policy (the digest, maxPushes).
    """
    learner = AssetLearner(LearningConfig(minLoads=1))
    load = learner.recordLoad(b"/index.html", False)
    for path in (b"/learned.js", b"/cached.js", b"/manifest.css"):
        learner.observe(load, asset(path))
    config = PushConfig(
        manifest=Manifest.fromMapping({"/index.html": ["/manifest.css"]}),
        learning=learner.config,
        maxPushes=3,
    )
    request = PageRequest(
        method=b"GET",
        path=b"/index.html",
        uri=b"/index.html",
        canPush=True,
        cookieHeaders=(cookieOf(b"/cached.js")[1],),
    )
    session = PageSession(
        config, request, ConnectionPushState(), learner, [asset(b"/own.js")]
    )
    actions = session.respond(
        PageResponse(
            200,
            b"text/html",
            linkHeaders=(b"</linked.css>; rel=preload; as=style",),
        ),
        0.0,
    )
    outcome = session.settle(actions.push)
    assert [a.path for a in actions.push] == [
        b"/own.js",
        b"/manifest.css",
        b"/learned.js",
    ]
    assert [a.path for a in outcome.plan.skippedCached] == [b"/cached.js"]
    assert [a.path for a in outcome.plan.skippedLimit] == [b"/linked.css"]


class RecordingPush(CacheAwarePushResource):
    """Records each request assetsFor is called for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[bytes] = []

    def assetsFor(self, request):
        self.calls.append(request.uri)
        return [b"/style.css", b"/app.js"] if request.path == b"/" else []


def test_assetsForIsCalledForEveryRequestButPushedOnes(serve, siteDirectory):
    """
    docs/subclassing.md ("The contract of assetsFor"): it is called for
    every request the resource serves, the assets' own included, and not
    for pushed requests.
    """
    resource = RecordingPush(File(str(siteDirectory)), PushConfig())
    server = serveResource(serve, resource)
    with H2Client(server.portNumber) as client:
        client.get(b"/")
        assert pushed(client) == [b"/style.css", b"/app.js"]
        client.get(b"/logo.png")
    assert resource.calls == [b"/", b"/logo.png"]


# IPusher.


class PushingPage(Resource):
    """A page that pushes two scripts and keeps what became of them."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.results: list[object] = []

    def render_GET(self, request):
        pusher = IPusher(request, None)
        for target in (b"/app.js", b"/secret.js"):
            pusher.push(target).addCallback(self.results.append)
        return b"<html>page</html>"


def test_pushResultSaysWhetherTheClientMayKeepIt(serve):
    """
    docs/push.md ("Pushing"): the Deferred of push() fires with a
    PushResult(path, streamID, completed, status, bytesSent, noStore);
    noStore tells a response with Cache-Control: no-store.
    """
    page = PushingPage()
    root = Resource()
    root.putChild(b"", page)
    root.putChild(b"app.js", Data(b"app();\n", "text/javascript"))
    root.putChild(b"secret.js", NotToKeep())
    server = serveResource(serve, root)
    with H2Client(server.portNumber) as client:
        client.get(b"/")
    assert waitFor(lambda: len(page.results) == 2)
    results = sorted(page.results, key=lambda r: r.path)
    assert [
        (r.path, r.completed, r.status, r.bytesSent, r.noStore) for r in results
    ] == [
        (b"/app.js", True, 200, 7, False),
        (b"/secret.js", True, 200, len(b"console.log('secret');\n"), True),
    ]
    assert all(r.streamID % 2 == 0 for r in results)
