"""
Learned push: the pure learner, and learning from real connections.
"""

from __future__ import annotations

import json
import resource as processResource

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.web.static import File

from tests.sites import makeSite
from txpush import CacheAwarePushResource, PushConfig, PushSite
from txpush.assets import asset
from txpush.learning import AssetLearner, LearnFileError, LearningConfig, pageKey
from txpush.testing.h2client import H2Client

STYLE = asset(b"/style.css")
APP = asset(b"/app.js")
LOGO = asset(b"/logo.png")


def load(learner, page, *assets):
    """One load of C{page} that fetches C{assets}; returns the load."""
    _, probe = learner.assetsFor(page)
    record = learner.recordLoad(page, probe)
    for seen in assets:
        learner.observe(record, seen)
    return record


def test_learnedAfterMinLoads():
    """
    An asset is learned once seen in minLoads loads, not before; the most
    often seen come first.
    """
    learner = AssetLearner(LearningConfig(minLoads=2, recentLoads=4))
    load(learner, b"/", STYLE, APP)
    assert learner.assetsFor(b"/") == ((), False)
    load(learner, b"/", APP, LOGO)
    assert learner.assetsFor(b"/") == ((APP,), False)


def test_oneOffRequestsAreNotLearned():
    """
    What one load alone fetched is never learned.
    """
    learner = AssetLearner(LearningConfig(minLoads=2, recentLoads=4))
    for i in range(4):
        load(learner, b"/", STYLE, asset(f"/once{i}.js"))
    assert learner.assetsFor(b"/") == ((STYLE,), False)


def test_probesLetStaleAssetsGo():
    """
    Once learned, one load in probeEvery withholds the learned assets; what
    clients stop fetching leaves the list after enough probes.
    """
    config = LearningConfig(minLoads=2, recentLoads=3, probeEvery=2)
    learner = AssetLearner(config)
    load(learner, b"/", STYLE, APP)
    load(learner, b"/", STYLE, APP)
    assert learner.learnedPages()[b"/"] == (STYLE, APP)
    probes = 0
    for _ in range(12):
        assets, probe = learner.assetsFor(b"/")
        probes += probe
        assert assets == (() if probe else learner.learnedPages()[b"/"])
        # The page now uses only the stylesheet; loads that pushed the
        # learned assets see nothing.
        load(learner, b"/", *([STYLE] if probe else []))
    assert probes == 6
    assert learner.learnedPages()[b"/"] == (STYLE,)


def test_pushedLoadsDoNotCount():
    """
    Loads that learned assets influenced (not probes) record nothing.
    """
    learner = AssetLearner(LearningConfig(minLoads=1, recentLoads=2, probeEvery=100))
    load(learner, b"/", STYLE)
    record = load(learner, b"/", APP)
    assert not record.informative
    assert learner.assetsFor(b"/") == ((STYLE,), False)


def test_pageKeysIgnoreTheQuery():
    """
    A page's key is its path without the query; an asset keeps its query.
    """
    assert pageKey(b"/index.html?utm=1") == b"/index.html"
    learner = AssetLearner(LearningConfig(minLoads=1))
    load(learner, pageKey(b"/?a=1"), asset(b"/app.js?v=3"))
    assert learner.assetsFor(b"/")[0] == (asset(b"/app.js?v=3"),)


@given(
    st.lists(
        st.tuples(st.integers(0, 500), st.lists(st.integers(0, 500), max_size=50)),
        max_size=300,
    )
)
@settings(max_examples=50, deadline=None)
def test_boundedWhateverTheTraffic(traffic):
    """
    However many distinct pages and assets come, the learner keeps at most
    maxPages pages, recentLoads loads each, maxAssetsPerLoad assets a load.
    """
    config = LearningConfig(maxPages=20, recentLoads=3, maxAssetsPerLoad=5)
    learner = AssetLearner(config)
    for page, assets in traffic:
        load(learner, f"/p{page}".encode(), *(asset(f"/a{a}.js") for a in assets))
    assert len(learner) <= 20
    for state in learner._pages.values():
        assert len(state.loads) <= 3
        assert all(len(record.assets) <= 5 for record in state.loads)


