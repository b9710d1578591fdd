"""
The pure push policy.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import Asset, asset
from txpush.digest import CacheDigest
from txpush.policy import (
    TRACK_ALL,
    TRACK_BLOCKING_ASSETS,
    PageFacts,
    PushPolicy,
    mergeAssets,
    planPage,
    tracksFetchedResponse,
)

STYLE = asset(b"/style.css")
APP = asset(b"/app.js")
LOGO = asset(b"/logo.png")
PAGE = [STYLE, APP, LOGO]

PUSHING = PageFacts(method=b"GET", conditional=False, status=200, canPush=True)
HINTING = PageFacts(method=b"GET", conditional=False, status=None, canPush=False)


def digestOf(*assets: Asset) -> CacheDigest:
    digest = CacheDigest()
    for a in assets:
        digest.add(a.path)
    return digest


def test_firstVisitPushesEverything():
    """
    With an empty digest, every asset is pushed and listed as preload,
    images as well as stylesheets and scripts.
    """
    plan = planPage(PushPolicy(), PUSHING, PAGE, CacheDigest())
    assert plan.push == (STYLE, APP, LOGO)
    assert plan.preload == (STYLE, APP, LOGO)
    assert plan.hint == () and plan.reason is None


def test_cachedAssetsAreNeitherPushedNorHinted():
    """
    What the digest holds is skipped, for push and hint clients alike.
    """
    digest = digestOf(STYLE)
    pushing = planPage(PushPolicy(), PUSHING, PAGE, digest)
    assert pushing.push == (APP, LOGO)
    assert pushing.skippedCached == (STYLE,)
    hinting = planPage(PushPolicy(), HINTING, PAGE, digest)
    assert hinting.hint == (APP, LOGO) == hinting.preload
    assert hinting.push == ()
    assert hinting.skippedCached == (STYLE,)


def test_noDigestMeansPlainPush():
    """
    Without a digest (push not cache aware), nothing is remembered or
    skipped as cached.
    """
    plan = planPage(PushPolicy(), PUSHING, PAGE, None)
    assert plan.push == tuple(PAGE)
    assert plan.skippedCached == ()


def test_diarySkipsAssetsPushedOnTheConnection():
    """
    An asset already pushed on the connection is not pushed again, nor
    listed as preload.
    """
    plan = planPage(PushPolicy(), PUSHING, PAGE, None, diary={APP.path})
    assert plan.push == (STYLE, LOGO)
    assert plan.skippedDiary == (APP,)
    assert APP not in plan.preload


def test_maxPushes():
    """
    Beyond maxPushes, assets are not pushed but still listed as preload.
    """
    plan = planPage(PushPolicy(maxPushes=1), PUSHING, PAGE, CacheDigest())
    assert plan.push == (STYLE,)
    assert plan.skippedLimit == (APP, LOGO)
    assert plan.preload == (STYLE, APP, LOGO)


def test_pushOffHintsEveryone():
    """
    With push off, a push-capable client gets hints instead.
    """
    plan = planPage(PushPolicy(push=False), PUSHING, PAGE, CacheDigest())
    assert plan.push == ()
    assert plan.hint == tuple(PAGE)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (PageFacts(b"HEAD", False, 200, True), "HEAD request"),
        (PageFacts(b"POST", False, 200, True), "POST request"),
        (PageFacts(b"GET", True, 200, True), "conditional request"),
        (PageFacts(b"GET", False, 304, True), "status 304"),
        (PageFacts(b"GET", False, 404, False), "status 404"),
        (PageFacts(b"GET", False, 500, True), "status 500"),
    ],
)
def test_ineligiblePages(facts, reason):
    """
    Only non-conditional GET pages answering 2xx push or hint anything.
    """
    plan = planPage(PushPolicy(), facts, PAGE, CacheDigest())
    assert plan.reason == reason
    assert plan.push == plan.hint == plan.preload == ()


@pytest.mark.parametrize("facts", [PUSHING, HINTING])
def test_failingAssetsAreLeftOut(facts):
    """
    An asset that answered an error when last pushed for the page is
    neither pushed, hinted nor listed; the others are.
    """
    plan = planPage(PushPolicy(), facts, PAGE, CacheDigest(), failing={APP.path})
    assert plan.skippedFailing == (APP,)
    assert APP not in plan.push + plan.hint + plan.preload
    assert STYLE in plan.preload and LOGO in plan.preload


def test_cachedBeatsFailing():
    """
    An asset the digest names counts as cached, failing or not.
    """
    plan = planPage(
        PushPolicy(), PUSHING, PAGE, digestOf(APP), failing={APP.path, LOGO.path}
    )
    assert plan.skippedCached == (APP,)
    assert plan.skippedFailing == (LOGO,)
    assert plan.push == (STYLE,)


def test_mergeAssetsFirstListingWins():
    """
    Merging keeps each path once, in order of first appearance, with its
    first listing's type.
    """
    typed = Asset(b"/app.js", "fetch")
    assert mergeAssets([STYLE, APP], [typed, LOGO, STYLE]) == (STYLE, APP, LOGO)
    assert mergeAssets([typed], [APP]) == (typed,)


@pytest.mark.parametrize(
    ("path", "status", "contentType", "tracked"),
    [
        (b"/style.css", 200, b"text/css", True),
        (b"/x", 200, b"text/css; charset=utf-8", True),
        (b"/app.js?v=2", 200, None, True),
        (b"/app.js", 200, b"application/javascript", True),
        (b"/app.js", 304, b"application/javascript", True),
        (b"/app.js", 304, None, True),
        (b"/app.js", 206, b"application/javascript", False),
        (b"/app.js", 204, b"application/javascript", False),
        (b"/app.js", 404, b"text/html", False),
        (b"/logo.png", 200, b"image/png", False),
        (b"/index.html", 200, b"text/html", False),
        (b"/api", 200, None, False),
    ],
)
def test_tracksFetchedResponse(path, status, contentType, tracked):
    """
    With blocking-assets tracking, a response the client fetched itself is
    remembered when it is a 200 blocking asset, by media type or extension.
    """
    policy = PushPolicy(track=TRACK_BLOCKING_ASSETS)
    assert tracksFetchedResponse(policy, b"GET", path, status, contentType) is tracked


def test_trackAllFetched():
    """
    Tracking all, the default, remembers any fetched asset, but never a
    page.
    """
    assert PushPolicy().track == TRACK_ALL
    policy = PushPolicy(track=TRACK_ALL)
    assert tracksFetchedResponse(policy, b"GET", b"/logo.png", 200, b"image/png")
    assert tracksFetchedResponse(policy, b"GET", b"/f.woff2", 200, b"font/woff2")
    assert not tracksFetchedResponse(policy, b"GET", b"/", 200, b"text/html")


def test_noStoreIsNotTracked():
    """
    A response the client may not keep does not go into its digest.
    """
    assert not tracksFetchedResponse(
        PushPolicy(), b"GET", b"/app.js", 200, None, noStore=True
    )


def test_onlyWholeGETResponsesAreTracked():
    """
    A HEAD or a range request did not give the client the asset.
    """
    policy = PushPolicy()
    assert not tracksFetchedResponse(policy, b"HEAD", b"/app.js", 200, None)
    assert not tracksFetchedResponse(policy, b"GET", b"/app.js", 206, None)


@pytest.mark.parametrize("kwargs", [{"maxPushes": -1}, {"track": "some"}])
def test_invalidPolicy(kwargs):
    """
    A negative maxPushes or an unknown track is refused at once.
    """
    with pytest.raises(ValueError):
        PushPolicy(**kwargs)


paths = st.lists(
    st.from_regex(rb"/[a-z]{1,6}\.(css|js|png)", fullmatch=True), max_size=30
)


@given(
    paths,
    paths,
    paths,
    st.integers(0, 12),
    st.booleans(),
    st.sampled_from([200, 204, 301, 404, None]),
)
def test_planInvariants(pagePaths, cachedPaths, diaryPaths, maxPushes, canPush, status):
    """
    Whatever the inputs: nothing cached is pushed or hinted, nothing in the
    diary is pushed, at most maxPushes are pushed, each asset is pushed at
    most once, and every asset lands in exactly one bucket.
    """
    assets = mergeAssets([asset(p) for p in pagePaths])
    digest = digestOf(*(asset(p) for p in cachedPaths))
    facts = PageFacts(b"GET", False, status, canPush)
    plan = planPage(
        PushPolicy(maxPushes=maxPushes), facts, assets, digest, set(diaryPaths)
    )
    if plan.reason is not None:
        assert status not in (200, 204, None)
        return
    assert len(plan.push) <= maxPushes
    assert len({a.path for a in plan.push}) == len(plan.push)
    for a in plan.push + plan.hint:
        assert a.path not in digest
    for a in plan.push:
        assert a.path not in diaryPaths
    buckets = (
        plan.push
        + plan.hint
        + plan.skippedCached
        + plan.skippedDiary
        + plan.skippedLimit
    )
    assert sorted(a.path for a in buckets) == sorted(a.path for a in assets)
