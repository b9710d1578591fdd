"""
L{PageSession}: the decisions for one page, from its request to its
response headers, as a sans-I/O object.

Facts go in, actions come out, in the style of h2's C{H2Connection}: the
Twisted glue (L{txpush.resource}) reads a real request into a
L{PageRequest}, sends the C{103 Early Hints} that L{PageSession.earlyHints}
returns, reads the response headers into a L{PageResponse}, pushes what
L{PageSession.respond} returns and adds its preload headers, then sets the
C{Set-Cookie} that L{PageSession.settle} returns.  Nothing here touches a
socket or a reactor, so every rule is testable with plain values.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence

import attrs
from zope.interface import implementer

from txpush.assets import Asset, pathProblem
from txpush.config import PushConfig
from txpush.connectionstate import ConnectionPushState
from txpush.delivery import UndeliveredBook, isDelivered
from txpush.digest import CacheDigest, setCookieHeaderValue
from txpush.failedassets import FailedAssets
from txpush.interfaces import IPageSession
from txpush.learning import AssetLearner, PageLoad, pageKey, refererPage
from txpush.linkheader import (
    OtherOrigin,
    formatPreconnectLink,
    formatPreloadLink,
    mergeOrigins,
    parseOtherOrigins,
    parsePreloadLinks,
)
from txpush.linkhints import LinkHintMemory, PageHints
from txpush.policy import (
    PageFacts,
    PagePlan,
    fetchedAssetType,
    mergeAssets,
    planPage,
    tracksFetchedResponse,
)


@attrs.frozen
class PageRequest:
    """
    What a page session needs to know of a request.

    @ivar method: The method, upper case.
    @ivar path: The path without its query (manifests and learning key
        pages by it).
    @ivar uri: The path with its query, as sent (the digest keys assets by
        it).
    @ivar cookieHeaders: Every C{Cookie} field value.
    @ivar conditional: Whether it carries C{If-None-Match} or
        C{If-Modified-Since}.
    @ivar referer: Its C{Referer}, if any.
    @ivar scheme: The scheme the client used.
    @ivar authority: The authority the client used, if known.
    @ivar canPush: Whether the client takes pushes on this connection now
        (and the configuration pushes).
    @ivar client: The client's address (its host), if known: with the
        cookie it presents, it finds what L{UndeliveredBook} keeps for it.
    @ivar fetchMode: Its C{Sec-Fetch-Mode}, lower case, if any.
    @ivar fetchDest: Its C{Sec-Fetch-Dest}, lower case, if any.
    """

    method: bytes
    path: bytes
    uri: bytes
    cookieHeaders: tuple[bytes, ...] = ()
    conditional: bool = False
    referer: bytes | None = None
    scheme: bytes = b"https"
    authority: bytes | None = None
    canPush: bool = False
    client: str | None = None
    fetchMode: bytes | None = None
    fetchDest: bytes | None = None

    def mayBeNavigation(self) -> bool:
        """
        @return: Whether the request is a browser's navigation
            (C{Sec-Fetch-Mode: navigate} or C{Sec-Fetch-Dest: document}), or
            carries no C{Sec-Fetch} header at all and so may be one: a
            browser uses a C{103} only for a navigation, so a fetch, an
            image or a script request gets none.
        """
        if self.fetchMode is None and self.fetchDest is None:
            return True
        return self.fetchMode == b"navigate" or self.fetchDest == b"document"


@attrs.frozen
class PageResponse:
    """
    What a page session needs to know of a response, once the wrapped
    resource is about to write its headers.

    @ivar status: The status code.
    @ivar contentType: The C{Content-Type}, if any.
    @ivar linkHeaders: Every C{Link} field value the resource set.
    @ivar noStore: Whether it carries C{Cache-Control: no-store}.
    """

    status: int
    contentType: bytes | None = None
    linkHeaders: tuple[bytes, ...] = ()
    noStore: bool = False


@attrs.frozen
class ResponseActions:
    """
    What to do as the response headers go out.

    @ivar push: Assets to push, in order; report those really pushed to
        L{PageSession.settle}.
    @ivar preloadLinks: C{Link} field values to add to the response.
    """

    push: tuple[Asset, ...] = ()
    preloadLinks: tuple[bytes, ...] = ()


@attrs.frozen
class LearnedLoad:
    """
    Learning recorded a load of a page.

    @ivar page: The page key.
    """

    page: bytes


@attrs.frozen
class LearnedAsset:
    """
    Learning associated an asset with a load of a page.

    @ivar page: The page key.
    @ivar asset: The asset.
    """

    page: bytes
    asset: Asset


@attrs.frozen
class PageOutcome:
    """
    What was done for one page.

    @ivar plan: The plan applied; its C{push} holds only the assets really
        pushed.
    @ivar hinted: The assets announced in C{103 Early Hints}.
    @ivar setCookie: The C{Set-Cookie} field value carrying the updated
        digest, or L{None} when the client's is up to date.
    @ivar learned: What learning recorded for this response, if anything.
    @ivar hadAssets: Whether the page had any assets at all.
    @ivar recordedItself: Whether the digest now names the response itself
        (an asset the client fetched): report its end to
        L{PageSession.responseEnded}.
    """

    plan: PagePlan
    hinted: tuple[Asset, ...] = ()
    setCookie: bytes | None = None
    learned: LearnedLoad | LearnedAsset | None = None
    hadAssets: bool = False
    recordedItself: bool = False


class _FailingFor:
    """The paths failing for one page now, as a container."""

    def __init__(self, failures: FailedAssets, page: bytes, now: float) -> None:
        self._failures = failures
        self._page = page
        self._now = now

    def __contains__(self, path: object) -> bool:
        return isinstance(path, bytes) and self._failures.isFailing(
            self._page, path, self._now
        )


@implementer(IPageSession)
class PageSession:
    """
    The decisions for one request of a
    L{CacheAwarePushResource<txpush.CacheAwarePushResource>}.

    Call, in order: L{PageSession.earlyHints} (and L{PageSession.hintsSent}
    if they went out), then, when the response headers are about to be
    written, L{PageSession.respond}, then L{PageSession.settle} with the
    assets really pushed; then, as they end, L{PageSession.pushEnded} for
    each push and L{PageSession.responseEnded} for the response itself.

    @ivar outcome: The L{PageOutcome}, once L{PageSession.settle} ran; else L{None}.
    """

    def __init__(
        self,
        config: PushConfig,
        request: PageRequest,
        connection: ConnectionPushState | None = None,
        learner: AssetLearner | None = None,
        ownAssets: Iterable[Asset] = (),
        undelivered: UndeliveredBook | None = None,
        failures: FailedAssets | None = None,
        now: float = 0.0,
        linkHints: LinkHintMemory | None = None,
    ) -> None:
        """
        @param config: How to push and hint.
        @param request: The request.
        @param connection: The state of its client connection, or L{None}
            when it is lost.
        @param learner: The learner, when learning is on.
        @param ownAssets: The assets the application names for the page
            before rendering, first in precedence.
        @param undelivered: What earlier connections' clients did not get,
            to correct this client's digest with; L{None} not to.
        @param failures: The assets that answered an error when pushed, to
            leave out of their pages for a while; L{None} not to.
        @param now: The time, in seconds.
        @param linkHints: What the page's earlier responses listed in their
            C{Link} headers, to hint before it answers and to update with
            this response; L{None} not to.
        """
        self._config = config
        self._pageRequest = request
        self._connection = connection
        self._learner = learner
        self._undeliveredBook = undelivered
        self._failures = failures
        self.outcome: PageOutcome | None = None
        self._digest = (
            CacheDigest.fromCookieHeaders(
                request.cookieHeaders, config.cookieName, config.capacityBits
            )
            if config.useDigest
            else None
        )
        self._presentedKeys = None if self._digest is None else self._digest.keys()
        self._correctFromBook(now)
        self._mergeDigestSent()
        self._failing: Container[bytes] = (
            () if failures is None else _FailingFor(failures, request.path, now)
        )
        learned: tuple[Asset, ...] = ()
        self._probe = False
        if learner is not None and request.method == b"GET":
            learned, self._probe = learner.assetsFor(pageKey(request.path))
        self._ownAssets = tuple(ownAssets)
        self._learnedAssets = learned
        self._linkHints = linkHints
        self._remembered = PageHints()
        if linkHints is not None and request.method == b"GET":
            self._remembered = linkHints.hintsFor(pageKey(request.path))
        self._linkAssets: tuple[Asset, ...] = ()
        self._earlyAssets = mergeAssets(
            self._ownAssets,
            config.manifest.assetsFor(request.path) if config.manifest else (),
            learned,
        )
        self._hinted: tuple[Asset, ...] = ()
        self._hintPlan: tuple[Asset, ...] = ()
        self._assets: tuple[Asset, ...] = ()
        self._plan = PagePlan()
        self._pageResponse: PageResponse | None = None
        self._learned: LearnedLoad | LearnedAsset | None = None

    def _correctFromBook(self, now: float) -> None:
        digest, book = self._digest, self._undeliveredBook
        client, connection = self._pageRequest.client, self._connection
        if digest is None or book is None or client is None or not len(digest):
            return
        if connection is not None and connection.cookieValueSent is not None:
            # This connection corrects its own cookies; the book is for the
            # client's next connection.
            return
        if not book.holdsFor(client):
            # The common case, decided without encoding the digest.
            return
        for path in book.take(client, digest.cookieValue(), now):
            digest.discard(path)

    def _mergeDigestSent(self) -> None:
        if self._digest is not None and self._connection is not None:
            self._connection.mergeDigestSent(self._digest)

    def _facts(self, status: int | None) -> PageFacts:
        return PageFacts(
            method=self._pageRequest.method,
            conditional=self._pageRequest.conditional,
            status=status,
            canPush=self._pageRequest.canPush,
        )

    def earlyHints(self) -> tuple[bytes, ...]:
        """
        The C{Link} field values of the C{103 Early Hints} to send now,
        before the page renders.

        @return: The values; empty when no hints are due (the client takes
            pushes, hints are off, the request is not a GET or is
            conditional, no asset is known yet, or all are cached or
            failing).
        """
        config, request = self._config, self._pageRequest
        if request.canPush or not config.earlyHints or not request.mayBeNavigation():
            return ()
        # What the page's earlier responses listed, for hints only: a push
        # follows this response's own headers.
        assets = mergeAssets(self._earlyAssets, self._remembered.assets)
        origins: tuple[OtherOrigin, ...] = ()
        if config.preconnect:
            named = (
                config.manifest.preconnectsFor(request.path) if config.manifest else ()
            )
            origins = mergeOrigins(named, self._remembered.origins)
        if not assets and not origins:
            return ()
        plan = planPage(
            config.policy,
            self._facts(None),
            assets,
            self._digest,
            failing=self._failing,
        )
        if plan.reason is not None:
            return ()
        self._hintPlan = plan.hint
        return tuple(formatPreloadLink(a) for a in plan.hint) + tuple(
            formatPreconnectLink(other) for other in origins
        )

    def hintsSent(self) -> tuple[Asset, ...]:
        """
        The hints L{PageSession.earlyHints} returned went out.

        @return: The assets they announced.
        """
        self._hinted = self._hintPlan
        return self._hinted

    def respond(self, response: PageResponse, now: float) -> ResponseActions:
        """
        The wrapped resource is about to write the response headers: decide
        the pushes and preload headers, and learn from the response.

        @param response: The response.
        @param now: The time, in seconds, for learning's window.
        @return: What to push and which headers to add.
        """
        config, request = self._config, self._pageRequest
        ownLinks = (
            parsePreloadLinks(response.linkHeaders, request.scheme, request.authority)
            if config.readLinkHeaders
            else []
        )
        self._linkAssets = tuple(link.asset for link in ownLinks if not link.nopush)
        self._assets = mergeAssets(self._earlyAssets, self._linkAssets)
        diary = self._connection.diary if self._connection is not None else ()
        self._plan = planPage(
            config.policy,
            self._facts(response.status),
            self._assets,
            self._digest,
            diary if request.canPush else (),
            self._failing,
        )
        preloadLinks: tuple[bytes, ...] = ()
        if config.addLinkHeaders:
            listed = {link.asset.path for link in ownLinks}
            preloadLinks = tuple(
                formatPreloadLink(a) for a in self._plan.preload if a.path not in listed
            )
        self._pageResponse = response
        if self._learner is not None:
            self._learned = self._learn(self._learner, response, now)
        if self._linkHints is not None and _isPage(request, response):
            self._linkHints.responded(
                pageKey(request.path),
                self._linkAssets,
                parseOtherOrigins(
                    response.linkHeaders, request.scheme, request.authority
                ),
            )
        return ResponseActions(push=self._plan.push, preloadLinks=preloadLinks)

    def settle(self, pushed: Sequence[Asset]) -> PageOutcome:
        """
        The pushes are made: the digest names them, and the response itself
        when it is an asset of a tracked type, from now on.  Those that then
        do not reach the client whole are taken out again by
        L{PageSession.pushEnded} and L{PageSession.responseEnded}.

        @param pushed: The assets of L{ResponseActions.push} that were
            pushed (a refused push is not remembered).
        @return: The page's outcome, also kept as L{outcome}.
        @raise RuntimeError: L{PageSession.respond} has not run.
        """
        if self._pageResponse is None:
            raise RuntimeError("settle() comes after respond()")
        plan = self._plan
        recordedItself = self._recordsItself(self._pageResponse)
        self.outcome = PageOutcome(
            plan=attrs.evolve(plan, push=tuple(pushed)),
            hinted=self._hinted,
            setCookie=self._updateDigest(pushed, recordedItself),
            learned=self._learned,
            hadAssets=bool(self._assets),
            recordedItself=recordedItself,
        )
        return self.outcome

    def _recordsItself(self, response: PageResponse) -> bool:
        request = self._pageRequest
        return self._digest is not None and tracksFetchedResponse(
            self._config.policy,
            request.method,
            request.uri,
            response.status,
            response.contentType,
            response.noStore,
        )

    def _updateDigest(
        self, pushed: Sequence[Asset], recordedItself: bool
    ) -> bytes | None:
        digest, connection = self._digest, self._connection
        if digest is None:
            return None
        # What other responses on this connection sent meanwhile.
        self._mergeDigestSent()
        paths = [a.path for a in pushed]
        if recordedItself:
            paths.append(self._pageRequest.uri)
        for path in paths:
            digest.add(path)
            if connection is not None:
                connection.delivering(path)
        sent = None if connection is None else connection.digestSent
        correctionDue = connection is not None and connection.correctionDue
        if not correctionDue and (
            digest.keys() == self._presentedKeys or digest == sent
        ):
            return None
        if connection is not None:
            connection.rememberDigestSent(digest)
        return setCookieHeaderValue(
            digest, self._config.cookieName, self._config.cookieMaxAge
        )

    def pushEnded(
        self,
        path: bytes,
        status: int | None,
        completed: bool,
        noStore: bool,
        now: float,
    ) -> bool:
        """
        A push of this page ended.  Unless the client got it whole and may
        keep it (see L{isDelivered<txpush.delivery.isDelivered>}), the next
        response to the client takes it out of its digest; one that answered
        400 or more is left out of this page for a while.

        @param path: The pushed asset, with its query.
        @param status: Its status, or L{None} when no headers went out.
        @param completed: Whether it was sent to its end.
        @param noStore: Whether it carries C{Cache-Control: no-store}.
        @param now: The time, in seconds.
        @return: Whether it answered an error that is news for this page:
            log it (see L{PageSession.sourceOf}).
        """
        failures, page = self._failures, self._pageRequest.path
        if isDelivered(status, completed, noStore):
            if failures is not None:
                failures.succeeded(page, path)
            return False
        self._undelivered(path, now)
        if failures is None or status is None or status < 400:
            return False
        return failures.failed(page, path, now)

    def responseEnded(self, completed: bool, now: float) -> None:
        """
        The response itself ended; call it when L{PageOutcome.recordedItself}.

        @param completed: Whether it was sent to its end; if not, the next
            response to the client takes it out of its digest.
        @param now: The time, in seconds.
        """
        if not completed:
            self._undelivered(self._pageRequest.uri, now)

    def _undelivered(self, path: bytes, now: float) -> None:
        connection, client = self._connection, self._pageRequest.client
        if connection is None or self._digest is None:
            return
        cookieValue = connection.cookieValueSent
        if self._undeliveredBook is not None and client and cookieValue:
            # In case this connection ends before it can send the correction.
            self._undeliveredBook.undelivered(client, cookieValue, path, now)
        connection.deliveryFailed(path)

    def sourceOf(self, asset: Asset) -> str:
        """
        Where this page's asset came from, for a log line.

        @param asset: One of the page's assets.
        @return: C{"assetsFor"}, the manifest's file and line, C{"learned"},
            or C{"a Link header of the page"}.
        """
        path = asset.path
        if any(a.path == path for a in self._ownAssets):
            return "assetsFor"
        manifest = self._config.manifest
        if manifest is not None:
            source = manifest.sourceOf(self._pageRequest.path, path)
            if source is not None:
                return source
        if any(a.path == path for a in self._learnedAssets):
            return "learned"
        return "a Link header of the page"

    def _learn(
        self, learner: AssetLearner, response: PageResponse, now: float
    ) -> LearnedLoad | LearnedAsset | None:
        request, connection = self._pageRequest, self._connection
        if request.method != b"GET" or not 200 <= response.status < 300:
            return None
        if connection is None:
            return None
        contentType = response.contentType
        if _isPage(request, response):
            page = pageKey(request.path)
            load: PageLoad = learner.recordLoad(page, self._probe)
            connection.loadsFor(learner.config.maxLoadsPerConnection).add(load, now)
            return LearnedLoad(page)
        asType = fetchedAssetType(request.uri, contentType)
        loads = connection.pageLoads
        if asType is None or loads is None or pathProblem(request.uri) is not None:
            return None
        owner = loads.forReferer(
            refererPage(request.referer, request.scheme, request.authority),
            now,
            learner.config.window,
        )
        if owner is None:
            return None
        seen = Asset(request.uri, asType)
        learner.observe(owner, seen)
        return LearnedAsset(owner.page, seen)


def _isPage(request: PageRequest, response: PageResponse) -> bool:
    # A GET answered 2xx with HTML: what a browser navigates to.
    contentType = response.contentType
    return (
        request.method == b"GET"
        and 200 <= response.status < 300
        and contentType is not None
        and contentType.lower().startswith(b"text/html")
    )
