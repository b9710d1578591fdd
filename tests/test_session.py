"""
L{txpush.session.PageSession}, the sans-I/O decisions for one page: plain
values in, actions out, no sockets.
"""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import Asset
from txpush.config import PushConfig
from txpush.connectionstate import ConnectionPushState
from txpush.delivery import UndeliveredBook
from txpush.digest import CacheDigest
from txpush.failedassets import FailedAssets
from txpush.learning import AssetLearner, LearningConfig
from txpush.linkhints import LinkHintMemory
from txpush.manifest import Manifest
from txpush.session import (
    LearnedAsset,
    LearnedLoad,
    PageRequest,
    PageResponse,
    PageSession,
)

STYLE = Asset(b"/style.css", "style")
APP = Asset(b"/app.js", "script")
LOGO = Asset(b"/logo.svg", "image")
MANIFEST = Manifest.fromMapping({"/index.html": ["/style.css", "/app.js", "/logo.svg"]})
HTML = PageResponse(status=200, contentType=b"text/html")


def page(**overrides: object) -> PageRequest:
    """A GET of /index.html, with C{overrides}."""
    fields: dict[str, object] = {
        "method": b"GET",
        "path": b"/index.html",
        "uri": b"/index.html",
        "authority": b"example.com",
    }
    fields.update(overrides)
    return PageRequest(**fields)  # type: ignore[arg-type]


def cookieFor(*paths: bytes, config: PushConfig | None = None) -> bytes:
    """The Cookie field value of a digest holding C{paths}."""
    config = config or PushConfig()
    digest = CacheDigest(config.capacityBits)
    for path in paths:
        digest.add(path)
    return config.cookieName + b"=" + digest.cookieValue().encode()


def digestOf(setCookie: bytes, config: PushConfig | None = None) -> CacheDigest:
    """The digest a C{Set-Cookie} value carries."""
    config = config or PushConfig()
    crumb = setCookie.split(b";", 1)[0]
    return CacheDigest.fromCookieHeaders(
        [crumb], config.cookieName, config.capacityBits
    )


def run(
    session: PageSession,
    response: PageResponse = HTML,
    refuse: frozenset[bytes] = frozenset(),
):
    """Respond, push all but C{refuse}, settle: the actions and outcome."""
    actions = session.respond(response, now=0.0)
    pushed = [a for a in actions.push if a.path not in refuse]
    return actions, session.settle(pushed)


def test_clientThatCannotPushGetsHintsAndPreloads():
    """
    A client that takes no pushes gets every asset as Early Hints before the
    page renders, and as preload headers.  The digest records none of them:
    the client has not got them yet (it records each when the client
    fetches it), so the page sets no cookie.
    """
    config = PushConfig(manifest=MANIFEST)
    session = PageSession(config, page(), ConnectionPushState())
    hints = session.earlyHints()
    assert hints == (
        b"</style.css>; rel=preload; as=style",
        b"</app.js>; rel=preload; as=script",
        b"</logo.svg>; rel=preload; as=image",
    )
    assert session.hintsSent() == (STYLE, APP, LOGO)
    actions, outcome = run(session)
    assert actions.push == ()
    assert actions.preloadLinks == hints
    assert outcome.hinted == (STYLE, APP, LOGO)
    assert outcome.setCookie is None
    assert session.outcome is outcome


def test_clientThatPushesGetsPushesAndNoHints():
    """
    A client that takes pushes gets no Early Hints; its page pushes every
    asset, and the digest records every one it pushed.
    """
    config = PushConfig(manifest=MANIFEST)
    session = PageSession(config, page(canPush=True), ConnectionPushState())
    assert session.earlyHints() == ()
    actions, outcome = run(session)
    assert actions.push == (STYLE, APP, LOGO)
    assert outcome.plan.push == (STYLE, APP, LOGO)
    assert outcome.hadAssets
    assert outcome.setCookie is not None


