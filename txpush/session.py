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

from collections.abc import Iterable, Sequence

import attrs
from zope.interface import implementer

from txpush.assets import Asset, pathProblem
from txpush.config import PushConfig
from txpush.connectionstate import ConnectionPushState
from txpush.digest import CacheDigest, setCookieHeaderValue
from txpush.interfaces import IPageSession
from txpush.learning import AssetLearner, PageLoad, pageKey, refererPage
from txpush.linkheader import formatPreloadLink, parsePreloadLinks
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


@attrs.frozen
class PageResponse:
    """
    What a page session needs to know of a response, once the wrapped
    resource is about to write its headers.

    @ivar status: The status code.
    @ivar contentType: The C{Content-Type}, if any.
    @ivar linkHeaders: Every C{Link} field value the resource set.
    """

    status: int
    contentType: bytes | None = None
    linkHeaders: tuple[bytes, ...] = ()


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
    """

    plan: PagePlan
    hinted: tuple[Asset, ...] = ()
    setCookie: bytes | None = None
    learned: LearnedLoad | LearnedAsset | None = None
    hadAssets: bool = False


@implementer(IPageSession)
class PageSession:
    """
    The decisions for one request of a
    L{CacheAwarePushResource<txpush.CacheAwarePushResource>}.

    Call, in order: L{PageSession.earlyHints} (and L{PageSession.hintsSent}
    if they went out), then, when the response headers are about to be
    written, L{PageSession.respond}, then L{PageSession.settle} with the
    assets really pushed.

    @ivar outcome: The L{PageOutcome}, once L{PageSession.settle} ran; else L{None}.
    """

    def __init__(
        self,
        config: PushConfig,
        request: PageRequest,
        connection: ConnectionPushState | None = None,
        learner: AssetLearner | None = None,
        ownAssets: Iterable[Asset] = (),
    ) -> None:
        """
        @param config: How to push and hint.
        @param request: The request.
        @param connection: The state of its client connection, or L{None}
            when it is lost.
        @param learner: The learner, when learning is on.
        @param ownAssets: The assets the application names for the page
            before rendering, first in precedence.
        """
        self._config = config
        self._pageRequest = request
        self._connection = connection
        self._learner = learner
        self.outcome: PageOutcome | None = None
        self._digest = (
            CacheDigest.fromCookieHeaders(
                request.cookieHeaders, config.cookieName, config.capacityBits
            )
            if config.useDigest
            else None
        )
        self._presentedKeys = None if self._digest is None else self._digest.keys()
        self._mergeDigestSent()
        learned: tuple[Asset, ...] = ()
        self._probe = False
        if learner is not None and request.method == b"GET":
            learned, self._probe = learner.assetsFor(pageKey(request.path))
        self._earlyAssets = mergeAssets(
            ownAssets,
            config.manifest.assetsFor(request.path) if config.manifest else (),
            learned,
        )
        self._hinted: tuple[Asset, ...] = ()
        self._hintPlan: tuple[Asset, ...] = ()
        self._assets: tuple[Asset, ...] = ()
        self._plan = PagePlan()
        self._response: PageResponse | None = None
        self._learned: LearnedLoad | LearnedAsset | None = None

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
            pushes, hints are off, no asset is known yet or all are cached).
        """
        config = self._config
        if self._pageRequest.canPush or not config.earlyHints or not self._earlyAssets:
            return ()
        plan = planPage(
            config.policy, self._facts(None), self._earlyAssets, self._digest
        )
        self._hintPlan = plan.hint
        return tuple(formatPreloadLink(a) for a in plan.hint)

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
        self._assets = mergeAssets(
            self._earlyAssets, [link.asset for link in ownLinks if not link.nopush]
        )
        diary = self._connection.diary if self._connection is not None else ()
        self._plan = planPage(
            config.policy,
            self._facts(response.status),
            self._assets,
            self._digest,
            diary if request.canPush else (),
        )
        preloadLinks: tuple[bytes, ...] = ()
        if config.addLinkHeaders:
            listed = {link.asset.path for link in ownLinks}
            preloadLinks = tuple(
                formatPreloadLink(a) for a in self._plan.preload if a.path not in listed
            )
        self._response = response
        if self._learner is not None:
            self._learned = self._learn(self._learner, response, now)
        return ResponseActions(push=self._plan.push, preloadLinks=preloadLinks)

    def settle(self, pushed: Sequence[Asset]) -> PageOutcome:
        """
        The pushes are made: update the digest with what really went out.

        @param pushed: The assets of L{ResponseActions.push} that were
            pushed (a refused push is not remembered).
        @return: The page's outcome, also kept as L{outcome}.
        @raise RuntimeError: L{PageSession.respond} has not run.
        """
        if self._response is None:
            raise RuntimeError("settle() comes after respond()")
        plan = self._plan
        remember = [a for a in plan.remember if a in pushed or a not in plan.push]
        self.outcome = PageOutcome(
            plan=attrs.evolve(plan, push=tuple(pushed)),
            hinted=self._hinted,
            setCookie=self._updateDigest(self._response, remember),
            learned=self._learned,
            hadAssets=bool(self._assets),
        )
        return self.outcome

    def _updateDigest(
        self, response: PageResponse, remember: list[Asset]
    ) -> bytes | None:
        digest, request = self._digest, self._pageRequest
        if digest is None:
            return None
        # What other responses on this connection sent meanwhile.
        self._mergeDigestSent()
        for remembered in remember:
            digest.add(remembered.path)
        if tracksFetchedResponse(
            self._config.policy,
            request.method,
            request.uri,
            response.status,
            response.contentType,
        ):
            digest.add(request.uri)
        connection = self._connection
        sent = None if connection is None else connection.digestSent
        if digest.keys() == self._presentedKeys or digest == sent:
            return None
        if connection is not None:
            connection.rememberDigestSent(digest)
        return setCookieHeaderValue(
            digest, self._config.cookieName, self._config.cookieMaxAge
        )

    def _learn(
        self, learner: AssetLearner, response: PageResponse, now: float
    ) -> LearnedLoad | LearnedAsset | None:
        request, connection = self._pageRequest, self._connection
        if request.method != b"GET" or not 200 <= response.status < 300:
            return None
        if connection is None:
            return None
        contentType = response.contentType
        if contentType is not None and contentType.lower().startswith(b"text/html"):
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
