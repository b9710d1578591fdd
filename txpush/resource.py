"""
L{CacheAwarePushResource}: push a page's assets, remember in a digest cookie
what the client has, and give clients that do not take pushes the same
assets as Early Hints and C{Link} preload headers.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

import attrs
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.resource import (
    IResource,
    Resource,
    _IEncodingResource,
    getChildForRequest,
)

from txpush._h2internals import (
    connectionOf,
    isPushedRequest,
    requestOrigin,
    sendEarlyHints,
)
from txpush.assets import Asset, asset, pathProblem
from txpush.digest import (
    DEFAULT_CAPACITY_BITS,
    DEFAULT_COOKIE_NAME,
    DEFAULT_MAX_AGE,
    CacheDigest,
    setCookieHeaderValue,
)
from txpush.errors import PushError
from txpush.interfaces import IPusher
from txpush.learning import AssetLearner, LearningConfig, PageLoad, pageKey
from txpush.linkheader import formatPreloadLink, parsePreloadLinks
from txpush.manifest import Manifest
from txpush.policy import (
    DEFAULT_MAX_PUSHES,
    TRACK_BLOCKING_ASSETS,
    PageFacts,
    PagePlan,
    PushPolicy,
    fetchedAssetType,
    mergeAssets,
    planPage,
    tracksFetchedResponse,
)
from txpush.pusher import PushResult

_PLAN_ATTRIBUTE = "_txpushPagePlan"


@attrs.frozen
class PushConfig:
    """
    How a L{CacheAwarePushResource} pushes and hints.

    @ivar manifest: The pages' assets, or L{None}.
    @ivar push: Push to clients that take pushes; when L{False}, every client
        gets Early Hints and preload headers instead.
    @ivar maxPushes: The most assets pushed for one page.
    @ivar useDigest: Be cache aware: read and update the digest cookie.
        When L{False}, push is plain: every page pushes all its assets
        (once per connection).
    @ivar cookieName: The digest cookie's name; H2O's by default, so a client
        keeps one digest across an H2O front and txpush.
    @ivar capacityBits: The digest's capacity, 1 to 15 bits; 13 holds about
        100 assets at a 1% false-positive rate.
    @ivar cookieMaxAge: The digest cookie's C{Max-Age}, in seconds.
    @ivar track: What the digest records: C{"blocking-assets"} (stylesheets
        and scripts) or C{"all"}.
    @ivar earlyHints: Send C{103 Early Hints} to clients that do not take
        pushes, for the assets known before the page renders (from
        L{CacheAwarePushResource.assetsFor} and the manifest).
    @ivar earlyHintsOverHTTP11: Send them to HTTP/1.1 clients too (some old
        HTTP/1.1 clients mishandle informational responses).
    @ivar readLinkHeaders: Take assets from the C{Link: rel=preload} headers
        the wrapped resource sets.
    @ivar addLinkHeaders: List the page's assets as C{Link: rel=preload}
        headers on its response.
    @ivar learning: Learn pages' assets from traffic (see
        L{txpush.learning}), or L{None} not to.
    """

    manifest: Manifest | None = None
    push: bool = True
    maxPushes: int = DEFAULT_MAX_PUSHES
    useDigest: bool = True
    cookieName: bytes = DEFAULT_COOKIE_NAME
    capacityBits: int = DEFAULT_CAPACITY_BITS
    cookieMaxAge: int = DEFAULT_MAX_AGE
    track: str = TRACK_BLOCKING_ASSETS
    earlyHints: bool = True
    earlyHintsOverHTTP11: bool = False
    readLinkHeaders: bool = True
    addLinkHeaders: bool = True
    learning: LearningConfig | None = None
    # Made once, here, rather than on every request.
    _policy: PushPolicy = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        # Fail at configuration time, not on the first request.
        object.__setattr__(
            self,
            "_policy",
            PushPolicy(maxPushes=self.maxPushes, track=self.track, push=self.push),
        )
        setCookieHeaderValue(
            CacheDigest(self.capacityBits), self.cookieName, self.cookieMaxAge
        )

    @property
    def policy(self) -> PushPolicy:
        """
        The pure policy these settings make.
        """
        return self._policy


@attrs.define
class PushCounters:
    """
    What a L{CacheAwarePushResource} has done since it was made.

    @ivar pages: Pages that had assets to push or hint.
    @ivar pushed: Assets pushed.
    @ivar skippedCached: Assets not pushed or hinted: the client's digest
        says it has them.
    @ivar skippedDiary: Assets not pushed: already pushed on the connection.
    @ivar skippedLimit: Assets not pushed: over the per-page limit.
    @ivar pushFailed: Pushes refused (the client's stream limit, GOAWAY).
    @ivar cancelled: Pushes the client reset.
    @ivar bytesPushed: Body bytes of pushed responses.
    @ivar earlyHints: C{103 Early Hints} responses sent.
    @ivar hinted: Assets announced in them.
    @ivar digestUpdates: Responses that set an updated digest cookie.
    """

    pages: int = 0
    pushed: int = 0
    skippedCached: int = 0
    skippedDiary: int = 0
    skippedLimit: int = 0
    pushFailed: int = 0
    cancelled: int = 0
    bytesPushed: int = 0
    earlyHints: int = 0
    hinted: int = 0
    digestUpdates: int = 0


def pagePlanOf(request: IRequest) -> PagePlan | None:
    """
    @param request: A request served by a L{CacheAwarePushResource}.
    @return: The plan applied to its response, once its headers are written,
        or L{None} (not a page, or not served by one).
    """
    plan: PagePlan | None = getattr(request, _PLAN_ATTRIBUTE, None)
    return plan


class CacheAwarePushResource(Resource):
    """
    Wraps a resource tree (a C{static.File}, a Klein app, any
    L{IResource<twisted.web.resource.IResource>}) and pushes each page's
    assets to clients that take pushes, skipping what the digest cookie says
    they have; other clients get the same assets as C{103 Early Hints} and
    C{Link: rel=preload} headers.

    A page's assets come from, in this order: L{assetsFor} (override it), the
    manifest, and the C{Link: <path>; rel=preload} headers the wrapped
    resource sets (those with C{nopush} are not pushed).  Serve it from a
    L{txpush.PushSite} for push; any C{Site} serves hints and preload headers.

    @ivar wrapped: The wrapped resource tree.
    @ivar config: The L{PushConfig}.
    @ivar counters: The L{PushCounters}.
    @ivar learner: The L{AssetLearner}, when learning is on.
    @ivar clock: The time source of learning's window.
    @cvar isLeaf: Always true: this resource finds the wrapped resource for
        the whole path itself.
    @cvar log: Where decisions and failures are logged.
    """

    isLeaf = True
    log = Logger()

    def __init__(
        self,
        wrapped: IResource,
        config: PushConfig | None = None,
        learner: AssetLearner | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        """
        @param wrapped: The resource tree to serve.
        @param config: How to push; the defaults when L{None}.
        @param learner: What was learned before (see L{AssetLearner.load}),
            when C{config.learning} is set; a new learner when L{None}.
        @param clock: The time source for learning's window; the reactor
            when L{None}.
        """
        super().__init__()
        self.wrapped = wrapped
        self.config = PushConfig() if config is None else config
        self.counters = PushCounters()
        self.learner: AssetLearner | None = None
        if self.config.learning is not None:
            self.learner = learner or AssetLearner(self.config.learning)
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self._connectionLoads: WeakKeyDictionary[object, _ConnectionLoads] = (
            WeakKeyDictionary()
        )
        # The digest last sent on each connection: responses on one
        # connection carry the union, so that concurrent responses (whose
        # requests carried the same old cookie) do not undo each other.
        self._connectionDigests: WeakKeyDictionary[object, CacheDigest] = (
            WeakKeyDictionary()
        )

    def assetsFor(self, request: IRequest) -> Iterable[Asset | bytes | str]:
        """
        The assets of the page C{request} asks for, before the manifest's.
        Override it; this one has none.

        @param request: Any request served by this resource (pages and
            assets alike; return nothing for those that are not pages).
        @return: L{Asset}s, or absolute paths whose C{as} type is guessed
            from their extension.
        """
        return ()

    def render(self, request: IRequest) -> Any:
        """
        Render the wrapped resource for C{request}, pushing or hinting the
        page's assets on the way.

        @param request: The request.
        @return: What the wrapped resource's C{render} returns.
        """
        resource = getChildForRequest(self.wrapped, request)
        # What Request.process does for the resource it finds, which is this
        # one: install the encoder (gzip) of an encoding resource inside.
        if _IEncodingResource.providedBy(resource):
            encoder = resource.getEncoder(request)
            if encoder is not None:
                serverRequest: Any = request
                serverRequest._encoder = encoder
        if not isPushedRequest(request):
            try:
                _PageResponse(self, request).begin()
            except Exception:
                # A push that cannot be made must never cost the page.
                self.log.failure("Push preparation failed for {uri}", uri=request.uri)
        return resource.render(request)


class _PageResponse:
    """
    One response of a L{CacheAwarePushResource}, from its request to its
    headers.
    """

    def __init__(self, resource: CacheAwarePushResource, request: Any) -> None:
        self.resource = resource
        self.request = request
        self.config = resource.config
        self.counters = resource.counters
        self.log = resource.log

    def begin(self) -> None:
        request, config = self.request, self.config
        headers = request.requestHeaders
        self.conditional = headers.hasHeader(b"if-none-match") or headers.hasHeader(
            b"if-modified-since"
        )
        self.digest = (
            CacheDigest.fromCookieHeaders(
                headers.getRawHeaders(b"cookie"), config.cookieName, config.capacityBits
            )
            if config.useDigest
            else None
        )
        self.presentedKeys = None if self.digest is None else self.digest.keys()
        self._mergeConnectionDigest()
        self.pusher = IPusher(request, None) if config.push else None
        learned: tuple[Asset, ...] = ()
        self.probe = False
        learner = self.resource.learner
        if learner is not None and request.method == b"GET":
            learned, self.probe = learner.assetsFor(pageKey(request.path))
        self.earlyAssets = mergeAssets(
            _assets(self.resource.assetsFor(request)),
            config.manifest.assetsFor(request.path) if config.manifest else (),
            learned,
        )
        self.hinted: tuple[Asset, ...] = ()
        if self.pusher is None and config.earlyHints and self.earlyAssets:
            self._sendEarlyHints()
        originalWrite = request.write
        pending = [True]

        def writeAfterPushing(data: bytes) -> None:
            if pending:
                pending.clear()
                # Step aside, unless the application wrapped write in turn.
                if request.write is writeAfterPushing:
                    request.write = originalWrite
                try:
                    self.headersReady()
                except Exception:
                    self.log.failure("Push failed for {uri}", uri=request.uri)
            originalWrite(data)

        request.write = writeAfterPushing

    def _mergeConnectionDigest(self) -> None:
        connection = connectionOf(self.request)
        if self.digest is None or connection is None:
            return
        sent = self.resource._connectionDigests.get(connection)
        if sent is not None and sent.capacityBits == self.digest.capacityBits:
            self.digest.merge(sent)

    def _facts(self, status: int | None) -> PageFacts:
        return PageFacts(
            method=self.request.method,
            conditional=self.conditional,
            status=status,
            canPush=self.pusher is not None,
        )

    def _sendEarlyHints(self) -> None:
        plan = planPage(
            self.config.policy, self._facts(None), self.earlyAssets, self.digest
        )
        links = [formatPreloadLink(a) for a in plan.hint]
        if sendEarlyHints(self.request, links, self.config.earlyHintsOverHTTP11):
            self.hinted = plan.hint
            self.counters.earlyHints += 1
            self.counters.hinted += len(plan.hint)

    def headersReady(self) -> None:
        """
        The wrapped resource is about to write the response headers: push,
        add preload headers, update the digest.
        """
        request, config = self.request, self.config
        status = request.code
        ownLinks = []
        if config.readLinkHeaders:
            scheme, authority = requestOrigin(request)
            ownLinks = parsePreloadLinks(
                request.responseHeaders.getRawHeaders(b"link", []), scheme, authority
            )
        assets = mergeAssets(
            self.earlyAssets, [link.asset for link in ownLinks if not link.nopush]
        )
        diary = self.pusher.diary if self.pusher is not None else ()
        plan = planPage(config.policy, self._facts(status), assets, self.digest, diary)
        pushed = [a for a in plan.push if self._push(a)]
        setattr(request, _PLAN_ATTRIBUTE, attrs.evolve(plan, push=tuple(pushed)))
        if config.addLinkHeaders:
            listed = {link.asset.path for link in ownLinks}
            for preload in plan.preload:
                if preload.path not in listed:
                    request.responseHeaders.addRawHeader(
                        b"link", formatPreloadLink(preload)
                    )
        contentTypes = request.responseHeaders.getRawHeaders(b"content-type")
        contentType = contentTypes[0] if contentTypes else None
        if self.resource.learner is not None:
            self._learn(self.resource.learner, status, contentType)
        # Only what really went out is remembered: a refused push is not.
        self._updateDigest(
            [a for a in plan.remember if a in pushed or a not in plan.push],
            status,
            contentType,
        )
        if assets:
            self._count(plan, pushed)

    def _learn(
        self, learner: AssetLearner, status: int, contentType: bytes | None
    ) -> None:
        request = self.request
        if request.method != b"GET" or not 200 <= status < 300:
            return
        connection = connectionOf(request)
        if connection is None:
            return
        now = self.resource.clock.seconds()
        loads = self.resource._connectionLoads.get(connection)
        if contentType is not None and contentType.lower().startswith(b"text/html"):
            load = learner.recordLoad(pageKey(request.path), self.probe)
            if loads is None:
                loads = _ConnectionLoads(learner.config.maxLoadsPerConnection)
                self.resource._connectionLoads[connection] = loads
            loads.add(load, now)
            return
        asType = fetchedAssetType(request.uri, contentType)
        if asType is None or loads is None or pathProblem(request.uri) is not None:
            return
        owner = loads.forReferer(self._refererPage(), now, learner.config.window)
        if owner is not None:
            learner.observe(owner, Asset(request.uri, asType))

    def _refererPage(self) -> bytes | None:
        # The page a same-origin Referer names; b"" for none, None for another
        # origin (which says the asset is not this connection's page's).
        referer = self.request.getHeader(b"referer")
        if referer is None:
            return b""
        try:
            parts = urlsplit(referer)
        except ValueError:
            return None
        scheme, authority = requestOrigin(self.request)
        if (parts.scheme.lower(), parts.netloc.lower()) != (
            scheme.lower(),
            (authority or b"").lower(),
        ):
            return None
        return pageKey(parts.path or b"/")

    def _push(self, pushedAsset: Asset) -> bool:
        assert self.pusher is not None
        try:
            outcome = self.pusher.push(pushedAsset.path)
        except PushError as e:
            self.counters.pushFailed += 1
            self.log.debug("Not pushed: {error}", error=e)
            return False
        outcome.addCallback(self._pushed)
        return True

    def _pushed(self, result: PushResult) -> None:
        self.counters.bytesPushed += result.bytesSent
        if not result.completed:
            self.counters.cancelled += 1
            self.log.debug(
                "Client cancelled push of {path}", path=result.path, cancelled=True
            )

    def _updateDigest(
        self, remember: list[Asset], status: int, contentType: bytes | None
    ) -> None:
        digest = self.digest
        if digest is None:
            return
        # What other responses on this connection sent meanwhile.
        self._mergeConnectionDigest()
        for remembered in remember:
            digest.add(remembered.path)
        if tracksFetchedResponse(
            self.config.policy,
            self.request.method,
            self.request.uri,
            status,
            contentType,
        ):
            digest.add(self.request.uri)
        connection = connectionOf(self.request)
        sent = (
            None
            if connection is None
            else self.resource._connectionDigests.get(connection)
        )
        if digest.keys() != self.presentedKeys and digest != sent:
            # Twisted writes request.cookies over any Set-Cookie header the
            # application set directly: keep those by moving them in first.
            cookies = self.request.cookies
            headers = self.request.responseHeaders
            for raw in headers.getRawHeaders(b"set-cookie", []):
                if raw not in cookies:
                    cookies.append(raw)
            cookies.append(
                setCookieHeaderValue(
                    digest, self.config.cookieName, self.config.cookieMaxAge
                )
            )
            self.counters.digestUpdates += 1
            if connection is not None:
                snapshot = CacheDigest(digest.capacityBits)
                snapshot.merge(digest)
                self.resource._connectionDigests[connection] = snapshot

    def _count(self, plan: PagePlan, pushed: list[Asset]) -> None:
        counters = self.counters
        counters.pages += 1
        counters.pushed += len(pushed)
        counters.skippedCached += len(plan.skippedCached)
        counters.skippedDiary += len(plan.skippedDiary)
        counters.skippedLimit += len(plan.skippedLimit)
        self.log.debug(
            "Page {uri}: pushed {pushed}, hinted {hinted}, skipped as cached "
            "{skippedCached}, already pushed {skippedDiary}, over the limit "
            "{skippedLimit}{because}",
            uri=self.request.uri,
            pushed=[a.path for a in pushed],
            hinted=[a.path for a in self.hinted],
            skippedCached=[a.path for a in plan.skippedCached],
            skippedDiary=[a.path for a in plan.skippedDiary],
            skippedLimit=[a.path for a in plan.skippedLimit],
            reason=plan.reason,
            because="" if plan.reason is None else f" ({plan.reason})",
        )


class _ConnectionLoads:
    """
    The recent page loads of one client connection, for associating the
    assets it fetches next.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.byPage: OrderedDict[bytes, PageLoad] = OrderedDict()
        self.last: tuple[PageLoad, float] | None = None

    def add(self, load: PageLoad, now: float) -> None:
        self.byPage.pop(load.page, None)
        self.byPage[load.page] = load
        while len(self.byPage) > self.size:
            self.byPage.popitem(last=False)
        self.last = (load, now)

    def forReferer(
        self, page: bytes | None, now: float, window: float
    ) -> PageLoad | None:
        if page is None:
            return None
        if page:
            return self.byPage.get(page)
        if self.last is not None and now - self.last[1] <= window:
            return self.last[0]
        return None


def _assets(items: Iterable[Asset | bytes | str]) -> list[Asset]:
    return [item if isinstance(item, Asset) else asset(item) for item in items]