def test_refusedPushIsNotRemembered():
    """
    A push the connection refused is not written into the digest, and is
    not in the outcome's plan.
    """
    config = PushConfig(manifest=MANIFEST)
    session = PageSession(config, page(canPush=True), ConnectionPushState())
    _, outcome = run(session, refuse=frozenset({b"/app.js"}))
    assert outcome.plan.push == (STYLE, LOGO)
    assert outcome.setCookie is not None
    digest = digestOf(outcome.setCookie)
    assert b"/style.css" in digest
    assert b"/app.js" not in digest


def test_cachedAssetsAreNeitherPushedNorHinted():
    """
    What the client's digest holds is skipped, and a digest that does not
    change is not sent again.
    """
    config = PushConfig(manifest=Manifest.fromMapping({"/index.html": ["/app.js"]}))
    cookie = cookieFor(b"/app.js")
    for canPush in (True, False):
        session = PageSession(
            config, page(canPush=canPush, cookieHeaders=(cookie,)), None
        )
        assert session.earlyHints() == ()
        actions, outcome = run(session)
        assert actions.push == ()
        assert actions.preloadLinks == ()
        assert outcome.plan.skippedCached == (APP,)
        assert outcome.setCookie is None


def test_diarySkipsWhatTheConnectionPushed():
    """
    An asset already pushed on the connection is not pushed again.
    """
    config = PushConfig(manifest=MANIFEST, useDigest=False)
    connection = ConnectionPushState()
    connection.diary.add(b"/style.css")
    session = PageSession(config, page(canPush=True), connection)
    actions, outcome = run(session)
    assert actions.push == (APP, LOGO)
    assert outcome.plan.skippedDiary == (STYLE,)
    assert outcome.setCookie is None


def test_concurrentResponsesCarryTheUnion():
    """
    Two pages on one connection whose requests carried the same old cookie:
    the second response's digest holds what the first sent, so the client
    keeps both whichever Set-Cookie it applies last.
    """
    connection = ConnectionPushState()
    first = PageSession(
        PushConfig(manifest=Manifest.fromMapping({"/index.html": ["/app.js"]})),
        page(canPush=True),
        connection,
    )
    second = PageSession(
        PushConfig(manifest=Manifest.fromMapping({"/other.html": ["/style.css"]})),
        page(canPush=True, path=b"/other.html", uri=b"/other.html"),
        connection,
    )
    _, firstOutcome = run(first)
    _, secondOutcome = run(second)
    assert firstOutcome.setCookie is not None and secondOutcome.setCookie is not None
    union = digestOf(secondOutcome.setCookie)
    assert b"/app.js" in union and b"/style.css" in union


@pytest.mark.parametrize(
    ("request_", "response", "reason"),
    [
        (page(method=b"POST"), HTML, "POST request"),
        (page(conditional=True), HTML, "conditional request"),
        (page(), PageResponse(status=404), "status 404"),
    ],
)
def test_ineligiblePagesGetNothing(request_, response, reason):
    """
    A page that is not a plain GET answered 2xx pushes and lists nothing.
    """
    session = PageSession(
        PushConfig(manifest=MANIFEST), request_, ConnectionPushState()
    )
    actions, outcome = run(session, response)
    assert actions.push == () and actions.preloadLinks == ()
    assert outcome.plan.reason == reason


def test_linkHeadersOfTheResponse():
    """
    Preload links the application set are pushed (except C{nopush} ones),
    and are not listed twice.
    """
    session = PageSession(PushConfig(), page(canPush=True), ConnectionPushState())
    response = PageResponse(
        status=200,
        contentType=b"text/html",
        linkHeaders=(
            b"</app.js>; rel=preload; as=script",
            b"</style.css>; rel=preload; as=style; nopush",
        ),
    )
    actions, outcome = run(session, response)
    assert actions.push == (APP,)
    assert actions.preloadLinks == ()
    assert outcome.hadAssets