def test_floodMemory():
    """
    A flood of 250,000 distinct page and asset observations leaves the
    learner's memory bounded by its caps (measured, for the record).
    """
    config = LearningConfig()
    learner = AssetLearner(config)
    before = processResource.getrusage(processResource.RUSAGE_SELF).ru_maxrss
    for i in range(5000):
        record = learner.recordLoad(f"/page{i}".encode(), False)
        for j in range(50):
            learner.observe(record, asset(f"/asset{i}-{j}.js"))
    after = processResource.getrusage(processResource.RUSAGE_SELF).ru_maxrss
    assert len(learner) == config.maxPages
    assert sum(len(r.assets) for s in learner._pages.values() for r in s.loads) <= (
        config.maxPages * config.recentLoads * config.maxAssetsPerLoad
    )
    # 1000 pages x 1 load x 32 assets: a few MB at most (ru_maxrss is in KiB).
    assert after - before < 64 * 1024


def test_saveAndLoad(tmp_path):
    """
    What is learned survives a save and a load; the file is replaced
    atomically (no temporary file is left).
    """
    config = LearningConfig(minLoads=2)
    learner = AssetLearner(config)
    load(learner, b"/", STYLE, asset(b"/font.woff2", "font"))
    load(learner, b"/", STYLE, asset(b"/font.woff2", "font"))
    path = tmp_path / "learned.json"
    learner.save(path)
    learner.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["learned.json"]
    restored = AssetLearner.load(path, config)
    assert restored.learnedPages() == learner.learnedPages()
    assert restored.learnedPages()[b"/"][1].asType == "font"


def test_missingFileIsAFirstRun(tmp_path):
    assert len(AssetLearner.load(tmp_path / "absent.json")) == 0


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2, "pages": {}}',
        '{"version": 1, "pages": {"/": {"loadCount": 1, "loads": [[["a.js", null]]]}}}',
        '{"version": 1, "pages": {"/": {"loadCount": "x", "loads": []}}}',
        '{"version": 1, "pages": {"/": {"loadCount": 1, '
        '"loads": [[["/a.js", "BAD TYPE"]]]}}}',
    ],
)
def test_corruptFile(tmp_path, text):
    """
    A corrupt file is refused with a message naming it and what to do.
    """
    path = tmp_path / "learned.json"
    path.write_text(text)
    with pytest.raises(LearnFileError) as info:
        AssetLearner.load(path)
    assert str(path) in str(info.value)
    assert "remove it" in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window": 0},
        {"minLoads": 5, "recentLoads": 4},
        {"probeEvery": 1},
        {"maxPages": 0},
    ],
)
def test_invalidConfig(kwargs):
    with pytest.raises(ValueError):
        LearningConfig(**kwargs)


# Learning from real connections.


@pytest.fixture
def learningSite(tmp_path):
    directory = makeSite(tmp_path / "site")
    clock = Clock()
    clock.advance(1000)
    resource = CacheAwarePushResource(
        File(str(directory)),
        PushConfig(learning=LearningConfig(minLoads=2, recentLoads=4)),
        clock=clock,
    )
    site = PushSite(resource)
    site.noisy = False
    return site, resource, clock


def browse(client, referer=None, assets=(b"/style.css", b"/app.js")):
    """Load the page, then its assets, as a browser that does not take push."""
    page = client.get(b"/")
    headers = [] if referer is None else [(b"referer", referer)]
    for path in assets:
        client.get(path, headers=headers)
    return page


def test_learnsFromReferer(serve, learningSite):
    """
    Assets fetched with a Referer naming the page, on the page's connection,
    are learned after two loads; then a push client gets them pushed.
    """
    site, resource, _ = learningSite
    server = serve(site)
    for _ in range(2):
        with H2Client(server.portNumber, enablePush=False) as client:
            referer = b"http://" + client.authority + b"/"
            browse(client, referer)
    assert [a.path for a in resource.learner.learnedPages()[b"/"]] == [
        b"/style.css",
        b"/app.js",
    ]
    with H2Client(server.portNumber) as client:
        page = client.get(b"/")
        assert [p.path for p in client.pushes(page.streamID)] == [
            b"/style.css",
            b"/app.js",
        ]


