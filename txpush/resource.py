"""
L{CacheAwarePushResource}: push a page's assets, remember in a digest cookie
what the client has, and give clients that do not take pushes the same
assets as Early Hints and C{Link} preload headers.

The decisions are L{txpush.session.PageSession}'s; this module only
translates between it and a real request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.components import Componentized
from twisted.python.failure import Failure
from twisted.web.iweb import IRequest
from twisted.web.resource import IResource, Resource, getChildForRequest

from txpush._twisted.requests import (
    addSetCookie,
    connectionStateOf,
    installEncoder,
    isPushedRequest,
    requestOrigin,
    sendEarlyHints,
)
from txpush.assets import Asset, asset
from txpush.config import PushConfig, PushCounters
from txpush.delivery import UndeliveredBook, forbidsStoring
from txpush.errors import PushError
from txpush.failedassets import FailedAssets
from txpush.interfaces import IPageSession, IPusher
from txpush.learning import AssetLearner
from txpush.linkhints import LinkHintMemory
from txpush.policy import PagePlan
from txpush.pusher import PushResult, pusherForRequest
from txpush.session import PageOutcome, PageRequest, PageResponse, PageSession


def pagePlanOf(request: IRequest) -> PagePlan | None:
    """
    @param request: A request served by a L{CacheAwarePushResource}.
    @return: The plan applied to its response, once its headers are written,
        or L{None} (not a page, or not served by one).
    """
    getComponent = getattr(request, "getComponent", None)
    session = None if getComponent is None else getComponent(IPageSession)
    if session is None or session.outcome is None:
        return None
    plan: PagePlan = session.outcome.plan
    return plan


class CacheAwarePushResource(Resource):
    """
    Wraps a resource tree (a C{static.File}, a Klein app, any
    L{IResource<twisted.web.resource.IResource>}) and pushes each page's
    assets to clients that take pushes, skipping what the digest cookie says
    they have; other clients get the same assets as C{103 Early Hints} and
    C{Link: rel=preload} headers.

    A page's assets come from, in this order: L{assetsFor} (override it), the
    manifest, learning (when C{config.learning} is set), and the C{Link:
    <path>; rel=preload} headers the wrapped resource sets (those with
    C{nopush} name no asset; the headers are kept as they are).  Serve it
    from a L{txpush.PushSite} for push; any C{Site} serves hints and preload
    headers.

    @ivar wrapped: The wrapped resource tree.
    @ivar config: The L{PushConfig}.
    @ivar counters: The L{PushCounters}.
    @ivar learner: The L{AssetLearner}, when learning is on.
    @ivar linkHints: The L{LinkHintMemory} of the pages' preload links, when
        C{config.linkHints} is set.
    @ivar undelivered: The L{UndeliveredBook}: what clients' cookies name
        that they did not get, to correct on their next visit.
    @ivar failures: The L{FailedAssets}: the assets whose push answered an
        error, left out of their pages for a while.
    @ivar clock: The time source of learning's window and of the
        failures' retry time.
    @ivar logsPages: Whether each page's decision is logged (at debug
        level, see L{log}); C{twist txpush} turns it off unless its log level
        is debug, as every page's event costs its share of the request even
        when no observer keeps it.
    @cvar isLeaf: Always true: this resource finds the wrapped resource for
        the whole path itself.
    @cvar log: Where decisions and failures are logged.
    """

    isLeaf = True
    log = Logger()
    logsPages = True

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
        @param clock: The time source for learning's window and the
            failures' retry time; the reactor when L{None}.
        """
        super().__init__()
        self.wrapped = wrapped
        self.config = PushConfig() if config is None else config
        self.counters = PushCounters()
        self.learner: AssetLearner | None = None
        if self.config.learning is not None:
            self.learner = learner or AssetLearner(self.config.learning)
        self.linkHints: LinkHintMemory | None = None
        if self.config.linkHints is not None and self.config.readLinkHeaders:
            self.linkHints = LinkHintMemory(self.config.linkHints)
        self.undelivered = UndeliveredBook(lifetime=self.config.cookieMaxAge)
        self.failures = FailedAssets(self.config.failedAssetRetry)
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock: IReactorTime = clock  # type: ignore[assignment]

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
        # Request.process installed the encoder of the resource it found,
        # this one: do the same for the one inside.
        installEncoder(resource, request)
        if not isPushedRequest(request):
            try:
                self._beginPage(request)
            except Exception:
                # A push that cannot be made must never cost the page.
                self.log.failure("Push preparation failed for {uri}", uri=request.uri)
        return resource.render(request)

    def _beginPage(self, request: Any) -> None:
        config = self.config
        # The adapter IPusher(request, None) calls, without the lookup.
        pusher = pusherForRequest(request) if config.push else None
        scheme, authority = requestOrigin(request)
        headers = request.requestHeaders
        client = getattr(request.getClientAddress(), "host", None)
        session = PageSession(
            config,
            PageRequest(
                method=request.method,
                path=request.path,
                uri=request.uri,
                cookieHeaders=tuple(headers.getRawHeaders(b"cookie", ())),
                conditional=headers.hasHeader(b"if-none-match")
                or headers.hasHeader(b"if-modified-since"),
                referer=request.getHeader(b"referer"),
                scheme=scheme,
                authority=authority,
                canPush=pusher is not None,
                client=client if isinstance(client, str) else None,
                fetchMode=_lower(request.getHeader(b"sec-fetch-mode")),
                fetchDest=_lower(request.getHeader(b"sec-fetch-dest")),
            ),
            connectionStateOf(request),
            self.learner,
            _assets(self.assetsFor(request)),
            self.undelivered,
            self.failures,
            self.clock.seconds(),
            self.linkHints,
        )
        if isinstance(request, Componentized):
            request.setComponent(IPageSession, session)
        links = session.earlyHints()
        if links and sendEarlyHints(request, list(links), config.earlyHintsOverHTTP11):
            self.counters.countHints(session.hintsSent())
        originalWrite = request.write
        pending = [True]

        def writeAfterPushing(data: bytes) -> None:
            if pending:
                pending.clear()
                # Step aside, unless the application wrapped write in turn.
                if request.write is writeAfterPushing:
                    request.write = originalWrite
                try:
                    self._respond(request, session, pusher)
                except Exception:
                    self.log.failure("Push failed for {uri}", uri=request.uri)
            originalWrite(data)

        request.write = writeAfterPushing

    def _respond(
        self, request: Any, session: PageSession, pusher: IPusher | None
    ) -> None:
        # The wrapped resource is about to write the response headers: push,
        # add preload headers, set the digest cookie.
        responseHeaders = request.responseHeaders
        contentTypes = responseHeaders.getRawHeaders(b"content-type")
        # Twisted adds its defaultContentType (text/html) as the headers go
        # out, just after this.
        contentType = (
            contentTypes[0]
            if contentTypes
            else getattr(request, "defaultContentType", None)
        )
        actions = session.respond(
            PageResponse(
                status=request.code,
                contentType=contentType,
                linkHeaders=tuple(responseHeaders.getRawHeaders(b"link", ())),
                noStore=forbidsStoring(
                    responseHeaders.getRawHeaders(b"cache-control", ())
                ),
            ),
            self.clock.seconds(),
        )
        # Only pushes whose promise went out: the digest names those.
        promised = [(a, self._push(pusher, a)) for a in actions.push] if pusher else []
        pushed = [a for a, result in promised if result is not None]
        for link in actions.preloadLinks:
            responseHeaders.addRawHeader(b"link", link)
        outcome = session.settle(pushed)
        if outcome.setCookie is not None:
            addSetCookie(request, outcome.setCookie)
        for pushedAsset, result in promised:
            if result is not None:
                result.addCallback(self._pushed, request, session, pushedAsset)
        if outcome.recordedItself:
            request.notifyFinish().addBoth(self._responseEnded, session)
        self.counters.countPage(outcome)
        if outcome.hadAssets and self.logsPages:
            self._logPage(request, outcome)

    def _push(self, pusher: IPusher, pushedAsset: Asset) -> Deferred[PushResult] | None:
        try:
            result: Deferred[PushResult] = pusher.push(pushedAsset.path)
        except PushError as e:
            self.counters.pushFailed += 1
            self.log.debug("Not pushed: {error}", error=e)
            return None
        return result

    def _pushed(
        self,
        result: PushResult,
        request: Any,
        session: PageSession,
        pushedAsset: Asset,
    ) -> None:
        self.counters.countPush(result.bytesSent, result.completed)
        if not result.completed:
            self.log.debug(
                "Client cancelled push of {path}", path=result.path, cancelled=True
            )
        news = session.pushEnded(
            pushedAsset.path,
            result.status,
            result.completed,
            result.noStore,
            self.clock.seconds(),
        )
        if news:
            self.log.warn(
                "Asset {asset} of page {page} answered {status} when pushed "
                "(listed by {source}): it is neither pushed nor hinted for "
                "that page for {retry} s; fix the path, or serve it",
                asset=pushedAsset.path.decode("ascii", "replace"),
                page=request.path.decode("ascii", "replace"),
                status=result.status,
                source=session.sourceOf(pushedAsset),
                retry=f"{self.config.failedAssetRetry:g}",
            )

    def _responseEnded(self, outcome: object, session: PageSession) -> None:
        session.responseEnded(not isinstance(outcome, Failure), self.clock.seconds())

    def _logPage(self, request: Any, outcome: PageOutcome) -> None:
        plan = outcome.plan
        self.log.debug(
            "Page {uri}: pushed {pushed}, hinted {hinted}, skipped as cached "
            "{skippedCached}, already pushed {skippedDiary}, over the limit "
            "{skippedLimit}, failing {skippedFailing}{because}",
            uri=request.uri,
            pushed=[a.path for a in plan.push],
            hinted=[a.path for a in outcome.hinted],
            skippedCached=[a.path for a in plan.skippedCached],
            skippedDiary=[a.path for a in plan.skippedDiary],
            skippedLimit=[a.path for a in plan.skippedLimit],
            skippedFailing=[a.path for a in plan.skippedFailing],
            reason=plan.reason,
            because="" if plan.reason is None else f" ({plan.reason})",
        )


def _lower(value: bytes | None) -> bytes | None:
    return None if value is None else value.lower()


def _assets(items: Iterable[Asset | bytes | str]) -> list[Asset]:
    return [item if isinstance(item, Asset) else asset(item) for item in items]