def test_linkHeadersIgnoredWhenTurnedOff():
    """
    With C{readLinkHeaders} off, the application's links name no asset.
    """
    session = PageSession(
        PushConfig(readLinkHeaders=False), page(canPush=True), ConnectionPushState()
    )
    response = PageResponse(
        status=200, linkHeaders=(b"</app.js>; rel=preload; as=script",)
    )
    actions, outcome = run(session, response)
    assert actions.push == ()
    assert not outcome.hadAssets


def test_fetchedAssetIsRemembered():
    """
    A whole 200 GET of a tracked asset type goes into the digest of the
    client that fetched it.
    """
    session = PageSession(
        PushConfig(),
        page(path=b"/app.js", uri=b"/app.js?v=2"),
        ConnectionPushState(),
    )
    _, outcome = run(session, PageResponse(status=200, contentType=b"text/javascript"))
    assert outcome.setCookie is not None
    assert b"/app.js?v=2" in digestOf(outcome.setCookie)


def test_learningAssociatesAssetsWithTheirPage():
    """
    A page load, then an asset fetched with a same-origin Referer on the same
    connection, are recorded; after two such loads the page has learned the
    asset.
    """
    learner = AssetLearner(LearningConfig(minLoads=2))
    config = PushConfig(learning=learner.config)
    connection = ConnectionPushState()
    for _ in range(2):
        load = PageSession(config, page(), connection, learner)
        _, outcome = run(load)
        assert outcome.learned == LearnedLoad(b"/index.html")
        fetched = PageSession(
            config,
            page(
                path=b"/app.js",
                uri=b"/app.js",
                referer=b"https://example.com/index.html",
            ),
            connection,
            learner,
        )
        _, outcome = run(
            fetched, PageResponse(status=200, contentType=b"text/javascript")
        )
        assert outcome.learned == LearnedAsset(b"/index.html", APP)
    assert learner.learnedPages() == {b"/index.html": (APP,)}
    later = PageSession(config, page(canPush=True), ConnectionPushState(), learner)
    actions, _ = run(later)
    assert actions.push == (APP,)


def test_otherOriginRefererTeachesNothing():
    """
    An asset whose Referer is another origin is not associated.
    """
    learner = AssetLearner()
    config = PushConfig(learning=learner.config)
    connection = ConnectionPushState()
    run(PageSession(config, page(), connection, learner))
    fetched = PageSession(
        config,
        page(path=b"/app.js", uri=b"/app.js", referer=b"https://elsewhere.org/"),
        connection,
        learner,
    )
    _, outcome = run(fetched, PageResponse(status=200, contentType=b"text/javascript"))
    assert outcome.learned is None


def test_settleBeforeRespond():
    """
    The order is enforced: settle needs the response.
    """
    session = PageSession(PushConfig(), page())
    with pytest.raises(RuntimeError):
        session.settle([])


paths = st.lists(
    st.sampled_from(
        [b"/a.css", b"/b.js", b"/c.js", b"/d.css", b"/e.woff2", b"/f.png", b"/g.js"]
    ),
    unique=True,
)