def test_learnsFromTheSameConnectionWithinTheWindow(serve, learningSite):
    """
    Without Referer, assets fetched on the page's connection within the
    window are associated with it; after the window, they are not.
    """
    site, resource, clock = learningSite
    server = serve(site)
    for _ in range(2):
        with H2Client(server.portNumber, enablePush=False) as client:
            browse(client, assets=[b"/style.css"])
            clock.advance(3)  # Past the 2-second window.
            client.get(b"/app.js")
    assert [a.path for a in resource.learner.learnedPages()[b"/"]] == [b"/style.css"]


def test_otherOriginRefererIsIgnored(serve, learningSite):
    """
    A Referer of another origin associates nothing.
    """
    site, resource, _ = learningSite
    server = serve(site)
    for _ in range(3):
        with H2Client(server.portNumber, enablePush=False) as client:
            browse(client, referer=b"https://elsewhere.example/")
    assert resource.learner.learnedPages() == {}


def test_onlySuccessfulGetsOfTheSite(serve, learningSite):
    """
    Missing assets (404) and HEAD requests are never learned.
    """
    site, resource, _ = learningSite
    server = serve(site)
    for _ in range(3):
        with H2Client(server.portNumber, enablePush=False) as client:
            referer = b"http://" + client.authority + b"/"
            client.get(b"/")
            client.get(b"/missing.js", headers=[(b"referer", referer)])
            client.get(b"/app.js", headers=[(b"referer", referer)], method=b"HEAD")
    assert resource.learner.learnedPages() == {}


def test_learnedAssetsAreHinted(serve, learningSite):
    """
    A browser (no push) gets learned assets as Early Hints.
    """
    site, _resource, _ = learningSite
    server = serve(site)
    for _ in range(2):
        with H2Client(server.portNumber, enablePush=False) as client:
            browse(client, b"http://" + client.authority + b"/")
    with H2Client(server.portNumber, enablePush=False) as client:
        page = client.get(b"/")
    (hints,) = page.informational
    assert [v for k, v in hints if k == b"link"] == [
        b"</style.css>; rel=preload; as=style",
        b"</app.js>; rel=preload; as=script",
    ]


def test_floodOverRealConnections(serve, tmp_path):
    """
    A script loading many distinct pages and assets leaves the learner
    within its caps.
    """
    directory = makeSite(tmp_path / "site")
    for i in range(60):
        (directory / f"p{i}.html").write_text("<html></html>")
        (directory / f"a{i}.js").write_text("x")
    config = LearningConfig(maxPages=10, maxAssetsPerLoad=4)
    resource = CacheAwarePushResource(File(str(directory)), PushConfig(learning=config))
    site = PushSite(resource)
    site.noisy = False
    server = serve(site)
    with H2Client(server.portNumber, enablePush=False) as client:
        for i in range(60):
            referer = f"http://{client.authority.decode()}/p{i}.html".encode()
            client.get(f"/p{i}.html".encode())
            for j in range(8):
                client.get(
                    f"/a{(i + j) % 60}.js".encode(), headers=[(b"referer", referer)]
                )
    assert len(resource.learner) == 10
    for state in resource.learner._pages.values():
        assert all(len(r.assets) <= 4 for r in state.loads)


def test_learnFileJSONShape(tmp_path):
    """
    The learned-push file is plain JSON an operator can read.
    """
    learner = AssetLearner(LearningConfig(minLoads=1))
    load(learner, b"/", STYLE)
    path = tmp_path / "l.json"
    learner.save(path)
    document = json.loads(path.read_text())
    assert document["version"] == 1
    assert document["pages"]["/"]["loads"] == [[["/style.css", "style"]]]