@given(
    assets=paths,
    cached=paths,
    pushedBefore=paths,
    canPush=st.booleans(),
    maxPushes=st.integers(0, 8),
    refused=paths,
)
def test_planPartitionsTheAssets(
    assets, cached, pushedBefore, canPush, maxPushes, refused
):
    """
    For any assets, digest, diary and limit: each asset is exactly one of
    pushed, refused, cached, already pushed, over the limit (or hinted, for
    a client that takes no pushes); nothing cached is pushed or hinted; the
    new digest holds the old one; and a repeat visit with the new cookie
    pushes and hints no asset the digest tracks.
    """
    config = PushConfig(
        manifest=Manifest.fromMapping({"/index.html": [p.decode() for p in assets]}),
        maxPushes=maxPushes,
        track="all",
    )
    connection = ConnectionPushState()
    for path in pushedBefore:
        connection.diary.add(path)
    cookie = cookieFor(*cached, config=config)
    session = PageSession(
        config, page(canPush=canPush, cookieHeaders=(cookie,)), connection
    )
    hints = session.earlyHints()
    actions, outcome = run(session, refuse=frozenset(refused))
    plan = outcome.plan
    presented = digestOf(cookie, config)
    inDigest = [p for p in assets if p in presented]
    assert [a.path for a in plan.skippedCached] == inDigest
    fresh = [p for p in assets if p not in presented]
    if canPush:
        assert hints == ()
        attempted = [a.path for a in actions.push]
        assert sorted(
            attempted
            + [a.path for a in plan.skippedDiary]
            + [a.path for a in plan.skippedLimit]
        ) == sorted(fresh)
        assert len(attempted) <= maxPushes
        assert [a.path for a in plan.push] == [p for p in attempted if p not in refused]
        assert not set(attempted) & set(pushedBefore)
    else:
        assert [a.path for a in session.hintsSent()] == fresh
    assert not {a.path for a in plan.push} & set(inDigest)
    updated = digestOf(outcome.setCookie, config) if outcome.setCookie else presented
    assert set(presented.keys()) <= set(updated.keys())
    repeat = PageSession(
        config,
        page(
            canPush=canPush,
            cookieHeaders=(
                b"%s=%s" % (config.cookieName, updated.cookieValue().encode()),
            ),
        ),
        ConnectionPushState(),
    )
    repeat.earlyHints()
    again, _ = run(repeat)
    remembered = {a.path for a in plan.push}
    pushedKeys = digestOf(cookieFor(*remembered, config=config), config).keys()
    assert set(updated.keys()) == set(presented.keys()) | set(pushedKeys)
    assert not {a.path for a in again.push} & remembered
    assert not {a.path for a in repeat.hintsSent()} & remembered


def pushingSession(connection, cookie=None, **overrides):
    """A session of a client that takes pushes, on C{connection}."""
    config = overrides.pop("config", PushConfig(manifest=MANIFEST))
    cookies = () if cookie is None else (cookie,)
    return PageSession(
        config,
        page(canPush=True, cookieHeaders=cookies, client="192.0.2.1"),
        connection,
        **overrides,
    )


def fetchAfter(
    connection: ConnectionPushState,
    setCookie: bytes,
    path: bytes,
    contentType: bytes,
    config: PushConfig | None = None,
):
    """
    The client fetches C{path} on C{connection}, with the cookie
    C{setCookie} gave it: the fetch's outcome.
    """
    session = PageSession(
        config or PushConfig(manifest=MANIFEST),
        page(path=path, uri=path, cookieHeaders=(setCookie.split(b";", 1)[0],)),
        connection,
    )
    return run(session, PageResponse(status=200, contentType=contentType))[1]


def namesExactly(setCookie: bytes | None, *paths: bytes) -> bool:
    """Whether the cookie C{setCookie} sets names C{paths} and no other."""
    assert setCookie is not None
    return set(digestOf(setCookie).keys()) == set(digestOf(cookieFor(*paths)).keys())


def test_pushedImagesAreRememberedWhateverTheTracking():
    """
    Every pushed asset goes into the digest, images too: the tracking only
    decides which fetched responses are recorded.
    """
    _, outcome = run(pushingSession(ConnectionPushState()))
    assert set(digestOf(outcome.setCookie).keys()) == set(
        digestOf(cookieFor(b"/style.css", b"/app.js", b"/logo.svg")).keys()
    )


@pytest.mark.parametrize(
    ("status", "completed", "noStore"),
    [(404, True, False), (500, True, False), (200, False, False), (200, True, True)],
)
def test_failedPushIsTakenOutOfTheNextCookie(status, completed, noStore):
    """
    A push that fails (an error, cut short, not to be kept): the next
    response on the connection sets a cookie without it, though it needs
    nothing new.
    """
    connection = ConnectionPushState()
    first = pushingSession(connection)
    _, outcome = run(first)
    assert first.pushEnded(b"/app.js", 200, True, False, 1.0) is False
    first.pushEnded(b"/logo.svg", status, completed, noStore, 1.0)
    assert b"/logo.svg" in connection.undelivered and connection.correctionDue
    following = fetchAfter(connection, outcome.setCookie, b"/style.css", b"text/css")
    assert namesExactly(following.setCookie, b"/style.css", b"/app.js")
    assert not connection.correctionDue


def test_errorIsNewsOnceAndLeftOutOfThePage():
    """
    A push answering 400 or more is news once; the page then neither pushes
    nor hints it until its retry time; a success makes the next failure
    news again.
    """
    failures = FailedAssets(retryAfter=60)
    session = pushingSession(ConnectionPushState(), failures=failures)
    run(session)
    assert session.pushEnded(b"/app.js", 404, True, False, 10.0) is True
    assert session.pushEnded(b"/app.js", 404, True, False, 11.0) is False
    assert session.pushEnded(b"/logo.svg", 304, True, False, 11.0) is False
    later = pushingSession(ConnectionPushState(), failures=failures, now=69.0)
    actions, outcome = run(later)
    assert [a.path for a in actions.push] == [b"/style.css", b"/logo.svg"]
    assert outcome.plan.skippedFailing == (APP,)
    hinting = PageSession(
        PushConfig(manifest=MANIFEST), page(), failures=failures, now=69.0
    )
    assert b"/app.js" not in b"".join(hinting.earlyHints())
    retried = pushingSession(ConnectionPushState(), failures=failures, now=71.0)
    assert APP in run(retried)[0].push
    retried.pushEnded(b"/app.js", 200, True, False, 72.0)
    assert retried.pushEnded(b"/app.js", 404, True, False, 73.0) is True


def test_nextConnectionIsCorrectedFromTheBook():
    """
    A push that failed with its connection: the client's next connection,
    presenting the cookie it was last sent, gets it pushed again; another
    client with the same cookie does not, and the entry is taken once.
    """
    book = UndeliveredBook()
    connection = ConnectionPushState()
    first = pushingSession(connection, undelivered=book)
    _, outcome = run(first)
    first.pushEnded(b"/logo.svg", 200, False, False, 1.0)
    cookie = outcome.setCookie.split(b";", 1)[0]
    stranger = PageSession(
        PushConfig(manifest=MANIFEST),
        page(canPush=True, cookieHeaders=(cookie,), client="192.0.2.9"),
        ConnectionPushState(),
        undelivered=book,
    )
    assert run(stranger)[0].push == ()
    again = pushingSession(ConnectionPushState(), cookie, undelivered=book)
    actions, repeat = run(again)
    assert actions.push == (LOGO,)
    # Pushed again: the cookie it holds is right once more.
    assert repeat.setCookie is None
    once = pushingSession(ConnectionPushState(), cookie, undelivered=book)
    assert run(once)[0].push == ()


def test_fetchedAssetCutShortIsTakenBack():
    """
    A fetched stylesheet whose response was cut short: the next response
    sets a cookie without it.
    """
    connection = ConnectionPushState()
    config = PushConfig()
    fetched = PageSession(
        config, page(path=b"/style.css", uri=b"/style.css"), connection
    )
    _, outcome = run(fetched, PageResponse(status=200, contentType=b"text/css"))
    assert outcome.recordedItself and outcome.setCookie is not None
    fetched.responseEnded(False, 2.0)
    following = fetchAfter(
        connection, outcome.setCookie, b"/app.js", b"text/javascript", config
    )
    assert namesExactly(following.setCookie, b"/app.js")


def test_noStoreFetchIsNotRemembered():
    """
    A fetched script with Cache-Control: no-store is not recorded.
    """
    session = PageSession(PushConfig(), page(path=b"/app.js", uri=b"/app.js"))
    _, outcome = run(
        session,
        PageResponse(status=200, contentType=b"text/javascript", noStore=True),
    )
    assert not outcome.recordedItself and outcome.setCookie is None


def test_sourceOfEachAsset():
    """
    Where an asset came from, for the warning: assetsFor first, then the
    manifest, learning, and the page's Link headers.
    """
    own = Asset(b"/own.js", "script")
    session = pushingSession(ConnectionPushState(), ownAssets=[own])
    session.respond(
        PageResponse(
            status=200,
            contentType=b"text/html",
            linkHeaders=(b"</linked.css>; rel=preload; as=style",),
        ),
        now=0.0,
    )
    assert session.sourceOf(own) == "assetsFor"
    assert session.sourceOf(APP) == "the manifest"
    assert session.sourceOf(Asset(b"/linked.css", "style")) == (
        "a Link header of the page"
    )


OUTCOMES = st.sampled_from(
    [(200, True, False), (200, False, False), (200, True, True), (404, True, False)]
)


@given(st.lists(OUTCOMES, min_size=3, max_size=3))
def test_nextCookieNamesExactlyWhatWasDelivered(outcomes):
    """
    Whatever becomes of each push, the next response on the connection
    leaves the client with a cookie naming exactly the pushes it got whole
    and the asset it fetched.
    """
    connection = ConnectionPushState()
    first = pushingSession(connection)
    actions, outcome = run(first)
    assert len(actions.push) == 3
    for pushed, (status, completed, noStore) in zip(
        actions.push, outcomes, strict=True
    ):
        first.pushEnded(pushed.path, status, completed, noStore, 1.0)
    delivered = [
        pushed.path
        for pushed, (status, completed, noStore) in zip(
            actions.push, outcomes, strict=True
        )
        if status == 200 and completed and not noStore
    ]
    following = fetchAfter(connection, outcome.setCookie, b"/extra.css", b"text/css")
    assert namesExactly(following.setCookie, *delivered, b"/extra.css")


def test_rememberedLinksAreHintedNotPushed():
    """
    The page's earlier Link headers are hinted to a client that takes no
    pushes; a client that takes pushes gets only what this response lists.
    """
    memory = LinkHintMemory()
    config = PushConfig()
    linked = PageResponse(
        status=200,
        contentType=b"text/html",
        linkHeaders=(b"</style.css>; rel=preload; as=style",),
    )
    run(PageSession(config, page(), linkHints=memory), linked)
    hinting = PageSession(config, page(), linkHints=memory)
    assert hinting.earlyHints() == (b"</style.css>; rel=preload; as=style",)
    pushing = PageSession(config, page(canPush=True), linkHints=memory)
    assert pushing.earlyHints() == ()
    assert run(pushing)[0].push == ()


@pytest.mark.parametrize(
    ("method", "response"),
    [
        (b"GET", PageResponse(status=404, contentType=b"text/html")),
        (b"GET", PageResponse(status=200, contentType=b"application/json")),
        (b"GET", PageResponse(status=200)),
        (b"POST", PageResponse(status=200, contentType=b"text/html")),
    ],
)
def test_onlyPagesTeachHints(method, response):
    """
    Only a GET answered 2xx with HTML teaches its Link headers.
    """
    memory = LinkHintMemory()
    linked = attrs.evolve(
        response, linkHeaders=(b"</style.css>; rel=preload; as=style",)
    )
    run(PageSession(PushConfig(), page(method=method), linkHints=memory), linked)
    assert memory.hintsFor(b"/index.html").assets == ()


def test_hintsForNavigationsOnly():
    """
    A request whose Sec-Fetch headers say it is not a navigation gets no
    hints, even from the manifest.
    """
    config = PushConfig(manifest=MANIFEST)
    fetch = PageSession(config, page(fetchMode=b"cors", fetchDest=b"empty"))
    assert fetch.earlyHints() == ()
    navigation = PageSession(config, page(fetchMode=b"navigate"))
    assert len(navigation.earlyHints()) == 3
